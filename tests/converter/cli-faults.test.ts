// `pinpoint-otel convert` on bad input: every fault is one line on stderr and an exit code, never a
// Node stack trace; a damaged capture converts what precedes the damage. The faults the issue lists
// run as a user runs them (a child process); the others call main() with stdout/stderr captured,
// where a stack trace would be main() rejecting.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../converter/cli.ts";
import { xorshift32 } from "../support/capture.ts";
import { inProcess } from "../support/in-process.ts";

const ROOT = join(import.meta.dirname, "../..");
const FULL = join(ROOT, "tests/fixtures/pinpoint/pinpoint-full.pcap");
/** A line of a Node stack trace. */
const STACK_LINE = /^\s+at /m;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", "converter/cli.ts", ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** main(args) in this process, with what it writes to stdout and stderr. */
async function inProcessMain(args: string[]): Promise<Run> {
  const r = await inProcess(() => main(args));
  return { code: r.code, stdout: r.out, stderr: r.err };
}

/** Spans in an --out file (one OTLP/JSON ExportTraceServiceRequest per line). */
function spanIds(file: string): string[] {
  const ids: string[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line) continue;
    const req = JSON.parse(line) as { resourceSpans: { scopeSpans: { spans: { spanId: string }[] }[] }[] };
    for (const rs of req.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) ids.push(s.spanId);
  }
  return ids;
}

/** A user error: exit 2, exactly one line on stderr, nothing on stdout. */
function expectOneLine(r: Run, message: RegExp): void {
  expect(r.stderr, r.stderr).not.toMatch(STACK_LINE);
  expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(message);
  expect(r.stdout).toBe("");
  expect(r.code).toBe(2);
}

describe("pinpoint-otel convert: faults", () => {
  const dir = mkdtempSync(join(tmpdir(), "pinpoint-otel-faults-"));
  const full = readFileSync(FULL);
  const file = (name: string, bytes?: Uint8Array): string => {
    const path = join(dir, name);
    if (bytes) writeFileSync(path, bytes);
    return path;
  };
  const rnd = xorshift32(0x5eed);
  const random = new Uint8Array(4096).map(() => rnd() & 0xff);
  const cutPcap = full.subarray(0, full.length - 37); // head -c -37

  // Child processes: name → arguments, run four at a time (each is a Node start-up); the tests read the results.
  const spawned: Record<string, () => string[]> = {
    random: () => ["convert", file("random.bin", random)],
    empty: () => ["convert", file("empty.pcap", new Uint8Array(0))],
    missing: () => ["convert", file("missing.pcap"), "--out", file("kept.json", Buffer.from("kept\n"))],
    badUrl: () => ["convert", FULL, "--otlp", "notaurl"],
    unknownFlag: () => ["convert", FULL, "--bogus"],
    batchAbc: () => ["convert", FULL, "--otlp", "http://127.0.0.1:9/", "--batch", "abc"],
    cut: () => ["convert", file("cut.pcap", cutPcap), "--out", file("cut.json")],
    cutStrict: () => ["convert", file("cut-strict.pcap", cutPcap), "--out", file("cut-strict.json"), "--strict"],
  };
  const runs = new Map<string, Run>();
  let wholeIds: string[] = [];

  beforeAll(async () => {
    const names = Object.keys(spawned);
    for (let i = 0; i < names.length; i += 4) {
      const batch = names.slice(i, i + 4);
      const results = await Promise.all(batch.map((n) => cli(spawned[n]())));
      batch.forEach((n, k) => runs.set(n, results[k]));
    }
    const whole = await inProcessMain(["convert", FULL, "--out", file("whole.json")]);
    expect(whole.code, whole.stderr).toBe(0);
    wholeIds = spanIds(join(dir, "whole.json"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (name: string): Run => runs.get(name) as Run;

  it("the whole capture converts to 35 spans (the reference for the cut ones)", () => {
    expect(wholeIds).toHaveLength(35);
  });

  it("random bytes: not a capture, one line, exit 2", () => {
    expectOneLine(run("random"), /^pinpoint-otel convert: not a pcap or pcapng file \(starts with 0x[0-9a-f]{8}\)$/m);
  });

  it("an empty file: one line, exit 2", () => {
    expectOneLine(run("empty"), /^pinpoint-otel convert: not a capture file: 0 bytes$/m);
  });

  it("a missing file: one line naming it and ENOENT, exit 2; --out is not emptied", () => {
    expectOneLine(run("missing"), /^pinpoint-otel convert: cannot read .*missing\.pcap: ENOENT$/m);
    expect(readFileSync(join(dir, "kept.json"), "utf8")).toBe("kept\n");
  });

  it("a bad --otlp URL: one line, exit 2", async () => {
    expectOneLine(run("badUrl"), /^pinpoint-otel convert: --otlp must be an http:\/\/ or https:\/\/ URL, got "notaurl"$/m);
    expectOneLine(await inProcessMain(["convert", FULL, "--otlp", "ftp://collector:4318"]), /^pinpoint-otel convert: --otlp must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/collector:4318"$/m);
  });

  it("an unknown flag: one line naming it, exit 2", () => {
    expectOneLine(run("unknownFlag"), /^pinpoint-otel convert: Unknown option '--bogus'/m);
  });

  it("--batch abc, 0 or 1.5 is refused: one line, exit 2", async () => {
    expectOneLine(run("batchAbc"), /^pinpoint-otel convert: --batch must be an integer in 1\.\.100000, got "abc"$/m);
    for (const bad of ["0", "1.5", "100001"]) {
      expectOneLine(await inProcessMain(["convert", FULL, "--otlp", "http://127.0.0.1:9/", "--batch", bad]), new RegExp(`--batch must be an integer in 1\\.\\.100000, got "${bad}"$`, "m"));
    }
  });

  it("a pcap header followed by garbage: no readable record, one line, exit 2", async () => {
    const r = await inProcessMain(["convert", file("garbage.pcap", Buffer.concat([full.subarray(0, 24), random]))]);
    expectOneLine(r, /^pinpoint-otel convert: no readable record in .*garbage\.pcap: pcap: corrupt record #1 at offset 24: /m);
  });

  it("no CAPTURE, two CAPTUREs, an unknown command: one line, exit 2", async () => {
    expectOneLine(await inProcessMain(["convert"]), /^pinpoint-otel convert: missing CAPTURE/m);
    expectOneLine(await inProcessMain(["convert", FULL, FULL]), /^pinpoint-otel convert: expects one CAPTURE, got 2/m);
    expectOneLine(await inProcessMain(["konvert", FULL]), /^pinpoint-otel: unknown command "konvert"/m);
  });

  it("an --out in a missing folder, a missing --logs file, bad --collector-ports: one line, exit 2", async () => {
    expectOneLine(await inProcessMain(["convert", FULL, "--out", join(dir, "no-such-folder", "out.json")]), /^pinpoint-otel convert: cannot write .*no-such-folder\/out\.json: ENOENT$/m);
    expectOneLine(await inProcessMain(["convert", FULL, "--logs", file("no-logs.jsonl")]), /^pinpoint-otel convert: cannot read .*no-logs\.jsonl: ENOENT$/m);
    expectOneLine(await inProcessMain(["convert", FULL, "--collector-ports", "9991,x"]), /^pinpoint-otel convert: --collector-ports expects three ports AGENT,STAT,SPAN, got "9991,x"$/m);
  });

  it.runIf(existsSync("/dev/full"))("output that cannot be written (/dev/full): one line, exit 1", async () => {
    const r = await inProcessMain(["convert", FULL, "--out", "/dev/full"]);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr.trimEnd().split("\n")).toEqual(["pinpoint-otel convert: cannot write /dev/full: ENOSPC"]);
    expect(r.code).toBe(1);
  });

  it("a capture missing its last 37 bytes: all 35 spans, the damage in one line, exit 0", () => {
    const r = run("cut");
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split("\n").filter((l) => /damaged/.test(l))).toEqual([
      `pinpoint-otel convert: ${join(dir, "cut.pcap")} is damaged, converted the 139 frames before it: pcap: truncated record #140 at offset 18303: needs 82 bytes, file has 45`,
    ]);
    // The cut record carries no collector data: nothing is lost.
    expect(spanIds(join(dir, "cut.json")).sort()).toEqual([...wholeIds].sort());
  });

  it("--strict: the same 35 spans are written, then exit 1", () => {
    const r = run("cutStrict");
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).toMatch(/cut-strict\.pcap is damaged, converted the 139 frames before it: pcap: truncated record #140/);
    expect(r.code).toBe(1);
    expect(spanIds(join(dir, "cut-strict.json")).sort()).toEqual([...wholeIds].sort());
  });

  it("a capture cut in the middle: the 15 spans before the cut, each one a span of the whole capture", async () => {
    const r = await inProcessMain(["convert", file("middle.pcap", full.subarray(0, 12_000)), "--out", file("middle.json")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/middle\.pcap is damaged, converted the \d+ frames before it: pcap: truncated record #\d+ at offset \d+/);
    const cut = spanIds(join(dir, "middle.json"));
    expect(cut).toHaveLength(15);
    const whole = new Set(wholeIds);
    for (const id of cut) expect(whole.has(id), id).toBe(true);
  });

  it("a cut .pcap.gz: every span before the cut, the gzip damage named, exit 0", async () => {
    const gz = gzipSync(full);
    const r = await inProcessMain(["convert", file("cut.pcap.gz", gz.subarray(0, gz.length - 100)), "--out", file("cut-gz.json")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/cut\.pcap\.gz is damaged, converted the \d+ frames before it: gzip: the compressed data ends early/);
    expect(spanIds(join(dir, "cut-gz.json"))).toHaveLength(35);
  });
});
