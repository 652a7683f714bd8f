// Compiles every plugins/<name>/index.ts to build/<name>.wasm (release: optimized, no
// asserts), then loads each module the way the agent does (its linker rules, _start,
// hooks) and refuses the build, removing the module, when the agent would refuse it or
// when two plugins declare one protocol number (the agent would hand one plugin's
// flows to the other). `npm run build [name ...]`.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import binaryen from "binaryen";
import { declarations, protocolClashes } from "../host-sim/protocols.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const asc = join(root, "node_modules", ".bin", "asc");
const only = process.argv.slice(2);

// abort must not become an `env.abort` import: the agent would refuse the module.
const ASC_FLAGS = [
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

function reoptimize(file: string): void {
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
  .sort();
const targets = plugins.filter((n) => only.length === 0 || only.includes(n));
const unknown = only.filter((n) => !plugins.includes(n));
if (unknown.length) fail(`no plugin named ${unknown.join(", ")} (plugins: ${plugins.join(", ")})`);
mkdirSync(join(root, "build"), { recursive: true });

function fail(message: string): never {
  console.error(`build failed: ${message}`);
  process.exit(1);
}

const wasmOf = (name: string) => join(root, "build", `${name}.wasm`);

for (const name of targets) {
  const out = wasmOf(name);
  try {
    execFileSync(asc, [join("plugins", name, "index.ts"), "-o", out, ...ASC_FLAGS], { cwd: root, stdio: "inherit" });
  } catch {
    // asc printed the compile errors above.
    fail(`plugins/${name}`);
  }
  reoptimize(out);
  console.log(`built build/${name}.wasm (${statSync(out).size} bytes)`);
}

// Loaded as the agent loads them: the modules just built, and the other plugins' earlier
// builds, whose protocol numbers a new one must not take.
const present = plugins.filter((n) => targets.includes(n) || existsSync(wasmOf(n)));
const decls = await declarations(present.map((n) => ({ name: n, bytes: readFileSync(wasmOf(n)) })));
for (const d of decls) {
  if (!targets.includes(d.name)) continue;
  if (d.refused) {
    rmSync(wasmOf(d.name), { force: true });
    fail(`build/${d.name}.wasm would not load in the agent (removed): ${d.refused.join("; ")}`);
  }
  console.log(`build/${d.name}.wasm: loads as the agent loads it` + (d.protocol ? `; protocol ${d.protocol.proto} "${d.protocol.name}"` : ""));
}
const clashes = protocolClashes(decls.filter((d) => !d.refused));
if (clashes.length) {
  for (const n of targets) rmSync(wasmOf(n), { force: true });
  fail(`${clashes.join("; ")}: each plugin needs a number of its own (README, "Protocol numbers"); the modules built now are removed`);
}
