#!/usr/bin/env node
// Compiles every plugins/<name>/index.ts to build/<name>.wasm (release: optimized, no
// asserts) and refuses the build when the agent's linker would refuse a module.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import binaryen from "binaryen";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const asc = join(root, "node_modules", ".bin", "asc");
const only = process.argv.slice(2);

// abort must not become an `env.abort` import: the agent would refuse the module.
export const ASC_FLAGS = [
  "--runtime", "minimal", // assembly/exports.ts collects garbage after calls
  "--use", "abort=assembly/abi/pluginAbort",
  "--exportStart", "_start",
  "--noAssert",
  // Speed level 2 with light shrinking: about twice as fast per call as -Oz (which
  // inlines next to nothing) for 1-3% more bytes; -O2 (no shrinking) gains another
  // ~5% for 8% more bytes, -O3 nothing more for 50% more (bench/dubbo, bench/kafka).
  "--optimizeLevel", "2", "--shrinkLevel", "1", "--converge",
];

// asc's -O2 -s1 lets binaryen inline only the tiniest functions; a second pass that
// also inlines functions of up to 10 instructions (and single-caller ones up to 200)
// gains the speed of -O2 -s0 (12-17% per message on the Dubbo and Pinpoint benches)
// for a few dozen bytes, where -s0 costs 6% more size.
const REOPT = { optimizeLevel: 2, shrinkLevel: 1, alwaysInlineMaxSize: 10, oneCallerInlineMaxSize: 200 };
// The features asc enables by default: the second pass must not use others.
const FEATURES = binaryen.Features.MutableGlobals | binaryen.Features.SignExt |
  binaryen.Features.NontrappingFPToInt | binaryen.Features.BulkMemory;

function reoptimize(file) {
  const module = binaryen.readBinary(readFileSync(file));
  try {
    module.setFeatures(FEATURES);
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

const plugins = readdirSync(join(root, "plugins"))
  .filter((n) => existsSync(join(root, "plugins", n, "index.ts")))
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();
mkdirSync(join(root, "build"), { recursive: true });

const outputs = [];
for (const name of plugins) {
  const out = join("build", `${name}.wasm`);
  try {
    execFileSync(asc, [join("plugins", name, "index.ts"), "-o", out, ...ASC_FLAGS], { cwd: root, stdio: "inherit" });
  } catch {
    // asc printed the compile errors above.
    console.error(`build failed: plugins/${name}`);
    process.exit(1);
  }
  reoptimize(join(root, out));
  outputs.push(out);
  console.log(`built ${out} (${statSync(join(root, out)).size} bytes)`);
}

const checker = resolve(root, "..", "shared", "tools", "check-wasm-abi.mjs");
if (outputs.length) {
  if (!existsSync(checker)) throw new Error(`ABI checker not found at ${checker}: ../shared must sit beside the project`);
  execFileSync(process.execPath, [checker, ...outputs], { cwd: root, stdio: "inherit" });
}
