// npm run release: reproducible, validated modules named with the version, and a manifest
// that says what each one is (the example plugin alone, to keep the test short).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { root } from "../support/coexist.ts";

const out = mkdtempSync(join(tmpdir(), "release-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("npm run release", () => {
  it("writes <name>-<version>.wasm and a manifest with its checksum, protocol and hooks", () => {
    const log = execFileSync(process.execPath, ["--import", "tsx", "scripts/release.ts", "--out", out, "http-hooks"], { cwd: root, encoding: "utf8", timeout: 120_000 });
    expect(log).toContain("each built twice to the same bytes");
    const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
    expect(readdirSync(out).sort()).toEqual([`http-hooks-${version}.wasm`, "manifest.json"]);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    const bytes = readFileSync(join(out, `http-hooks-${version}.wasm`));
    expect(manifest).toEqual({
      version,
      plugins: [{
        plugin: "http-hooks", file: `http-hooks-${version}.wasm`, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex"),
        protocol: { proto: 200, l4: 0, name: "Toy" }, hookBitmap: "0xe0000000000000000000000000000001",
        hooks: ["payload parse (check_payload, parse_payload)", "HTTP request (on_http_req)", "HTTP response (on_http_resp)", "custom message (on_custom_message)"],
        customMessageHook: "hook point 0, type code 40 (dubbo)",
      }],
    });
  }, 120_000);

  it("refuses a plugin that does not exist", () => {
    expect(() => execFileSync(process.execPath, ["--import", "tsx", "scripts/release.ts", "--out", out, "nosuch"], { cwd: root, stdio: "pipe" })).toThrow(/no plugin named nosuch/);
  });
});
