#!/usr/bin/env node
// `npx -p deepflow-wasm-sdk deepflow-wasm-create NAME [--proto N] [--label TEXT] [--dir DIR]`:
// a standalone plugin project (asconfig.json extending this package's preset, a parser
// skeleton, an as-pect spec, a vitest replay test with a sample capture, a README).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(readFileSync(join(here, "..", "package.json"), "utf8"));
const USAGE = `usage: deepflow-wasm-create NAME [options]

Makes NAME/: a DeepFlow Wasm plugin project depending on deepflow-wasm-sdk.

options:
  --proto N          the plugin's protocol number, 1..255, one no other plugin of the agent
                     takes (default 201)
  --label TEXT       l7_protocol_str of its logs, at most 16 bytes (default: NAME)
  --dir DIR          where to make it (default: ./NAME)
  --sdk SPEC         version or path of deepflow-wasm-sdk to depend on (default ^${pkg.version})
  --host-sim SPEC    the same for deepflow-wasm-host-sim (default ^${pkg.version})
  -h, --help`;

function fail(message) {
  process.stderr.write(`deepflow-wasm-create: ${message}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      proto: { type: "string" }, label: { type: "string" }, dir: { type: "string" },
      sdk: { type: "string" }, "host-sim": { type: "string" }, help: { type: "boolean", short: "h" },
    },
  });
} catch (e) {
  fail(`${e.message}\n${USAGE}`);
}
const { values, positionals } = args;
if (values.help) {
  process.stdout.write(USAGE + "\n");
  process.exit(0);
}
if (positionals.length !== 1) fail(`expected one NAME\n${USAGE}`);
const name = positionals[0];
if (!/^[a-z][a-z0-9-]{0,40}$/.test(name)) fail(`NAME must be lower-case letters, digits and dashes, starting with a letter: ${JSON.stringify(name)}`);
const proto = values.proto === undefined ? 201 : Number(values.proto);
if (!/^\d+$/.test(values.proto ?? "201") || proto < 1 || proto > 255) fail(`--proto must be 1..255, got ${JSON.stringify(values.proto)}`);
const label = values.label ?? name;
const labelBytes = Buffer.byteLength(label);
if (labelBytes < 1 || labelBytes > 16 || /["\\\n]/.test(label)) fail(`--label must be 1..16 bytes without quotes or backslashes: ${JSON.stringify(label)}`);
const dir = resolve(values.dir ?? name);
if (existsSync(dir) && readdirSync(dir).length > 0) fail(`${dir} exists and is not empty`);

const className = name.split("-").map((w) => w[0].toUpperCase() + w.slice(1)).join("").replace(/^\d/, "P$&") + "Parser";
const vars = {
  name, label, proto: String(proto), className,
  sdkSpec: values.sdk ?? `^${pkg.version}`,
  hostSimSpec: values["host-sim"] ?? `^${pkg.version}`,
};
const TEXT = /\.(ts|js|json|md)$/;

function copy(from, to) {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from)) {
    const src = join(from, entry);
    // npm leaves .gitignore files out of packages: the template's is _gitignore.
    const dst = join(to, entry === "_gitignore" ? ".gitignore" : entry);
    if (statSync(src).isDirectory()) copy(src, dst);
    else if (TEXT.test(entry) || entry === "_gitignore") {
      writeFileSync(dst, readFileSync(src, "utf8").replace(/\{\{(\w+)\}\}/g, (m, k) => (k in vars ? vars[k] : m)));
    } else writeFileSync(dst, readFileSync(src));
  }
}

copy(join(here, "..", "template"), dir);
process.stdout.write(`Made ${dir}: plugin "${label}", protocol ${proto}.
Next:
  cd ${values.dir ?? name}
  npm install
  npm test
  npm run replay
`);
