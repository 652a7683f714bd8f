// Dubbo plugin cost: ns per message (check_payload + parse_payload) for a typical
// Hessian2 request with Pinpoint/RequestID/EntryID attachments, its response, the
// custom-message hook, and the release module size. Targets: < 2 µs, < 40 KB.
// Figures go through host-sim's WasmHost, so they include the host's own per-call
// cost, printed first for reference.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";
import { WasmHost, type CallCtx } from "../host-sim/host.ts";
import { ctxBaseSize, writeCtxBase } from "../host-sim/abi.ts";
import { tcpSegments } from "../plugins/dubbo/tests/drive.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Median ns per call of `fn` over a few timed batches (after warming up). */
function nsPerCall(fn: () => void, batch = 50_000, rounds = 7): number {
  for (let i = 0; i < batch; i++) fn();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / batch);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

function show(label: string, ns: number): void {
  console.log(`${label.padEnd(64)} ${ns.toFixed(0).padStart(7)} ns`);
}

/** A plugin that reads the context and payload and returns: the host's share of a call. */
async function baselineHost(): Promise<WasmHost> {
  const wabt = await wabtInit();
  const m = wabt.parseWat("baseline.wat", `(module
    (import "deepflow" "vm_read_ctx_base" (func $ctx (param i32 i32) (result i32)))
    (import "deepflow" "vm_read_payload" (func $payload (param i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 64) "\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\01")
    (func (export "_start"))
    (func $read (result i32) (drop (call $ctx (i32.const 1024) (i32.const 512))) (drop (call $payload (i32.const 4096) (i32.const 4096))) (i32.const 0))
    (func (export "check_payload") (result i32) (call $read))
    (func (export "parse_payload") (result i32) (call $read))
    (func (export "on_http_req") (result i32) (i32.const 0))
    (func (export "on_http_resp") (result i32) (i32.const 0))
    (func (export "get_hook_bitmap") (result i32) (i32.const 64)))`);
  try {
    return await WasmHost.load([{ name: "baseline", bytes: m.toBinary({}).buffer }]);
  } finally {
    m.destroy();
  }
}

/**
 * The plugin alone: its exports called straight, the imports reduced to copying a
 * prepared context and payload and dropping the result (what is left is the plugin's work).
 */
function bare(bytes: Buffer<ArrayBuffer>, payload: Uint8Array, direction: 0 | 1): { check(): number; parse(): number; resultBytes(): number } {
  const ctx = new Uint8Array(ctxBaseSize(4, 0));
  const src = Uint8Array.from([10, 0, 0, 1]);
  const dst = Uint8Array.from([10, 0, 0, 2]);
  const plugin: { memory?: WebAssembly.Memory } = {};
  let resultBytes = 0;
  const copy = (from: Uint8Array) => (p: number, l: number) => {
    if (l < from.length) return from === payload ? -1 : 0;
    new Uint8Array(plugin.memory!.buffer, p, from.length).set(from);
    return from.length;
  };
  const none = () => 0;
  let l7 = 0;
  const readCtx = (p: number, l: number) => {
    writeCtxBase(ctx, { srcIp: src, dstIp: dst, srcPort: 40000, dstPort: 20880, l4: 6, l7, ebpfType: 255, time: 0, direction, processName: "", flowId: 1, bufSize: 1024 }, src, dst, new Uint8Array(0));
    return copy(ctx)(p, l);
  };
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    deepflow: {
      wasm_log: none, vm_read_ctx_base: readCtx, vm_read_payload: copy(payload),
      vm_read_http_req_info: none, vm_read_http_resp_info: none, vm_read_custom_message_info: none,
      host_read_str_result: () => 1,
      host_read_l7_protocol_info: (_p: number, l: number) => ((resultBytes = l), 1),
    },
  });
  const ex = instance.exports as Record<string, () => number>;
  plugin.memory = instance.exports.memory as WebAssembly.Memory;
  ex._start();
  return {
    check: () => ((l7 = 0), ex.check_payload()),
    parse: () => ((l7 = 140), ex.parse_payload()),
    resultBytes: () => resultBytes,
  };
}

export default async function (): Promise<void> {
  const wasm = `${root}build/dubbo.wasm`;
  if (!existsSync(wasm)) execFileSync(process.execPath, ["scripts/build-plugins.mjs", "dubbo"], { cwd: root, stdio: "inherit" });
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
  for (const [label, payload, dir] of [["request with attachments", request, 0], ["response", response, 1]] as const) {
    const plugin = bare(bytes, payload, dir);
    if (plugin.check() === 0 || plugin.parse() !== 1 || plugin.resultBytes() === 0) throw new Error(`the plugin did not log the ${label}`);
    show(`plugin alone: ${label}, check + parse`, nsPerCall(() => {
      plugin.check();
      plugin.parse();
    }));
  }

  const base = await baselineHost();
  const hostShare = nsPerCall(() => {
    base.checkPayload(ctx, request);
    base.parsePayload(ctx, request, 1);
  });
  show("host alone (read ctx + payload, twice)", hostShare);

  const host = await WasmHost.load([wasm]);
  const req = nsPerCall(() => {
    host.checkPayload(ctx, request);
    host.parsePayload(ctx, request, 140);
  });
  show("request with attachments: check + parse", req);
  show("  of which the plugin (minus host share)", req - hostShare);
  const resp = nsPerCall(() => {
    host.checkPayload(respCtx, response);
    host.parsePayload(respCtx, response, 140);
  });
  show("response: check + parse", resp);
  show("  of which the plugin (minus host share)", resp - hostShare);
  const hook = nsPerCall(() => host.onCustomMessage(ctx, request, { hookPoint: 0, typeCode: 40, data: new Uint8Array(0) }));
  show("request via on_custom_message (one call)", hook);
  const c = host.counters()[0];
  console.log(`failures: ${c.hooks.check_payload.failures + c.hooks.parse_payload.failures + c.hooks.on_custom_message.failures}; memory ${c.hooks.parse_payload.memSize} bytes`);
}
