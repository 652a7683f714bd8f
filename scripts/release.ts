// `npm run release [--out DIR] [name ...]`: the .wasm files a deployment uploads. Every
// plugin is compiled twice, in two fresh folders, and must come out byte for byte the
// same (a release anyone can rebuild and compare); each must validate (wabt) and load as
// the agent loads it, and no two may declare one protocol number. Writes
// DIR/<name>-<version>.wasm (default dist/) and DIR/manifest.json: version, file, bytes,
// SHA-256, protocol number, name and L4, hooks; the README's deployment section uses it.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { inspect } from "../sdk/inspect.ts";
import { protocolClashes } from "../sdk/protocols.ts";
import { compileRelease, root } from "./compile.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: "string" } } });
const outDir = resolve(root, values.out ?? "dist");
const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
const plugins = readdirSync(join(root, "plugins")).filter((n) => existsSync(join(root, "plugins", n, "index.ts"))).sort();
const targets = positionals.length ? positionals : plugins;
for (const n of targets) if (!plugins.includes(n)) fail(`no plugin named ${n} (plugins: ${plugins.join(", ")})`);

function fail(message: string): never {
  console.error(`release failed: ${message}`);
  process.exit(1);
}

const builds = [mkdtempSync(join(tmpdir(), "release-a-")), mkdtempSync(join(tmpdir(), "release-b-"))];
try {
  const entries = [];
  for (const name of targets) {
    for (const dir of builds) {
      try {
        await compileRelease(join("plugins", name, "index.ts"), join(dir, `${name}.wasm`), "pipe");
      } catch (e) {
        fail(`plugins/${name} does not compile: ${(e as { stderr?: Buffer }).stderr?.toString().trim() ?? e}`);
      }
    }
    const [first, second] = await Promise.all(builds.map((dir) => inspect(join(dir, `${name}.wasm`))));
    if (first!.sha256 !== second!.sha256) fail(`plugins/${name} is not reproducible: two builds gave ${first!.sha256} and ${second!.sha256}`);
    if (first!.invalid) fail(`plugins/${name} does not validate: ${first!.invalid}`);
    if (first!.refused) fail(`plugins/${name} would not load in the agent: ${first!.refused.join("; ")}`);
    entries.push({ plugin: name, ...first! });
  }
  const clashes = protocolClashes(entries.map((e) => ({ name: e.plugin, protocol: e.protocol, refused: null })));
  if (clashes.length) fail(clashes.join("; "));

  mkdirSync(outDir, { recursive: true });
  const manifest = {
    version,
    plugins: entries.map((e) => {
      const file = `${e.plugin}-${version}.wasm`;
      copyFileSync(e.file, join(outDir, file));
      return { plugin: e.plugin, file, bytes: e.bytes, sha256: e.sha256, protocol: e.protocol, hookBitmap: e.hookBitmap, hooks: e.hooks, customMessageHook: e.customMessageHook };
    }),
  };
  writeFileSync(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 1) + "\n");
  for (const p of manifest.plugins) console.log(`${join(outDir, p.file)}  ${p.sha256}  protocol ${p.protocol?.proto ?? "-"} ${p.protocol?.name ?? ""}`);
  console.log(`${join(outDir, "manifest.json")}: ${manifest.plugins.length} plugins, version ${version}, each built twice to the same bytes`);
} finally {
  for (const dir of builds) rmSync(dir, { recursive: true, force: true });
}
