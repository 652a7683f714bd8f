// Shared by the benches: timing, and a plugin called without the host simulator.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ctxBaseSize, serializeCustomMessageCtx, writeCtxBase, type CustomMessageInfo } from "../sdk/abi.ts";
import type { NodeWasi } from "../sdk/wasi.ts";
import { compileRelease } from "../scripts/compile.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * Path of a plugin's release module: build/<name>.wasm (built when missing), or
 * $BENCH_WASM_DIR/<name>.wasm to compare builds kept aside under the same load.
 */
export function pluginWasm(name: string): string {
  const dir = process.env.BENCH_WASM_DIR;
  if (dir) return `${dir}/${name}.wasm`;
  const wasm = `${root}build/${name}.wasm`;
  if (!existsSync(wasm)) execFileSync(process.execPath, ["--import", "tsx", "scripts/build-plugins.ts", name], { cwd: root, stdio: "inherit" });
  return wasm;
}

/**
 * A copy of a shipped plugin that declares another protocol number, as a second plugin a
 * user deploys beside ours: plugins/<name>/*.ts copied to build/bench-copies/<name>-<proto>/
 * (imports of the SDK made one level deeper), its `*_PROTO` constant changed, compiled as
 * `npm run build` compiles. Kept out of build/ itself, which `--plugin build/` deploys
 * whole. Reused while newer than the plugin's sources.
 */
export async function pluginCopy(name: string, proto: number): Promise<string> {
  const src = join(root, "plugins", name);
  const dir = join(root, "build", "bench-copies", `${name}-${proto}`);
  const wasm = `${dir}.wasm`;
  const files = readdirSync(src).filter((f) => f.endsWith(".ts"));
  const newest = Math.max(...files.map((f) => statSync(join(src, f)).mtimeMs));
  if (existsSync(wasm) && statSync(wasm).mtimeMs > newest) return wasm;
  mkdirSync(dir, { recursive: true });
  for (const f of files) {
    let text = readFileSync(join(src, f), "utf8").replaceAll('from "../..', 'from "../../..');
    if (f === "config.ts") {
      const changed = text.replace(/(export const \w+_PROTO: u8 = )\d+;/, `$1${proto};`);
      if (changed === text) throw new Error(`plugins/${name}/config.ts declares no *_PROTO constant to change`);
      text = changed;
    }
    writeFileSync(join(dir, f), text);
  }
  await compileRelease(relative(root, join(dir, "index.ts")), wasm, "pipe");
  return wasm;
}

/**
 * Median ns per call of `fn` over timed batches, after a warm-up batch. CPU time of this
 * process (user + system), so that other work on a shared machine inflates it less
 * than wall time.
 */
export function nsPerCall(fn: () => void, batch = 20_000, rounds = 7): number {
  return cpuNsPerCall(fn, batch, rounds).median;
}

/** nsPerCall's median, and its best batch (closest to the cost on an idle machine). */
export function cpuNsPerCall(fn: () => void, batch = 20_000, rounds = 7): { median: number; best: number } {
  for (let i = 0; i < batch; i++) fn();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < batch; i++) fn();
    const t = process.cpuUsage(t0);
    samples.push(((t.user + t.system) * 1000) / batch);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[samples.length >> 1], best: samples[0] };
}

export function show(label: string, ns: number, unit = "ns"): void {
  console.log(`${label.padEnd(64)} ${ns.toFixed(0).padStart(7)} ${unit}`);
}

/** A cpuNsPerCall figure: the median batch, and the best (closest to the cost on an idle machine). */
export function showCpu(label: string, ns: { median: number; best: number }): void {
  console.log(`${label.padEnd(64)} ${ns.median.toFixed(0).padStart(7)} ns median ${ns.best.toFixed(0).padStart(7)} ns best`);
}

export interface AloneCtx {
  direction: 0 | 1;
  dstPort?: number;
  flowId?: number;
  /** The agent's payload truncation; the payload is cut to it. Default 1024. */
  bufSize?: number;
}

export interface PluginAlone {
  /** The payload of the next calls (cut to the buf size), and their flow id when another. */
  use(payload: Uint8Array, flowId?: number): void;
  /** check_payload (the context's l7 byte is 0). */
  check(): number;
  /** parse_payload with the claimed protocol in the context. */
  parse(proto: number): number;
  /** on_custom_message with this message (the context's l7 byte is 0). */
  custom(msg: CustomMessageInfo): number;
  /** Bytes the last host_read_l7_protocol_info received. */
  resultBytes(): number;
  /** The module's memory now, in bytes. */
  memoryBytes(): number;
}

/**
 * A plugin's exports called straight, with imports that only copy a prepared context,
 * payload and custom message and note the result's size: what is measured is the plugin's
 * own work. A module importing WASI (TinyGo's) needs `wasi` (sdk/wasi.ts newWasi), and is
 * started through it as the agent starts it.
 */
export function pluginAlone(bytes: BufferSource, payload: Uint8Array, c: AloneCtx, wasi?: NodeWasi): PluginAlone {
  const src = Uint8Array.from([10, 0, 0, 1]);
  const dst = Uint8Array.from([10, 0, 0, 2]);
  const bufSize = c.bufSize ?? 1024;
  const ctx = new Uint8Array(ctxBaseSize(4, 0));
  // Contexts by protocol and flow id, made once each: the calls measured copy them only.
  const made = new Map<string, Uint8Array>();
  let flowId = c.flowId ?? 1;
  const ctxFor = (l7: number) => {
    const key = `${l7}/${flowId}`;
    let bytes = made.get(key);
    if (!bytes) {
      const n = writeCtxBase(ctx, {
        srcIp: src, dstIp: dst, srcPort: 40000, dstPort: c.dstPort ?? 9000, l4: 6, l7, ebpfType: 255, time: 0,
        direction: c.direction, processName: "", flowId, bufSize,
      }, src, dst, new Uint8Array(0));
      bytes = ctx.slice(0, n);
      made.set(key, bytes);
    }
    return bytes;
  };
  let checkCtx = ctxFor(0);
  let parseCtx = checkCtx;
  let current = checkCtx;
  let data = payload.subarray(0, Math.min(payload.length, bufSize));
  // The last message serialized, kept while the same message object is passed again.
  let message: CustomMessageInfo | null = null;
  let messageBytes: Uint8Array = new Uint8Array(0);
  const plugin: { memory?: WebAssembly.Memory } = {};
  // One view of the module's memory, made again only when the memory grew (which
  // detaches the old buffer): a view per copy would cost more than the plugin's own reads.
  let view = new Uint8Array(0);
  let resultBytes = 0;
  const into = (from: () => Uint8Array, short: number) => (p: number, l: number) => {
    const bytesNow = from();
    if (l < bytesNow.length) return short;
    // A grown memory detaches the old buffer (its length reads 0): cheaper to test than memory.buffer.
    if (view.byteLength === 0) view = new Uint8Array(plugin.memory!.buffer);
    view.set(bytesNow, p);
    return bytesNow.length;
  };
  const none = () => 0;
  const module = new WebAssembly.Module(bytes);
  if (!wasi && WebAssembly.Module.imports(module).some((i) => i.module === "wasi_snapshot_preview1")) throw new Error("the module imports WASI: pass one");
  const instance = new WebAssembly.Instance(module, {
    deepflow: {
      wasm_log: none, vm_read_ctx_base: into(() => current, 0), vm_read_payload: into(() => data, -1),
      vm_read_http_req_info: none, vm_read_http_resp_info: none, vm_read_custom_message_info: into(() => messageBytes, 0),
      host_read_str_result: () => 1,
      host_read_l7_protocol_info: (_p: number, l: number) => ((resultBytes = l), 1),
    },
    ...(wasi ? { wasi_snapshot_preview1: wasi.wasiImport as WebAssembly.ModuleImports } : {}),
  });
  plugin.memory = instance.exports.memory as WebAssembly.Memory;
  const ex = instance.exports as Record<string, () => number>;
  if (wasi) wasi.start(instance);
  else ex._start();
  let parseProto = -1;
  return {
    use: (p: Uint8Array, flow?: number) => {
      data = p.subarray(0, Math.min(p.length, bufSize));
      if (flow !== undefined && flow !== flowId) {
        flowId = flow;
        checkCtx = ctxFor(0);
        parseProto = -1;
      }
    },
    check: () => {
      current = checkCtx;
      return ex.check_payload();
    },
    parse: (proto: number) => {
      if (proto !== parseProto) {
        parseProto = proto;
        parseCtx = ctxFor(proto);
      }
      current = parseCtx;
      return ex.parse_payload();
    },
    custom: (msg: CustomMessageInfo) => {
      if (msg !== message) {
        message = msg;
        messageBytes = serializeCustomMessageCtx(msg);
      }
      current = checkCtx;
      return ex.on_custom_message();
    },
    resultBytes: () => resultBytes,
    memoryBytes: () => plugin.memory!.buffer.byteLength,
  };
}

/** CPU of this process's waited-for children so far (cutime + cstime of /proc/self/stat, USER_HZ 100), in ms. */
export function childrenCpuMs(): number {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
  // Fields 16 and 17 of the file; the split leaves field 3 (state) at index 0.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}
