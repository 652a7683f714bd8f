// 100,000+ mutated and truncated Dubbo payloads through the built plugin, in both
// modes: no trap (the host counts every one as a failure), and the plugin's memory
// stops growing at a fixed bound.
import { describe, expect, it } from "vitest";
import { join, resolve } from "node:path";
import { WasmHost } from "../../../sdk/host.ts";
import { tcpPayloads, xorshift32 } from "../../../tests/support/capture.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const wasm = join(root, "build", "dubbo.wasm");
const captures = resolve(root, "tests", "fixtures", "deepflow", "dubbo");

/** Payloads of real Dubbo traffic to mutate. */
function seeds(): Uint8Array[] {
  return [
    ...tcpPayloads([join(root, "tests", "fixtures", "dubbo", "dubbo-hessian2.pcap")]),
    // the shared captures are optional here
    ...tcpPayloads(["dubbo_hessian2.pcap", "dubbo-eys.pcap", "dubbo-kryo.pcap"].map((f) => join(captures, f)), true),
  ];
}

/** One mutation of a seed: byte flips, cuts, header fields set to extremes, splices, frames glued together. */
function mutate(seedBytes: Uint8Array[], next: () => number): Uint8Array {
  const base = seedBytes[next() % seedBytes.length];
  let b = Buffer.from(base.subarray(0, Math.min(base.length, 4096)));
  switch (next() % 8) {
    case 0: // truncate anywhere
      b = b.subarray(0, next() % (b.length + 1));
      break;
    case 1: // flip a few bytes (header and body)
      for (let k = 0, n = 1 + (next() % 8); k < n && b.length; k++) b[next() % b.length] = next() & 0xff;
      break;
    case 2: // body length and flags to extremes
      if (b.length >= 16) {
        b.writeUInt32BE([0, 1, 0x7fffffff, 0xffffffff, next()][next() % 5], 12);
        b[2] = next() & 0xff;
        b[3] = [0, 20, 30, 70, next() & 0xff][next() % 5];
      }
      break;
    case 3: // bytes from elsewhere spliced in
      {
        const other = seedBytes[next() % seedBytes.length];
        const at = next() % (b.length + 1);
        const from = next() % (other.length + 1);
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + (next() % 64)), b.subarray(at)]);
      }
      break;
    case 4: // Hessian tags that open containers, sprinkled over the body
      for (let k = 0, n = 1 + (next() % 6); k < n && b.length > 16; k++) b[16 + (next() % (b.length - 16))] = [0x43, 0x48, 0x4d, 0x4f, 0x55, 0x56, 0x57, 0x58, 0x51, 0x52, 0x41, 0x60, 0x79][next() % 13];
      break;
    case 5: // several frames and pieces glued together
      b = Buffer.concat([b, seedBytes[next() % seedBytes.length], Buffer.from([0xda, 0xbb, 0xc2, 0x00]), seedBytes[next() % seedBytes.length]]);
      break;
    case 6: // a Dubbo header on random bytes
      b = Buffer.concat([Buffer.from([0xda, 0xbb, next() & 0xff, next() & 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x10, 0]), Buffer.from(Array.from({ length: next() % 600 }, () => next() & 0xff))]);
      break;
    default: // cut and flip
      b = b.subarray(0, next() % (b.length + 1));
      if (b.length) b[next() % b.length] ^= 1 << (next() % 8);
  }
  return b;
}

describe("fuzz", () => {
  it("100,000 mutated payloads: no trap, bounded memory", async () => {
    const host = await WasmHost.load([wasm]);
    const corpus = seeds();
    expect(corpus.length).toBeGreaterThan(50);
    const next = xorshift32(0x5eed);
    const total = 100_000;
    // After the first 100,000 the memory must not move at all for another 20,000.
    const settle = 20_000;
    let claimed = 0;
    let records = 0;
    let memoryAfterTotal = 0;
    for (let i = 0; i < total + settle; i++) {
      if (i === total) memoryAfterTotal = host.counters()[0].hooks.parse_payload.memSize;
      const payload = mutate(corpus, next);
      const ctx = {
        srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 20880,
        direction: (next() & 1) as 0 | 1,
        // Many connections: the plugin's per-connection memory must stay bounded.
        flowId: next() % 20000,
        bufSize: [256, 1024, 1500, 65535][next() % 4],
      };
      const c = host.checkPayload(ctx, payload);
      if (c) claimed++;
      records += host.parsePayload(ctx, payload, 140)?.length ?? 0;
      if (i % 4 === 0) host.onCustomMessage(ctx, payload, { hookPoint: 0, typeCode: 40, data: new Uint8Array(0) });
    }
    const c = host.counters()[0];
    for (const name of ["check_payload", "parse_payload", "on_custom_message"] as const) {
      expect(c.hooks[name].failures, `${name} traps`).toBe(0);
    }
    expect(c.agentPanics).toBe(0);
    expect(c.hooks.parse_payload.calls).toBe(total + settle);
    // The mutations keep many payloads valid enough to be claimed and logged.
    expect(claimed).toBeGreaterThan(total / 10);
    expect(records).toBeGreaterThan(total / 10);
    // 2 MiB without waiting frames, plus config.ts's MAX_REASSEMBLY_BYTES (8 MiB) of frames cut
    // across payloads, plus the allocator's slack (buffers grow by doubling; the ones they
    // replace are freed at the next collection).
    console.log(`fuzz: memory ${memoryAfterTotal} bytes`);
    expect(memoryAfterTotal).toBeLessThanOrEqual(16 << 20);
    expect(c.hooks.parse_payload.memSize).toBe(memoryAfterTotal);
  }, 120_000);
});
