import { base64Decode, base64DecodeToString } from "../codec/base64";

/** base64Decode over ASCII text: the decoded bytes as text, or "<-1>" when rejected. */
function decode(s: string): string {
  const src = Uint8Array.wrap(String.UTF8.encode(s));
  // One spare byte past the documented room, to catch a write past it.
  const room = (src.length * 3) >> 2;
  const out = new Uint8Array(room + 1);
  out[room] = 0xee;
  const n = base64Decode(src.dataStart, src.length, out.dataStart);
  expect<u8>(out[room]).toBe(0xee);
  if (n < 0) return "<" + n.toString() + ">";
  return String.UTF8.decodeUnsafe(out.dataStart, <usize>n);
}

function decodeBytes(s: string): Uint8Array {
  const src = Uint8Array.wrap(String.UTF8.encode(s));
  const out = new Uint8Array((src.length * 3) >> 2);
  const n = base64Decode(src.dataStart, src.length, out.dataStart);
  return out.subarray(0, n < 0 ? 0 : n);
}

describe("base64Decode", () => {
  it("decodes the RFC 4648 section 10 test vectors", () => {
    expect<string>(decode("")).toBe("");
    expect<string>(decode("Zg==")).toBe("f");
    expect<string>(decode("Zm8=")).toBe("fo");
    expect<string>(decode("Zm9v")).toBe("foo");
    expect<string>(decode("Zm9vYg==")).toBe("foob");
    expect<string>(decode("Zm9vYmE=")).toBe("fooba");
    expect<string>(decode("Zm9vYmFy")).toBe("foobar");
  });

  it("decodes the same vectors without padding", () => {
    expect<string>(decode("Zg")).toBe("f");
    expect<string>(decode("Zm8")).toBe("fo");
    expect<string>(decode("Zm9vYg")).toBe("foob");
    expect<string>(decode("Zm9vYmE")).toBe("fooba");
  });

  it("maps every character of the alphabet to its value", () => {
    // Table 1: A-Z = 0..25, a-z = 26..51, 0-9 = 52..61, + = 62, / = 63.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const got = decodeBytes(alphabet);
    expect<i32>(got.length).toBe(48);
    for (let g = 0; g < 16; g++) {
      const a = g * 4, b = a + 1, c = a + 2, d = a + 3;
      expect<u8>(got[g * 3]).toBe(<u8>((a << 2) | (b >> 4)));
      expect<u8>(got[g * 3 + 1]).toBe(<u8>(((b & 15) << 4) | (c >> 2)));
      expect<u8>(got[g * 3 + 2]).toBe(<u8>(((c & 3) << 6) | d));
    }
    const ones = decodeBytes("////");
    expect<i32>(ones.length).toBe(3);
    expect<u8>(ones[0] & ones[1] & ones[2]).toBe(0xff);
  });

  it("rejects characters outside the standard alphabet", () => {
    // URL-safe '-' '_', the neighbours of each range, whitespace, padding inside.
    const bad = ["Zm9-", "Zm9_", "Zm9@", "Zm9[", "Zm9`", "Zm9{", "Zm9:", "Zm9.", "Zm9 ", "Zm\n9", "Zg==Zg==", "Z=9v"];
    for (let i = 0; i < bad.length; i++) expect<string>(decode(bad[i])).toBe("<-1>", bad[i]);
  });

  it("rejects impossible lengths and excess padding", () => {
    // A single leftover character carries only 6 bits: never a whole byte.
    expect<string>(decode("Z")).toBe("<-1>");
    expect<string>(decode("Zm9vY")).toBe("<-1>");
    expect<string>(decode("Zm9vY===")).toBe("<-1>");
    expect<string>(decode("Zg===")).toBe("<-1>");
    expect<string>(decode("====")).toBe("<-1>");
  });
});

describe("base64DecodeToString", () => {
  it("returns the decoded text", () => {
    expect<string | null>(base64DecodeToString("Zm9vYmFy")).toBe("foobar");
    expect<string | null>(base64DecodeToString("")).toBe("");
    // U+00E9 U+1F600 as UTF-8: c3 a9 f0 9f 98 80
    expect<string | null>(base64DecodeToString("w6nwn5iA")).toBe("\u00e9\uD83D\uDE00");
  });

  it("returns null for invalid base64 or bytes that are not UTF-8", () => {
    expect<string | null>(base64DecodeToString("Zm9v!")).toBeNull();
    expect<string | null>(base64DecodeToString("Zm9v\u00e9")).toBeNull();
    // ff, and the surrogate ed a0 80
    expect<string | null>(base64DecodeToString("/w==")).toBeNull();
    expect<string | null>(base64DecodeToString("7aCA")).toBeNull();
  });
});
