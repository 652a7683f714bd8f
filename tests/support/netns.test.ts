// The namespace the live MTU-1500 captures are made in (tests/support/netns.ts): its own lo
// with the MTU asked for, one CPU, no tail loss probes, and the machine's own setting untouched.
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { failureLine, netnsMissing, runInNetns } from "./netns.ts";
import { canRun } from "./tools.ts";

const PROBE = join(import.meta.dirname, "netns-probe.ts");

describe.runIf(canRun("network namespace for captures", netnsMissing()))("runInNetns", () => {
  const dir = mkdtempSync(join(tmpdir(), "netns-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs the script in a namespace of its own, on one CPU, with lo set up and no tail loss probes", async () => {
    const out = join(dir, "seen.json");
    const ownSetting = readFileSync("/proc/sys/net/ipv4/tcp_early_retrans", "utf8");
    const { code, stderrTail } = await runInNetns(PROBE, ["1500", out]);
    expect(code, stderrTail).toBe(0);
    const seen = JSON.parse(readFileSync(out, "utf8")) as { namespace: string; cpus: string; mtu: number; tcpEarlyRetrans: string };
    expect(seen.namespace).not.toBe(readlinkSync("/proc/self/ns/net"));
    expect(seen.cpus).toMatch(/^\d+$/);
    expect(seen.mtu).toBe(1500);
    expect(seen.tcpEarlyRetrans).toBe("0");
    expect(readFileSync("/proc/sys/net/ipv4/tcp_early_retrans", "utf8")).toBe(ownSetting);
  }, 30_000);

  it("hands back a failing child's exit code and its error line", async () => {
    const { code, stderrTail } = await runInNetns(PROBE, ["--fail"]);
    expect(code).toBe(1);
    expect(failureLine(stderrTail)).toBe("RangeError: the probe was asked to fail");
  }, 30_000);
});
