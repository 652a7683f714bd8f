// A growable byte buffer for building results, with big-endian and protobuf
// encoders. Writers are meant to be reused across calls (reset()), so that a
// plugin allocates its buffers once rather than per packet.
import { isValidUtf8, repairUtf8 } from "./utf8";
import { KeyValField } from "../schema.generated";

export const WIRE_VARINT: u32 = 0;
export const WIRE_I64: u32 = 1;
export const WIRE_LEN: u32 = 2;
export const WIRE_I32: u32 = 5;

export class ByteWriter {
  buf: Uint8Array;
  len: i32 = 0;

  constructor(capacity: i32 = 256) {
    this.buf = new Uint8Array(capacity > 16 ? capacity : 16);
  }

  reset(): void {
    this.len = 0;
  }

  @inline get dataStart(): usize {
    return this.buf.dataStart;
  }

  /** A view of what was written (valid until the next write). */
  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  @inline ensure(extra: i32): void {
    if (this.len + extra > this.buf.length) this.grow(this.len + extra);
  }

  private grow(need: i32): void {
    let cap = this.buf.length << 1;
    while (cap < need) cap <<= 1;
    const next = new Uint8Array(cap);
    memory.copy(next.dataStart, this.buf.dataStart, <usize>this.len);
    this.buf = next;
  }

  u8(v: u32): void {
    this.ensure(1);
    store<u8>(this.buf.dataStart + <usize>this.len, <u8>v);
    this.len += 1;
  }

  u16be(v: u32): void {
    this.ensure(2);
    store<u16>(this.buf.dataStart + <usize>this.len, bswap<u16>(<u16>v));
    this.len += 2;
  }

  u32be(v: u32): void {
    this.ensure(4);
    store<u32>(this.buf.dataStart + <usize>this.len, bswap<u32>(v));
    this.len += 4;
  }

  u64be(v: u64): void {
    this.ensure(8);
    store<u64>(this.buf.dataStart + <usize>this.len, bswap<u64>(v));
    this.len += 8;
  }

  /** v in decimal ASCII digits: a number as text, no string made. */
  decimal(v: u64): void {
    this.ensure(20);
    this.len = writeUnsigned(this.buf.dataStart, this.len, v);
  }

  /** Overwrites a u16 written earlier (e.g. a length placeholder). */
  patchU16be(at: i32, v: u32): void {
    store<u16>(this.buf.dataStart + <usize>at, bswap<u16>(<u16>v));
  }

  bytes(data: Uint8Array): void {
    this.raw(data.dataStart, data.length);
  }

  raw(ptr: usize, n: i32): void {
    this.ensure(n);
    const to = this.buf.dataStart + <usize>this.len;
    // Ids, names and header values are short: loads and stores beat a memory.copy call
    // (a call out of the compiled code in engines) up to a few dozen bytes.
    if (n >= 8 && n <= 64) {
      const last = load<u64>(ptr + <usize>(n - 8));
      for (let i = 0; i < n - 8; i += 8) store<u64>(to + <usize>i, load<u64>(ptr + <usize>i));
      store<u64>(to + <usize>(n - 8), last);
    } else if (n >= 4 && n < 8) {
      const a = load<u32>(ptr);
      const b = load<u32>(ptr + <usize>(n - 4));
      store<u32>(to, a);
      store<u32>(to + <usize>(n - 4), b);
    } else {
      memory.copy(to, ptr, <usize>n);
    }
    this.len += n;
  }

  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    for (let i = 0; i < n; i++) store<u8>(this.buf.dataStart + <usize>(this.len + i), <u8>s.charCodeAt(i));
    this.len += n;
  }

  /**
   * UTF-8 bytes of s, no length. A lone surrogate (text decoded without validation, or
   * built from UTF-16 units) becomes U+FFFD: the agent refuses a result holding bytes
   * that are not UTF-8.
   */
  utf8(s: string): void {
    const units = s.length;
    // At most three bytes per UTF-16 unit: room first, then one pass.
    this.ensure(units * 3);
    this.len += encodeText(changetype<usize>(s), units, this.buf.dataStart + <usize>this.len);
  }

  /**
   * The bytes at ptr .. ptr+n, made valid UTF-8 on the way (invalid subparts become
   * U+FFFD); `valid`: the caller knows they are, and they are copied as they are.
   */
  utf8Bytes(ptr: usize, n: i32, valid: bool = false): void {
    if (n <= 0) return;
    if (valid || isValidUtf8(ptr, n)) {
      this.raw(ptr, n);
      return;
    }
    this.ensure(n * 3);
    this.len += repairUtf8(ptr, n, this.buf.dataStart + <usize>this.len);
  }

  /** The agent's "str": u16 length then UTF-8, cut to 65535 bytes on a character boundary. */
  str16(s: string): void {
    const at = this.len;
    this.u16be(0);
    this.utf8(s);
    let n = this.len - at - 2;
    if (n > 0xffff) {
      n = utf8Boundary(this.buf, at + 2, 0xffff);
      this.len = at + 2 + n;
    }
    this.patchU16be(at, n);
  }

  // ---- protobuf ----

  varint(v: u64): void {
    this.ensure(10);
    let p = this.buf.dataStart + <usize>this.len;
    while (v >= 0x80) {
      store<u8>(p, <u8>(v | 0x80));
      p++;
      v >>= 7;
    }
    store<u8>(p, <u8>v);
    p++;
    this.len = <i32>(p - this.buf.dataStart);
  }

  tag(field: u32, wire: u32): void {
    const key = (field << 3) | wire;
    if (field < 16) {
      this.ensure(1);
      store<u8>(this.buf.dataStart + <usize>this.len, <u8>key);
      this.len++;
    } else {
      this.varint((<u64>field << 3) | wire);
    }
  }

  /** int32 / enum: negative values take ten bytes, as protobuf requires. */
  fieldInt32(field: u32, v: i32): void {
    this.tag(field, WIRE_VARINT);
    this.varint(<u64><i64>v);
  }

  fieldUint32(field: u32, v: u32): void {
    this.tag(field, WIRE_VARINT);
    this.varint(<u64>v);
  }

  fieldUint64(field: u32, v: u64): void {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }

  fieldBool(field: u32, v: bool): void {
    this.tag(field, WIRE_VARINT);
    this.u8(v ? 1 : 0);
  }

  fieldString(field: u32, s: string): void {
    this.tag(field, WIRE_LEN);
    const units = s.length;
    if (units <= SHORT_TEXT_UNITS) {
      // Fewer than 128 bytes whatever the text: a one-byte length, patched after.
      this.ensure(1 + units * 3);
      const at = this.buf.dataStart + <usize>this.len;
      const n = encodeText(changetype<usize>(s), units, at + 1);
      store<u8>(at, <u8>n);
      this.len += 1 + n;
      return;
    }
    const n = String.UTF8.byteLength(s);
    this.varint(<u64>n);
    this.ensure(n);
    this.len += encodeText(changetype<usize>(s), units, this.buf.dataStart + <usize>this.len);
  }

  fieldBytes(field: u32, data: Uint8Array): void {
    this.fieldRaw(field, data.dataStart, data.length);
  }

  /** A length-delimited field holding the bytes at ptr .. ptr+n. */
  fieldRaw(field: u32, ptr: usize, n: i32): void {
    if (field < 16 && <u32>n < 128) {
      // One-byte tag and length, as most fields have.
      this.ensure(2 + n);
      store<u16>(this.buf.dataStart + <usize>this.len, <u16>((field << 3) | WIRE_LEN | (n << 8)));
      this.len += 2;
    } else {
      this.tag(field, WIRE_LEN);
      this.varint(<u64>n);
    }
    this.raw(ptr, n);
  }

  /**
   * A nested message `field` holding a wasm_plugin.KeyVal: key = the text, val = the bytes
   * at ptr .. ptr+n; in one go when it is shorter than 128 bytes, as most are.
   */
  fieldPair(field: u32, key: string, ptr: usize, n: i32): void {
    const units = key.length;
    if (units * 3 + n + 4 >= 128 || n < 0) {
      const at = this.beginMessage(field);
      this.fieldString(KeyValField.KEY, key);
      this.fieldRaw(KeyValField.VAL, ptr, n);
      this.endMessage(at);
      return;
    }
    this.tag(field, WIRE_LEN);
    this.ensure(5 + units * 3 + n);
    const start = this.buf.dataStart + <usize>this.len;
    let p = start + 1;
    store<u8>(p, (KeyValField.KEY << 3) | WIRE_LEN);
    const keyLen = encodeText(changetype<usize>(key), units, p + 2);
    store<u8>(p, <u8>keyLen, 1);
    p += 2 + <usize>keyLen;
    store<u8>(p, (KeyValField.VAL << 3) | WIRE_LEN);
    store<u8>(p, <u8>n, 1);
    p += 2;
    this.len = <i32>(p - this.buf.dataStart);
    this.raw(ptr, n);
    store<u8>(start, <u8>(this.len - <i32>(start - this.buf.dataStart) - 1));
  }

  /** Starts a nested message; pass the result to endMessage once its fields are written. */
  beginMessage(field: u32): i32 {
    this.tag(field, WIRE_LEN);
    // One byte for the length, as most nested messages are shorter than 128 bytes.
    this.u8(0);
    return this.len;
  }

  /** Writes the nested message's length in front of its body (moving the body when it needs more than a byte). */
  endMessage(start: i32): void {
    const bodyLen = this.len - start;
    const prefix = varintSize(<u64>bodyLen);
    let p = this.buf.dataStart + <usize>start;
    if (prefix > 1) {
      this.ensure(prefix - 1);
      p = this.buf.dataStart + <usize>start;
      memory.copy(p + <usize>(prefix - 1), p, <usize>bodyLen);
      this.len += prefix - 1;
    }
    let v = <u32>bodyLen;
    let q = p - 1;
    while (v >= 0x80) {
      store<u8>(q, <u8>(v | 0x80));
      q++;
      v >>= 7;
    }
    store<u8>(q, <u8>v);
  }
}

/** Strings of at most this many UTF-16 units encode to fewer than 128 bytes. */
const SHORT_TEXT_UNITS: i32 = 42;

/**
 * UTF-8 of `units` UTF-16 units at `chars` into `to` (room for 3 bytes a unit); returns
 * the bytes written. ASCII is copied straight; a lone surrogate becomes U+FFFD.
 */
function encodeText(chars: usize, units: i32, to: usize): i32 {
  let i = 0;
  for (; i < units; i++) {
    const c = <u32>load<u16>(chars + (<usize>i << 1));
    if (c >= 0x80) break;
    store<u8>(to + <usize>i, <u8>c);
  }
  if (i == units) return units;
  return i + <i32>String.UTF8.encodeUnsafe(chars + (<usize>i << 1), units - i, to + <usize>i, false, String.UTF8.ErrorMode.REPLACE);
}

/** Writes v in decimal at base+at (room for 20 bytes); returns the offset after it. */
export function writeDecimal(base: usize, at: i32, v: i64): i32 {
  if (v < 0) {
    store<u8>(base + <usize>at, 0x2d);
    // i64.MIN_VALUE has no positive counterpart: its digits come from the unsigned value.
    return writeUnsigned(base, at + 1, <u64>(-v));
  }
  return writeUnsigned(base, at, <u64>v);
}

function writeUnsigned(base: usize, at: i32, u: u64): i32 {
  let digits = 1;
  for (let t = u; t >= 10; t /= 10) digits++;
  let i = at + digits;
  do {
    i--;
    store<u8>(base + <usize>i, <u8>(0x30 + <i32>(u % 10)));
    u /= 10;
  } while (u != 0);
  return at + digits;
}

export function varintSize(v: u64): i32 {
  let n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

/** The largest length <= max that does not cut a UTF-8 sequence starting at `from`. */
export function utf8Boundary(buf: Uint8Array, from: i32, max: i32): i32 {
  let n = max;
  while (n > 0 && (buf[from + n] & 0xc0) == 0x80) n--;
  return n;
}
