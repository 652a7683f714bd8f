// `npm run pack`: the two packages a protocol author installs, as tarballs in dist/packages/:
//   deepflow-wasm-sdk       the AssemblyScript SDK (assembly/), its asconfig preset and the
//                           deepflow-wasm-create scaffold (packages/sdk/)
//   deepflow-wasm-host-sim  the simulator compiled to JavaScript, its runtime dependencies
//                           declared (packages/host-sim/)
// Each is staged in build/pkg/<name>/ and packed with npm pack; both carry the toolkit's
// version (package.json).
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { root } from "./compile.ts";
import { npm } from "./npm.ts";

const outDir = join(root, "dist", "packages");
const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;

function fail(message: string): never {
  console.error(`pack failed: ${message}`);
  process.exit(1);
}

function stage(name: string): string {
  const dir = join(root, "build", "pkg", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const meta = JSON.parse(readFileSync(join(root, "packages", name, "package.json"), "utf8")) as { version: string };
  if (meta.version !== version) fail(`packages/${name}/package.json says version ${meta.version}, the toolkit ${version}`);
  return dir;
}

function pack(dir: string): string {
  mkdirSync(outDir, { recursive: true });
  const out = npm(["pack", "--json", "--pack-destination", outDir], dir);
  return join(outDir, (JSON.parse(out) as Array<{ filename: string }>)[0]!.filename);
}

const sdk = stage("sdk");
cpSync(join(root, "packages", "sdk"), sdk, { recursive: true });
// The SDK's own unit tests stay here: the package ships what a plugin compiles, the core and
// its codec library.
for (const dir of ["assembly", "protocols"]) cpSync(join(root, dir), join(sdk, dir), { recursive: true, filter: (src) => !src.includes("__tests__") });
cpSync(join(root, "docs", "API.md"), join(sdk, "API.md"));

const hostSim = stage("host-sim");
execFileSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(root, "packages", "host-sim", "tsconfig.json")], { cwd: root, stdio: "inherit" });
for (const f of ["package.json", "bin", "README.md"]) cpSync(join(root, "packages", "host-sim", f), join(hostSim, f), { recursive: true });

for (const dir of [sdk, hostSim]) console.log(pack(dir));
