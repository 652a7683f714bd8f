// Whole-replay throughput a tester feels: `host-sim replay` with every shipped plugin on a
// mixed capture (real Dubbo, Kafka, RabbitMQ, Pinpoint and HTTP traffic:
// tests/fixtures/mixed/mixed.pcap, repeated with each copy's addresses and times moved so
// its flows are its own), in packets per CPU-second, side by side with its peers on the
// same file in the same run: tshark dissecting it, and our capture decoding alone (frames
// to TCP/UDP packets, nothing else). Targets: replay at least 5× tshark's packets per
// CPU-second, and at most 3× the cost of decoding alone.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeFrame, DecodedPacket, openCapture } from "../capture/open.ts";
import { PacketSource } from "../capture/packets.ts";
import { childrenCpuMs } from "./measure.ts";
import { PcapWriter } from "../tests/support/pcap-writer.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const COPIES = 300;

/** mixed.pcap (classic pcap) COPIES times; copy k's IPv4 addresses get k in their middle bytes and its times move past the previous copy's. */
function repeatedCapture(): string {
  const out = join(root, ".bench", `mixed-x${COPIES}.pcap`);
  if (existsSync(out)) return out;
  mkdirSync(join(root, ".bench"), { recursive: true });
  const records: Array<{ frame: Buffer; timeUs: number; ipAt: number[] }> = [];
  const reader = openCapture(join(root, "tests", "fixtures", "mixed", "mixed.pcap"));
  const p = new DecodedPacket();
  for (let f = reader.next(); f; f = reader.next()) {
    const ipAt = decodeFrame(f, p) && p.ipVersion === 4 ? [p.srcIpAt - p.base, p.dstIpAt - p.base] : [];
    records.push({ frame: Buffer.from(f.data), timeUs: f.timeUs, ipAt });
  }
  reader.close();
  const span = records[records.length - 1]!.timeUs - records[0]!.timeUs + 1_000_000;
  const w = new PcapWriter();
  for (let k = 0; k < COPIES; k++) {
    for (const r of records) {
      for (const ip of r.ipAt) {
        r.frame[ip + 1] = k >> 8;
        r.frame[ip + 2] = k & 0xff;
      }
      w.frame(r.timeUs + k * span, r.frame);
    }
  }
  writeFileSync(out, w.bytes());
  return out;
}

/** CPU ms of one child command (its output to /dev/null), median of 3. */
function childCpu(cmd: string, args: string[]): number | null {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const before = childrenCpuMs();
    const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "ignore", "ignore"] });
    if (r.error || r.status !== 0) return null;
    runs.push(childrenCpuMs() - before);
  }
  return runs.sort((a, b) => a - b)[1]!;
}

function inProcessCpu(fn: () => void): number {
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t);
    runs.push((d.user + d.system) / 1000);
  }
  return runs.sort((a, b) => a - b)[1]!;
}

export default async function main(): Promise<void> {
  const file = repeatedCapture();
  let packets = 0;
  const decode = inProcessCpu(() => {
    const source = new PacketSource(openCapture(file));
    while (source.next()) {
      // decoding only
    }
    source.close();
    packets = source.stats.frames;
  });
  const replay = childCpu(process.execPath, ["bin/host-sim.mjs", "replay", file, "--plugin", "build/", "--format", "jsonl", "--out", "/dev/null", "--no-progress"]);
  const tshark = childCpu("tshark", ["-n", "-r", file]);
  const rate = (ms: number | null) => (ms === null ? "(not run)" : `${Math.round(packets / (ms / 1000)).toLocaleString("en-US").padStart(10)} packets per CPU-second (${(ms / 1000).toFixed(2)} s)`);
  console.log(`capture: ${file.replace(root, "")}, ${packets.toLocaleString("en-US")} packets`);
  console.log(`host-sim replay, every shipped plugin  ${rate(replay)}`);
  console.log(`tshark -r (peer)                       ${tshark === null ? "(tshark not installed)" : rate(tshark)}`);
  console.log(`capture decoding alone (peer)          ${rate(decode)}`);
  if (replay !== null) {
    if (tshark !== null) console.log(`replay vs tshark: ${(tshark / replay).toFixed(2)}× tshark's packets per CPU-second (target ≥ 5×)`);
    console.log(`replay vs decoding alone: ${(replay / decode).toFixed(1)}× its cost (target ≤ 3×)`);
  }
}
