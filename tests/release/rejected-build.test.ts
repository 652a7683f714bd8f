// npm run build refusing a plugin, as a protocol author meets it: one line that says why,
// and no module left behind for a deployment to pick up. (It once printed about 8 MB of
// binaryen's minified source before that line, and left the rejected .wasm in build/.)
// The plugins are written to a folder of their own (--plugins, --out): other tests list
// plugins/ and build/ meanwhile.
import { execFile } from "node:child_process";
import { stripVTControlCharacters } from "node:util";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { root } from "../support/coexist.ts";

// Sources inside the repository (the build requires it: asconfig.json names the SDK's abort
// by its path from there), under build/, which no test, lint or type check lists.
mkdirSync(join(root, "build"), { recursive: true });
const src = mkdtempSync(join(root, "build", "rejected-build-"));
const out = mkdtempSync(join(tmpdir(), "rejected-build-"));
afterAll(() => {
  rmSync(src, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
});

/** plugins/<name>/index.ts in src: a parser in the shape of tests/as/greedy-plugin.ts, with `body` in parse_payload. */
function plugin(name: string, body: string): void {
  const dir = join(src, "plugins", name);
  mkdirSync(dir, { recursive: true });
  const sdk = relative(dir, join(root, "assembly")).replaceAll("\\", "/");
  writeFileSync(join(dir, "index.ts"), `export * from "${sdk}/exports";
import { Action, HOOK_PAYLOAD_PARSE, L7ProtocolInfo, MSG_REQUEST, NOT_MINE, ParseCtx, Parser, registerParser } from "${sdk}/index";

class P extends Parser {
  constructor() {
    super(99, "P");
  }

  hookIn(): u32 {
    return HOOK_PAYLOAD_PARSE;
  }

  onCheckPayload(ctx: ParseCtx): u8 {
    return ctx.payload().length > 0 ? MSG_REQUEST : NOT_MINE;
  }

  onParsePayload(ctx: ParseCtx): Action {
    ${body}
    return Action.abortWithOne(new L7ProtocolInfo());
  }
}

registerParser(new P());
`);
}

plugin("good", "");
plugin("traced", `trace("x");`);
plugin("broken", `const n: i32 = "x";`);

/** `tsx scripts/build-plugins.ts --plugins <src>/plugins --out <out>/<name> <name>`: exit code, stdout + stderr, what is left in the out folder. */
function build(name: string): Promise<{ code: number | string | null; output: string; left: string[] }> {
  const dir = join(out, name);
  const args = ["scripts/build-plugins.ts", "--plugins", join(src, "plugins"), "--out", dir, name];
  return new Promise((done) => {
    // maxBuffer well above the 8 MB of the old bug, so that a regression fails on size, not on the buffer.
    execFile(join(root, "node_modules", ".bin", "tsx"), args, { cwd: root, timeout: 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      // asc colours its messages when the environment asks for colour (CI may): compared without.
      const output = stripVTControlCharacters(stdout + stderr);
      done({ code: err ? err.code ?? err.signal ?? null : 0, output, left: existsSync(dir) ? readdirSync(dir) : [] });
    });
  });
}

describe("npm run build --plugins DIR --out DIR", () => {
  it("builds a plugin that the agent loads", async () => {
    const r = await build("good");
    expect(r.code, r.output).toBe(0);
    expect(r.left).toEqual(["good.wasm"]);
    expect(r.output).toContain(`${join(out, "good", "good.wasm")}: valid, loads as the agent loads it; protocol 99 "P"`);
  }, 120_000);

  it("refuses a plugin that imports env.trace in one short line, and removes its module", async () => {
    const r = await build("traced");
    expect(Buffer.byteLength(r.output)).toBeLessThan(4096);
    expect(r.code, r.output).toBe(1);
    expect(r.output).toContain(`build failed: ${join(out, "traced", "traced.wasm")} would not load in the agent (removed): imports env.trace, which the agent does not offer`);
    expect(r.left).toEqual([]);
  }, 120_000);

  it("refuses a plugin that does not compile with asc's error and the plugin's folder, and leaves no module", async () => {
    const r = await build("broken");
    expect(Buffer.byteLength(r.output)).toBeLessThan(4096);
    expect(r.code, r.output).toBe(1);
    expect(r.output).toContain("ERROR TS2322: Type '~lib/string/String' is not assignable to type 'i32'.");
    expect(r.output).toContain(`build failed: ${relative(root, join(src, "plugins", "broken"))}\n`);
    expect(r.left).toEqual([]);
  }, 120_000);
});
