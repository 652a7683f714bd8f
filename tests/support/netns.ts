// Captures that must show the segments a real NIC would carry: a generator re-runs itself
// under `unshare -n` (a network namespace with nothing but its own lo, root only), pinned to
// one CPU, and there sets lo to a real MTU without offloads and without tail loss probes.
//
// Why each setting (measured with tcpdump + tshark's tcp.analysis flags, 3 s of 200 kB
// request / 70 kB reply traffic on a 2-core VM):
// - one CPU: lo queues a packet on the sending CPU's backlog, so sends from two CPUs (the
//   writer's and the one that handled an ACK) come out in either order: 2,900-5,400
//   segments out of order or re-sent per run on an idle machine, 0-1 pinned;
// - tcp_early_retrans 0 (this namespace's own setting): with four busy loops beside it, an
//   ACK late by a few ms made the sender re-send its last segment (tail loss probe), 21-28
//   per run pinned; 0 in each of 6 runs with both settings.
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const TOOLS = ["unshare", "taskset", "ip", "ethtool"] as const;

/** Why a capture in a namespace of its own cannot be made here, or null. */
export function netnsMissing(): string | null {
  for (const tool of TOOLS) {
    if (spawnSync("which", [tool], { stdio: "pipe" }).status !== 0) return `${tool} is not installed`;
  }
  if (process.getuid && process.getuid() !== 0) return "a network namespace and capturing on its lo need root";
  return null;
}

/** The first CPU this process may run on (Cpus_allowed_list, e.g. "0-1" or "3,5"). */
function firstAllowedCpu(): number {
  const list = /^Cpus_allowed_list:\s*(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"));
  return list ? Number(list[1]) : 0;
}

export interface NetnsRun {
  code: number | null;
  /** The end of what the child wrote to stderr (also passed through as it came). */
  stderrTail: string;
}

/**
 * Runs `script` (TypeScript, through tsx) as `script --netns-child <this namespace> ...args`
 * in a new network namespace, on one CPU. The child calls setUpNetnsLoopback first.
 */
export async function runInNetns(script: string, args: string[]): Promise<NetnsRun> {
  const tsx = createRequire(import.meta.url).resolve("tsx/cli");
  const child = spawn(
    "unshare",
    ["-n", "--", "taskset", "-c", String(firstAllowedCpu()), process.execPath, tsx, script, "--netns-child", readlinkSync("/proc/self/ns/net"), ...args],
    { stdio: ["ignore", "inherit", "pipe"] },
  );
  let stderrTail = "";
  child.stderr!.on("data", (d: Buffer) => {
    process.stderr.write(d);
    stderrTail = (stderrTail + d.toString()).slice(-2000);
  });
  const closed = once(child, "close").catch(() => undefined);
  const [code] = (await once(child, "exit")) as [number | null];
  // The rest of its stderr; bounded, in case a process it left behind still holds the pipe.
  await Promise.race([closed, new Promise((r) => setTimeout(r, 2000).unref())]);
  return { code, stderrTail };
}

/** The line of a child's stderr that says what went wrong (the first "...Error: ..." line, else the last line). */
export function failureLine(stderrTail: string): string {
  const lines = stderrTail.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^\w*Error\b/.test(l)) ?? lines.at(-1) ?? "(nothing on stderr)";
}

/**
 * In the child: lo up with `mtu` and no TSO/GSO/GRO, and no tail loss probes; refuses to
 * touch lo unless this is a namespace other than `parentNamespace`.
 */
export function setUpNetnsLoopback(mtu: number, parentNamespace: string | undefined): void {
  if (parentNamespace === undefined || readlinkSync("/proc/self/ns/net") === parentNamespace) {
    throw new Error("not in a network namespace of its own: not touching lo");
  }
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.error?.message ?? r.stderr}`);
    return r.stdout;
  };
  run("ip", ["link", "set", "lo", "mtu", String(mtu), "up"]);
  run("ethtool", ["-K", "lo", "tso", "off", "gso", "off", "gro", "off"]);
  if (!new RegExp(`\\bmtu ${mtu}\\b`).test(run("ip", ["-o", "link", "show", "lo"]))) throw new Error(`lo did not take MTU ${mtu}`);
  const features = run("ethtool", ["-k", "lo"]);
  for (const f of ["tcp-segmentation-offload", "generic-segmentation-offload", "generic-receive-offload"]) {
    if (!new RegExp(`^${f}: off`, "m").test(features)) throw new Error(`lo still has ${f}`);
  }
  const earlyRetrans = "/proc/sys/net/ipv4/tcp_early_retrans";
  writeFileSync(earlyRetrans, "0\n");
  if (readFileSync(earlyRetrans, "utf8").trim() !== "0") throw new Error(`${earlyRetrans} did not take 0`);
}
