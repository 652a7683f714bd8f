// The codec library's inflater (protocols/inflate.ts) against Node's zlib: every block type,
// gzip/zlib/raw framing, cut input, output limits, and garbage.
import { randomBytes } from "node:crypto";
import { constants, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { loadHarness, type Harness } from "../support/as-harness.ts";

const DONE = 0;
const TRUNCATED = 1;
const LIMIT = 2;
const BAD = 3;

let h: Harness;
const call = (name: string, ...args: number[]) => (h.exports[name] as (...a: number[]) => number)(...args);
function inflate(data: Uint8Array, mode = 0, maxOut = 1 << 20): { status: number; out: Buffer } {
  h.put(data);
  const status = call("inflate", mode, maxOut);
  return { status, out: Buffer.from(h.read(call("outPtr"), call("outLen"))) };
}

beforeAll(() => {
  h = loadHarness("tests/as/kafka.ts");
}, 120_000);

const text = Buffer.from(Array.from({ length: 400 }, (_, i) => `record ${i % 37} traceparent=00-${(i * 7919).toString(16).padStart(32, "0")}-01\n`).join(""));
const inputs: [string, Buffer][] = [
  ["empty", Buffer.alloc(0)],
  ["one byte", Buffer.from("x")],
  ["text", text],
  ["random", randomBytes(70_000)],
  ["runs", Buffer.alloc(100_000, 0x61)],
];

describe("inflate", () => {
  for (const [name, data] of inputs) {
    for (const level of [0, 1, 6, 9]) {
      it(`gzip level ${level}: ${name}`, () => {
        const r = inflate(gzipSync(data, { level }), 1);
        expect(r.status).toBe(DONE);
        expect(r.out.equals(data)).toBe(true);
      });
    }
    for (const strategy of [constants.Z_FIXED, constants.Z_HUFFMAN_ONLY, constants.Z_RLE]) {
      it(`raw deflate strategy ${strategy}: ${name}`, () => {
        const r = inflate(deflateRawSync(data, { strategy }), 2);
        expect(r.status).toBe(DONE);
        expect(r.out.equals(data)).toBe(true);
      });
    }
    it(`framing told apart: ${name}`, () => {
      for (const packed of [gzipSync(data), deflateSync(data)]) {
        const r = inflate(packed, 0);
        expect(r.status).toBe(DONE);
        expect(r.out.equals(data)).toBe(true);
      }
    });
  }

  it("gzip headers with name, comment and extra fields", () => {
    const body = deflateRawSync(text);
    const name = Buffer.from("records.bin\0");
    const comment = Buffer.from("made by a test\0");
    const extra = Buffer.from([4, 0, 1, 2, 3, 4]);
    const hdr = Buffer.from([0x1f, 0x8b, 8, 4 | 8 | 16, 0, 0, 0, 0, 0, 3]);
    const r = inflate(Buffer.concat([hdr, extra, name, comment, body, Buffer.alloc(8)]), 1);
    expect(r.status).toBe(DONE);
    expect(r.out.equals(text)).toBe(true);
  });

  it("cut input yields a prefix of the data, never more", () => {
    for (const packed of [gzipSync(text), gzipSync(text, { level: 0 }), deflateRawSync(text, { strategy: constants.Z_FIXED })]) {
      const mode = packed[0] === 0x1f ? 1 : 2;
      for (let cut = 0; cut < packed.length - 8; cut += 7) {
        const r = inflate(packed.subarray(0, cut), mode);
        expect([TRUNCATED, BAD]).toContain(r.status);
        expect(text.subarray(0, r.out.length).equals(r.out)).toBe(true);
      }
    }
  });

  it("stops at the output limit", () => {
    for (const limit of [0, 1, 100, 4096]) {
      const r = inflate(gzipSync(text), 1, limit);
      expect(r.status).toBe(LIMIT);
      expect(r.out.equals(text.subarray(0, limit))).toBe(true);
    }
  });

  it("refuses garbage without trapping", () => {
    expect(inflate(Buffer.from([0x1f, 0x8b, 9, 0, 0, 0, 0, 0, 0, 0, 0]), 1).status).toBe(BAD);
    // Block type 3 is reserved.
    expect(inflate(Buffer.from([0x07]), 2).status).toBe(BAD);
    // A fixed-Huffman block whose first symbol copies from distance 1 of an empty output.
    const bits = [1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0];
    const packed = Buffer.alloc(2);
    bits.forEach((b, i) => (packed[i >> 3] |= b << (i & 7)));
    expect(inflate(packed, 2).status).toBe(BAD);
    for (let i = 0; i < 3000; i++) {
      const r = inflate(randomBytes(1 + (i % 300)), i % 3, 5000);
      expect(r.out.length).toBeLessThanOrEqual(5000);
    }
  });
});
