// bin/host-sim.mjs runs the JavaScript `npm run build` compiled (build/js/) only while it is
// newer than every TypeScript source it is made of; a stale or missing build is passed over
// for the sources themselves, so an edit is never hidden by an old build.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: plain JavaScript module without types
import { compiledEntry, SOURCE_DIRS } from "../../bin/compiled.mjs";

const root = join(import.meta.dirname, "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "compiled-entry-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function at(file: string, seconds: number): void {
  utimesSync(file, seconds, seconds);
}

describe("compiledEntry", () => {
  it("takes the build only while it is newer than every source, nested folders included", () => {
    for (const d of SOURCE_DIRS as string[]) mkdirSync(join(tmp, d, "deep"), { recursive: true });
    mkdirSync(join(tmp, "build", "js"), { recursive: true });
    const source = join(tmp, "sdk", "deep", "x.ts");
    const built = join(tmp, "build", "js", "host-sim.js");
    writeFileSync(source, "");
    writeFileSync(built, "");
    at(source, 1000);
    at(built, 2000);
    expect(compiledEntry(tmp, "host-sim")).toBe(built);
    at(source, 3000);
    expect(compiledEntry(tmp, "host-sim")).toBeNull();
    // Files that are not TypeScript sources do not count.
    at(source, 1000);
    writeFileSync(join(tmp, "cli", "notes.md"), "");
    at(join(tmp, "cli", "notes.md"), 5000);
    expect(compiledEntry(tmp, "host-sim")).toBe(built);
    rmSync(built);
    expect(compiledEntry(tmp, "host-sim")).toBeNull();
  });

  it("the compiled command and the TypeScript one print the same", () => {
    // npm test builds first, so build/js is there and fresh.
    expect(compiledEntry(root, "host-sim")).not.toBeNull();
    const viaBuild = execFileSync(process.execPath, [join(root, "bin", "host-sim.mjs"), "replay", "--help"], { encoding: "utf8" });
    const viaSources = execFileSync(process.execPath, ["--import", "tsx", join(root, "host-sim", "cli.ts"), "replay", "--help"], { encoding: "utf8" });
    expect(viaBuild).toBe(viaSources);
    expect(viaBuild).toContain("usage: host-sim replay");
  });
});
