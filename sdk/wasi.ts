// WASI for plugins that import it (TinyGo modules of the Go SDK): the agent links a WasiCtx
// with no args, env, preopens or stdio (link_wasi in agent/src/plugin/wasm/abi_import.rs), so only
// the functions it offers are handed over, and nothing reaches a file.
import { openSync } from "node:fs";
import { WASI_IMPORTS } from "./abi.ts";

export interface NodeWasi {
  start(i: WebAssembly.Instance): number;
  wasiImport: Record<string, unknown>;
}

let devNull: { r: number; w: number } | undefined;

export async function newWasi(output: "discard" | "stderr"): Promise<NodeWasi> {
  devNull ??= { r: openSync("/dev/null", "r"), w: openSync("/dev/null", "w") };
  const outFd = output === "stderr" ? 2 : devNull.w;
  // node:wasi prints an ExperimentalWarning when first loaded; it means nothing here.
  const emit = process.emitWarning;
  process.emitWarning = ((w: string | Error, ...rest: unknown[]) => {
    if (String(typeof w === "string" ? w : w.message).includes("WASI")) return;
    (emit as (...a: unknown[]) => void).call(process, w, ...rest);
  }) as typeof process.emitWarning;
  try {
    const { WASI } = await import("node:wasi");
    return new WASI({ version: "preview1", args: [], env: {}, returnOnExit: true, stdin: devNull.r, stdout: outFd, stderr: outFd }) as unknown as NodeWasi;
  } finally {
    process.emitWarning = emit;
  }
}

/** Only the functions link_wasi offers; proc_exit is watched so that a _start calling it fails to load. */
export function wasiSubset(all: Record<string, unknown>, exitDuringStart: { code: number | null }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of WASI_IMPORTS.keys()) out[name] = all[name];
  const procExit = all.proc_exit as (code: number) => void;
  out.proc_exit = (code: number) => {
    exitDuringStart.code = code;
    procExit(code);
  };
  return out;
}

