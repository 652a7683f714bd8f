// Compiles an AssemblyScript test harness (an entry under tests/as/ that exports
// SDK codec functions) and instantiates it, so SDK codecs can be unit-tested
// without going through a plugin. The harness runs outside the agent: only
// wasm_log is answered; any other deepflow import fails loudly.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compileRelease } from "../../scripts/compile.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface Harness {
  exports: Record<string, unknown>;
  memory: WebAssembly.Memory;
  logs: string[];
  /** Copies bytes into a fresh harness-owned buffer (requires the harness to export `alloc(n): usize`). */
  put(bytes: Uint8Array): number;
  read(ptr: number, len: number): Uint8Array;
}

/** entry: path relative to the project root, e.g. "tests/as/hpack.ts". */
export function loadHarness(entry: string): Harness {
  const outDir = join(root, "build", "harness");
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, basename(entry).replace(/\.ts$/, ".wasm"));
  execFileSync(join(root, "node_modules", ".bin", "asc"), [
    entry, "-o", out, "--runtime", "incremental", "--use", "abort=assembly/abi/pluginAbort",
    "--exportStart", "_start", "-O2", "--exportRuntime",
  ], { cwd: root, stdio: "pipe" });
  const logs: string[] = [];
  // Filled once the instance exists; imports only run after that.
  const mem: { current?: WebAssembly.Memory } = {};
  const text = (p: number, l: number) => new TextDecoder().decode(new Uint8Array(mem.current!.buffer, p, l));
  const unavailable = (name: string) => () => {
    throw new Error(`${name} is not available in a codec harness`);
  };
  const deepflow: Record<string, unknown> = {
    wasm_log: (p: number, l: number) => void logs.push(text(p, l)),
  };
  for (const name of ["vm_read_ctx_base", "vm_read_payload", "vm_read_http_req_info", "vm_read_http_resp_info",
    "vm_read_custom_message_info", "host_read_l7_protocol_info", "host_read_str_result"]) deepflow[name] = unavailable(name);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), { deepflow } as WebAssembly.Imports);
  const exports = instance.exports as Record<string, unknown>;
  const memory = exports.memory as WebAssembly.Memory;
  mem.current = memory;
  (exports._start as () => void)();
  return {
    exports,
    memory,
    logs,
    put(bytes: Uint8Array): number {
      const ptr = (exports.alloc as (n: number) => number)(bytes.length);
      new Uint8Array(memory.buffer, ptr, bytes.length).set(bytes);
      return ptr;
    },
    read(ptr: number, len: number): Uint8Array {
      return new Uint8Array(memory.buffer, ptr, len).slice();
    },
  };
}

/**
 * Compiles a test plugin (an entry under tests/as/ that registers a Parser) as
 * `npm run build` compiles the shipped ones. Returns the module's bytes.
 */
export async function buildTestPlugin(entry: string): Promise<Uint8Array> {
  const outDir = join(root, "build", "harness");
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, basename(entry).replace(/\.ts$/, ".wasm"));
  await compileRelease(entry, out, "pipe");
  return readFileSync(out);
}
