import { HeaderBlock, HpackDecoder, HPACK_MALFORMED, HPACK_OK, HPACK_TRUNCATED, huffmanCode } from "../hpack";
import { hex } from "../../assembly/__tests__/support";

// Blocks and expected tables are RFC 7541 Appendix C unless said otherwise.

/** The block's fields as "name: value" lines. */
function lines(b: HeaderBlock): string {
  let s = "";
  for (let i = 0; i < b.count; i++) s += b.name(i) + ": " + b.value(i) + "\n";
  return s;
}

function decode(d: HpackDecoder, h: string, out: HeaderBlock): i32 {
  const data = hex(h);
  return d.decode(data, 0, data.length, out);
}

const REQ1 = ":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n";
const REQ2 = REQ1 + "cache-control: no-cache\n";
const REQ3 = ":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\ncustom-key: custom-value\n";

describe("HpackDecoder: RFC 7541 C.2 header field representations", () => {
  it("C.2.1 literal with indexing adds a 55-byte entry", () => {
    const d = new HpackDecoder();
    const b = new HeaderBlock();
    expect<i32>(decode(d, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe("custom-key: custom-header\n");
    expect<i32>(d.count).toBe(1);
    expect<i32>(d.bytes).toBe(55);
    // index 62 is now that entry
    expect<i32>(decode(d, "be", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe("custom-key: custom-header\n");
  });

  it("C.2.2-C.2.4 leave the dynamic table empty", () => {
    const d = new HpackDecoder();
    const b = new HeaderBlock();
    expect<i32>(decode(d, "040c 2f73 616d 706c 652f 7061 7468", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(":path: /sample/path\n");
    expect<i32>(decode(d, "1008 7061 7373 776f 7264 0673 6563 7265 74", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe("password: secret\n");
    expect<i32>(decode(d, "82", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(":method: GET\n");
    expect<i32>(d.count).toBe(0);
    expect<i32>(d.bytes).toBe(0);
  });
});

describe("HpackDecoder: RFC 7541 C.3-C.6 connections", () => {
  it("C.3 requests without Huffman share one dynamic table", () => {
    const d = new HpackDecoder();
    const b = new HeaderBlock();
    expect<i32>(decode(d, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(REQ1);
    expect<i32>(d.count).toBe(1);
    expect<i32>(d.bytes).toBe(57);
    expect<i32>(decode(d, "8286 84be 5808 6e6f 2d63 6163 6865", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(REQ2);
    expect<i32>(d.count).toBe(2);
    expect<i32>(d.bytes).toBe(110);
    expect<i32>(decode(d, "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(REQ3);
    expect<bool>(b.complete).toBe(true);
    expect<i32>(d.count).toBe(3);
    expect<i32>(d.bytes).toBe(164);
    // The table, newest first, as the RFC lists it.
    expect<i32>(decode(d, "be bf c0", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe("custom-key: custom-value\ncache-control: no-cache\n:authority: www.example.com\n");
    expect<string | null>(b.get("cache-control")).toBe("no-cache");
    expect<string | null>(b.get("host")).toBeNull();
  });

  it("C.4 requests with Huffman coding share one dynamic table", () => {
    const d = new HpackDecoder();
    const b = new HeaderBlock();
    expect<i32>(decode(d, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(REQ1);
    expect<i32>(d.bytes).toBe(57);
    expect<i32>(decode(d, "8286 84be 5886 a8eb 1064 9cbf", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(REQ2);
    expect<i32>(d.bytes).toBe(110);
    expect<i32>(decode(d, "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(REQ3);
    expect<i32>(d.count).toBe(3);
    expect<i32>(d.bytes).toBe(164);
  });

  it("C.5 responses evict the oldest entries from a 256-byte table", () => {
    const d = new HpackDecoder(256);
    const b = new HeaderBlock();
    expect<i32>(decode(d,
      "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a " +
      "3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(":status: 302\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\nlocation: https://www.example.com\n");
    expect<i32>(d.count).toBe(4);
    expect<i32>(d.bytes).toBe(222);
    expect<i32>(decode(d, "4803 3330 37c1 c0bf", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(":status: 307\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\nlocation: https://www.example.com\n");
    expect<i32>(d.count).toBe(4);
    expect<i32>(d.bytes).toBe(222);
    expect<i32>(decode(d,
      "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 " +
      "677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 " +
      "553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(":status: 200\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:22 GMT\n" +
      "location: https://www.example.com\ncontent-encoding: gzip\n" +
      "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1\n");
    expect<i32>(d.count).toBe(3);
    expect<i32>(d.bytes).toBe(215);
    expect<i32>(decode(d, "be bf c0", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe("set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1\n" +
      "content-encoding: gzip\ndate: Mon, 21 Oct 2013 20:13:22 GMT\n");
  });

  it("C.6 Huffman-coded responses with eviction", () => {
    const d = new HpackDecoder(256);
    const b = new HeaderBlock();
    expect<i32>(decode(d,
      "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(":status: 302\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\nlocation: https://www.example.com\n");
    expect<i32>(d.bytes).toBe(222);
    expect<i32>(decode(d, "4883 640e ffc1 c0bf", b)).toBe(HPACK_OK);
    expect<string | null>(b.get(":status")).toBe("307");
    expect<i32>(d.bytes).toBe(222);
    expect<i32>(decode(d,
      "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 " +
      "821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed " +
      "4ee5 b106 3d50 07", b)).toBe(HPACK_OK);
    expect<string | null>(b.get("date")).toBe("Mon, 21 Oct 2013 20:13:22 GMT");
    expect<string | null>(b.get("set-cookie")).toBe("foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1");
    expect<i32>(b.count).toBe(6);
    expect<i32>(d.count).toBe(3);
    expect<i32>(d.bytes).toBe(215);
  });
});

/** A never-indexed literal ":path" (static 4) whose value is s, Huffman-coded with huffmanCode(). */
function huffmanLiteral(s: string): Uint8Array {
  const octets = Uint8Array.wrap(String.UTF8.encode(s));
  const coded: u8[] = [];
  let acc: u64 = 0;
  let bits = 0;
  for (let i = 0; i < octets.length; i++) {
    const c = huffmanCode(octets[i]);
    const len = <i32>(c >> 56);
    acc = (acc << <u64>len) | (c & 0xffffffff);
    bits += len;
    while (bits >= 8) {
      coded.push(<u8>(acc >> <u64>(bits - 8)));
      bits -= 8;
    }
  }
  // pad with the most significant bits of EOS (all ones)
  if (bits > 0) coded.push(<u8>((acc << <u64>(8 - bits)) | ((1 << (8 - bits)) - 1)));
  const n = coded.length;
  const head: u8[] = [0x14];
  if (n < 127) head.push(<u8>(0x80 | n));
  else {
    head.push(0xff);
    let rest = n - 127;
    while (rest >= 128) {
      head.push(<u8>(0x80 | (rest & 127)));
      rest >>= 7;
    }
    head.push(<u8>rest);
  }
  const out = new Uint8Array(head.length + n);
  for (let i = 0; i < head.length; i++) out[i] = head[i];
  for (let i = 0; i < n; i++) out[head.length + i] = coded[i];
  return out;
}

describe("HpackDecoder: Huffman code", () => {
  it("uses the RFC 7541 Appendix B codes and decodes every UTF-8 octet", () => {
    // (symbol, code, bits) rows of Appendix B
    const rows: u32[] = [0, 0x1ff8, 13, 1, 0x7fffd8, 23, 10, 0x3ffffffc, 30, 32, 0x14, 6, 48, 0, 5, 58, 0x5c, 7,
      127, 0xffffffc, 28, 128, 0xfffe6, 20, 199, 0x1ffffec, 25, 255, 0x3ffffee, 26, 256, 0x3fffffff, 30];
    for (let i = 0; i < rows.length; i += 3) {
      expect<u64>(huffmanCode(<i32>rows[i])).toBe((<u64>rows[i + 2] << 56) | <u64>rows[i + 1], rows[i].toString());
    }
    // ASCII 0-127, then characters whose UTF-8 uses every other octet but C0, C1, F5-FF
    let text = "";
    for (let c = 0; c < 128; c++) text += String.fromCharCode(c);
    for (let lead = 0xc2; lead <= 0xdf; lead++) for (let t = 0; t < 64; t++) text += String.fromCharCode(((lead - 0xc0) << 6) | t);
    for (let k = 0; k < 16; k++) text += String.fromCharCode((k << 12) | 0x800);
    const astral: i32[] = [0x10000, 0x40000, 0x80000, 0xc0000, 0x100000];
    for (let i = 0; i < astral.length; i++) text += String.fromCodePoint(astral[i]);
    const d = new HpackDecoder();
    const b = new HeaderBlock();
    const data = huffmanLiteral(text);
    expect<i32>(d.decode(data, 0, data.length, b)).toBe(HPACK_OK);
    expect<string>(b.name(0)).toBe(":path");
    expect<string>(b.value(0)).toBe(text);
    // and short strings, where the padding is most of the last octet
    const short = ["a", "0", "\\", "<>", "~", "\x7f", "www.example.com"];
    for (let i = 0; i < short.length; i++) {
      const one = huffmanLiteral(short[i]);
      expect<i32>(d.decode(one, 0, one.length, b)).toBe(HPACK_OK, short[i]);
      expect<string>(b.value(0)).toBe(short[i]);
    }
  });
});

describe("HpackDecoder: table size updates", () => {
  it("reads the C.1.2 integer (1337, 5-bit prefix) and empties the table at size 0", () => {
    const d = new HpackDecoder();
    const b = new HeaderBlock();
    expect<i32>(decode(d, "3f9a0a", b)).toBe(HPACK_OK);
    expect<i32>(d.capacity).toBe(1337);
    expect<i32>(decode(d, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", b)).toBe(HPACK_OK);
    expect<i32>(d.count).toBe(1);
    // size 0 evicts everything (section 4.3), then an index may follow in the same block
    expect<i32>(decode(d, "20 82", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe(":method: GET\n");
    expect<i32>(d.count).toBe(0);
    expect<i32>(d.bytes).toBe(0);
  });

  it("an entry larger than the table empties it and is not added (section 4.4)", () => {
    const d = new HpackDecoder();
    const b = new HeaderBlock();
    // size 60 (31 + 29), then custom-key: custom-header (55 bytes) fits
    expect<i32>(decode(d, "3f1d 400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572", b)).toBe(HPACK_OK);
    expect<i32>(d.count).toBe(1);
    expect<i32>(d.bytes).toBe(55);
    // :authority: www.example.com (57) cannot join it: 55 + 57 > 60, so the old one goes
    expect<i32>(decode(d, "41 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", b)).toBe(HPACK_OK);
    expect<i32>(d.count).toBe(1);
    expect<i32>(d.bytes).toBe(57);
    // custom-key: custom-header-xxxxx is 10 + 19 + 32 = 61 > 60: the table ends empty
    expect<i32>(decode(d, "400a 6375 7374 6f6d 2d6b 6579 1363 7573 746f 6d2d 6865 6164 6572 2d78 7878 7878", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe("custom-key: custom-header-xxxxx\n");
    expect<i32>(d.count).toBe(0);
    expect<i32>(d.bytes).toBe(0);
  });
});

describe("HpackDecoder: bad and partial input", () => {
  it("reports cut blocks as truncated and forgets the table", () => {
    const cuts = [
      "400a 6375", // name cut
      "4003 616263", // no value
      "ff", // index needs more octets
      "3f", // size update needs more octets
      "04 8c f1e3", // Huffman value cut
    ];
    for (let i = 0; i < cuts.length; i++) {
      const d = new HpackDecoder();
      const b = new HeaderBlock();
      decode(d, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", b);
      expect<i32>(d.count).toBe(1);
      expect<i32>(decode(d, cuts[i], b)).toBe(HPACK_TRUNCATED, cuts[i]);
      expect<i32>(b.status).toBe(HPACK_TRUNCATED);
      expect<bool>(b.complete).toBe(false);
      expect<i32>(d.count).toBe(0);
      expect<i32>(d.invalidations).toBe(1);
    }
  });

  it("reports malformed blocks without trapping, keeping the fields before", () => {
    const bad = [
      "82 80", // index 0
      "82 ff ffffffff0f", // index integer too large
      "82 01 81 00", // Huffman padding of zeros (section 5.2)
      "82 01 81 ff", // padding longer than 7 bits
      "82 01 84 ffffffff", // EOS inside a string
    ];
    for (let i = 0; i < bad.length; i++) {
      const d = new HpackDecoder();
      const b = new HeaderBlock();
      expect<i32>(decode(d, bad[i], b)).toBe(HPACK_MALFORMED, bad[i]);
      expect<string>(lines(b)).toBe(":method: GET\n");
    }
  });

  it("counts references to entries it never saw instead of guessing", () => {
    const d = new HpackDecoder();
    const b = new HeaderBlock();
    expect<i32>(decode(d, "82 be", b)).toBe(HPACK_OK);
    expect<i32>(b.count).toBe(1);
    expect<i32>(b.unknown).toBe(1);
    expect<bool>(b.complete).toBe(false);
    // indexed literal whose name is unknown entry 62: value read, entry kept as a placeholder
    expect<i32>(decode(d, "7e 03 666f 6f", b)).toBe(HPACK_OK);
    expect<i32>(b.unknown).toBe(1);
    expect<i32>(d.count).toBe(1);
    // a known entry after it: index 62 is known, 63 (the placeholder) is not
    expect<i32>(decode(d, "40 0161 0162", b)).toBe(HPACK_OK);
    expect<i32>(decode(d, "be bf", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe("a: b\n");
    expect<i32>(b.unknown).toBe(1);
  });

  it("decodes a block with many fields and a sub-range of a buffer", () => {
    const d = new HpackDecoder();
    const b = new HeaderBlock();
    const data = new Uint8Array(42);
    data.fill(0x88); // :status: 200
    data[0] = 0x00;
    data[41] = 0x00;
    expect<i32>(d.decode(data, 1, 41, b)).toBe(HPACK_OK);
    expect<i32>(b.count).toBe(40);
    expect<string>(b.name(39)).toBe(":status");
    expect<string>(b.value(39)).toBe("200");
    expect<string>(b.name(40)).toBe("");
  });
});

/** Fills d's table with 20 entries of 55 bytes (C.2.1 again and again): its slots and byte ring grow. */
function fill(d: HpackDecoder, b: HeaderBlock): void {
  for (let i = 0; i < 20; i++) decode(d, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572", b);
}

describe("HpackDecoder: table memory (unmanaged)", () => {
  it("release frees the table, twice is harmless, and the decoder works on from an empty table", () => {
    const d = new HpackDecoder();
    const b = new HeaderBlock();
    fill(d, b);
    d.release();
    const pages = memory.size();
    // Unfreed, 10,000 tables of ~3 KiB would grow memory by ~30 MB.
    for (let i = 0; i < 10000; i++) {
      fill(d, b);
      d.release();
    }
    d.release();
    expect<i32>(memory.size()).toBe(pages);
    expect<i32>(d.count).toBe(0);
    expect<i32>(d.footprint).toBe(64);
    fill(d, b);
    expect<i32>(d.count).toBe(20);
    expect<i32>(decode(d, "be", b)).toBe(HPACK_OK);
    expect<string>(lines(b)).toBe("custom-key: custom-header\n");
    d.free();
  });

  it("free frees the decoder with its table", () => {
    const b = new HeaderBlock();
    const warm = new HpackDecoder();
    fill(warm, b);
    warm.free();
    const pages = memory.size();
    // Unfreed, 10,000 decoders with tables of ~3 KiB would grow memory by ~30 MB.
    for (let i = 0; i < 10000; i++) {
      const d = new HpackDecoder();
      fill(d, b);
      d.free();
    }
    expect<i32>(memory.size()).toBe(pages);
  });
});
