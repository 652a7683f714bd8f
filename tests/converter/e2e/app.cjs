// A tiny HTTP service instrumented by the real pinpoint-node-agent (configured by PINPOINT_* env).
// GET /  → calls DOWNSTREAM_URL (if set) and answers with its body; prints "listening PORT" when ready.
"use strict";
require("pinpoint-node-agent");
const http = require("http") // not "node:http": the agent hooks the plain module name;

const downstream = process.env.DOWNSTREAM_URL;
const server = http.createServer((req, res) => {
  if (!downstream) {
    setTimeout(() => res.end(`hello from ${process.env.PINPOINT_APPLICATION_NAME}`), 5);
    return;
  }
  // http.request, not http.get: the agent wraps the exported request(), which http.get bypasses.
  const out = http.request(downstream, (r) => {
    let body = "";
    r.on("data", (d) => (body += d));
    r.on("end", () => res.end(`front got: ${body}`));
  });
  out.on("error", (e) => {
    res.statusCode = 502;
    res.end(String(e));
  });
  out.end();
});
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
process.on("SIGTERM", () => process.exit(0));
