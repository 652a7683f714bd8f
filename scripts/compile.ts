// How a plugin is compiled for release, in one place: `npm run build`, the test plugins
// (tests/support/as-harness.ts) and the benches' plugin copies all compile this way.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const asc = join(root, "node_modules", ".bin", "asc");

// The compiler options live in asconfig.json, so that a plain
// `npx asc plugins/<name>/index.ts --config asconfig.json --target release -o x.wasm` builds
// a module the agent accepts. Why they are what they are:
// - runtime minimal: about half the size of the incremental runtime; assembly/exports.ts
//   collects garbage after calls;
// - use abort=assembly/abi/pluginAbort: abort must not become an `env.abort` import, which
//   the agent does not offer (the module would not load);
// - exportStart _start: the agent calls _start once, where the plugin registers its parser;
// - release: speed level 2 with light shrinking, the best speed for the bytes among the
//   levels measured (figures in bench/README.md); no asserts.
const CONFIG = ["--config", "asconfig.json"];

// asc's -O2 -s1 lets binaryen inline only the tiniest functions; a second pass that
// also inlines functions of up to 10 instructions (and single-caller ones up to 200)
// gains the speed of -O2 -s0 for a few dozen bytes, where -s0 costs more size
// (figures in bench/README.md).
const REOPT = { optimizeLevel: 2, shrinkLevel: 1, alwaysInlineMaxSize: 10, oneCallerInlineMaxSize: 200 };

async function reoptimize(file: string): Promise<void> {
  // binaryen's module installs an uncaughtException handler that rethrows, so that Node
  // then prints the line it threw from: its whole minified source (megabytes) before the
  // error. Its handler goes; errors print as they would without it.
  const handlers = process.listeners("uncaughtException");
  const binaryen = (await import("binaryen")).default;
  for (const h of process.listeners("uncaughtException")) if (!handlers.includes(h)) process.off("uncaughtException", h);
  const module = binaryen.readBinary(readFileSync(file));
  try {
    // The features asc enables by default: the second pass must not use others.
    module.setFeatures(binaryen.Features.MutableGlobals | binaryen.Features.SignExt |
      binaryen.Features.NontrappingFPToInt | binaryen.Features.BulkMemory);
    binaryen.setOptimizeLevel(REOPT.optimizeLevel);
    binaryen.setShrinkLevel(REOPT.shrinkLevel);
    binaryen.setAlwaysInlineMaxSize(REOPT.alwaysInlineMaxSize);
    binaryen.setOneCallerInlineMaxSize(REOPT.oneCallerInlineMaxSize);
    module.optimize();
    if (!module.validate()) throw new Error(`${file}: the re-optimized module does not validate`);
    writeFileSync(file, module.emitBinary());
  } finally {
    module.dispose();
  }
}

/**
 * Compiles an AssemblyScript entry (relative to the project root) to `out` with asconfig.json's
 * release target, then re-optimizes it. Throws when asc fails; asc's messages go to `stdio`
 * (default: inherited).
 */
export async function compileRelease(entry: string, out: string, stdio: "inherit" | "pipe" = "inherit"): Promise<void> {
  execFileSync(asc, [entry, "-o", out, ...CONFIG, "--target", "release"], { cwd: root, stdio });
  await reoptimize(out);
}
