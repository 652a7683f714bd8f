// What host-sim replay reads: a file, a gzip-compressed file, a pipe ("-", /dev/stdin, as
// from `tcpdump -w -`), read in order and never seeked; a folder or broken gzip is one clear
// line, and a cut .pcap.gz replays everything before the cut.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { root } from "../support/coexist.ts";

const dir = mkdtempSync(join(tmpdir(), "input-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MIXED = join(root, "tests/fixtures/mixed/mixed.pcap");

function replay(capture: string, stdin?: Buffer) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "host-sim/cli.ts", "replay", capture, "--plugin", "build/", "--format", "jsonl"],
    { cwd: root, encoding: "utf8", input: stdin, timeout: 120_000 });
  return { code: r.status, rows: r.stdout.trim() ? r.stdout.trim().split("\n").sort() : [], stderr: r.stderr };
}

describe("host-sim replay input", () => {
  const file = replay(MIXED);

  it("reads a pipe (- and /dev/stdin) as it reads the file", () => {
    expect(file.code).toBe(0);
    expect(file.rows.length).toBe(184); // 170 plugin rows and the agent's 14 HTTP rows
    const bytes = readFileSync(MIXED);
    for (const name of ["-", "/dev/stdin"]) {
      const piped = replay(name, bytes);
      expect(piped.code, piped.stderr).toBe(0);
      expect(piped.rows).toEqual(file.rows);
    }
  });

  it("reads gzip-compressed captures, from a file or a pipe", () => {
    const gz = join(dir, "mixed.pcap.gz");
    writeFileSync(gz, gzipSync(readFileSync(MIXED)));
    expect(replay(gz).rows).toEqual(file.rows);
    expect(replay("-", readFileSync(gz)).rows).toEqual(file.rows);
  });

  it("a cut .pcap.gz: everything before the cut, and one line saying where", () => {
    const cut = join(dir, "cut.pcap.gz");
    writeFileSync(cut, gzipSync(readFileSync(MIXED)).subarray(0, 20_000));
    const r = replay(cut);
    expect(r.code).toBe(1);
    expect(r.rows.length).toBeGreaterThan(0);
    expect(r.rows.length).toBeLessThan(file.rows.length);
    expect(r.stderr).toMatch(/ERROR {5}gzip: the compressed data ends early, after 20000 bytes \(\d+ bytes inflated\)/);
    expect(r.stderr).not.toMatch(/\n {4}at /); // no stack trace
  });

  it("a folder, a missing file, or gzip that is not: one line, exit 2", () => {
    const bad = join(dir, "bad.pcap.gz");
    writeFileSync(bad, Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from("not deflate at all")]));
    for (const [capture, message] of [
      [join(root, "tests/fixtures"), "is a folder, not a capture file"],
      [join(dir, "none.pcap"), "cannot read"],
      [bad, "gzip: "],
    ] as const) {
      const r = replay(capture);
      expect(r.code, capture).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/\n {4}at /);
    }
  });
});
