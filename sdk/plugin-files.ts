// `--plugin` arguments: a .wasm file, or a folder whose .wasm files are all loaded, in name
// order (`--plugin build/` deploys everything `npm run build` wrote, as an agent configured
// with every plugin would load them).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "./errors.ts";

export function pluginFiles(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    let isDir = false;
    try {
      isDir = statSync(a).isDirectory();
    } catch {
      // Not there: the host reports it as a plugin it cannot read.
    }
    if (!isDir) {
      out.push(a);
      continue;
    }
    const wasm = readdirSync(a).filter((n) => n.endsWith(".wasm")).sort();
    if (wasm.length === 0) throw new UsageError(`--plugin ${a}: the folder holds no .wasm file`);
    out.push(...wasm.map((n) => join(a, n)));
  }
  return out;
}
