// The codec library's HPACK decoder (protocols/hpack.ts) through its harness: RFC 7541
// Appendix C vectors, then random header lists encoded by hpack.js (an independent
// implementation), including Huffman, table-size updates, small tables and decoders that
// join mid-connection (unknown entries reported, never wrong values).
import { createRequire } from "node:module";
import { beforeAll, describe, expect, it } from "vitest";
import { loadHarness, type Harness } from "../../../tests/support/as-harness.ts";

const require = createRequire(import.meta.url);
// hpack.js ships no types: the few calls used here.
interface HpackCompressor {
  write(headers: { name: string; value: string; huffman?: boolean; incremental?: boolean; neverIndex?: boolean }[]): void;
  read(): Buffer | null;
  _table: { updateSize(size: number): void };
}
interface HpackEncoder {
  encodeBits(v: number, n: number): void;
  encodeInt(v: number): void;
  render(): Buffer[];
}
const hpack = require("hpack.js") as {
  compressor: { create(o: { table: { maxSize: number } }): HpackCompressor };
  encoder: { create(): HpackEncoder };
};
const huffmanTable = (require("hpack.js/lib/hpack/huffman.js") as { encode: [number, number][] }).encode;

let h: Harness;
const call = (name: string, ...args: number[]) => (h.exports[name] as (...a: number[]) => number)(...args);

interface Decoded {
  status: number;
  unknown: number;
  fields: [string, string][];
}

function decode(id: number, block: Uint8Array): Decoded {
  h.put(block);
  call("decode", id, 0, block.length);
  const out = Buffer.from(h.read(call("outPtr"), call("outLen")));
  let at = 5;
  const str = () => {
    const n = out.readUInt16BE(at);
    const s = out.subarray(at + 2, at + 2 + n).toString();
    at += 2 + n;
    return s;
  };
  const fields: [string, string][] = [];
  for (let i = 0; i < out.readUInt16BE(3); i++) fields.push([str(), str()]);
  return { status: out[0], unknown: out.readUInt16BE(1), fields };
}

function table(id: number): { count: number; bytes: number; capacity: number; invalidations: number } {
  call("tableInfo", id);
  const [count, bytes, capacity, invalidations] = Buffer.from(h.read(call("outPtr"), call("outLen"))).toString().split(",").map(Number);
  return { count, bytes, capacity, invalidations };
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

beforeAll(() => {
  h = loadHarness("tests/as/hpack.ts");
}, 120_000);

describe("Huffman code", () => {
  it("is the canonical code of RFC 7541 Appendix B (matches hpack.js's table for all 257 symbols)", () => {
    for (let s = 0; s <= 256; s++) {
      const v = BigInt((h.exports.huffman as (s: number) => bigint)(s));
      expect([Number(v >> 56n), Number(v & 0xffffffffn)], `symbol ${s}`).toEqual(huffmanTable[s]);
    }
  });
});

describe("RFC 7541 Appendix C", () => {
  it("C.2: single representations", () => {
    let d = call("newDecoder", 4096);
    expect(decode(d, hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"))).toEqual({ status: 0, unknown: 0, fields: [["custom-key", "custom-header"]] });
    expect(table(d)).toMatchObject({ count: 1, bytes: 55 });
    d = call("newDecoder", 4096);
    expect(decode(d, hex("040c 2f73 616d 706c 652f 7061 7468")).fields).toEqual([[":path", "/sample/path"]]);
    expect(table(d).count).toBe(0);
    expect(decode(d, hex("1008 7061 7373 776f 7264 0673 6563 7265 74")).fields).toEqual([["password", "secret"]]);
    expect(table(d).count).toBe(0);
    expect(decode(d, hex("82")).fields).toEqual([[":method", "GET"]]);
  });

  const requests: [string, [string, string][], number][] = [
    ["", [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]], 57],
    ["", [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"], ["cache-control", "no-cache"]], 110],
    ["", [[":method", "GET"], [":scheme", "https"], [":path", "/index.html"], [":authority", "www.example.com"], ["custom-key", "custom-value"]], 164],
  ];
  const plain = ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", "8286 84be 5808 6e6f 2d63 6163 6865",
    "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"];
  const huffman = ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", "8286 84be 5886 a8eb 1064 9cbf",
    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"];
  for (const [name, blocks] of [["C.3: requests without Huffman", plain], ["C.4: requests with Huffman", huffman]] as const) {
    it(name, () => {
      const d = call("newDecoder", 4096);
      blocks.forEach((b, i) => {
        expect(decode(d, hex(b))).toEqual({ status: 0, unknown: 0, fields: requests[i][1] });
        expect(table(d).bytes).toBe(requests[i][2]);
      });
    });
  }

  const date1 = "Mon, 21 Oct 2013 20:13:21 GMT";
  const date2 = "Mon, 21 Oct 2013 20:13:22 GMT";
  const loc = "https://www.example.com";
  const responses: [[string, string][], number, number][] = [
    [[[":status", "302"], ["cache-control", "private"], ["date", date1], ["location", loc]], 222, 4],
    [[[":status", "307"], ["cache-control", "private"], ["date", date1], ["location", loc]], 222, 4],
    [[[":status", "200"], ["cache-control", "private"], ["date", date2], ["location", loc], ["content-encoding", "gzip"],
      ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"]], 215, 3],
  ];
  const respPlain = [
    "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    "4803 3330 37c1 c0bf",
    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
  ];
  const respHuffman = [
    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
    "4883 640e ffc1 c0bf",
    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
  ];
  for (const [name, blocks] of [["C.5: responses without Huffman, 256-byte table (eviction)", respPlain], ["C.6: responses with Huffman, 256-byte table (eviction)", respHuffman]] as const) {
    it(name, () => {
      const d = call("newDecoder", 256);
      blocks.forEach((b, i) => {
        expect(decode(d, hex(b))).toEqual({ status: 0, unknown: 0, fields: responses[i][0] });
        expect(table(d)).toMatchObject({ bytes: responses[i][1], count: responses[i][2] });
      });
    });
  }
});

describe("malformed and cut blocks", () => {
  it("reports a cut block, keeps the fields before the cut and forgets the table", () => {
    const d = call("newDecoder", 4096);
    decode(d, hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));
    const cut = hex("82 400a 6375 7374 6f6d 2d6b 6579 0d63 7573");
    expect(decode(d, cut)).toEqual({ status: 1, unknown: 0, fields: [[":method", "GET"]] });
    expect(table(d)).toMatchObject({ count: 0, invalidations: 1 });
    // The entry inserted before the cut is no longer trusted: reported unknown.
    expect(decode(d, hex("be 82"))).toEqual({ status: 0, unknown: 1, fields: [[":method", "GET"]] });
  });

  it("rejects index 0, EOS in a string, bad padding and overlong integers", () => {
    const d = call("newDecoder", 4096);
    expect(decode(d, hex("80")).status).toBe(2);
    expect(decode(d, hex("0481 ff")).status).toBe(2); // 8 bits of ones: padding longer than 7 bits
    expect(decode(d, hex("0484 ffff ffff")).status).toBe(2); // EOS (30 ones) inside the string
    expect(decode(d, hex("0481 00")).status).toBe(2); // padding not all ones
    expect(decode(d, hex("ff ff ff ff ff ff 01")).status).toBe(2);
    expect(decode(d, hex("ff ff")).status).toBe(1);
  });
});

// ---- hpack.js round trips ----

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const NAMES = [":path", ":method", ":authority", ":status", "content-type", "user-agent", "agentid", "applicationname", "starttime",
  "grpc-timeout", "te", "x-custom", "x-trace", "cookie", "accept-encoding", "grpc-status", "grpc-message", "date"];

function randomString(r: () => number, max: number): string {
  const n = Math.floor(r() * max);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(32 + Math.floor(r() * 95));
  return s;
}

interface Header { name: string; value: string; huffman?: boolean; incremental?: boolean; neverIndex?: boolean }

function randomHeaders(r: () => number, pool: Header[]): Header[] {
  const n = 1 + Math.floor(r() * 10);
  const out: Header[] = [];
  for (let i = 0; i < n; i++) {
    // Reuse earlier fields often, as real connections do, so indexed references dominate.
    const base = pool.length && r() < 0.5 ? pool[Math.floor(r() * pool.length)] : { name: NAMES[Math.floor(r() * NAMES.length)], value: randomString(r, 40) };
    const hd: Header = { name: base.name, value: base.value, huffman: r() < 0.6 };
    const mode = r();
    if (mode < 0.1) hd.neverIndex = true;
    else if (mode < 0.25) hd.incremental = false;
    out.push(hd);
    if (!pool.includes(base) && pool.length < 64) pool.push({ name: hd.name, value: hd.value });
  }
  return out;
}

function sizeUpdate(size: number): Buffer {
  const enc = hpack.encoder.create();
  enc.encodeBits(1, 3);
  enc.encodeInt(size);
  return Buffer.concat(enc.render());
}

/** The decoded fields are the original list minus `unknown` of them, in order: nothing wrong, nothing invented. */
function expectSubsequence(got: Decoded, want: Header[]) {
  expect(got.fields.length + got.unknown).toBe(want.length);
  let j = 0;
  for (const [name, value] of got.fields) {
    while (j < want.length && !(want[j].name === name && want[j].value === value)) j++;
    expect(j, `field ${name}: ${value} not in the original list at or after its position`).toBeLessThan(want.length);
    j++;
  }
}

describe("against hpack.js", () => {
  it("decodes 400 random connections exactly (Huffman, indexing modes, size updates, eviction)", () => {
    const r = rng(7541);
    let fields = 0;
    let updates = 0;
    for (let conn = 0; conn < 400; conn++) {
      const max = r() < 0.5 ? 4096 : 64 + Math.floor(r() * 512);
      const comp = hpack.compressor.create({ table: { maxSize: max } });
      const d = call("newDecoder", max);
      const pool: Header[] = [];
      for (let b = 0; b < 12; b++) {
        const headers = randomHeaders(r, pool);
        let prefix: Buffer = Buffer.alloc(0);
        if (r() < 0.15) {
          const size = Math.floor(r() * (max + 1));
          prefix = sizeUpdate(size);
          comp._table.updateSize(size);
          updates++;
        }
        comp.write(headers);
        const block = Buffer.concat([prefix, comp.read() ?? Buffer.alloc(0)]);
        const got = decode(d, block);
        expect(got.status).toBe(0);
        expect(got.unknown).toBe(0);
        expect(got.fields).toEqual(headers.map((x) => [x.name, x.value]));
        fields += headers.length;
      }
    }
    expect(fields).toBeGreaterThan(10_000);
    expect(updates).toBeGreaterThan(300);
  });

  it("decodes Huffman strings of every 7-bit character (codes of 5 to 28 bits), at every length", () => {
    const r = rng(28);
    const comp = hpack.compressor.create({ table: { maxSize: 4096 } });
    const d = call("newDecoder", 4096);
    for (let n = 0; n < 300; n++) {
      let value = "";
      for (let k = 0; k < n % 40; k++) value += String.fromCharCode(Math.floor(r() * 128));
      const headers = [{ name: "x-bin", value, huffman: true, incremental: false }];
      comp.write(headers);
      const got = decode(d, comp.read() ?? Buffer.alloc(0));
      expect(got).toEqual({ status: 0, unknown: 0, fields: [["x-bin", value]] });
    }
  });

  it("a decoder joining mid-connection or keeping a smaller table reports unknown fields, never wrong ones, and re-syncs", () => {
    const r = rng(99);
    let unknown = 0;
    let resynced = 0;
    for (let conn = 0; conn < 200; conn++) {
      const max = 4096;
      const comp = hpack.compressor.create({ table: { maxSize: max } });
      const small = r() < 0.5;
      // Either a decoder with a quarter of the table, or one that starts after a few blocks.
      const d = call("newDecoder", small ? 1024 : max);
      const joinAt = small ? 0 : 1 + Math.floor(r() * 5);
      const pool: Header[] = [];
      let lastUnknown = 0;
      for (let b = 0; b < 20; b++) {
        const headers = randomHeaders(r, pool);
        comp.write(headers);
        const block = comp.read() ?? Buffer.alloc(0);
        if (b < joinAt) continue;
        const got = decode(d, block);
        expect(got.status).toBe(0);
        expectSubsequence(got, headers);
        unknown += got.unknown;
        lastUnknown = got.unknown;
      }
      if (!small && lastUnknown === 0) resynced++;
    }
    expect(unknown).toBeGreaterThan(100);
    expect(resynced).toBeGreaterThan(20);
  });
});
