// DEFLATE (RFC 1951), gzip (RFC 1952) and zlib (RFC 1950) framing. The compressed
// vectors were made with Node's zlib (an independent implementation) or bit by bit
// from RFC 1951's fixed Huffman code, and checked against zlib's inflate.
import { Inflater, INFLATE_BAD, INFLATE_DONE, INFLATE_LIMIT, INFLATE_TRUNCATED } from "../inflate";
import { bytes, asciiBytes as ascii } from "../../assembly/__tests__/support";

/** The decoded bytes as text (ASCII test data). */
function output(inf: Inflater): string {
  let s = "";
  for (let i = 0; i < inf.len; i++) s += String.fromCharCode(inf.out[i]);
  return s;
}

/** 300 pseudo-random lower-case letters: the input of DYNAMIC and GZIP below. */
function letters(n: i32): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + ((i * 7 + (i >> 3)) % 26));
  return s;
}

/** zlib.deflateRawSync(letters(300), { level: 9 }): one dynamic-Huffman block. */
const DYNAMIC: i32[] = [
  0xb5, 0x8f, 0x51, 0x16, 0x40, 0x20, 0x14, 0x05, 0xd7, 0x9a, 0x0a, 0x25, 0x91, 0x42, 0x59, 0xbd, 0xe3, 0x35, 0x5b,
  0xf0, 0x37, 0x3f, 0x77, 0xce, 0x5c, 0x35, 0x6f, 0x97, 0xf6, 0xa9, 0x8e, 0x6b, 0x51, 0x1f, 0x2e, 0x47, 0x13, 0xdc,
  0x6f, 0x23, 0x78, 0x0e, 0x4e, 0xf0, 0x99, 0xa2, 0xa0, 0x0d, 0x59, 0xd0, 0xa7, 0x2a, 0xd8, 0xd7, 0x36, 0xf4, 0xb5,
  0x4f, 0x0d, 0x91, 0x41, 0xe4, 0x10, 0x45, 0x44, 0x19, 0x51, 0x45, 0xa4, 0x11, 0x91, 0x61, 0xc9, 0xf0, 0x64, 0x6c,
  0x64, 0x14, 0x32, 0x1a, 0x19, 0x86, 0x0c, 0x47, 0x46, 0x24, 0x23, 0xab, 0x1f, 0xff, 0xbc,
];

/** zlib.gzipSync(letters(300)): a 10-byte header, DYNAMIC, then CRC-32 and ISIZE. */
function gzipLetters(): i32[] {
  return [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03].concat(DYNAMIC)
    .concat([0x0e, 0x54, 0xa2, 0xcb, 0x2c, 0x01, 0x00, 0x00]);
}

describe("Inflater", () => {
  it("copies stored blocks (BTYPE 00) and joins blocks of different types", () => {
    const inf = new Inflater();
    // BFINAL=1 BTYPE=00, LEN=5, NLEN=~5, "hello".
    const stored = bytes([0x01, 0x05, 0x00, 0xfa, 0xff, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);
    expect<i32>(inf.inflateRaw(stored, 0, stored.length, 100)).toBe(INFLATE_DONE);
    expect<string>(output(inf)).toBe("hello");
    expect<i32>(inf.inPos).toBe(10);
    // An empty final stored block.
    const empty = bytes([0x01, 0x00, 0x00, 0xff, 0xff]);
    expect<i32>(inf.inflateRaw(empty, 0, empty.length, 100)).toBe(INFLATE_DONE);
    expect<i32>(inf.len).toBe(0);
    // A non-final stored block "ab", then a final fixed block 'c'.
    const mixed = bytes([0x00, 0x02, 0x00, 0xfd, 0xff, 0x61, 0x62, 0x4b, 0x06, 0x00]);
    expect<i32>(inf.inflateRaw(mixed, 0, mixed.length, 100)).toBe(INFLATE_DONE);
    expect<string>(output(inf)).toBe("abc");
    expect<i32>(inf.status).toBe(INFLATE_DONE);
  });

  it("decodes fixed-Huffman blocks with overlapping back-references", () => {
    const inf = new Inflater();
    // 'a', then length 3 at distance 1: "aaaa".
    const run = bytes([0x4b, 0x04, 0x02, 0x00]);
    expect<i32>(inf.inflateRaw(run, 0, run.length, 100)).toBe(INFLATE_DONE);
    expect<string>(output(inf)).toBe("aaaa");
    // 'z', then the longest match (symbol 285, length 258) at distance 1.
    const longest = bytes([0xab, 0x1a, 0x05, 0x00]);
    expect<i32>(inf.inflateRaw(longest, 0, longest.length, 1000)).toBe(INFLATE_DONE);
    expect<i32>(inf.len).toBe(259);
    expect<u8>(inf.out[258]).toBe(0x7a);
    // zlib with Z_FIXED: "abcabcabcabcabcabc-xyz".
    const fixed = bytes([0x4b, 0x4c, 0x4a, 0x4e, 0x44, 0x45, 0xba, 0x15, 0x95, 0x55, 0x00]);
    expect<i32>(inf.inflateRaw(fixed, 0, fixed.length, 1000)).toBe(INFLATE_DONE);
    expect<string>(output(inf)).toBe("abcabcabcabcabcabc-xyz");
  });

  it("decodes dynamic-Huffman blocks, past the initial buffer", () => {
    const inf = new Inflater(64);
    const data = bytes(DYNAMIC);
    expect<i32>(inf.inflateRaw(data, 0, data.length, 1 << 16)).toBe(INFLATE_DONE);
    expect<string>(output(inf)).toBe(letters(300));
    expect<i32>(inf.inPos).toBe(data.length);
  });

  it("unwraps gzip members, with FEXTRA, FNAME, FCOMMENT and FHCRC too", () => {
    const inf = new Inflater();
    const gz = bytes(gzipLetters());
    expect<i32>(inf.gunzip(gz, 0, gz.length, 1 << 16)).toBe(INFLATE_DONE);
    expect<i32>(inf.len).toBe(300);
    expect<string>(output(inf)).toBe(letters(300));
    // inPos: the end of the deflate data, where the 8-byte trailer starts.
    expect<i32>(inf.inPos).toBe(gz.length - 8);

    // FLG 0x1e; XLEN 4 "ABCD"; name "a.txt"; comment "hi"; header CRC16; deflate "hello hello hello".
    const flagged = bytes([0x1f, 0x8b, 0x08, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x04, 0x00, 0x41, 0x42, 0x43, 0x44,
      0x61, 0x2e, 0x74, 0x78, 0x74, 0x00, 0x68, 0x69, 0x00, 0x6f, 0xa9, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40,
      0x90, 0x00, 0x80, 0x88, 0xf9, 0xe5, 0x11, 0x00, 0x00, 0x00]);
    expect<i32>(inf.gunzip(flagged, 0, flagged.length, 100)).toBe(INFLATE_DONE);
    expect<string>(output(inf)).toBe("hello hello hello");

    // A member in the middle of other bytes.
    const framed = new Uint8Array(gz.length + 6);
    framed.set(gz, 3);
    expect<i32>(inf.gunzip(framed, 3, 3 + gz.length, 1 << 16)).toBe(INFLATE_DONE);
    expect<i32>(inf.len).toBe(300);
  });

  it("tells gzip, zlib and raw deflate apart", () => {
    const inf = new Inflater();
    // zlib.deflateSync("zlib framed"): CMF 0x78, FLG 0x9c, Adler-32 at the end.
    const zlib = bytes([0x78, 0x9c, 0xab, 0xca, 0xc9, 0x4c, 0x52, 0x48, 0x2b, 0x4a, 0xcc, 0x4d, 0x4d, 0x01, 0x00, 0x19,
      0xb9, 0x04, 0x41]);
    expect<i32>(inf.inflateAuto(zlib, 0, zlib.length, 100)).toBe(INFLATE_DONE);
    expect<string>(output(inf)).toBe("zlib framed");
    const gz = bytes(gzipLetters());
    expect<i32>(inf.inflateAuto(gz, 0, gz.length, 1000)).toBe(INFLATE_DONE);
    expect<i32>(inf.len).toBe(300);
    const raw = bytes([0x4b, 0x04, 0x02, 0x00]);
    expect<i32>(inf.inflateAuto(raw, 0, raw.length, 100)).toBe(INFLATE_DONE);
    expect<string>(output(inf)).toBe("aaaa");
  });

  it("stops at the output limit with exactly the limit's bytes", () => {
    const inf = new Inflater(64);
    const data = bytes(DYNAMIC);
    const want = letters(300);
    const limits: i32[] = [0, 1, 10, 64, 65, 299];
    for (let i = 0; i < limits.length; i++) {
      const limit = limits[i];
      expect<i32>(inf.inflateRaw(data, 0, data.length, limit)).toBe(INFLATE_LIMIT);
      expect<i32>(inf.len).toBe(limit);
      expect<string>(output(inf)).toBe(want.substring(0, limit));
    }
    // Exactly enough room is not a limit.
    expect<i32>(inf.inflateRaw(data, 0, data.length, 300)).toBe(INFLATE_DONE);
    // Inside a back-reference and inside a stored block.
    const longest = bytes([0xab, 0x1a, 0x05, 0x00]);
    expect<i32>(inf.inflateRaw(longest, 0, longest.length, 100)).toBe(INFLATE_LIMIT);
    expect<i32>(inf.len).toBe(100);
    const stored = bytes([0x01, 0x05, 0x00, 0xfa, 0xff, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);
    expect<i32>(inf.inflateRaw(stored, 0, stored.length, 3)).toBe(INFLATE_LIMIT);
    expect<string>(output(inf)).toBe("hel");
    // A negative limit keeps nothing.
    expect<i32>(inf.inflateRaw(stored, 0, stored.length, -1)).toBe(INFLATE_LIMIT);
    expect<i32>(inf.len).toBe(0);
  });

  it("reports every cut of a stream as truncated, with a prefix of the data", () => {
    const inf = new Inflater(64);
    const gz = bytes(gzipLetters());
    const want = letters(300);
    // Every cut before the trailer: TRUNCATED, never BAD, output a prefix.
    for (let n = 0; n < gz.length - 8; n++) {
      const st = inf.gunzip(gz, 0, n, 1 << 16);
      expect<i32>(st).toBe(INFLATE_TRUNCATED);
      expect<string>(output(inf)).toBe(want.substring(0, inf.len));
    }
    const stored = bytes([0x01, 0x05, 0x00, 0xfa, 0xff, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);
    expect<i32>(inf.inflateRaw(stored, 0, 7, 100)).toBe(INFLATE_TRUNCATED);
    expect<string>(output(inf)).toBe("he");
    // A header cut inside FNAME.
    const named = bytes([0x1f, 0x8b, 0x08, 0x08, 0, 0, 0, 0, 0, 3, 0x61, 0x62]);
    expect<i32>(inf.gunzip(named, 0, named.length, 100)).toBe(INFLATE_TRUNCATED);
    // No input at all.
    expect<i32>(inf.inflateRaw(stored, 0, 0, 100)).toBe(INFLATE_TRUNCATED);
  });

  it("refuses invalid streams without trapping", () => {
    const inf = new Inflater();
    // BTYPE 11 is reserved.
    expect<i32>(inf.inflateRaw(bytes([0x07, 0, 0, 0]), 0, 4, 100)).toBe(INFLATE_BAD);
    // Stored block whose NLEN is not the complement of LEN.
    expect<i32>(inf.inflateRaw(bytes([0x01, 0x05, 0x00, 0xfa, 0xfe, 0x68, 0x65, 0x6c, 0x6c, 0x6f]), 0, 10, 100)).toBe(INFLATE_BAD);
    // 'a', then distance 2 with one byte written: too far back.
    const far = bytes([0x4b, 0x04, 0x42, 0x00]);
    expect<i32>(inf.inflateRaw(far, 0, far.length, 100)).toBe(INFLATE_BAD);
    expect<string>(output(inf)).toBe("a");
    // Length symbol 286 does not exist.
    expect<i32>(inf.inflateRaw(bytes([0x4b, 0x1c, 0x03, 0x00]), 0, 4, 100)).toBe(INFLATE_BAD);
    // Fixed-Huffman distance code 30 ("a", length 3, distance code 30): invalid, not "more input needed".
    expect<i32>(inf.inflateRaw(bytes([0x4b, 0x04, 0x3e, 0x00]), 0, 4, 100)).toBe(INFLATE_BAD);
    // Dynamic header with HLIT = 287 (more than 286 literal/length codes).
    expect<i32>(inf.inflateRaw(bytes([0xf5, 0xff, 0xff, 0xff]), 0, 4, 100)).toBe(INFLATE_BAD);
    // gzip: wrong magic, wrong method.
    const gz = gzipLetters();
    gz[1] = 0x8c;
    expect<i32>(inf.gunzip(bytes(gz), 0, gz.length, 1000)).toBe(INFLATE_BAD);
    gz[1] = 0x8b;
    gz[2] = 0x07;
    expect<i32>(inf.gunzip(bytes(gz), 0, gz.length, 1000)).toBe(INFLATE_BAD);
    // Garbage: whatever the verdict, it ends, and within the limit.
    let seed: u32 = 12345;
    const junk = new Uint8Array(200);
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < junk.length; i++) {
        seed = seed * 1103515245 + 12345;
        junk[i] = <u8>(seed >> 16);
      }
      const st = inf.inflateRaw(junk, 0, junk.length, 500);
      expect<bool>(st >= INFLATE_DONE && st <= INFLATE_BAD).toBe(true);
      expect<bool>(inf.len <= 500).toBe(true);
    }
    // Out of range bounds.
    expect<i32>(inf.inflateRaw(junk, 300, 200, 100)).toBe(INFLATE_BAD);
    expect<i32>(inf.gunzip(ascii("not gzip at all"), 0, 15, 100)).toBe(INFLATE_BAD);
  });
});
