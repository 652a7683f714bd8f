// Run by netns.test.ts through runInNetns: sets lo up as the capture generators do and
// writes what it then sees to the file named last; with --fail, fails first instead.
import { execFileSync } from "node:child_process";
import { readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { setUpNetnsLoopback } from "./netns.ts";

const [flag, parent, mtu, out] = process.argv.slice(2);
if (mtu === "--fail") throw new RangeError("the probe was asked to fail");
if (flag !== "--netns-child" || !out) throw new Error("usage: netns-probe.ts --netns-child <namespace> <mtu> <out.json> | --fail");
setUpNetnsLoopback(Number(mtu), parent);
const status = readFileSync("/proc/self/status", "utf8");
writeFileSync(out, JSON.stringify({
  namespace: readlinkSync("/proc/self/ns/net"),
  cpus: /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? "",
  // Not /sys/class/net: that sysfs was mounted in the parent's namespace and shows its lo.
  mtu: Number(/\bmtu (\d+)/.exec(execFileSync("ip", ["-o", "link", "show", "lo"], { encoding: "utf8" }))?.[1]),
  tcpEarlyRetrans: readFileSync("/proc/sys/net/ipv4/tcp_early_retrans", "utf8").trim(),
}));
