// Host call rate: what replay can push through WasmHost.checkPayload / parsePayload.
// - the host's own cost per call, with a WAT plugin that returns at once;
// - the same with a plugin that reads the context and the payload (the usual first steps);
// - the example plugin (build/http-hooks.wasm): "not mine" answers, claims, parses.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";
import { WasmHost, type CallCtx } from "../sdk/host.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

const MINIMAL = (body: string) => `(module
  (import "deepflow" "vm_read_ctx_base" (func $ctx (param i32 i32) (result i32)))
  (import "deepflow" "vm_read_payload" (func $payload (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\00\\01")
  (func (export "_start"))
  (func (export "check_payload") (result i32) ${body})
  (func (export "parse_payload") (result i32) ${body})
  (func (export "on_http_req") (result i32) (i32.const 0))
  (func (export "on_http_resp") (result i32) (i32.const 0))
  (func (export "get_hook_bitmap") (result i32) (i32.const 64)))`;

async function watModule(text: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const m = wabt.parseWat("bench.wat", text);
  try {
    return m.toBinary({}).buffer;
  } finally {
    m.destroy();
  }
}

function rate(label: string, fn: () => void, seconds = 1): void {
  for (let i = 0; i < 20_000; i++) fn(); // warm up the JIT
  let n = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  while (performance.now() < until) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
  }
  const perSec = n / ((performance.now() - start) / 1000);
  console.log(`${label.padEnd(58)} ${Math.round(perSec).toLocaleString("en-US").padStart(12)} calls/s  ${(1e9 / perSec).toFixed(0).padStart(6)} ns/call`);
}

const ctx: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 9000, direction: 0, flowId: 1, time: 1_700_000_000_000_000 };
const rawIpCtx: CallCtx = { ...ctx, srcIp: new Uint8Array([10, 0, 0, 1]), dstIp: new Uint8Array([10, 0, 0, 2]) };
const http = new TextEncoder().encode("GET /api/orders?id=3 HTTP/1.1\r\nHost: shop\r\nUser-Agent: curl/8\r\nAccept: */*\r\n" + "X-Pad: ".padEnd(200, "x") + "\r\n\r\n");
const toy = new TextEncoder().encode("TOY 7 GET /users\nTOY 8 PUT /x\n");

export default async function (): Promise<void> {
  const empty = await WasmHost.load([{ name: "empty", bytes: await watModule(MINIMAL("(i32.const 0)")) }]);
  rate("host overhead: plugin returns 0 at once", () => empty.checkPayload(ctx, http));
  rate("host overhead, raw IP bytes in the context", () => empty.checkPayload(rawIpCtx, http));
  const reader = await WasmHost.load([
    { name: "reader", bytes: await watModule(MINIMAL("(drop (call $ctx (i32.const 1024) (i32.const 512))) (drop (call $payload (i32.const 4096) (i32.const 4096))) (i32.const 0)")) },
  ]);
  rate(`plugin reads ctx + ${http.length}-byte payload, returns 0`, () => reader.checkPayload(ctx, http));

  const wasm = `${root}build/http-hooks.wasm`;
  if (!existsSync(wasm)) execFileSync(process.execPath, ["--import", "tsx", "scripts/build-plugins.ts", "http-hooks"], { cwd: root, stdio: "inherit" });
  const host = await WasmHost.load([wasm]);
  rate("http-hooks.wasm check_payload, HTTP request (not mine)", () => host.checkPayload(ctx, http));
  rate("http-hooks.wasm check_payload, toy request (claimed)", () => host.checkPayload(ctx, toy));
  rate("http-hooks.wasm parse_payload, 2 toy requests (2 records)", () => host.parsePayload(ctx, toy, 200));
  const c = host.counters()[0].hooks;
  console.log(`failures: check ${c.check_payload.failures}, parse ${c.parse_payload.failures}; memory ${c.parse_payload.memSize} bytes`);
}
