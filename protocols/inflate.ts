// A small DEFLATE (RFC 1951) decoder with gzip (RFC 1952) and zlib (RFC 1950)
// framing, for compressed payload sections such as Kafka's gzip record batches.
// Built for untrusted, often truncated input: it never traps, its output is
// bounded by the caller, and a cut-off stream yields what was decoded before the cut.
// Decoding is canonical-Huffman, bit by bit (small code rather than fast tables):
// plugin payloads are at most 64 KiB.

/** Every block up to the final one was decoded. */
export const INFLATE_DONE: i32 = 0;
/** The input ended mid-stream; `len` bytes were decoded before the cut. */
export const INFLATE_TRUNCATED: i32 = 1;
/** The output limit was reached; `len` bytes (the limit) were kept. */
export const INFLATE_LIMIT: i32 = 2;
/** Not a valid stream (bad header, block type, code or distance); `len` bytes before that. */
export const INFLATE_BAD: i32 = 3;

const LENGTH_BASE: StaticArray<u16> = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
  67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA: StaticArray<u8> = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE: StaticArray<u16> = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
  1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA: StaticArray<u8> = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11,
  12, 12, 13, 13];
/** Order in which code-length code lengths are sent (RFC 1951 3.2.7). */
const CLEN_ORDER: StaticArray<u8> = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
/** Codes up to this many bits are decoded with one table lookup; longer ones bit by bit. */
const FAST_BITS: i32 = 9;

class Huffman {
  counts: StaticArray<u16> = new StaticArray<u16>(16);
  symbols: StaticArray<u16>;
  /** By the next FAST_BITS input bits: symbol << 4 | code length, 0 when the code is longer. */
  fast: StaticArray<u16> = new StaticArray<u16>(1 << FAST_BITS);
  private offs: StaticArray<u16> = new StaticArray<u16>(16);

  constructor(maxSymbols: i32) {
    this.symbols = new StaticArray<u16>(maxSymbols);
  }

  /** Builds from code lengths lengths[from .. from+n); false when over-subscribed. */
  build(lengths: StaticArray<u8>, from: i32, n: i32): bool {
    // Through the tables' addresses, as buildFast (u16 entries; lengths are 0..15).
    const counts = changetype<usize>(this.counts);
    const offs = changetype<usize>(this.offs);
    const symbols = changetype<usize>(this.symbols);
    const maxSymbols = this.symbols.length;
    const lens = changetype<usize>(lengths) + <usize>from;
    memory.fill(counts, 0, 16 << 1);
    for (let i = 0; i < n; i++) {
      const at = counts + (<usize>(load<u8>(lens + <usize>i) & 15) << 1);
      store<u16>(at, load<u16>(at) + 1);
    }
    store<u16>(counts, 0);
    let left: i32 = 1;
    store<u16>(offs + 2, 0);
    for (let len = 1; len < 16; len++) {
      const count = <i32>load<u16>(counts + (<usize>len << 1));
      left = (left << 1) - count;
      if (left < 0) return false;
      if (len < 15) store<u16>(offs + (<usize>(len + 1) << 1), <u16>(<i32>load<u16>(offs + (<usize>len << 1)) + count));
    }
    for (let i = 0; i < n; i++) {
      const l = <usize>(load<u8>(lens + <usize>i) & 15);
      if (l != 0) {
        const off = offs + (l << 1);
        const at = <i32>load<u16>(off);
        if (at < maxSymbols) store<u16>(symbols + (<usize>at << 1), <u16>i);
        store<u16>(off, <u16>(at + 1));
      }
    }
    this.buildFast();
    return true;
  }

  /** Canonical codes in symbol order are consecutive per length; deflate sends them bit-reversed. */
  private buildFast(): void {
    // Stores through the table's address: built once per dynamic block, 512 entries,
    // where an element setter call each would cost more than the decoding.
    const fast = changetype<usize>(this.fast);
    memory.fill(fast, 0, <usize>(2 << FAST_BITS));
    let code: i32 = 0;
    let index: i32 = 0;
    for (let len = 1; len <= FAST_BITS; len++) {
      const count = <i32>unchecked(this.counts[len]);
      for (let k = 0; k < count; k++) {
        const at = index + k;
        if (at >= this.symbols.length) return;
        let rev: i32 = 0;
        for (let b = 0; b < len; b++) rev |= ((code >> b) & 1) << (len - 1 - b);
        const entry = <u16>((<i32>unchecked(this.symbols[at]) << 4) | len);
        for (let j = rev; j < (1 << FAST_BITS); j += 1 << len) store<u16>(fast + (<usize>j << 1), entry);
        code++;
      }
      index += count;
      code <<= 1;
    }
  }
}

export class Inflater {
  /** Decoded bytes are out[0 .. len); the buffer is reused by the next call. */
  out: Uint8Array;
  len: i32 = 0;
  /** INFLATE_* of the last call. */
  status: i32 = INFLATE_DONE;
  /** Input position after the last call (the end of the deflate data when DONE). */
  inPos: i32 = 0;

  private base: usize = 0;
  private pos: i32 = 0;
  private end: i32 = 0;
  private bits: u32 = 0;
  private bitCount: i32 = 0;
  /** Set when a read ran past the end of the input. */
  private over: bool = false;
  private limit: i32 = 0;
  private lit: Huffman = new Huffman(288);
  private dist: Huffman = new Huffman(32); // 30 and 31 can be coded (and are refused when decoded)
  private lengths: StaticArray<u8> = new StaticArray<u8>(288 + 32);

  constructor(capacity: i32 = 4096) {
    this.out = new Uint8Array(capacity > 64 ? capacity : 64);
  }

  /** Decodes a gzip member, a zlib stream or raw deflate (told apart by their headers). */
  inflateAuto(data: Uint8Array, start: i32, end: i32, maxOut: i32): i32 {
    if (start < 0) start = 0;
    if (end > data.length) end = data.length;
    if (end - start >= 2 && data[start] == 0x1f && data[start + 1] == 0x8b) return this.gunzip(data, start, end, maxOut);
    if (end - start >= 2) {
      const cmf = <u32>data[start];
      const flg = <u32>data[start + 1];
      if ((cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0 && (flg & 0x20) == 0) {
        return this.inflateRaw(data, start + 2, end, maxOut);
      }
    }
    return this.inflateRaw(data, start, end, maxOut);
  }

  /** A gzip member: header (with optional extra, name, comment, header CRC), then deflate data. */
  gunzip(data: Uint8Array, start: i32, end: i32, maxOut: i32): i32 {
    if (end > data.length) end = data.length;
    this.len = 0;
    let p = start < 0 ? 0 : start;
    if (end - p < 10) return this.finish(this.prefixIsGzip(data, p, end) ? INFLATE_TRUNCATED : INFLATE_BAD, p);
    if (data[p] != 0x1f || data[p + 1] != 0x8b || data[p + 2] != 8) return this.finish(INFLATE_BAD, p);
    const flags = <u32>data[p + 3];
    p += 10;
    if (flags & 4) {
      if (end - p < 2) return this.finish(INFLATE_TRUNCATED, end);
      p += 2 + (<i32>data[p] | (<i32>data[p + 1] << 8));
    }
    if (flags & 8) p = this.skipZeroTerminated(data, p, end);
    if (flags & 16) p = this.skipZeroTerminated(data, p, end);
    if (flags & 2) p += 2;
    if (p >= end) return this.finish(INFLATE_TRUNCATED, end);
    return this.inflateRaw(data, p, end, maxOut);
  }

  /** Raw deflate data in data[start .. end), at most maxOut bytes of output. */
  inflateRaw(data: Uint8Array, start: i32, end: i32, maxOut: i32): i32 {
    if (end > data.length) end = data.length;
    if (start < 0 || start > end) return this.finish(INFLATE_BAD, start);
    this.base = data.dataStart;
    this.pos = start;
    this.end = end;
    this.bits = 0;
    this.bitCount = 0;
    this.over = false;
    this.len = 0;
    this.limit = maxOut < 0 ? 0 : maxOut;
    for (;;) {
      const final = this.getBits(1);
      const type = this.getBits(2);
      if (this.over) return this.finish(INFLATE_TRUNCATED, this.end);
      let st: i32 = INFLATE_DONE;
      if (type == 0) st = this.stored();
      else if (type == 1) st = this.fixed();
      else if (type == 2) st = this.dynamic();
      else st = INFLATE_BAD;
      if (st != INFLATE_DONE) return this.finish(st, this.pos);
      if (final) return this.finish(INFLATE_DONE, this.pos - (this.bitCount >> 3));
    }
    return INFLATE_BAD;
  }

  private prefixIsGzip(data: Uint8Array, p: i32, end: i32): bool {
    return (end <= p || data[p] == 0x1f) && (end <= p + 1 || data[p + 1] == 0x8b);
  }

  private skipZeroTerminated(data: Uint8Array, p: i32, end: i32): i32 {
    while (p < end && data[p] != 0) p++;
    return p + 1;
  }

  private finish(status: i32, inPos: i32): i32 {
    this.status = status;
    this.inPos = inPos;
    return status;
  }

  @inline private getBits(n: i32): u32 {
    while (this.bitCount < n) {
      let b: u32 = 0;
      if (this.pos < this.end) {
        b = <u32>load<u8>(this.base + <usize>this.pos);
        this.pos++;
      } else {
        this.over = true;
      }
      this.bits |= b << <u32>this.bitCount;
      this.bitCount += 8;
    }
    const v = this.bits & ((1 << <u32>n) - 1);
    this.bits >>>= <u32>n;
    this.bitCount -= n;
    return v;
  }

  /** One symbol of a canonical code, or -1 for an invalid code (or input overrun). */
  private decode(h: Huffman): i32 {
    // Top up the bit buffer from real input only (no padding), then try the table.
    while (this.bitCount <= 24 && this.pos < this.end) {
      this.bits |= <u32>load<u8>(this.base + <usize>this.pos) << <u32>this.bitCount;
      this.pos++;
      this.bitCount += 8;
    }
    const entry = <i32>unchecked(h.fast[this.bits & ((1 << FAST_BITS) - 1)]);
    const fastLen = entry & 15;
    if (entry != 0 && fastLen <= this.bitCount) {
      this.bits >>>= <u32>fastLen;
      this.bitCount -= fastLen;
      return entry >> 4;
    }
    let code: i32 = 0;
    let first: i32 = 0;
    let index: i32 = 0;
    for (let len = 1; len < 16; len++) {
      code |= <i32>this.getBits(1);
      const count = <i32>unchecked(h.counts[len]);
      if (code - first < count) {
        // Bits read past the end are zeros, not data: no symbol out of them.
        if (this.over) return -1;
        const at = index + code - first;
        return at < h.symbols.length ? <i32>unchecked(h.symbols[at]) : -1;
      }
      index += count;
      first = (first + count) << 1;
      code <<= 1;
      if (this.over) return -1;
    }
    return -1;
  }

  /** Appends one byte; false once the limit is reached. */
  @inline private put(b: u32): bool {
    if (this.len >= this.limit) return false;
    if (this.len >= this.out.length) this.grow(this.len + 1);
    store<u8>(this.out.dataStart + <usize>this.len, <u8>b);
    this.len++;
    return true;
  }

  /** Appends a back-reference's `length` bytes from `distance` back; false once the limit cut it. */
  private copyBack(distance: i32, length: i32): bool {
    let n = length;
    const room = this.limit - this.len;
    if (n > room) n = room;
    if (this.len + n > this.out.length) this.grow(this.len + n);
    const at = this.out.dataStart + <usize>this.len;
    if (distance >= n) {
      memory.copy(at, at - <usize>distance, <usize>n);
    } else {
      // Overlapping: the copy repeats bytes it has just written.
      for (let k = 0; k < n; k++) store<u8>(at + <usize>k, load<u8>(at + <usize>k - <usize>distance));
    }
    this.len += n;
    return n == length;
  }

  private grow(need: i32): void {
    if (need <= this.out.length) return;
    let cap = this.out.length << 1;
    while (cap < need) cap <<= 1;
    if (cap > this.limit) cap = this.limit;
    const next = new Uint8Array(cap);
    memory.copy(next.dataStart, this.out.dataStart, <usize>this.len);
    this.out = next;
  }

  private stored(): i32 {
    // Stored blocks start at a byte boundary: drop the partial byte, give back whole buffered bytes.
    const partial = this.bitCount & 7;
    this.bitCount -= partial;
    this.pos -= this.bitCount >> 3;
    this.bits = 0;
    this.bitCount = 0;
    if (this.end - this.pos < 4) return INFLATE_TRUNCATED;
    const p = this.base + <usize>this.pos;
    const n = <i32>load<u8>(p) | (<i32>load<u8>(p + 1) << 8);
    const nc = <i32>load<u8>(p + 2) | (<i32>load<u8>(p + 3) << 8);
    if ((n ^ 0xffff) != nc) return INFLATE_BAD;
    this.pos += 4;
    let take = n;
    let st: i32 = INFLATE_DONE;
    if (this.end - this.pos < take) {
      take = this.end - this.pos;
      st = INFLATE_TRUNCATED;
    }
    if (this.limit - this.len < take) {
      take = this.limit - this.len;
      st = INFLATE_LIMIT;
    }
    this.grow(this.len + take);
    memory.copy(this.out.dataStart + <usize>this.len, this.base + <usize>this.pos, <usize>take);
    this.len += take;
    this.pos += take;
    return st;
  }

  private fixed(): i32 {
    const l = this.lengths;
    for (let i = 0; i < 144; i++) unchecked(l[i] = 8);
    for (let i = 144; i < 256; i++) unchecked(l[i] = 9);
    for (let i = 256; i < 280; i++) unchecked(l[i] = 7);
    for (let i = 280; i < 288; i++) unchecked(l[i] = 8);
    // All 32 five-bit distance codes (RFC 1951 3.2.6): 30 and 31 then decode, and are
    // refused as bad, rather than never matching and reading on to the end of the input.
    for (let i = 288; i < 288 + 32; i++) unchecked(l[i] = 5);
    this.lit.build(l, 0, 288);
    this.dist.build(l, 288, 32);
    return this.codes();
  }

  private dynamic(): i32 {
    const nlen = <i32>this.getBits(5) + 257;
    const ndist = <i32>this.getBits(5) + 1;
    const ncode = <i32>this.getBits(4) + 4;
    if (this.over) return INFLATE_TRUNCATED;
    if (nlen > 286 || ndist > 30) return INFLATE_BAD;
    const l = this.lengths;
    for (let i = 0; i < 19; i++) unchecked(l[i] = 0);
    for (let i = 0; i < ncode; i++) unchecked(l[unchecked(CLEN_ORDER[i])] = <u8>this.getBits(3));
    if (this.over) return INFLATE_TRUNCATED;
    // The code-length code reuses the distance table's storage size of 30 > 19.
    if (!this.dist.build(l, 0, 19)) return INFLATE_BAD;
    const clen = this.dist;
    let i = 0;
    const total = nlen + ndist;
    while (i < total) {
      const sym = this.decode(clen);
      if (sym < 0) return this.over ? INFLATE_TRUNCATED : INFLATE_BAD;
      if (sym < 16) {
        unchecked(l[i++] = <u8>sym);
        continue;
      }
      let repeat: i32 = 0;
      let value: u8 = 0;
      if (sym == 16) {
        if (i == 0) return INFLATE_BAD;
        value = unchecked(l[i - 1]);
        repeat = 3 + <i32>this.getBits(2);
      } else if (sym == 17) {
        repeat = 3 + <i32>this.getBits(3);
      } else {
        repeat = 11 + <i32>this.getBits(7);
      }
      if (this.over) return INFLATE_TRUNCATED;
      if (i + repeat > total) return INFLATE_BAD;
      while (repeat-- > 0) unchecked(l[i++] = value);
    }
    if (unchecked(l[256]) == 0) return INFLATE_BAD;
    // Literal/length lengths are l[0 .. nlen); distance lengths follow them.
    if (!this.lit.build(l, 0, nlen)) return INFLATE_BAD;
    if (!this.dist.build(l, nlen, ndist)) return INFLATE_BAD;
    return this.codes();
  }

  private codes(): i32 {
    for (;;) {
      const sym = this.decode(this.lit);
      if (sym < 0) return this.over ? INFLATE_TRUNCATED : INFLATE_BAD;
      if (sym < 256) {
        if (!this.put(<u32>sym)) return INFLATE_LIMIT;
        continue;
      }
      if (sym == 256) return INFLATE_DONE;
      const li = sym - 257;
      if (li >= 29) return INFLATE_BAD;
      const length = <i32>unchecked(LENGTH_BASE[li]) + <i32>this.getBits(<i32>unchecked(LENGTH_EXTRA[li]));
      if (this.over) return INFLATE_TRUNCATED;
      const ds = this.decode(this.dist);
      if (ds < 0) return this.over ? INFLATE_TRUNCATED : INFLATE_BAD;
      if (ds >= 30) return INFLATE_BAD;
      const distance = <i32>unchecked(DIST_BASE[ds]) + <i32>this.getBits(<i32>unchecked(DIST_EXTRA[ds]));
      if (this.over) return INFLATE_TRUNCATED;
      if (distance > this.len) return INFLATE_BAD;
      if (!this.copyBack(distance, length)) return INFLATE_LIMIT;
    }
    return INFLATE_BAD;
  }
}
