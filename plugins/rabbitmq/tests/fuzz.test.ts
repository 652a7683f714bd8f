// 100,000 mutated and truncated AMQP payloads through the built plugin: no trap (the host
// counts every trap as a failure), and the plugin's memory stops growing at a bound.
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { tcpPayloads, xorshift32 } from "../../../tests/support/capture.ts";
import { DIR_C2S, DIR_S2C, loadPlugin } from "./session.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const CAPTURES = [
  join(root, "tests", "fixtures", "amqp", "rabbitmq.pcap"),
  ...["amqp1", "amqp2", "amqp3"].map((n) => resolve(root, "tests", "fixtures", "deepflow", "amqp", `${n}.pcap`)),
];

/** TCP payloads of real AMQP traffic. */
function seeds(): Buffer[] {
  return tcpPayloads(CAPTURES).map((p) => Buffer.from(p));
}

const EXTREMES = [0, 1, 4, 13, 14, 0x7fff, 0xffff, 1 << 20, 0x7fffffff, 0xffffffff];
const TAGS = "tbBsuIilfdDSATFVxU".split("").map((c) => c.charCodeAt(0));

/** One mutation of a seed: cuts, flips, frame fields and table lengths set to extremes, splices, glued frames. */
function mutate(corpus: Buffer[], next: () => number): Buffer {
  const base = corpus[next() % corpus.length];
  let b = Buffer.from(base.subarray(0, Math.min(base.length, 8192)));
  const pick = <T>(xs: T[]) => xs[next() % xs.length];
  switch (next() % 9) {
    case 0: // cut anywhere
      b = b.subarray(0, next() % (b.length + 1));
      break;
    case 1: // flip a few bytes
      for (let k = 0, n = 1 + (next() % 8); k < n && b.length; k++) b[next() % b.length] = next() & 0xff;
      break;
    case 2: // frame type, channel and size to extremes
      if (b.length >= 7) {
        b[0] = pick([1, 2, 3, 8, 0, 0xce, next() & 0xff]);
        b.writeUInt16BE(pick([0, 1, 0xffff, next() & 0xffff]), 1);
        b.writeUInt32BE(pick(EXTREMES) >>> 0, 3);
      }
      break;
    case 3: // a u32 somewhere (table, long string and array lengths) to an extreme
      if (b.length >= 4) b.writeUInt32BE(pick(EXTREMES) >>> 0, next() % (b.length - 3));
      break;
    case 4: // field-type letters sprinkled over the payload
      for (let k = 0, n = 1 + (next() % 6); k < n && b.length; k++) b[next() % b.length] = pick(TAGS);
      break;
    case 5: // bytes from elsewhere spliced in
      {
        const other = pick(corpus);
        const at = next() % (b.length + 1);
        const from = next() % (other.length + 1);
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + (next() % 256)), b.subarray(at)]);
      }
      break;
    case 6: // several payloads glued, then cut
      b = Buffer.concat([b, pick(corpus), pick(corpus)]);
      b = b.subarray(0, next() % (b.length + 1));
      break;
    case 7: // class/method ids and property flags to random values
      if (b.length >= 13) {
        b.writeUInt16BE(pick([10, 20, 40, 50, 60, 85, 90, next() & 0xffff]), 7);
        b.writeUInt16BE(next() & 0xffff, 9);
        b.writeUInt16BE(next() & 0xffff, 11);
      }
      break;
    default: // random bytes behind a plausible frame head
      b = Buffer.concat([Buffer.from([pick([1, 2, 3, 8]), 0, next() & 3, 0, 0, (next() >> 8) & 0x3f, next() & 0xff]),
        Buffer.from(Array.from({ length: next() % 700 }, () => next() & 0xff))]);
  }
  return b;
}

describe("fuzz", () => {
  it("100,000 mutated payloads: no trap, bounded memory", async () => {
    const host = await loadPlugin();
    const corpus = seeds();
    expect(corpus.length).toBeGreaterThan(100);
    const next = xorshift32(0xa3c9);
    const total = 100_000;
    // Once the per-flow tables are full, memory must not move any more.
    const settle = 20_000;
    let claimed = 0;
    let records = 0;
    let memoryAfterTotal = 0;
    for (let i = 0; i < total + settle; i++) {
      if (i === total) memoryAfterTotal = host.counters()[0].hooks.parse_payload.memSize;
      const payload = mutate(corpus, next);
      const ctx = {
        srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 5672,
        direction: (next() & 1 ? DIR_S2C : DIR_C2S) as 0 | 1,
        // Many connections: the plugin's per-connection state must stay bounded.
        flowId: next() % 5000,
        bufSize: [256, 1024, 4096, 65535][next() % 4],
      };
      if (i % 4 === 0 && host.checkPayload(ctx, payload)) claimed++;
      records += host.parsePayload(ctx, payload, 160)?.length ?? 0;
    }
    const c = host.counters()[0];
    console.log(`fuzz: ${claimed} claimed, ${records} records, memory ${memoryAfterTotal} bytes`);
    for (const name of ["check_payload", "parse_payload"] as const) expect(c.hooks[name].failures, `${name} traps`).toBe(0);
    expect(c.agentPanics).toBe(0);
    expect(c.hooks.parse_payload.calls).toBe(total + settle);
    // Enough of the mutants stay AMQP to reach deep into the parser.
    expect(claimed).toBeGreaterThan(total / 20);
    expect(records).toBeGreaterThan(total / 5);
    // About 1.5 MiB without waiting frames, plus config.ts's MAX_REASSEMBLY_BYTES (4 MiB) of
    // frames cut across payloads, plus the SDK FrameAssembler's spare buffers (up to 64 of at
    // most 64 KiB: 4 MiB), plus the allocator's slack (buffers grow by doubling; the ones they
    // replace are freed at the next collection). Measured: 6 MiB.
    expect(memoryAfterTotal).toBeLessThanOrEqual(16 << 20);
    expect(c.hooks.parse_payload.memSize).toBe(memoryAfterTotal);
  }, 180_000);
});
