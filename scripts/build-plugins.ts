// Compiles every plugins/<name>/index.ts to build/<name>.wasm (release: optimized, no
// asserts), then loads each module the way the agent does (its linker rules, _start,
// hooks) and refuses the build, removing the module, when the agent would refuse it or
// when two plugins declare one protocol number (the agent would hand one plugin's
// flows to the other). `npm run build [name ...]`.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "../host-sim/inspect.ts";
import { declarations, protocolClashes } from "../host-sim/protocols.ts";
import { compileRelease, root } from "./compile.ts";

const only = process.argv.slice(2);

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
    await compileRelease(join("plugins", name, "index.ts"), out);
  } catch {
    // asc printed the compile errors above.
    fail(`plugins/${name}`);
  }
  console.log(`built build/${name}.wasm (${statSync(out).size} bytes)`);
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
    fail(`build/${d.name}.wasm would not load in the agent (removed): ${d.refused.join("; ")}`);
  }
  // An independent validator too (wabt), and the checksum a deployment can compare.
  const i = await inspect(file);
  if (i.invalid) {
    rmSync(file, { force: true });
    fail(`build/${d.name}.wasm does not validate (removed): ${i.invalid}`);
  }
  console.log(`build/${d.name}.wasm: valid, loads as the agent loads it` + (d.protocol ? `; protocol ${d.protocol.proto} "${d.protocol.name}"` : "") + `; sha256 ${i.sha256}`);
}
const clashes = protocolClashes(decls.filter((d) => !d.refused));
if (clashes.length) {
  for (const n of targets) rmSync(wasmOf(n), { force: true });
  fail(`${clashes.join("; ")}: each plugin needs a number of its own (README, "Protocol numbers"); the modules built now are removed`);
}
