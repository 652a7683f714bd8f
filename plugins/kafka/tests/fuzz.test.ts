// 100,000 mutated and cut Kafka payloads (seeded from real captures: requests with
// plain and gzip batches, responses of many apis) through build/kafka.wasm: no trap,
// no record the agent would refuse, and memory that stops growing (once messages waiting
// for their rest fill the reassembly table to its bounds, which takes memory of its own).
import { join, resolve } from "node:path";
import { readdirSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { DecodedPacket, decodeFrame, openCapture } from "../../../capture/open.ts";
import { WasmHost } from "../../../sdk/host.ts";
import { xorshift32 } from "../../../tests/support/capture.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const PROTO = 150;
const TOTAL = 100_000;
// As plugins/kafka/config.ts.
const MAX_REASSEMBLING = 1024;
const MAX_REASSEMBLY_BYTES = 4 << 20;

interface Seed {
  request: Uint8Array;
  responses: Uint8Array[];
}

/** Request/response payload pairs of every capture: each request with the responses of its flow. */
function seeds(): Seed[] {
  const dirs = [join(root, "tests", "fixtures", "kafka"), join(root, "tests", "fixtures", "deepflow", "kafka")];
  const out: Seed[] = [];
  for (const dir of dirs) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".pcap"))) {
      const rd = openCapture(join(dir, f));
      const p = new DecodedPacket();
      const flows = new Map<string, { server: string; seed: Seed | null }>();
      for (let fr = rd.next(); fr; fr = rd.next()) {
        if (!decodeFrame(fr, p) || p.payloadLength === 0) continue;
        const src = `${p.srcIp().join(".")}:${p.srcPort}`;
        const dst = `${p.dstIp().join(".")}:${p.dstPort}`;
        const key = [src, dst].sort().join("-");
        let flow = flows.get(key);
        if (!flow) flows.set(key, (flow = { server: dst, seed: null }));
        // A copy: the reader reuses its buffer (and Buffer.slice would be a view).
        const payload = Uint8Array.from(p.payload());
        if (dst === flow.server) {
          flow.seed = { request: payload, responses: [] };
          out.push(flow.seed);
        } else if (flow.seed) {
          flow.seed.responses.push(payload);
        }
      }
      rd.close();
    }
  }
  return out;
}

function mutate(b: Uint8Array, rand: () => number): Uint8Array {
  const kind = Math.floor(rand() * 6);
  const c = b.slice();
  if (kind === 0) return c.subarray(0, Math.floor(rand() * c.length));
  if (kind === 1) {
    for (let i = 0, n = 1 + Math.floor(rand() * 8); i < n && c.length; i++) c[Math.floor(rand() * c.length)] = Math.floor(rand() * 256);
    return c;
  }
  if (kind === 2) {
    // Lengths and counts live in the first bytes of fields: hit them with extreme values.
    const at = Math.floor(rand() * Math.max(1, c.length - 4));
    const v = [0xff, 0x7f, 0x80, 0x00][Math.floor(rand() * 4)];
    for (let i = 0; i < 4 && at + i < c.length; i++) c[at + i] = v;
    return c;
  }
  if (kind === 3) return c.subarray(Math.floor(rand() * c.length));
  if (kind === 4) {
    const junk = new Uint8Array(Math.floor(rand() * 64)).map(() => Math.floor(rand() * 256));
    const at = Math.floor(rand() * c.length);
    const out = new Uint8Array(c.length + junk.length);
    out.set(c.subarray(0, at));
    out.set(junk, at);
    out.set(c.subarray(at), at + junk.length);
    return out;
  }
  return new Uint8Array(Math.floor(rand() * 200)).map(() => Math.floor(rand() * 256));
}

let host: WasmHost;
/** What the host logged: a refused result (e.g. a string that is not UTF-8) shows here. */
const hostLogs: string[] = [];
beforeAll(async () => {
  host = await WasmHost.load([join(root, "build", "kafka.wasm")], { onLog: (e) => hostLogs.push(e.message) });
});

describe("fuzz", () => {
  it(`${TOTAL} mutated payloads: no trap, bounded memory`, () => {
    const all = seeds();
    expect(all.length).toBeGreaterThan(50);
    // Deterministic, so that a failure can be replayed: a fraction in [0, 1).
    const next = xorshift32(0x5eed);
    const rand = () => next() / 4294967296;
    const base = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 9092 };
    // Messages cut across payloads wait for their rest, within bounds (plugins/kafka/config.ts:
    // MAX_REASSEMBLING messages, MAX_REASSEMBLY_BYTES bytes of buffers): filled to them first
    // with the first part of real requests, so that the run measures growth past them. The run
    // comes a minute later (stale pieces give way, as in the agent), on flows of its own.
    const long = all.map((x) => x.request).filter((r) => r.length > 2048);
    expect(long.length).toBeGreaterThanOrEqual(5);
    for (let i = 0; i < MAX_REASSEMBLING; i++) {
      const r = long[i % long.length]!;
      host.parsePayload({ ...base, direction: 0, flowId: BigInt(1_000_000 + i), bufSize: 65535, time: 0 }, r.subarray(0, r.length - 1), PROTO);
    }
    const memoryFilled = host.memory("kafka.wasm").buffer.byteLength;
    const time = 61_000_000;
    let calls = 0;
    let records = 0;
    let memoryAtHalf = 0;
    while (calls < TOTAL) {
      const seed = all[Math.floor(rand() * all.length)];
      // Many flows, so that the per-flow memory meets its bounds.
      const flowId = BigInt(Math.floor(rand() * 5000));
      const bufSize = rand() < 0.5 ? 1024 : 65535;
      const req = rand() < 0.7 ? seed.request : mutate(seed.request, rand);
      host.checkPayload({ ...base, direction: 0, flowId, bufSize, time }, req);
      records += host.parsePayload({ ...base, direction: 0, flowId, bufSize, time }, req, PROTO)?.length ?? 0;
      calls += 2;
      for (const resp of seed.responses) {
        const r = rand() < 0.3 ? resp : mutate(resp, rand);
        records += host.parsePayload({ ...base, srcPort: 9092, dstPort: 40000, direction: 1, flowId, bufSize, time }, r, PROTO)?.length ?? 0;
        calls++;
      }
      if (!memoryAtHalf && calls >= TOTAL / 2) memoryAtHalf = host.memory("kafka.wasm").buffer.byteLength;
    }
    const counters = host.counters()[0];
    expect(counters.agentPanics).toBe(0);
    expect(counters.hooks.check_payload.failures).toBe(0);
    expect(counters.hooks.parse_payload.failures).toBe(0);
    expect(hostLogs.slice(0, 5)).toEqual([]);
    expect(records).toBeGreaterThan(TOTAL / 10);
    const memory = host.memory("kafka.wasm").buffer.byteLength;
    expect(memory).toBeLessThanOrEqual(16 << 20);
    // The waiting messages took their bytes' worth (and ~100 bytes each), not more.
    expect(memoryFilled).toBeGreaterThan(MAX_REASSEMBLY_BYTES);
    expect(memoryFilled).toBeLessThanOrEqual(2 * MAX_REASSEMBLY_BYTES);
    // Bounded: the second half of the run grew memory by at most a few pages.
    expect(memory - memoryAtHalf).toBeLessThanOrEqual(4 * 65536);
  }, 120_000);
});
