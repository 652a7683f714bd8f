// The path a new protocol author takes, from zero to a replayed capture, on every change:
// the two packages packed as npm would publish them, a project made by the SDK's create
// command in an empty folder, installed from the tarballs, built with asc and the SDK's
// asconfig preset, its as-pect and vitest tests run, and a capture replayed with the
// installed host-sim. What npm pack ships is checked too (no tests, no TypeScript loader).
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { root } from "../support/coexist.ts";

const work = mkdtempSync(join(tmpdir(), "scaffold-"));
const project = join(work, "myproto");
let sdk = "";
let hostSim = "";
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(async () => {
  const { stdout: out } = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/pack.ts"], { cwd: root, encoding: "utf8", timeout: 120_000 });
  [sdk, hostSim] = out.trim().split("\n").slice(-2);
}, 180_000);

function files(tarball: string): string[] {
  return execFileSync("tar", ["tzf", tarball], { encoding: "utf8" }).trim().split("\n").map((f) => f.replace(/^package\//, ""));
}

describe("the packages", () => {
  it("the SDK ships the SDK, its preset, the create command and the template, and no tests of its own", () => {
    const f = files(sdk);
    for (const want of ["index.ts", "API.md", "asconfig.json", "assembly/index.ts", "assembly/exports.ts", "protocols/hpack.ts", "protocols/hessian2.ts", "bin/create.mjs", "template/assembly/index.ts"]) expect(f).toContain(want);
    // The template's own tests are the project's; the SDK's and the codecs' stay here.
    expect(f.filter((x) => !x.startsWith("template/") && (x.includes("__tests__") || x.startsWith("tests/")))).toEqual([]);
  });

  it("host-sim ships compiled JavaScript with its runtime dependencies (wabt, pako, hpack.js) declared", () => {
    const f = files(hostSim);
    expect(f).toContain("bin/host-sim.js");
    expect(f).toContain("host-sim/index.js");
    expect(f.filter((x) => x.endsWith(".ts") && !x.endsWith(".d.ts"))).toEqual([]);
    const meta = JSON.parse(execFileSync("tar", ["xzOf", hostSim, "package/package.json"], { encoding: "utf8" }));
    expect(meta.dependencies).toEqual({ "hpack.js": expect.any(String), pako: expect.any(String), wabt: expect.any(String) });
    expect(meta.devDependencies).toBeUndefined();
  });
});

describe("a plugin project of its own, as the README says", () => {
  it("is made by the create command, installs, builds, passes its tests and replays a capture", async () => {
    // The README's commands, as written, but for the folder they make.
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Writing a plugin"));
    const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
    expect(block).toContain("../myproto");
    const script = block.replaceAll("../myproto", project);
    // Not a sync call: a minute of blocking starves the test worker's messages to vitest.
    const { stdout } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", `exec 2>&1\n${script}`], { cwd: root, encoding: "utf8", timeout: 300_000, maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: "1" } });
    // eslint-disable-next-line no-control-regex
    const out = stdout.replace(/\x1b\[[0-9;]*m/g, "");
    expect(out).toMatch(/\[Result\]: .*Pass/); // as-pect, inside Wasm
    expect(out).toMatch(/Tests +2 passed/); // vitest replay tests
    expect(out).toMatch(/plugin {4}myproto\.wasm \(myproto, protocol 201\/TCP\): 1 flows claimed/); // npm run replay's summary
    expect(existsSync(join(project, "build", "myproto.wasm"))).toBe(true);
    // The installed host-sim, not this repository's.
    const rows = execFileSync(join(project, "node_modules", ".bin", "host-sim"),
      ["replay", "tests/fixtures/sample.pcap", "--plugin", "build/myproto.wasm", "--format", "jsonl"], { cwd: project, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      .trim().split("\n").map((l) => JSON.parse(l) as { l7_protocol_str: string; type: number });
    expect(rows.filter((r) => r.type === 2)).toHaveLength(3);
    expect(rows.every((r) => r.l7_protocol_str === "myproto")).toBe(true);
    // The project depends on the packages, not on this repository.
    expect(readFileSync(join(project, "asconfig.json"), "utf8")).toContain("./node_modules/deepflow-wasm-sdk/asconfig.json");
  }, 300_000);

  it("imports the codec library by name from the installed SDK", async () => {
    // Runs after the project above exists, with its node_modules.
    writeFileSync(join(project, "assembly", "codecs.ts"), [
      'export * from "deepflow-wasm-sdk/assembly/exports";',
      'import { HPACK_OK } from "deepflow-wasm-sdk/protocols/hpack";',
      'import { Hessian2Reader } from "deepflow-wasm-sdk/protocols/hessian2";',
      'import { Action, L7ProtocolInfo, NOT_MINE, ParseCtx, Parser, registerParser } from "deepflow-wasm-sdk";',
      "class Codecs extends Parser {",
      '  constructor() { super(202, "Codecs"); }',
      "  onCheckPayload(ctx: ParseCtx): u8 { const p = ctx.payload(); return new Hessian2Reader(p, 0, p.length).pos == HPACK_OK ? NOT_MINE : NOT_MINE; }",
      "  onParsePayload(ctx: ParseCtx): Action { return Action.abortWithOne(new L7ProtocolInfo()); }",
      "}",
      "registerParser(new Codecs());",
    ].join("\n"));
    await promisify(execFile)(join(project, "node_modules", ".bin", "asc"), ["assembly/codecs.ts", "--config", "asconfig.json", "--target", "release", "-o", "build/codecs.wasm"], { cwd: project });
    expect(existsSync(join(project, "build", "codecs.wasm"))).toBe(true);
  }, 120_000);
});
