// Our plugins beside a plugin built with DeepFlow's own Go SDK and TinyGo, on the same host:
// per message, the plugin alone (exports called straight, bench/measure.ts) and through the
// host simulator; the module's size, its start-up and its memory once started.
//
// The peer is the Go SDK's compiled ZMTP example (deepflowio/deepflow-wasm-go-sdk,
// example/zmtp/wasm.wasm): the agent's ZMTP parser hands it each message through
// on_custom_message; it decodes the ZmtpMessage and the demo's protobuf body and logs the body
// as JSON. That repository has no licence file, so the module is not bundled here: the bench
// runs it when TINYGO_PLUGIN names the file (see bench/README.md for how to get it), and says
// so otherwise. The other examples (Dubbo, HTTP, ...) come as Go source only, and no TinyGo
// toolchain installs from npm or Debian, so ZMTP is the one peer available.
//
// Our side of the same hook: dubbo.wasm's on_custom_message on a Dubbo request (it reads the
// payload's Hessian2 attachments and logs the trace ids); and, as the everyday path, its
// check_payload + parse_payload on that request. The protocols differ, so a ratio compares
// what a message costs a plugin of each toolchain, not the same parsing work.
import { existsSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { HOOK_POINT_PROTOCOL_PARSE, type CustomMessageInfo } from "../sdk/abi.ts";
import { encodeZmtpMessage, L7_ZMTP, ZmtpLog } from "../sdk/custom/zmtp.ts";
import { L7_DUBBO } from "../sdk/custom/dubbo.ts";
import { WasmHost, type CallCtx } from "../sdk/host.ts";
import { newWasi } from "../sdk/wasi.ts";
import { tcpSegments } from "../tests/support/capture.ts";
import { cpuNsPerCall, pluginAlone, pluginWasm, showCpu, type PluginAlone } from "./measure.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const ZMTP_CAPTURE = `${root}tests/fixtures/deepflow/zmtp/zmtp_subscribe_one.pcap`;
const DUBBO_CAPTURE = `${root}tests/fixtures/dubbo/dubbo-hessian2.pcap`;
const DUBBO_PROTO = 140;

/** The custom messages the agent's ZMTP parser sends for a capture's frames, with the packet each came in. */
function zmtpMessages(): Array<{ payload: Uint8Array; direction: 0 | 1; msg: CustomMessageInfo }> {
  const out: Array<{ payload: Uint8Array; direction: 0 | 1; msg: CustomMessageInfo }> = [];
  const logs = [new ZmtpLog(), new ZmtpLog()];
  for (const s of tcpSegments(ZMTP_CAPTURE)) {
    for (const info of logs[s.direction]!.parse(s.payload, s.direction === 0, false) ?? []) {
      out.push({ payload: s.payload, direction: s.direction, msg: { hookPoint: HOOK_POINT_PROTOCOL_PARSE, typeCode: L7_ZMTP, data: encodeZmtpMessage(info.subscription, info.payload) } });
    }
  }
  return out;
}

/**
 * A message body of the example's own demo.proto (MessageWrapper { request: OrderRequest {
 * business_id = 1235 } }), which it decodes and logs as JSON: the capture's bodies are not
 * that protocol, so there it logs only the frames without a body.
 */
function demoBody(businessId: string): Uint8Array {
  const id = Buffer.from(businessId);
  const order = Buffer.concat([Buffer.from([0x9a, 0x4d, id.length]), id]); // field 1235, length-delimited
  return Buffer.concat([Buffer.from([0x0a, order.length]), order]); // field 1 (request)
}

/** ms to compile, instantiate and start a module, median of 5. */
async function startMs(start: () => Promise<unknown> | unknown): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await start();
    runs.push(performance.now() - t);
  }
  return runs.sort((a, b) => a - b)[2]!;
}

const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

export default async function main(): Promise<void> {
  const dubboWasm = pluginWasm("dubbo");
  const dubboBytes = readFileSync(dubboWasm);
  const segments = tcpSegments(DUBBO_CAPTURE);
  const request = segments[0]!.payload;
  const dubboMsg: CustomMessageInfo = { hookPoint: HOOK_POINT_PROTOCOL_PARSE, typeCode: L7_DUBBO, data: new Uint8Array(0) };
  const ctx: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 20880, direction: 0, flowId: 1, bufSize: 1024 };

  const ours = pluginAlone(dubboBytes, request, { direction: 0, dstPort: 20880 });
  if (ours.custom(dubboMsg) !== 1 || ours.resultBytes() === 0) throw new Error("dubbo.wasm logged nothing through on_custom_message");
  const oursStart = await startMs(() => pluginAlone(dubboBytes, request, { direction: 0, dstPort: 20880 }));
  console.log(`ours: build/dubbo.wasm, ${statSync(dubboWasm).size.toLocaleString("en-US")} bytes, started in ${oursStart.toFixed(1)} ms, memory ${kib(ours.memoryBytes())}`);
  const oursHook = cpuNsPerCall(() => ours.custom(dubboMsg), 20_000, 9);
  showCpu("ours alone: Dubbo request, on_custom_message", oursHook);
  const oursParse = cpuNsPerCall(() => {
    ours.check();
    ours.parse(DUBBO_PROTO);
  }, 20_000, 9);
  showCpu("ours alone: Dubbo request, check_payload + parse_payload", oursParse);
  const oursHost = await WasmHost.load([dubboWasm]);
  const oursHostHook = cpuNsPerCall(() => oursHost.onCustomMessage(ctx, request, dubboMsg), 20_000, 9);
  showCpu("ours via host-sim: Dubbo request, on_custom_message", oursHostHook);

  const peer = process.env.TINYGO_PLUGIN;
  if (!peer || !existsSync(peer)) {
    console.log("TinyGo peer: not run (set TINYGO_PLUGIN to the Go SDK's example/zmtp/wasm.wasm; bench/README.md says how to get it)");
    return;
  }
  const peerBytes = readFileSync(peer);
  const messages = zmtpMessages();
  const zctx = (d: 0 | 1): CallCtx => ({ srcIp: "127.0.0.1", dstIp: "127.0.0.1", srcPort: d === 0 ? 52676 : 8080, dstPort: d === 0 ? 8080 : 52676, direction: d, flowId: 1, bufSize: 1024 });
  const alone: PluginAlone = pluginAlone(peerBytes, messages[0]!.payload, { direction: 0, dstPort: 8080 }, await newWasi("discard"));
  const demo = { payload: messages[messages.length - 1]!.payload, direction: 0 as const, msg: { hookPoint: HOOK_POINT_PROTOCOL_PARSE, typeCode: L7_ZMTP, data: encodeZmtpMessage(null, demoBody("order-20261207-000042")) } };
  alone.use(demo.payload);
  if (alone.custom(demo.msg) !== 1 || alone.resultBytes() === 0) throw new Error(`${peer} did not log its demo message`);
  const logged = messages.filter((m) => {
    alone.use(m.payload);
    return alone.custom(m.msg) === 1;
  }).length;
  const peerStart = await startMs(async () => pluginAlone(peerBytes, messages[0]!.payload, { direction: 0, dstPort: 8080 }, await newWasi("discard")));
  console.log(`TinyGo: ${peer}, ${peerBytes.length.toLocaleString("en-US")} bytes, started in ${peerStart.toFixed(1)} ms, memory ${kib(alone.memoryBytes())}`);
  const perMessage = (label: string, list: Array<{ payload: Uint8Array; direction: 0 | 1; msg: CustomMessageInfo }>) => {
    let i = 0;
    const a = cpuNsPerCall(() => {
      const m = list[i++ % list.length]!;
      alone.use(m.payload);
      alone.custom(m.msg);
    }, 5_000, 9);
    showCpu(`TinyGo alone: ${label}`, a);
    return a;
  };
  const peerHook = perMessage("demo message, decoded and logged as JSON", [demo]);
  perMessage(`${messages.length} frames of the capture (${logged} logged, the rest next)`, messages);
  const peerHost = await WasmHost.load([peer]);
  const peerHostHook = cpuNsPerCall(() => peerHost.onCustomMessage(zctx(0), demo.payload, demo.msg), 5_000, 9);
  showCpu("TinyGo via host-sim: demo message", peerHostHook);
  console.log(`memory after the calls: TinyGo ${kib(alone.memoryBytes())}, ours ${kib(ours.memoryBytes())}`);
  const ratio = (a: { median: number }, b: { median: number }) => (a.median / b.median).toFixed(1);
  console.log(`TinyGo demo message / our Dubbo request, on_custom_message (medians): alone ${ratio(peerHook, oursHook)}×, via host-sim ${ratio(peerHostHook, oursHostHook)}×; ` +
    `module size ${(peerBytes.length / statSync(dubboWasm).size).toFixed(0)}×, start-up ${(peerStart / oursStart).toFixed(1)}×`);
}
