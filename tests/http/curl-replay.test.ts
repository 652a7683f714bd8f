// Real HTTP/1 traffic (tests/fixtures/http/curl.pcap: curl against node:http, see its README)
// replayed with the example plugin that uses every hook (plugins/http-hooks): the agent's
// HTTP parser takes the flows, the plugin's on_http_req / on_http_resp are called with the
// agent's record and their rewrite shows in the rows; the --http-* settings; and the agent's
// order: a plugin's check_payload claim comes first and keeps the HTTP parser (and its hooks)
// away from the flow.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { HttpReqInfo, HttpRespInfo } from "../../sdk/abi.ts";
import { WasmHost, type PluginSource } from "../../sdk/host.ts";
import type { FlowLogRow } from "../../sdk/row.ts";
import { replayCapture, type ReplayOptions, type ReplaySummary } from "../../sdk/replay.ts";
import { encodePbRecord, frameRecords, type AppInfo } from "../../sdk/result.ts";
import { AppRespStatus } from "../../sdk/schema.generated.ts";
import { wat } from "../host/support.ts";
import { claimAllPlugin } from "../replay/claim-all.ts";

const root = join(import.meta.dirname, "../..");
const CAPTURE = join(root, "tests/fixtures/http/curl.pcap");
const PORT = (JSON.parse(readFileSync(join(root, "tests/fixtures/http/curl.json"), "utf8")) as { port: number }).port;
const HOOKS = join(root, "build/http-hooks.wasm");

beforeAll(() => {
  if (!existsSync(HOOKS)) execFileSync(process.execPath, ["--import", "tsx", "scripts/build-plugins.ts", "http-hooks"], { cwd: root, stdio: "inherit", timeout: 120_000 });
});

interface Run {
  rows: FlowLogRow[];
  summary: ReplaySummary;
  req: HttpReqInfo[];
  resp: HttpRespInfo[];
}

async function replay(plugins: PluginSource[], opts: Partial<ReplayOptions> = {}): Promise<Run> {
  const host = await WasmHost.load(plugins);
  const run: Run = { rows: [], summary: undefined as unknown as ReplaySummary, req: [], resp: [] };
  const onReq = host.onHttpReq.bind(host);
  const onResp = host.onHttpResp.bind(host);
  host.onHttpReq = (ctx, payload, info) => (run.req.push({ ...info }), onReq(ctx, payload, info));
  host.onHttpResp = (ctx, payload, info) => (run.resp.push({ ...info }), onResp(ctx, payload, info));
  run.summary = await replayCapture({ capture: CAPTURE, host, onRow: (r) => run.rows.push(r), ...opts });
  return run;
}

const byPath = (rows: FlowLogRow[], path: string) => rows.find((r) => r.request_resource === path)!;
const attrs = (r: FlowLogRow) => Object.fromEntries(r.attribute_names.map((k, i) => [k, r.attribute_values[i]]));

describe("curl.pcap with the http-hooks example plugin", () => {
  let run: Run;
  beforeAll(async () => {
    run = await replay([HOOKS]);
  });

  it("one HTTP row per exchange, as the agent logs them", () => {
    expect(run.rows.map((r) => [r.type, r.request_type, r.request_resource, r.response_code, r.response_status])).toEqual([
      [2, "GET", "/hello/1?q=1", 200, 0],
      [2, "GET", "/items/7/detail", 200, 0],
      [2, "GET", "/biz", 7, 3], // rewritten by on_http_resp
      [2, "POST", "/orders", 201, 0],
      [2, "POST", "/upload", 201, 0], // the 100 Continue gives no log
      [2, "GET", "/missing", 404, 4],
      [2, "GET", "/fail", 500, 3],
      [2, "GET", "/large", 200, 0],
      [2, "GET", "/p/1", 200, 0], // of the two pipelined requests, only the first is read...
      [2, "GET", "/old", 200, 0],
      [1, "", "", 200, 2], // ...so the second response waits alone and leaves as a timeout, at the end
    ]);
    for (const r of run.rows) expect([r.l7_protocol, r.l7_protocol_str, r.server_port, r.ip_0, r.ip_1]).toEqual([20, "HTTP", PORT, "127.0.0.1", "127.0.0.1"]);
    expect(byPath(run.rows, "/old").version).toBe("1.0");
    expect(byPath(run.rows, "/hello/1?q=1")).toMatchObject({ version: "1.1", request_domain: `127.0.0.1:${PORT}`, endpoint: "/hello/1", response_length: 6 });
    expect(byPath(run.rows, "/items/7/detail").endpoint).toBe("/items/7"); // two segments, the default rule
    expect(byPath(run.rows, "/orders")).toMatchObject({ request_length: 20, response_length: 13 });
    expect(byPath(run.rows, "/upload").request_length).toBe(3000);
    expect(byPath(run.rows, "/large").response_length).toBeNull(); // chunked
    const s = run.summary;
    expect(s.http).toMatchObject({ flows: 1, flowsFromCache: 8, requests: 10, responses: 11, rewrittenByPlugins: 2 });
    expect(s.http!.notParsed).toBeGreaterThanOrEqual(3); // the 100 Continue, the upload body, the large body's segments
    expect(s.flows.claimed).toBe(0);
  });

  it("calls on_http_req / on_http_resp for every request and response, with the agent's record", () => {
    const hooks = run.summary.plugins[0]!.hooks;
    expect([hooks.on_http_req.calls, hooks.on_http_req.answered, hooks.on_http_resp.calls, hooks.on_http_resp.answered]).toEqual([10, 1, 11, 1]);
    expect([hooks.check_payload.calls, hooks.parse_payload.calls]).toEqual([1, 0]); // asked once, before the HTTP parser took the flow
    // curl sent a User-Agent and a Referer: the open-source agent never fills them in.
    expect(run.req[0]).toEqual({ path: "/hello/1?q=1", host: `127.0.0.1:${PORT}`, userAgent: "", referer: "" });
    // A response carries its request's endpoint and the status the agent derived from its code.
    expect(run.resp.slice(0, 3)).toEqual([
      { code: 200, status: "ok", endpoint: "/hello/1" },
      { code: 200, status: "ok", endpoint: "/items/7" },
      { code: 200, status: "ok", endpoint: "/biz" },
    ]);
    expect(run.resp.find((r) => r.code === 404)).toEqual({ code: 404, status: "client_error", endpoint: "/missing" });
  });

  it("applies the plugin's rewrite as the agent does", () => {
    // on_http_req: X-Request-ID → x_request_id_0 and two attributes.
    const hello = byPath(run.rows, "/hello/1?q=1");
    expect(hello).toMatchObject({ x_request_id_0: "req-1", x_request_id_1: "" });
    expect(attrs(hello)).toEqual({ request_id: "req-1", http_path: "/hello/1?q=1" });
    // on_http_resp: HTTP 200 with X-Biz-Code 7 → server error, code 7, the plugin's exception.
    const biz = byPath(run.rows, "/biz");
    expect(biz).toMatchObject({ response_status: 3, response_code: 7, response_exception: "business error 7" });
    // The request's raw header/payload (empty by the defaults) are kept for a log that is not ok.
    expect(biz.attribute_names).toEqual(["biz_code", "request_header", "request_payload"]);
    expect(attrs(biz).biz_code).toBe("7");
  });

  it("trace headers with the agent's defaults: traceparent and sw8; X_Request_ID as spelt", () => {
    const hello = byPath(run.rows, "/hello/1?q=1");
    expect([hello.trace_ids, hello.span_id]).toEqual([["0af7651916cd43dd8448eb211c80319c"], "b7ad6b7169203331"]);
    const orders = byPath(run.rows, "/orders");
    expect([orders.trace_ids, orders.span_id, orders.x_request_id_0, orders.http_proxy_client]).toEqual([["sw8-trace-1"], "sw8-segment-1-3", "under-1", ""]);
    // A response that is not ok carries the raw parts of tag_extraction.raw (the first 256 body bytes).
    expect(attrs(byPath(run.rows, "/fail"))).toEqual({ request_header: "", request_payload: "", response_payload: "failed on purpose\n" });
  });
});

describe("the agent's tag_extraction settings", () => {
  it("Pinpoint-TraceID / Pinpoint-SpanID, after or before the defaults", async () => {
    const after = await replay([], { httpConfig: { apm_trace_id: ["traceparent", "sw8", "Pinpoint-TraceID"], apm_span_id: ["traceparent", "sw8", "Pinpoint-SpanID"] } });
    const a = byPath(after.rows, "/hello/1?q=1");
    // Every configured trace id is collected, by priority; the span id of the first listed name present wins.
    expect([a.trace_id, a.trace_ids, a.span_id]).toEqual(["0af7651916cd43dd8448eb211c80319c", ["0af7651916cd43dd8448eb211c80319c", "curl-app^1700000000000^1"], "b7ad6b7169203331"]);
    const first = await replay([], { httpConfig: { apm_trace_id: ["Pinpoint-TraceID", "traceparent", "sw8"], apm_span_id: ["Pinpoint-SpanID", "traceparent", "sw8"] } });
    const f = byPath(first.rows, "/hello/1?q=1");
    expect([f.trace_id, f.trace_ids, f.span_id]).toEqual(["curl-app^1700000000000^1", ["curl-app^1700000000000^1", "0af7651916cd43dd8448eb211c80319c"], "4886154370829216453"]);
  });

  it("x_request_id and http_real_client lists; '' for none", async () => {
    const run = await replay([], { httpConfig: { x_request_id: ["X-Request-ID"], http_real_client: ["X-Forwarded-For"], apm_trace_id: [], apm_span_id: [] } });
    const hello = byPath(run.rows, "/hello/1?q=1");
    // The server echoes X-Request-ID: the response's goes to x_request_id_1.
    expect([hello.x_request_id_0, hello.x_request_id_1, hello.trace_ids, hello.span_id]).toEqual(["req-1", "req-1", [], ""]);
    expect(byPath(run.rows, "/orders")).toMatchObject({ x_request_id_0: "", http_proxy_client: "10.1.2.3, 10.0.0.1" });
  });

  it("the command line takes the agent's lists", () => {
    const out = execFileSync(process.execPath, [
      join(root, "bin/host-sim.mjs"), "replay", CAPTURE, "--plugin", HOOKS, "--format", "jsonl", "--no-progress",
      "--http-trace-headers", "Pinpoint-TraceID,traceparent", "--http-span-headers", "Pinpoint-SpanID", "--http-x-request-id-headers", "X-Request-ID",
      "--http-real-client-headers", "X-Forwarded-For", "--http-custom-fields", "User-Agent",
    ], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const rows = out.trim().split("\n").map((l) => JSON.parse(l) as FlowLogRow);
    const hello = byPath(rows, "/hello/1?q=1");
    expect([hello.trace_id, hello.span_id, hello.x_request_id_1]).toEqual(["curl-app^1700000000000^1", "4886154370829216453", "req-1"]);
    expect(attrs(hello)).toMatchObject({ user_agent: "curl/7.88.1" });
    expect(byPath(rows, "/orders").http_proxy_client).toBe("10.1.2.3, 10.0.0.1");
  });

  it("--no-http with an --http-* setting is a usage error", () => {
    const r = spawnSync(process.execPath, [join(root, "bin/host-sim.mjs"), "replay", CAPTURE, "--plugin", HOOKS, "--no-http", "--http-trace-headers", "sw8", "--no-progress"], { encoding: "utf8" });
    expect([r.status, r.stderr.trim().split("\n").length]).toEqual([2, 1]);
    expect(r.stderr).toContain("--no-http");
  });

  it("the summary says what the HTTP parser took", () => {
    const r = spawnSync(process.execPath, [join(root, "bin/host-sim.mjs"), "replay", CAPTURE, "--plugin", HOOKS, "--format", "jsonl", "--out", "/dev/null", "--no-progress"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^http {6}the agent's HTTP\/1 parser took 1 flows no plugin claimed \(\+8 from the inference cache\): 10 requests, 11 responses \(2 rewritten by on_http_req\/on_http_resp\), \d+ payloads gave no log/m);
    expect(r.stderr).toContain("flows     9 (9 TCP, 0 UDP), 0 claimed by a plugin");
    expect(r.stderr).toContain("HTTP: 10 req / 11 resp");
  });
});

describe("order and precedence, as in the agent", () => {
  it("a plugin's check_payload claim comes first: the HTTP parser never sees the flow, no HTTP hook is called", async () => {
    for (const plugins of [[await claimAllPlugin(), HOOKS], [HOOKS, await claimAllPlugin()]]) {
      const run = await replay(plugins);
      expect(run.rows.every((r) => r.l7_protocol === 127 && r.l7_protocol_str === "claim-all")).toBe(true);
      expect([run.req.length, run.resp.length, run.summary.http!.flows, run.summary.http!.flowsFromCache]).toEqual([0, 0, 0, 0]);
      expect(run.summary.flows.claimed).toBe(9);
    }
  });

  it("--no-http (http: false): the plugins alone, as before", async () => {
    const run = await replay([HOOKS], { http: false });
    expect([run.rows.length, run.req.length, run.resp.length, run.summary.http]).toEqual([0, 0, 0, null]);
    // Every payload is offered to check_payload again, as nothing claims the flows.
    expect(run.summary.plugins[0]!.hooks.check_payload.calls).toBe(run.summary.payload.payloads);
  });

  it("the HTTP hooks run without any plugin hooking payload parse (Custom off, the agent's default, changes nothing for them)", async () => {
    const hooksOnly = { name: "hooks-only.wasm", bytes: await hookPlugin({ bitmap: HTTP_REQ | HTTP_RESP, req: { trace: { span_id: "from-plugin" } } }) };
    const run = await replay([hooksOnly]);
    expect(run.rows.filter((r) => r.type === 2).every((r) => r.span_id === "from-plugin")).toBe(true);
    // The header's span id the plugin replaced is kept as apm_span_id.
    expect(attrs(byPath(run.rows, "/hello/1?q=1")).apm_span_id).toBe("b7ad6b7169203331");
  });
});

describe("what the agent does with a hook's answer, quirks included", () => {
  it("an on_http_resp answer without a response status turns the status Unknown", async () => {
    const p = { name: "attrs-only.wasm", bytes: await hookPlugin({ bitmap: HTTP_RESP, resp: { attributes: [{ key: "seen", val: "1" }] } }) };
    const run = await replay([p]);
    const hello = byPath(run.rows, "/hello/1?q=1");
    expect([hello.response_status, hello.response_code, attrs(hello).seen]).toEqual([5, 200, "1"]);
  });

  it("a request_id from on_http_req becomes the session key: the response (which has none) no longer pairs", async () => {
    const p = { name: "req-id.wasm", bytes: await hookPlugin({ bitmap: HTTP_REQ, req: { request_id: 42 } }) };
    const run = await replay([p]);
    expect(run.rows.filter((r) => r.type === 2)).toHaveLength(0);
    expect(run.rows.filter((r) => r.type === 0).map((r) => r.request_id)).toEqual(new Array(10).fill(42));
    expect(run.rows.filter((r) => r.type === 1).map((r) => r.request_id)).toEqual(new Array(11).fill(null));
    // ... and the response no longer finds its request's endpoint (the cache is keyed by it too).
    expect(run.resp.every((r) => r.endpoint === "")).toBe(true);
  });

  it("a plugin's request fields replace the agent's; its parent span id and lengths are dropped", async () => {
    const p = { name: "rewrite.wasm", bytes: await hookPlugin({ bitmap: HTTP_REQ, req: { req: { type: "PUT", domain: "svc", resource: "/r", endpoint: "op" }, req_len: 1, trace: { parent_span_id: "p" } } }) };
    const run = await replay([p]);
    expect(run.rows[0]).toMatchObject({ request_type: "PUT", request_domain: "svc", request_resource: "/r", endpoint: "op", request_length: null, parent_span_id: "" });
  });
});

const HTTP_REQ = 1n << 127n;
const HTTP_RESP = 1n << 126n;

/** A plugin that only hooks HTTP, answering every call it hooks with one fixed record. */
async function hookPlugin(o: { bitmap: bigint; req?: AppInfo; resp?: AppInfo }): Promise<Uint8Array> {
  const hex = (b: Uint8Array) => Array.from(b, (x) => "\\" + x.toString(16).padStart(2, "0")).join("");
  const bitmap = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bitmap[i] = Number((o.bitmap >> BigInt(8 * (15 - i))) & 0xffn);
  const req = frameRecords([encodePbRecord(o.req ?? {})]);
  const resp = frameRecords([encodePbRecord(o.resp ?? { resp: { status: AppRespStatus.RESP_OK } })]);
  return wat(`(module
  (import "deepflow" "host_read_l7_protocol_info" (func $result (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "${hex(bitmap)}")
  (data (i32.const 2048) "${hex(req)}")
  (data (i32.const 8192) "${hex(resp)}")
  (func (export "_start"))
  (func (export "get_hook_bitmap") (result i32) (i32.const 1024))
  (func (export "check_payload") (result i32) (i32.const 0))
  (func (export "parse_payload") (result i32) (i32.const 0))
  (func (export "on_http_req") (result i32) (drop (call $result (i32.const 2048) (i32.const ${req.length}))) (i32.const 1))
  (func (export "on_http_resp") (result i32) (drop (call $result (i32.const 8192) (i32.const ${resp.length}))) (i32.const 1)))`);
}
