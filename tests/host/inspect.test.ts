// host-sim inspect: what a CI shipping .wasm artifacts checks of each module.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../host-sim/cli.ts";
import { inspect } from "../../sdk/inspect.ts";
import { root } from "../support/coexist.ts";

const dir = mkdtempSync(join(tmpdir(), "inspect-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function capture(argv: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  try {
    return { code: await main(argv), out };
  } finally {
    process.stdout.write = write;
  }
}

describe("host-sim inspect", () => {
  it("a shipped plugin: checksum, valid, loads, its protocol, hooks, the agent's imports only", async () => {
    const file = join(root, "build", "dubbo.wasm");
    const i = await inspect(file);
    expect(i.sha256).toBe(createHash("sha256").update(readFileSync(file)).digest("hex"));
    expect(i).toMatchObject({ invalid: null, refused: null, protocol: { proto: 140, l4: 6, name: "Dubbo" }, customMessageHook: "hook point 0, type code 40 (dubbo)" });
    expect(i.hooks).toEqual(["payload parse (check_payload, parse_payload)", "custom message (on_custom_message)"]);
    expect(i.imports.every((s) => s.startsWith("deepflow."))).toBe(true);
    expect(i.exports).toContain("protocol_info () -> i32");
  });

  it("a folder: every module, one JSON line each; exit 0", async () => {
    const { code, out } = await capture(["inspect", join(root, "build"), "--json"]);
    expect(code).toBe(0);
    const lines = out.trim().split("\n").map((l) => JSON.parse(l) as { file: string; protocol: { proto: number } });
    expect(lines.map((l) => l.protocol.proto).sort()).toEqual([140, 150, 160, 170, 200]);
  });

  it("not Wasm: invalid, would not load, exit 1", async () => {
    const junk = join(dir, "junk.wasm");
    writeFileSync(junk, "not wasm at all");
    const { code, out } = await capture(["inspect", junk]);
    expect(code).toBe(1);
    expect(out).toMatch(/valid {6}NO: readWasm failed: .*bad magic value/);
    expect(out).toContain("would NOT load it: not a valid Wasm module");
  });
});
