// 100,000 mutated, truncated and invented payloads (real Pinpoint traffic mutated, HPACK
// garbage in well-formed HEADERS frames, random frames) through check_payload and
// parse_payload of build/pinpoint-grpc.wasm, each on its own flow id: the plugin never
// traps and its memory stays bounded however many flows it has seen.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DecodedPacket, decodeFrame, openCapture } from "../../../capture/open.ts";
import type { WasmHost, CallCtx } from "../../../sdk/host.ts";
import { FIXTURES, PINPOINT_PROTO, loadPlugin } from "./support.ts";
import { PREFACE, frame } from "./frames.ts";

interface Seed {
  bytes: Uint8Array;
  toServer: boolean;
}

function seeds(): Seed[] {
  const out: Seed[] = [];
  for (const f of ["pinpoint-full.pcap", "pinpoint-midstream.pcap"]) {
    const reader = openCapture(join(FIXTURES, f));
    const pkt = new DecodedPacket();
    try {
      for (let frame = reader.next(); frame; frame = reader.next()) {
        if (decodeFrame(frame, pkt) && pkt.status === "ok" && pkt.payloadLength > 0) {
          out.push({ bytes: pkt.payload().slice(), toServer: pkt.dstPort >= 9991 && pkt.dstPort <= 9993 });
        }
      }
    } finally {
      reader.close();
    }
  }
  return out;
}

function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
}

function mutate(r: (n: number) => number, pool: Seed[]): Seed {
  const base = pool[r(pool.length)];
  let b: Uint8Array = base.bytes.slice();
  switch (r(9)) {
    case 0: // bit flips
      for (let k = 1 + r(8); k > 0 && b.length; k--) b[r(b.length)] ^= 1 << r(8);
      break;
    case 1: // truncation
      b = b.subarray(0, r(b.length + 1));
      break;
    case 2: // a random window of the payload (starts mid-frame)
      b = b.subarray(r(b.length), b.length);
      break;
    case 3: { // HPACK garbage in a well-formed HEADERS frame, after a preface or not
      const block = Uint8Array.from({ length: r(120) }, () => r(256));
      const f = frame(1, 4 | (r(2) ? 1 : 0), 1 + 2 * r(50), block);
      b = r(2) ? new Uint8Array([...PREFACE, ...f]) : f;
      break;
    }
    case 4: { // HPACK garbage that starts like a real block: indexed / literal prefixes, huge integers, Huffman flags
      const block: number[] = [];
      for (let k = r(30); k > 0; k--) {
        const pick = r(5);
        if (pick === 0) block.push(0x80 | r(128), ...(r(2) ? [0xff, 0xff, 0xff, 0x7f] : []));
        else if (pick === 1) block.push(0x40, 0x80 | r(128), ...Array.from({ length: r(20) }, () => r(256)));
        else if (pick === 2) block.push(0x20 | r(32), 0xff, 0xff, 0x0f);
        else if (pick === 3) block.push(0x00 | r(16), 0xff, ...Array.from({ length: r(10) }, () => 0xff));
        else block.push(r(256));
      }
      b = frame(1, 4, 1, Uint8Array.from(block));
      break;
    }
    case 5: { // splice two payloads
      const other = pool[r(pool.length)].bytes;
      b = new Uint8Array([...b.subarray(0, r(b.length + 1)), ...other.subarray(r(other.length + 1))]);
      break;
    }
    case 6: // random bytes
      b = Uint8Array.from({ length: r(300) }, () => r(256));
      break;
    case 7: { // frames of random types with random lengths and flags
      const parts: number[] = [];
      for (let k = 1 + r(5); k > 0; k--) parts.push(...frame(r(12), r(256), r(4), Uint8Array.from({ length: r(40) }, () => r(256))));
      b = Uint8Array.from(parts);
      break;
    }
    default: { // claimed lengths that lie: frame and gRPC lengths overwritten
      if (b.length > 12) {
        b[r(3)] = r(256);
        b[9 + r(Math.min(4, b.length - 9))] = r(256);
      }
    }
  }
  return { bytes: b, toServer: base.toServer };
}

let host: WasmHost;

beforeAll(async () => {
  host = await loadPlugin();
}, 120_000);

describe("fuzz", () => {
  it("100,000 payloads on 100,000 flow ids: no trap, bounded memory", () => {
    const pool = seeds();
    expect(pool.length).toBeGreaterThan(50);
    const r = rng(20240601);
    const client = "10.0.0.1";
    const server = "10.0.0.2";
    const ports = [9991, 9992, 9993, 8080];
    let claimed = 0;
    let records = 0;
    let memAtHalf = 0;
    const N = 100_000;
    for (let i = 0; i < N; i++) {
      const s = mutate(r, pool);
      const port = ports[r(ports.length)];
      const ctx: CallCtx = s.toServer
        ? { srcIp: client, dstIp: server, srcPort: 40000 + (i % 20000), dstPort: port, direction: 0, flowId: BigInt(i + 1), bufSize: 1024 }
        : { srcIp: server, dstIp: client, srcPort: port, dstPort: 40000 + (i % 20000), direction: 1, flowId: BigInt(i + 1), bufSize: 1024 };
      if (host.checkPayload(ctx, s.bytes)) claimed++;
      // parse_payload on everything, claimed or not, and a second payload on the same flow now and then.
      records += host.parsePayload(ctx, s.bytes, PINPOINT_PROTO)?.length ?? 0;
      if (r(8) === 0) records += host.parsePayload(ctx, mutate(r, pool).bytes, PINPOINT_PROTO)?.length ?? 0;
      if (i === N / 2) memAtHalf = host.counters()[0].hooks.parse_payload.memSize;
    }
    const c = host.counters()[0];
    expect(c.agentPanics).toBe(0);
    expect(c.hooks.check_payload.failures).toBe(0);
    expect(c.hooks.parse_payload.failures).toBe(0);
    expect(c.hooks.check_payload.calls).toBe(N);
    // Bounded: every flow id is kept (MAX_FLOWS = 131,072 connections), in less than the
    // 4 KiB per connection that README.md states (linear memory, allocator growth included).
    const mem = c.hooks.parse_payload.memSize;
    expect(mem - memAtHalf).toBeLessThanOrEqual((N / 2) * 4096);
    expect(mem).toBeLessThan(N * 4096);
    expect(claimed).toBeGreaterThan(1000);
    expect(records).toBeGreaterThan(100);
  }, 300_000);
});
