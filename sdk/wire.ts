// Byte-level helpers shared by the host simulator and the result codecs: the ABI's
// big-endian integers, its `str` (u16 length + UTF-8 bytes), and the two ways the agent
// turns bytes into text (lossy for legacy/ABI strings, strict for protobuf strings).

const encoder = new TextEncoder();
// ignoreBOM: keep a leading U+FEFF as a character, as Rust's String::from_utf8 does.
const lossyDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
const strictDecoder = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });

/** TextEncoder's per-call cost is most of what a short string costs: ASCII up to here is copied in a loop. */
const ASCII_ENCODE_MAX = 256;

export function encodeUtf8(s: string): Uint8Array {
  const n = s.length;
  if (n > ASCII_ENCODE_MAX) return encoder.encode(s);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return encoder.encode(s);
    out[i] = c;
  }
  return out;
}

/**
 * Recently decoded ASCII strings of up to CACHE_MAX_BYTES bytes, by a hash of their bytes. Most
 * strings plugins send repeat (protocol names, versions, methods, topics), and a hit costs a
 * comparison instead of a decode and a new string; a miss decodes with TextDecoder, which beats
 * building the string a character at a time from 5 bytes on (bench/README.md).
 */
const CACHE_SLOTS = 4096;
const CACHE_MAX_BYTES = 64;
const recentStrings: string[] = new Array<string>(CACHE_SLOTS).fill("");

/** bytes[start, end) as text when they are ASCII and short, else null. */
function cachedAscii(bytes: Uint8Array, start: number, end: number): string | null {
  const n = end - start;
  if (n === 0) return "";
  if (n > CACHE_MAX_BYTES) return null;
  let h = n;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b >= 0x80) return null;
    h = Math.imul(h ^ b, 0x01000193);
  }
  const slot = (h ^ (h >>> 15)) & (CACHE_SLOTS - 1);
  const known = recentStrings[slot]!;
  if (known.length === n) {
    let i = 0;
    while (i < n && known.charCodeAt(i) === bytes[start + i]) i++;
    if (i === n) return known;
  }
  return (recentStrings[slot] = lossyDecoder.decode(bytes.subarray(start, end))); // ASCII: every decoder agrees
}

/** String::from_utf8_lossy: invalid sequences become U+FFFD. */
export function decodeUtf8Lossy(bytes: Uint8Array): string {
  return cachedAscii(bytes, 0, bytes.length) ?? lossyDecoder.decode(bytes);
}

/** str::from_utf8 (what prost does for `string` fields) of bytes[start, end): null when not valid UTF-8. */
export function decodeUtf8Strict(bytes: Uint8Array, start = 0, end = bytes.length): string | null {
  const ascii = cachedAscii(bytes, start, end);
  if (ascii !== null) return ascii;
  try {
    return strictDecoder.decode(bytes.subarray(start, end));
  } catch {
    return null;
  }
}

export function readU16BE(data: Uint8Array, off: number): number {
  return (data[off] << 8) | data[off + 1];
}

export function readU32BE(data: Uint8Array, off: number): number {
  return ((data[off] << 24) | (data[off + 1] << 16) | (data[off + 2] << 8) | data[off + 3]) >>> 0;
}

export function writeU16BE(data: Uint8Array, off: number, v: number): void {
  data[off] = (v >>> 8) & 0xff;
  data[off + 1] = v & 0xff;
}

export function writeU32BE(data: Uint8Array, off: number, v: number): void {
  data[off] = (v >>> 24) & 0xff;
  data[off + 1] = (v >>> 16) & 0xff;
  data[off + 2] = (v >>> 8) & 0xff;
  data[off + 3] = v & 0xff;
}

/** u64 as bigint, or as a non-negative safe integer (avoids BigInt on hot paths). */
export type U64 = bigint | number;

export function writeU64BE(data: Uint8Array, off: number, v: U64): void {
  let hi: number;
  let lo: number;
  if (typeof v === "bigint") {
    hi = Number((v >> 32n) & 0xffffffffn);
    lo = Number(v & 0xffffffffn);
  } else {
    hi = Math.floor(v / 0x1_0000_0000) >>> 0;
    lo = v >>> 0;
  }
  writeU32BE(data, off, hi);
  writeU32BE(data, off + 4, lo);
}

export function readU64BE(data: Uint8Array, off: number): bigint {
  return (BigInt(readU32BE(data, off)) << 32n) | BigInt(readU32BE(data, off + 4));
}

/**
 * read_wasm_str (agent/src/plugin/wasm/mod.rs): u16 length + bytes, decoded lossily.
 * Returns null when the buffer is too short; `pos.off` only advances on success.
 */
export function readWasmStr(data: Uint8Array, pos: { off: number }): string | null {
  const off = pos.off;
  if (off + 2 > data.length) return null;
  const len = readU16BE(data, off);
  if (off + 2 + len > data.length) return null;
  pos.off = off + 2 + len;
  return decodeUtf8Lossy(data.subarray(off + 2, off + 2 + len));
}

/** A growable big-endian writer for building ABI byte strings (test vectors, records). */
export class ByteWriter {
  private buf: Uint8Array;
  private len = 0;

  constructor(capacity = 64) {
    this.buf = new Uint8Array(capacity);
  }

  /** Makes room for n bytes and returns where they go (call before reading this.buf). */
  private reserve(n: number): number {
    const at = this.len;
    if (at + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, at + n));
      next.set(this.buf.subarray(0, at));
      this.buf = next;
    }
    this.len = at + n;
    return at;
  }

  u8(v: number): this {
    const at = this.reserve(1);
    this.buf[at] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    const at = this.reserve(2);
    writeU16BE(this.buf, at, v);
    return this;
  }

  u32(v: number): this {
    const at = this.reserve(4);
    writeU32BE(this.buf, at, v);
    return this;
  }

  u64(v: U64): this {
    const at = this.reserve(8);
    writeU64BE(this.buf, at, v);
    return this;
  }

  bytes(b: Uint8Array): this {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
    return this;
  }

  /** The ABI's `str`: u16 length then the UTF-8 bytes. */
  str(s: string | Uint8Array): this {
    const b = typeof s === "string" ? encodeUtf8(s) : s;
    if (b.length > 0xffff) throw new RangeError(`string of ${b.length} bytes does not fit a u16 length`);
    return this.u16(b.length).bytes(b);
  }

  get length(): number {
    return this.len;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
