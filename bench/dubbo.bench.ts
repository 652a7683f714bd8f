// Dubbo plugin cost: ns per message (check_payload + parse_payload) for a typical
// Hessian2 request with Pinpoint/RequestID/EntryID attachments, its response, the
// custom-message hook, and the release module size. Targets: < 2 µs, < 40 KB.
// "plugin alone" calls the exports straight (bench/measure.ts); "via host-sim" adds the
// simulated agent's work (context, copies, decoding the records). CPU time per call.
import { readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { WasmHost, type CallCtx } from "../sdk/host.ts";
import { tcpSegments } from "../tests/support/capture.ts";
import { cpuNsPerCall, nsPerCall, pluginAlone, pluginWasm, show, showCpu } from "./measure.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const PROTO = 140;

export default async function (): Promise<void> {
  const wasm = pluginWasm("dubbo");
  const size = statSync(wasm).size;
  console.log(`build/dubbo.wasm: ${size} bytes (${(size / 1024).toFixed(1)} KiB; target < 40 KB)`);

  // A typical call from the generated capture: 11 attachments (Pinpoint _DUBBO_* set, RequestID, EntryID, Dubbo's own).
  const segments = tcpSegments(`${root}tests/fixtures/dubbo/dubbo-hessian2.pcap`);
  const request = segments[0].payload;
  const response = segments[1].payload;
  const ctx: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 20880, direction: 0, flowId: 1, bufSize: 1024 };
  const respCtx: CallCtx = { ...ctx, srcIp: "10.0.0.2", dstIp: "10.0.0.1", srcPort: 20880, dstPort: 40000, direction: 1 };
  console.log(`request: ${request.length} bytes, response: ${response.length} bytes`);

  const bytes = readFileSync(wasm);
  for (const [label, payload, direction] of [["request with attachments", request, 0], ["response", response, 1]] as const) {
    const plugin = pluginAlone(bytes, payload, { direction, dstPort: 20880 });
    if (plugin.check() === 0 || plugin.parse(PROTO) !== 1 || plugin.resultBytes() === 0) throw new Error(`the plugin did not log the ${label}`);
    showCpu(`plugin alone: ${label}, check + parse`, cpuNsPerCall(() => {
      plugin.check();
      plugin.parse(PROTO);
    }, 20_000, 15));
  }

  // What any call costs before a plugin looks at the bytes: the SDK reading the context and payload.
  const http = pluginAlone(bytes, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), { direction: 0, dstPort: 20880 });
  show("plugin alone: check_payload on HTTP (not mine: the SDK's floor)", nsPerCall(() => http.check()));

  const host = await WasmHost.load([wasm]);
  show("via host-sim: request, check + parse (+ host's record decoding)", nsPerCall(() => {
    host.checkPayload(ctx, request);
    host.parsePayload(ctx, request, PROTO);
  }));
  show("via host-sim: response, check + parse", nsPerCall(() => {
    host.checkPayload(respCtx, response);
    host.parsePayload(respCtx, response, PROTO);
  }));
  const hook = nsPerCall(() => host.onCustomMessage(ctx, request, { hookPoint: 0, typeCode: 40, data: new Uint8Array(0) }));
  show("via host-sim: request through on_custom_message", hook);
  const c = host.counters()[0];
  console.log(`failures: ${c.hooks.check_payload.failures + c.hooks.parse_payload.failures + c.hooks.on_custom_message.failures}; memory ${c.hooks.parse_payload.memSize} bytes`);
}
