// Replay throughput on a generated capture of >= 100 MB: packet and stream mode, with no
// plugin (the pipeline alone), a no-op plugin (claims everything, parse_payload returns at
// once: still one wasm call per payload) and the example plugin (build/http-hooks.wasm,
// parsing the toy protocol the capture carries). Prints packets/s, MB/s and peak memory.
//
// The capture: 1,000 concurrent TCP connections to 8 servers, each a handshake, 20 toy
// request/response exchanges (request, response, ACK) and a FIN exchange; Ethernet/IPv4, 10 µs
// apart. Two thirds of the packets carry a payload.
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { WasmHost } from "../sdk/host.ts";
import { replayCapture } from "../sdk/replay.ts";
import { claimAllPlugin } from "../tests/replay/claim-all.ts";
import { ACK, FIN, PcapWriter, PSH, SYN, type Endpoint } from "../tests/support/pcap-writer.ts";

const TARGET_BYTES = 105 * 1000 * 1000;
const CONCURRENT = 1000;
const EXCHANGES = 20;

interface Conn {
  id: number;
  client: number;
  server: number;
  cport: number;
  sport: number;
  cseq: number;
  sseq: number;
  step: number;
}

/** Advances one connection by one packet; false when it is finished. */
function step(w: PcapWriter, c: Conn, t: number): boolean {
  const client: Endpoint = [c.client, c.cport], server: Endpoint = [c.server, c.sport];
  const up = (seq: number, ack: number, flags: number, payload?: string) => w.tcp({ timeUs: t, src: client, dst: server, seq, ack, flags, payload });
  const down = (seq: number, ack: number, flags: number, payload?: string) => w.tcp({ timeUs: t, src: server, dst: client, seq, ack, flags, payload });
  const s = c.step++;
  const reqId = c.id * 100 + Math.floor((s - 3) / 3);
  if (s === 0) up(c.cseq++, 0, SYN);
  else if (s === 1) down(c.sseq++, c.cseq, SYN | ACK);
  else if (s === 2) up(c.cseq, c.sseq, ACK);
  else if (s < 3 + 3 * EXCHANGES) {
    const k = (s - 3) % 3;
    if (k === 0) {
      const req = `TOY ${reqId} GET /api/v1/items/${reqId}?fields=name,price,stock&lang=en\n`;
      up(c.cseq, c.sseq, PSH | ACK, req);
      c.cseq += req.length;
    } else if (k === 1) {
      const resp = `TOY ${reqId} 0 ok\n`;
      down(c.sseq, c.cseq, PSH | ACK, resp);
      c.sseq += resp.length;
    } else up(c.cseq, c.sseq, ACK);
  } else if (s === 3 + 3 * EXCHANGES) up(c.cseq++, c.sseq, FIN | ACK);
  else if (s === 4 + 3 * EXCHANGES) down(c.sseq++, c.cseq, FIN | ACK);
  else {
    up(c.cseq, c.sseq, ACK);
    return false;
  }
  return true;
}

export function generateCapture(path: string): { packets: number; bytes: number; connections: number } {
  const fd = openSync(path, "w");
  const w = new PcapWriter(fd);
  let next = 0;
  const newConn = (): Conn => {
    const id = next++;
    return {
      id, client: (10 << 24) | (id & 0xffff), server: (10 << 24) | (1 << 16) | (id % 8), cport: 20000 + (id % 40000),
      sport: 9000, cseq: (id * 7919) >>> 0, sseq: (id * 104729) >>> 0, step: 0,
    };
  };
  const live = Array.from({ length: CONCURRENT }, newConn);
  let t = 1_767_225_600_000_000; // 2026-01-01
  for (let i = 0; w.size < TARGET_BYTES; i++) {
    const slot = i % CONCURRENT;
    t += 10;
    if (!step(w, live[slot]!, t)) live[slot] = newConn();
  }
  w.end();
  closeSync(fd);
  return { packets: w.packets, bytes: w.size, connections: next };
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(0);
}

export default async function bench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "replay-bench-"));
  const capture = join(dir, "bench.pcap");
  try {
    const g0 = performance.now();
    const gen = generateCapture(capture);
    console.log(`capture: ${mb(statSync(capture).size)} MB, ${gen.packets.toLocaleString()} packets, ${gen.connections.toLocaleString()} connections (generated in ${((performance.now() - g0) / 1000).toFixed(1)} s)`);

    const hosts: Array<[string, WasmHost]> = [
      ["no plugin (pipeline only)", await WasmHost.load([])],
      ["no-op plugin", await WasmHost.load([await claimAllPlugin({ records: false })])],
    ];
    const toy = fileURLToPath(new URL("../build/http-hooks.wasm", import.meta.url));
    if (existsSync(toy)) hosts.push(["http-hooks (toy protocol)", await WasmHost.load([toy])]);
    else console.log("(build/http-hooks.wasm missing: run npm run build for the real-plugin figures)");

    // Wall-clock rates depend on what else runs on the machine; CPU-time rates (user + system
    // of this process) approximate one dedicated core. Each configuration gets a warm-up pass.
    console.log(`load average ${loadavg().map((x) => x.toFixed(1)).join(" ")} on this machine`);
    console.log("mode    plugin                        packets/s (wall / per CPU-s)   MB/s (wall / per CPU-s)   payload calls per CPU-s   rows      peak RSS  peak heap");
    for (const mode of ["packet", "stream"] as const) {
      for (const [label, host] of hosts) {
        await replayCapture({ capture, host, mode, limit: 200_000 });
        let peakRss = process.memoryUsage.rss();
        let peakHeap = process.memoryUsage().heapUsed;
        let rows = 0;
        const cpu0 = process.cpuUsage();
        const s = await replayCapture({
          capture, host, mode,
          onRow: () => rows++,
          onProgress: () => {
            const m = process.memoryUsage();
            if (m.rss > peakRss) peakRss = m.rss;
            if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
          },
        });
        const cpu = process.cpuUsage(cpu0);
        const cpuSec = (cpu.user + cpu.system) / 1e6;
        const calls = s.payload.checkCalls + s.payload.parseCalls;
        const perCpu = (x: number) => Math.round(x / cpuSec).toLocaleString();
        console.log(
          `${mode.padEnd(7)} ${label.padEnd(29)} ${s.packetsPerSec.toLocaleString().padStart(10)} / ${perCpu(s.capture.packets).padStart(10)}        ` +
            `${s.megabytesPerSec.toFixed(0).padStart(5)} / ${(s.capture.bytes / 1e6 / cpuSec).toFixed(0).padStart(5)}             ` +
            `${(host.pluginInfo().length ? perCpu(calls) : "-").padStart(10)}   ${rows.toLocaleString().padEnd(9)} ${mb(peakRss).padStart(5)} MB  ${mb(peakHeap).padStart(5)} MB`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
