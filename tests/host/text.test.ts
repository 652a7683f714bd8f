// The host's text conversions, which take shortcuts for short ASCII strings (a loop instead of
// TextEncoder, a cache of recent strings instead of TextDecoder): the same bytes and text as
// the general way, for every kind of string and at the shortcuts' edges.
import { describe, expect, it } from "vitest";
import { decodeUtf8Lossy, decodeUtf8Strict, encodeUtf8 } from "../../sdk/wire.ts";

const samples = [
  "", "a", "GET", "/api/orders/42", "x".repeat(64), "y".repeat(65), "z".repeat(256), "w".repeat(257),
  "é", "caf\u00e9", "\u007f\u0080", "中文", "emoji 😀", "\ud800", "a\udfffb", "\u0000\u001f", "ascii then ü", "ü then ascii",
  "a".repeat(255) + "é", "a".repeat(300) + "é",
];

describe("encodeUtf8", () => {
  const encoder = new TextEncoder();
  it("writes TextEncoder's bytes, lone surrogates and long strings included", () => {
    for (const s of samples) expect([s, Array.from(encodeUtf8(s))]).toEqual([s, Array.from(encoder.encode(s))]);
  });
});

describe("decodeUtf8Strict and decodeUtf8Lossy", () => {
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const lossy = new TextDecoder("utf-8", { ignoreBOM: true });
  const inputs = [
    ...samples.map((s) => new TextEncoder().encode(s)),
    Uint8Array.from([0xff]), Uint8Array.from([0x61, 0xc3]), Uint8Array.from([0xef, 0xbb, 0xbf, 0x61]), Uint8Array.from([0xed, 0xa0, 0x80]),
  ];
  const strictOf = (b: Uint8Array) => {
    try {
      return strict.decode(b);
    } catch {
      return null;
    }
  };

  it("give TextDecoder's text, or null where it refuses, the first time and from the cache", () => {
    for (let pass = 0; pass < 2; pass++) {
      for (const b of inputs) {
        expect([Array.from(b), decodeUtf8Strict(b)]).toEqual([Array.from(b), strictOf(b)]);
        expect([Array.from(b), decodeUtf8Lossy(b)]).toEqual([Array.from(b), lossy.decode(b)]);
      }
    }
  });

  it("read a string inside a larger buffer by its range, and never answer with another string of the same slot", () => {
    const words = Array.from({ length: 20_000 }, (_, i) => `w${i.toString(36)}-${"q".repeat(i % 50)}`);
    const all = new TextEncoder().encode(words.join(""));
    for (let pass = 0; pass < 2; pass++) {
      let at = 0;
      for (const w of words) {
        expect(decodeUtf8Strict(all, at, at + w.length)).toBe(w);
        at += w.length;
      }
    }
  });
});
