// Compiles every plugins/<name>/index.ts to build/<name>.wasm (release: optimized, no
// asserts), then loads each module the way the agent does (its linker rules, _start,
// hooks) and refuses the build, removing the module, when the agent would refuse it or
// when two plugins declare one protocol number (the agent would hand one plugin's
// flows to the other). `npm run build [--plugins DIR] [--out DIR] [name ...]`: --plugins
// and --out (relative to the repository) replace plugins/ and build/, so that tests can
// build plugins of their own. The plugins folder must be inside the repository: asc names
// files by their path from it, and asconfig.json names the SDK's abort that way.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import { inspect } from "../sdk/inspect.ts";
import { declarations, protocolClashes } from "../sdk/protocols.ts";
import { buildJs } from "./build-js.ts";
import { compileRelease, root } from "./compile.ts";

function fail(message: string): never {
  console.error(`build failed: ${message}`);
  process.exit(1);
}

let args;
try {
  args = parseArgs({ allowPositionals: true, options: { plugins: { type: "string" }, out: { type: "string" } } });
} catch (e) {
  fail((e as Error).message);
}
const only = args.positionals;
const pluginDir = resolve(root, args.values.plugins ?? "plugins");
const outDir = resolve(root, args.values.out ?? "build");
const inRepo = (p: string) => !isAbsolute(relative(root, p)) && relative(root, p).split(sep)[0] !== "..";
// Paths as messages show them: from the repository when inside it (plugins/x, build/x.wasm).
const shown = (p: string) => (inRepo(p) ? relative(root, p) : p);
if (!inRepo(pluginDir)) fail(`--plugins ${pluginDir}: not inside ${root}, where asc finds the SDK's abort (asconfig.json)`);
if (!existsSync(pluginDir)) fail(`--plugins ${pluginDir}: no such folder`);

const plugins = readdirSync(pluginDir)
  .filter((n) => existsSync(join(pluginDir, n, "index.ts")))
  .sort();
const targets = plugins.filter((n) => only.length === 0 || only.includes(n));
const unknown = only.filter((n) => !plugins.includes(n));
if (unknown.length) fail(`no plugin named ${unknown.join(", ")} (plugins: ${plugins.join(", ")})`);
mkdirSync(outDir, { recursive: true });

const wasmOf = (name: string) => join(outDir, `${name}.wasm`);

for (const name of targets) {
  const out = wasmOf(name);
  try {
    await compileRelease(relative(root, join(pluginDir, name, "index.ts")), out);
  } catch {
    // asc printed the compile errors above.
    fail(shown(join(pluginDir, name)));
  }
  console.log(`built ${shown(out)} (${statSync(out).size} bytes)`);
}

// Loaded as the agent loads them: the modules just built, and the other plugins' earlier
// builds, whose protocol numbers a new one must not take.
const present = plugins.filter((n) => targets.includes(n) || existsSync(wasmOf(n)));
const decls = await declarations(present.map((n) => ({ name: n, bytes: readFileSync(wasmOf(n)) })));
for (const d of decls) {
  if (!targets.includes(d.name)) continue;
  const file = wasmOf(d.name);
  if (d.refused) {
    rmSync(file, { force: true });
    fail(`${shown(file)} would not load in the agent (removed): ${d.refused.join("; ")}`);
  }
  // An independent validator too (wabt), and the checksum a deployment can compare.
  const i = await inspect(file);
  if (i.invalid) {
    rmSync(file, { force: true });
    fail(`${shown(file)} does not validate (removed): ${i.invalid}`);
  }
  console.log(`${shown(file)}: valid, loads as the agent loads it` + (d.protocol ? `; protocol ${d.protocol.proto} "${d.protocol.name}"` : "") + `; sha256 ${i.sha256}`);
}
const clashes = protocolClashes(decls.filter((d) => !d.refused));
if (clashes.length) {
  for (const n of targets) rmSync(wasmOf(n), { force: true });
  fail(`${clashes.join("; ")}: each plugin needs a number of its own (README, "Protocol numbers"); the modules built now are removed`);
}

// The simulator's command line as JavaScript, for a quick `npx host-sim` (scripts/build-js.ts);
// only in the repository's own build, not when a test builds plugins of its own elsewhere.
if (args.values.plugins === undefined && args.values.out === undefined) {
  await buildJs();
  console.log("built build/js/host-sim.js (the host-sim command as JavaScript)");
}
