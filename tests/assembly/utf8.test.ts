// Text out of untrusted bytes: every way the SDK makes a string from input, written into
// a record, must give a record the agent accepts (prost refuses a whole result when one
// string is not UTF-8); the readers replace invalid input as Rust's from_utf8_lossy does.
import { beforeAll, describe, expect, it } from "vitest";
import { decodeRecords } from "../../sdk/result.ts";
import { loadHarness, type Harness } from "../support/as-harness.ts";

let h: Harness;
const call = (name: string, ...args: number[]) => (h.exports[name] as (...a: number[]) => number)(...args);
const output = () => h.read(call("outPtr"), call("outLen"));
const via = (name: string) => (h.exports[name] as WebAssembly.Global).value as number;

// The WHATWG decoder replaces maximal invalid subparts, as Rust's from_utf8_lossy.
const lossy = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });
const isUtf8 = (b: Uint8Array) => {
  try {
    strict.decode(b);
    return true;
  } catch {
    return false;
  }
};

/** The record written for `bytes` by way `name`, decoded as the agent does (throws when refused); null when no text. */
function recordOf(name: string, bytes: Uint8Array, legacy = false) {
  h.put(bytes);
  if (call("record", via(name), legacy ? 1 : 0) === 0) return null;
  const [info] = decodeRecords(output(), 0);
  return info;
}

const CASES: [string, number[]][] = [
  ["valid multi-byte", [...Buffer.from("héllo ✓ 𝄞")]],
  ["a surrogate", [0x61, 0xed, 0xa0, 0x80, 0x62]],
  ["a surrogate pair in CESU-8", [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
  ["overlong", [0xc0, 0xaf, 0xe0, 0x80, 0xaf]],
  ["beyond U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ["cut 3-byte sequence", [0x61, 0xe2, 0x9c]],
  ["cut 4-byte sequence then ASCII", [0xf0, 0x9f, 0x98, 0x41]],
  ["lone continuation bytes", [0x80, 0xbf, 0x61]],
  ["bytes never in UTF-8", [0xff, 0xfe, 0xf5, 0xc1]],
  ["a BOM", [0xef, 0xbb, 0xbf, 0x61]],
  ["NUL", [0x61, 0x00, 0x62]],
];

beforeAll(() => {
  h = loadHarness("tests/as/utf8.ts");
}, 120_000);

describe("strings from input bytes reach the agent as UTF-8", () => {
  for (const [label, raw] of CASES) {
    const bytes = Uint8Array.from(raw);
    const want = lossy.decode(bytes);
    it(`readers replace invalid input as from_utf8_lossy: ${label}`, () => {
      for (const name of ["VIA_READER", "VIA_READER_UPTO", "VIA_PROTOBUF", "VIA_LOSSY"]) {
        const info = recordOf(name, bytes)!;
        expect(info.req.domain, name).toBe(want);
        expect(info.proto_str, name).toBe(want);
        expect(info.attributes, name).toEqual([{ key: want, val: want }]);
      }
    });

    it(`base64 text of non-UTF-8 bytes is null: ${label}`, () => {
      const info = recordOf("VIA_BASE64", Buffer.from(Buffer.from(bytes).toString("base64")));
      if (isUtf8(bytes)) expect(info?.req.domain).toBe(want);
      else expect(info).toBeNull();
    });

    it(`text decoded without checks is repaired on the way out: ${label}`, () => {
      const info = recordOf("VIA_UNCHECKED", bytes)!;
      if (isUtf8(bytes)) expect(info.req.domain).toBe(want);
      expect(isUtf8(Buffer.from(info.req.domain))).toBe(true);
      expect(recordOf("VIA_UNCHECKED", bytes, true)!.req.domain).toBe(info.req.domain);
    });
  }

  it("lone surrogates in a string become U+FFFD on the way out", () => {
    const units = [0x61, 0xd800, 0x62, 0xdc00, 0xd83d, 0xde00, 0xdbff];
    const want = "a\ufffdb\ufffd\u{1f600}\ufffd";
    const info = recordOf("VIA_UTF16", new Uint8Array(Uint16Array.from(units).buffer))!;
    expect(info.req.domain).toBe(want);
    expect(info.attributes).toEqual([{ key: want, val: want }]);
  });

  it("validates and repairs raw bytes as the strict and lossy decoders do", () => {
    for (const [label, raw] of CASES) {
      const bytes = Uint8Array.from(raw);
      h.put(bytes);
      expect(call("valid") === 1, label).toBe(isUtf8(bytes));
      h.put(bytes);
      call("repair");
      expect(Buffer.from(output()).toString("hex"), label).toBe(Buffer.from(lossy.decode(bytes)).toString("hex"));
    }
  });
});

describe("fuzz: 100,000 inputs", () => {
  // Bytes biased towards the edges of UTF-8 sequences.
  const ALPHABET = [0x00, 0x41, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff];
  let seed = 0x9e3779b9;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const input = () => {
    const b = new Uint8Array(rand(12));
    for (let i = 0; i < b.length; i++) b[i] = rand(4) === 0 ? rand(256) : ALPHABET[rand(ALPHABET.length)];
    return b;
  };

  it("every record is accepted; reader text equals from_utf8_lossy; validation agrees with the strict decoder", () => {
    const ways = ["VIA_READER", "VIA_PROTOBUF", "VIA_UNCHECKED", "VIA_UTF16"];
    for (let i = 0; i < 100_000; i++) {
      const bytes = input();
      const name = ways[i & 3];
      const info = recordOf(name, bytes)!;
      if (name === "VIA_READER" || name === "VIA_PROTOBUF") {
        if (info.req.domain !== lossy.decode(bytes)) expect(info.req.domain, Buffer.from(bytes).toString("hex")).toBe(lossy.decode(bytes));
        h.put(bytes);
        if ((call("valid") === 1) !== isUtf8(bytes)) expect(call("valid") === 1, Buffer.from(bytes).toString("hex")).toBe(isUtf8(bytes));
      }
    }
  });
});
