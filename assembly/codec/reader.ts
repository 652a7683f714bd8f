// Bounds-checked reading of untrusted bytes. Nothing here traps: a read past the
// end returns zero / an empty value and sets `short`, so a parser can read a whole
// structure and check once whether it was all there.
import { decodeUtf8Lossy } from "./utf8";

export class ByteReader {
  /** Set once any read ran past the end; stays set. */
  short: bool = false;
  private base: usize;

  constructor(public data: Uint8Array, public pos: i32 = 0, public end: i32 = -1) {
    if (end < 0 || end > data.length) this.end = data.length;
    if (pos < 0) this.pos = 0;
    if (this.pos > this.end) this.pos = this.end;
    this.base = data.dataStart;
  }

  /** Starts over on other bytes, as a new reader would (one reader can serve many reads). */
  reset(data: Uint8Array, pos: i32 = 0, end: i32 = -1): ByteReader {
    this.data = data;
    this.end = end < 0 || end > data.length ? data.length : end;
    this.pos = pos < 0 ? 0 : pos > this.end ? this.end : pos;
    this.short = false;
    this.base = data.dataStart;
    return this;
  }

  @inline get remaining(): i32 {
    return this.end - this.pos;
  }

  @inline has(n: i32): bool {
    return n >= 0 && this.end - this.pos >= n;
  }

  /** Marks the reader short and moves to the end when n bytes are not there. */
  @inline private take(n: i32): bool {
    if (n < 0 || this.end - this.pos < n) {
      this.short = true;
      this.pos = this.end;
      return false;
    }
    return true;
  }

  u8(): u32 {
    if (!this.take(1)) return 0;
    const v = <u32>load<u8>(this.base + <usize>this.pos);
    this.pos++;
    return v;
  }

  peekU8(offset: i32 = 0): u32 {
    const at = this.pos + offset;
    if (offset < 0 || at >= this.end) return 0;
    return load<u8>(this.base + <usize>at);
  }

  u16be(): u32 {
    if (!this.take(2)) return 0;
    const v = bswap<u16>(load<u16>(this.base + <usize>this.pos));
    this.pos += 2;
    return v;
  }

  u32be(): u32 {
    if (!this.take(4)) return 0;
    const v = bswap<u32>(load<u32>(this.base + <usize>this.pos));
    this.pos += 4;
    return v;
  }

  u64be(): u64 {
    if (!this.take(8)) return 0;
    const v = bswap<u64>(load<u64>(this.base + <usize>this.pos));
    this.pos += 8;
    return v;
  }

  i16be(): i32 {
    return <i32><i16>this.u16be();
  }

  i32be(): i32 {
    return <i32>this.u32be();
  }

  i64be(): i64 {
    return <i64>this.u64be();
  }

  f64be(): f64 {
    return reinterpret<f64>(this.u64be());
  }

  u16le(): u32 {
    if (!this.take(2)) return 0;
    const v = load<u16>(this.base + <usize>this.pos);
    this.pos += 2;
    return v;
  }

  u32le(): u32 {
    if (!this.take(4)) return 0;
    const v = load<u32>(this.base + <usize>this.pos);
    this.pos += 4;
    return v;
  }

  /** Unsigned LEB128 up to 32 bits (protobuf, Kafka). Overlong input sets `short`. */
  uvarint32(): u32 {
    let result: u32 = 0;
    for (let shift: u32 = 0; shift < 35; shift += 7) {
      if (!this.take(1)) return 0;
      const b = <u32>load<u8>(this.base + <usize>this.pos);
      this.pos++;
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        // A fifth byte above 0x0f holds bits past 32: malformed, not a smaller number
        // (a protobuf length of 2^32 must not read as 0).
        if (shift == 28 && b > 0x0f) this.short = true;
        return result;
      }
    }
    this.short = true;
    return result;
  }

  /** Unsigned LEB128 up to 64 bits. */
  uvarint64(): u64 {
    let result: u64 = 0;
    for (let shift: u64 = 0; shift < 70; shift += 7) {
      if (!this.take(1)) return 0;
      const b = <u64>load<u8>(this.base + <usize>this.pos);
      this.pos++;
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        // A tenth byte above 1 holds bits past 64: malformed, as prost judges it.
        if (shift == 63 && b > 1) this.short = true;
        return result;
      }
    }
    this.short = true;
    return result;
  }

  /** ZigZag-encoded signed varint (protobuf sint32, Kafka varint). */
  zigzag32(): i32 {
    const v = this.uvarint32();
    return <i32>(v >>> 1) ^ -(<i32>(v & 1));
  }

  zigzag64(): i64 {
    const v = this.uvarint64();
    return <i64>(v >>> 1) ^ -(<i64>(v & 1));
  }

  /** Skips n bytes; false (and short) when they are not all there. */
  skip(n: i32): bool {
    if (!this.take(n)) return false;
    this.pos += n;
    return true;
  }

  /** A view of the next n bytes (no copy); empty and short when not all there. */
  bytes(n: i32): Uint8Array {
    if (!this.take(n)) return new Uint8Array(0);
    const v = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** The next n bytes as UTF-8 text; invalid sequences become U+FFFD (as Rust's from_utf8_lossy). */
  utf8(n: i32): string {
    if (!this.take(n)) return "";
    const s = decodeUtf8Lossy(this.base + <usize>this.pos, n);
    this.pos += n;
    return s;
  }

  /** Up to n bytes as UTF-8, taking what is there without marking short. */
  utf8Upto(n: i32): string {
    const avail = this.remaining;
    return this.utf8(n < avail ? n : avail);
  }

  /** True when the next bytes equal `ascii` (does not move). */
  startsWith(ascii: string): bool {
    const n = ascii.length;
    if (!this.has(n)) return false;
    for (let i = 0; i < n; i++) {
      if (<u32>load<u8>(this.base + <usize>(this.pos + i)) != <u32>ascii.charCodeAt(i)) return false;
    }
    return true;
  }

  /** A reader over the next n bytes, moving past them here. */
  sub(n: i32): ByteReader {
    const start = this.pos;
    if (!this.take(n)) return new ByteReader(this.data, this.end, this.end);
    this.pos += n;
    return new ByteReader(this.data, start, start + n);
  }
}

/** Big-endian reads at an offset of a byte array, 0 when out of range. */
export function readU8(data: Uint8Array, at: i32): u32 {
  if (at < 0 || at >= data.length) return 0;
  return load<u8>(data.dataStart + <usize>at);
}

export function readU16be(data: Uint8Array, at: i32): u32 {
  if (at < 0 || at + 2 > data.length) return 0;
  return bswap<u16>(load<u16>(data.dataStart + <usize>at));
}

export function readU32be(data: Uint8Array, at: i32): u32 {
  if (at < 0 || at + 4 > data.length) return 0;
  return bswap<u32>(load<u32>(data.dataStart + <usize>at));
}

export function readU64be(data: Uint8Array, at: i32): u64 {
  if (at < 0 || at + 8 > data.length) return 0;
  return bswap<u64>(load<u64>(data.dataStart + <usize>at));
}
