// Hessian 2.0 decoding of untrusted, possibly truncated bytes (Dubbo bodies and
// anything else serialized with Hessian2). Spec:
// http://hessian.caucho.com/doc/hessian-serialization.html; doubles tagged 0x5f
// carry int32 thousandths, as Java's Hessian2Output and hessian.js write them.
//
// The reader is a cursor: typed reads (readString, readLong, ...), list/map/object
// headers for walking containers, and skipValue() for everything else. Nothing
// traps: running out of input sets `truncated`, bytes that are not Hessian2 set
// `bad`, and after either every read returns an empty value. Work is linear in the
// input (every value consumes at least one byte), nesting is bounded by maxDepth,
// and the class/type tables are fixed-size, so one reader can be reused for every
// message without growing.
import { isValidUtf8 } from "../assembly/index";

/** What the next value is (by its leading tag). */
export const HK_EOF: i32 = 0;
export const HK_BAD: i32 = 1;
export const HK_NULL: i32 = 2;
export const HK_BOOL: i32 = 3;
export const HK_INT: i32 = 4;
export const HK_LONG: i32 = 5;
export const HK_DOUBLE: i32 = 6;
export const HK_DATE: i32 = 7;
export const HK_STRING: i32 = 8;
export const HK_BINARY: i32 = 9;
export const HK_LIST: i32 = 10;
export const HK_MAP: i32 = 11;
export const HK_OBJECT: i32 = 12;
export const HK_REF: i32 = 13;
/** A class definition ('C'): precedes the value that uses it. */
export const HK_CLASS_DEF: i32 = 14;
/** 'Z': the end of a variable-length list or a map. */
export const HK_END: i32 = 15;

/** beginList(): the list ends with 'Z' (check endOfContainer()). */
export const LIST_VARIABLE: i32 = -1;
/** beginList(): not a list, or broken. */
export const LIST_NONE: i32 = -2;

const MAX_CLASSES: i32 = 256;
const MAX_CLASS_FIELDS: i32 = 4096;
const MAX_TYPES: i32 = 256;

// Tag → kind, built once.
const KINDS = new StaticArray<u8>(256);

function kindRange(from: i32, to: i32, kind: i32): void {
  for (let t = from; t <= to; t++) KINDS[t] = <u8>kind;
}

function initKinds(): void {
  kindRange(0x00, 0xff, HK_BAD);
  kindRange(0x00, 0x1f, HK_STRING);
  kindRange(0x20, 0x2f, HK_BINARY);
  kindRange(0x30, 0x33, HK_STRING);
  kindRange(0x34, 0x37, HK_BINARY);
  kindRange(0x38, 0x3f, HK_LONG);
  KINDS[0x41] = <u8>HK_BINARY; // 'A' non-final chunk
  KINDS[0x42] = <u8>HK_BINARY; // 'B'
  KINDS[0x43] = <u8>HK_CLASS_DEF; // 'C'
  KINDS[0x44] = <u8>HK_DOUBLE; // 'D'
  KINDS[0x46] = <u8>HK_BOOL; // 'F'
  KINDS[0x48] = <u8>HK_MAP; // 'H' untyped
  KINDS[0x49] = <u8>HK_INT; // 'I'
  KINDS[0x4a] = <u8>HK_DATE; // 'J' millis
  KINDS[0x4b] = <u8>HK_DATE; // 'K' minutes
  KINDS[0x4c] = <u8>HK_LONG; // 'L'
  KINDS[0x4d] = <u8>HK_MAP; // 'M' typed
  KINDS[0x4e] = <u8>HK_NULL; // 'N'
  KINDS[0x4f] = <u8>HK_OBJECT; // 'O'
  KINDS[0x51] = <u8>HK_REF; // 'Q'
  KINDS[0x52] = <u8>HK_STRING; // 'R' non-final chunk
  KINDS[0x53] = <u8>HK_STRING; // 'S'
  KINDS[0x54] = <u8>HK_BOOL; // 'T'
  kindRange(0x55, 0x58, HK_LIST); // 'U' 'V' 'W' 'X'
  KINDS[0x59] = <u8>HK_LONG; // 'Y' long as int32
  KINDS[0x5a] = <u8>HK_END; // 'Z'
  kindRange(0x5b, 0x5f, HK_DOUBLE);
  kindRange(0x60, 0x6f, HK_OBJECT);
  kindRange(0x70, 0x7f, HK_LIST);
  kindRange(0x80, 0xd7, HK_INT);
  kindRange(0xd8, 0xff, HK_LONG);
}
initKinds();

/** Hessian2 kind of a tag byte. */
export function hessianKind(tag: u32): i32 {
  return <i32>unchecked(KINDS[tag & 0xff]);
}

export class Hessian2Reader {
  data: Uint8Array;
  pos: i32 = 0;
  end: i32 = 0;
  /** The input ended inside a value. */
  truncated: bool = false;
  /** The bytes are not Hessian2 (unknown tag, bad reference, nesting too deep, table full). */
  bad: bool = false;
  /** Nesting limit for skipValue (lists, maps, objects inside each other). */
  maxDepth: i32 = 32;
  /** Type name of the last typed list/map header read ("" when untyped). */
  lastType: string = "";
  /** Where the bytes of the string read by readAsciiSpan() are. */
  spanStart: i32 = 0;
  spanLength: i32 = 0;
  private base: usize = 0;
  // Class definitions: name and field names are kept as positions of their strings.
  private classCount: i32 = 0;
  private classNameAt: StaticArray<i32> = new StaticArray<i32>(MAX_CLASSES);
  private classFieldCount: StaticArray<i32> = new StaticArray<i32>(MAX_CLASSES);
  private classFieldStart: StaticArray<i32> = new StaticArray<i32>(MAX_CLASSES);
  private fieldCount: i32 = 0;
  private fieldNameAt: StaticArray<i32> = new StaticArray<i32>(MAX_CLASS_FIELDS);
  // Type names of typed lists/maps, referenced later by number.
  private typeCount: i32 = 0;
  private typeAt: StaticArray<i32> = new StaticArray<i32>(MAX_TYPES);
  // UTF-16 scratch for building strings.
  private chars: StaticArray<u16> = new StaticArray<u16>(256);

  constructor(data: Uint8Array = new Uint8Array(0), pos: i32 = 0, end: i32 = -1) {
    this.data = data;
    this.reset(data, pos, end);
  }

  /** Starts over on new input; forgets classes and types (they are per stream). */
  reset(data: Uint8Array, pos: i32 = 0, end: i32 = -1): void {
    this.data = data;
    this.base = data.dataStart;
    this.end = end < 0 || end > data.length ? data.length : end;
    this.pos = pos < 0 ? 0 : pos > this.end ? this.end : pos;
    this.truncated = false;
    this.bad = false;
    this.classCount = 0;
    this.fieldCount = 0;
    this.typeCount = 0;
    this.lastType = "";
  }

  @inline get ok(): bool {
    return !this.truncated && !this.bad;
  }

  @inline get remaining(): i32 {
    return this.end - this.pos;
  }

  /** The next tag byte, -1 at the end or after an error. */
  peekTag(): i32 {
    if (!this.ok || this.pos >= this.end) return -1;
    return <i32>load<u8>(this.base + <usize>this.pos);
  }

  /** Kind of the next value (HK_EOF at the end, HK_BAD after an error). */
  peekKind(): i32 {
    if (!this.ok) return HK_BAD;
    if (this.pos >= this.end) return HK_EOF;
    return hessianKind(load<u8>(this.base + <usize>this.pos));
  }

  // ---- raw input ----

  @inline private byteAt(at: i32): u32 {
    return load<u8>(this.base + <usize>at);
  }

  /** True when n more bytes are there; otherwise marks truncated. */
  private need(n: i32): bool {
    if (this.end - this.pos >= n) return true;
    this.truncated = true;
    this.pos = this.end;
    return false;
  }

  private fail(): void {
    this.bad = true;
  }

  /** The expected value is not next: a cut when the input ended, otherwise not Hessian2. */
  private unexpected(): void {
    if (!this.ok) return;
    if (this.pos >= this.end) {
      this.truncated = true;
    } else {
      this.bad = true;
    }
  }

  private u8(): u32 {
    if (!this.need(1)) return 0;
    return this.byteAt(this.pos++);
  }

  private u16(): u32 {
    if (!this.need(2)) return 0;
    const v = (this.byteAt(this.pos) << 8) | this.byteAt(this.pos + 1);
    this.pos += 2;
    return v;
  }

  private u32(): u32 {
    if (!this.need(4)) return 0;
    const v = bswap<u32>(load<u32>(this.base + <usize>this.pos));
    this.pos += 4;
    return v;
  }

  private u64(): u64 {
    if (!this.need(8)) return 0;
    const v = bswap<u64>(load<u64>(this.base + <usize>this.pos));
    this.pos += 8;
    return v;
  }

  private skipBytes(n: i32): void {
    if (this.need(n)) this.pos += n;
  }

  /** Consumes the tag when it is the next byte. */
  private take(tag: u32): bool {
    if (!this.ok || this.pos >= this.end || this.byteAt(this.pos) != tag) return false;
    this.pos++;
    return true;
  }

  // ---- scalars ----

  /** Consumes a null; false (nothing consumed) when the next value is not null. */
  readNull(): bool {
    return this.take(0x4e);
  }

  /** true/false; marks bad when the next value is not a boolean. */
  readBool(): bool {
    if (this.take(0x54)) return true;
    if (this.take(0x46)) return false;
    this.unexpected();
    return false;
  }

  /** An int or long (any width); marks bad on other values. */
  readLong(): i64 {
    const tag = this.peekTag();
    if (tag < 0) {
      this.unexpected();
      return 0;
    }
    this.pos++;
    const t = <u32>tag;
    if (t >= 0x80 && t <= 0xbf) return <i64>(<i32>t - 0x90);
    if (t >= 0xc0 && t <= 0xcf) return <i64>(((<i32>t - 0xc8) << 8) | <i32>this.u8());
    if (t >= 0xd0 && t <= 0xd7) return <i64>(((<i32>t - 0xd4) << 16) | <i32>this.u16());
    if (t == 0x49 || t == 0x59) return <i64><i32>this.u32();
    if (t >= 0xd8 && t <= 0xef) return <i64>(<i32>t - 0xe0);
    if (t >= 0xf0) return <i64>(((<i32>t - 0xf8) << 8) | <i32>this.u8());
    if (t >= 0x38 && t <= 0x3f) return <i64>(((<i32>t - 0x3c) << 16) | <i32>this.u16());
    if (t == 0x4c) return <i64>this.u64();
    this.pos--;
    this.fail();
    return 0;
  }

  /** A double (also accepts ints and longs, as Java's readDouble does). */
  readDouble(): f64 {
    const tag = this.peekTag();
    if (tag == 0x5b) { this.pos++; return 0; }
    if (tag == 0x5c) { this.pos++; return 1; }
    if (tag == 0x5d) { this.pos++; return <f64><i8>this.u8(); }
    if (tag == 0x5e) { this.pos++; return <f64><i16>this.u16(); }
    if (tag == 0x5f) { this.pos++; return <f64><i32>this.u32() * 0.001; }
    if (tag == 0x44) { this.pos++; return reinterpret<f64>(this.u64()); }
    return <f64>this.readLong();
  }

  /** A date as milliseconds since the epoch; marks bad on other values. */
  readDate(): i64 {
    if (this.take(0x4a)) return <i64>this.u64();
    if (this.take(0x4b)) return <i64><i32>this.u32() * 60000;
    this.unexpected();
    return 0;
  }

  /** A back-reference ('Q' n): the index of an earlier list, map or object. */
  readRef(): i32 {
    if (!this.take(0x51)) {
      this.unexpected();
      return -1;
    }
    return <i32>this.readLong();
  }

  // ---- strings ----

  /** Length (in UTF-16 units) of the string chunk whose tag is next; -1 if not a string. */
  private stringChunk(): i32 {
    const t = <u32>this.peekTag();
    if (t <= 0x1f) {
      this.pos++;
      return <i32>t;
    }
    if (t >= 0x30 && t <= 0x33) {
      this.pos++;
      return ((<i32>t - 0x30) << 8) | <i32>this.u8();
    }
    if (t == 0x52 || t == 0x53) {
      this.pos++;
      return <i32>this.u16();
    }
    return -1;
  }

  private growChars(need: i32): void {
    let cap = this.chars.length;
    if (cap >= need) return;
    while (cap < need) cap <<= 1;
    const next = new StaticArray<u16>(cap);
    memory.copy(changetype<usize>(next), changetype<usize>(this.chars), <usize>this.chars.length << 1);
    this.chars = next;
  }

  /**
   * Decodes `units` UTF-16 units of (CESU-8 or UTF-8) text into the scratch at `at`
   * (keep = false only walks). Returns the new scratch length, -1 on error.
   */
  private decodeChars(units: i32, at: i32, keep: bool): i32 {
    // Every unit takes at least one byte: a length beyond the input is a cut.
    if (keep) this.growChars(at + (units < this.remaining ? units : this.remaining) + 1);
    let n = 0;
    let pos = this.pos;
    const end = this.end;
    const base = this.base;
    const out = changetype<usize>(this.chars) + (<usize>at << 1);
    while (n < units) {
      if (pos >= end) {
        this.pos = end;
        this.truncated = true;
        return -1;
      }
      const b0 = <u32>load<u8>(base + <usize>pos);
      let unit: u32 = b0;
      if (b0 < 0x80) {
        pos++;
      } else if ((b0 & 0xe0) == 0xc0) {
        if (end - pos < 2) { this.pos = end; this.truncated = true; return -1; }
        unit = ((b0 & 0x1f) << 6) | (<u32>load<u8>(base + <usize>pos + 1) & 0x3f);
        pos += 2;
      } else if ((b0 & 0xf0) == 0xe0) {
        if (end - pos < 3) { this.pos = end; this.truncated = true; return -1; }
        unit = ((b0 & 0x0f) << 12) | ((<u32>load<u8>(base + <usize>pos + 1) & 0x3f) << 6) |
          (<u32>load<u8>(base + <usize>pos + 2) & 0x3f);
        pos += 3;
      } else if ((b0 & 0xf8) == 0xf0 && n + 1 < units) {
        // Standard UTF-8 for a supplementary character: two UTF-16 units.
        if (end - pos < 4) { this.pos = end; this.truncated = true; return -1; }
        const cp = ((b0 & 0x07) << 18) | ((<u32>load<u8>(base + <usize>pos + 1) & 0x3f) << 12) |
          ((<u32>load<u8>(base + <usize>pos + 2) & 0x3f) << 6) | (<u32>load<u8>(base + <usize>pos + 3) & 0x3f);
        pos += 4;
        if (cp < 0x10000 || cp > 0x10ffff) { this.pos = pos; this.fail(); return -1; }
        if (keep) {
          const off = cp - 0x10000;
          store<u16>(out + (<usize>n << 1), <u16>(0xd800 | (off >> 10)));
          store<u16>(out + (<usize>(n + 1) << 1), <u16>(0xdc00 | (off & 0x3ff)));
        }
        n += 2;
        continue;
      } else {
        this.pos = pos;
        this.fail();
        return -1;
      }
      if (keep) store<u16>(out + (<usize>n << 1), <u16>unit);
      n++;
    }
    this.pos = pos;
    return at + n;
  }

  /** Reads or walks a whole (chunked) string; -1 when it is not one or is broken. */
  private stringBody(store: bool): i32 {
    let len = 0;
    for (;;) {
      const last = this.peekTag() != 0x52;
      const units = this.stringChunk();
      if (units < 0) {
        this.unexpected();
        return -1;
      }
      len = this.decodeChars(units, len, store);
      if (len < 0) return -1;
      if (last) return len;
      // A non-final chunk must be followed by another string chunk.
      if (this.peekKind() != HK_STRING) {
        this.unexpected();
        return -1;
      }
    }
    return -1;
  }

  /** The next value as a string; null when it is not a string (marks bad), null ('N'), or cut off. */
  readString(): string | null {
    if (this.readNull()) return null;
    const len = this.stringBody(true);
    if (len < 0) return null;
    return String.UTF16.decodeUnsafe(changetype<usize>(this.chars), <usize>len << 1);
  }

  /**
   * When the next value is a one-chunk string of ASCII only (most keys and names),
   * consumes it and sets spanStart/spanLength to its bytes, allocating nothing.
   * Otherwise false, and nothing is consumed.
   */
  readAsciiSpan(): bool {
    if (!this.ok) return false;
    const start = this.pos;
    const avail = this.end - start;
    if (avail < 1) return false;
    const t = this.byteAt(start);
    let n: i32;
    let at = start + 1;
    if (t <= 0x1f) {
      n = <i32>t;
    } else if (t >= 0x30 && t <= 0x33) {
      if (avail < 2) return false;
      n = ((<i32>t - 0x30) << 8) | <i32>this.byteAt(start + 1);
      at = start + 2;
    } else if (t == 0x53) {
      if (avail < 3) return false;
      n = <i32>((this.byteAt(start + 1) << 8) | this.byteAt(start + 2));
      at = start + 3;
    } else {
      return false;
    }
    if (n > this.end - at) return false;
    const p = this.base + <usize>at;
    let i = 0;
    for (; i + 8 <= n; i += 8) {
      if ((load<u64>(p + <usize>i) & 0x8080808080808080) != 0) return false;
    }
    for (; i < n; i++) {
      if (load<u8>(p + <usize>i) >= 0x80) return false;
    }
    this.spanStart = at;
    this.spanLength = n;
    this.pos = at + n;
    return true;
  }

  /**
   * readAsciiSpan() for any one-chunk string whose bytes are valid UTF-8 (not CESU-8
   * surrogate halves, which Java writes for characters beyond U+FFFF): spanStart and
   * spanLength are its bytes. Otherwise false, and nothing is consumed.
   */
  readUtf8Span(): bool {
    if (this.readAsciiSpan()) return true;
    if (!this.ok) return false;
    const start = this.pos;
    const t = this.peekTag();
    if (t < 0 || t == 0x52) return false; // a chunked string
    const units = this.stringChunk();
    if (units < 0) {
      this.pos = start;
      return false;
    }
    const at = this.pos;
    // Walks the characters; a cut or broken string is left to the other readers to report.
    if (this.decodeChars(units, 0, false) < 0 || !isValidUtf8(this.base + <usize>at, this.pos - at)) {
      this.pos = start;
      this.truncated = false;
      this.bad = false;
      return false;
    }
    this.spanStart = at;
    this.spanLength = this.pos - at;
    return true;
  }

  /** True when the next value is a string equal to `ascii`; consumes it either way when it is a string. */
  readStringEquals(ascii: string): bool {
    const len = this.stringBody(true);
    if (len != ascii.length) return false;
    return memory.compare(changetype<usize>(this.chars), changetype<usize>(ascii), <usize>len << 1) == 0;
  }

  /** Re-reads a string at a remembered position without moving the cursor. */
  private stringAt(at: i32): string {
    const savedPos = this.pos;
    const savedTruncated = this.truncated;
    const savedBad = this.bad;
    this.pos = at;
    const s = this.readString();
    this.pos = savedPos;
    this.truncated = savedTruncated;
    this.bad = savedBad;
    return s !== null ? s : "";
  }

  // ---- binary ----

  /** Total length of the (chunked) binary value; skips it. -1 when not binary or broken. */
  private binaryBody(copyTo: Uint8Array | null): i32 {
    let total = 0;
    for (;;) {
      const t = <u32>this.peekTag();
      let len: i32 = -1;
      let last = true;
      if (t >= 0x20 && t <= 0x2f) {
        this.pos++;
        len = <i32>t - 0x20;
      } else if (t >= 0x34 && t <= 0x37) {
        this.pos++;
        len = ((<i32>t - 0x34) << 8) | <i32>this.u8();
      } else if (t == 0x41 || t == 0x42) {
        this.pos++;
        last = t == 0x42;
        len = <i32>this.u16();
      }
      if (len < 0) {
        this.unexpected();
        return -1;
      }
      if (!this.need(len)) return -1;
      if (copyTo !== null && total + len <= copyTo.length) {
        memory.copy(copyTo.dataStart + <usize>total, this.base + <usize>this.pos, <usize>len);
      }
      this.pos += len;
      total += len;
      if (last) return total;
      if (this.peekKind() != HK_BINARY) {
        this.unexpected();
        return -1;
      }
    }
    return -1;
  }

  /** The next value as bytes (a copy); null when it is not binary or is cut off. */
  readBinary(): Uint8Array | null {
    const start = this.pos;
    const len = this.binaryBody(null);
    if (len < 0) return null;
    const out = new Uint8Array(len);
    this.pos = start;
    this.binaryBody(out);
    return out;
  }

  // ---- types, classes ----

  /** type ::= string | int (a reference to an earlier type string). */
  private readType(): void {
    const kind = this.peekKind();
    if (kind == HK_STRING) {
      const at = this.pos;
      const s = this.readString();
      if (s === null) return;
      if (this.typeCount >= MAX_TYPES) {
        this.fail();
        return;
      }
      unchecked(this.typeAt[this.typeCount++] = at);
      this.lastType = s;
    } else if (kind == HK_INT) {
      const ref = this.readLong();
      if (ref < 0 || ref >= <i64>this.typeCount) {
        this.fail();
        return;
      }
      this.lastType = this.stringAt(unchecked(this.typeAt[<i32>ref]));
    } else {
      this.unexpected();
    }
  }

  /** Same as readType, without building the name. */
  private skipType(): void {
    const kind = this.peekKind();
    if (kind == HK_STRING) {
      const at = this.pos;
      if (this.stringBody(false) < 0) return;
      if (this.typeCount >= MAX_TYPES) {
        this.fail();
        return;
      }
      unchecked(this.typeAt[this.typeCount++] = at);
    } else if (kind == HK_INT) {
      const ref = this.readLong();
      if (ref < 0 || ref >= <i64>this.typeCount) this.fail();
    } else {
      this.unexpected();
    }
  }

  /** 'C' name fieldCount fieldName*: remembered for the objects that follow. */
  private readClassDef(): void {
    this.pos++; // 'C'
    const nameAt = this.pos;
    if (this.stringBody(false) < 0) return;
    const count = this.readLong();
    if (!this.ok) return;
    if (count < 0 || count > <i64>(MAX_CLASS_FIELDS - this.fieldCount) || this.classCount >= MAX_CLASSES) {
      this.fail();
      return;
    }
    const n = <i32>count;
    const start = this.fieldCount;
    for (let i = 0; i < n; i++) {
      const at = this.pos;
      if (this.stringBody(false) < 0) return;
      unchecked(this.fieldNameAt[start + i] = at);
    }
    this.fieldCount = start + n;
    const c = this.classCount++;
    unchecked(this.classNameAt[c] = nameAt);
    unchecked(this.classFieldCount[c] = n);
    unchecked(this.classFieldStart[c] = start);
  }

  /** Consumes any class definitions before the next value; false on error. */
  skipClassDefs(): bool {
    while (this.ok && this.pos < this.end && this.byteAt(this.pos) == 0x43) this.readClassDef();
    return this.ok;
  }

  get classes(): i32 {
    return this.classCount;
  }

  className(cls: i32): string {
    if (cls < 0 || cls >= this.classCount) return "";
    return this.stringAt(unchecked(this.classNameAt[cls]));
  }

  classFields(cls: i32): i32 {
    if (cls < 0 || cls >= this.classCount) return 0;
    return unchecked(this.classFieldCount[cls]);
  }

  classFieldName(cls: i32, field: i32): string {
    if (cls < 0 || cls >= this.classCount || field < 0 || field >= unchecked(this.classFieldCount[cls])) return "";
    return this.stringAt(unchecked(this.fieldNameAt[unchecked(this.classFieldStart[cls]) + field]));
  }

  /** True when field `field` of class `cls` is named `ascii` (no allocation). */
  classFieldIs(cls: i32, field: i32, ascii: string): bool {
    if (cls < 0 || cls >= this.classCount || field < 0 || field >= unchecked(this.classFieldCount[cls])) return false;
    const savedPos = this.pos;
    this.pos = unchecked(this.fieldNameAt[unchecked(this.classFieldStart[cls]) + field]);
    const same = this.readStringEquals(ascii);
    this.pos = savedPos;
    return same;
  }

  // ---- containers ----

  /**
   * Reads a list header: the element count, LIST_VARIABLE (elements until 'Z'), or
   * LIST_NONE when the next value is not a list. Typed lists set lastType.
   */
  beginList(): i32 {
    if (!this.skipClassDefs()) return LIST_NONE;
    this.lastType = "";
    const t = <u32>this.peekTag();
    if (this.peekKind() != HK_LIST) {
      this.unexpected();
      return LIST_NONE;
    }
    this.pos++;
    let count: i64 = LIST_VARIABLE;
    if (t == 0x55) this.readType();
    else if (t == 0x56) {
      this.readType();
      count = this.readLong();
    } else if (t == 0x58) count = this.readLong();
    else if (t >= 0x70 && t <= 0x77) {
      this.readType();
      count = <i64>(t - 0x70);
    } else if (t >= 0x78) count = <i64>(t - 0x78);
    if (!this.ok) return LIST_NONE;
    if (count < LIST_VARIABLE || count > <i64>i32.MAX_VALUE) {
      this.fail();
      return LIST_NONE;
    }
    return <i32>count;
  }

  /** Reads a map header ('H', or 'M' with its type); false when the next value is not a map. */
  beginMap(): bool {
    if (!this.skipClassDefs()) return false;
    this.lastType = "";
    if (this.take(0x48)) return true;
    if (this.take(0x4d)) {
      this.readType();
      return this.ok;
    }
    this.unexpected();
    return false;
  }

  /**
   * Inside a variable list or a map: consumes the closing 'Z' and returns true at the
   * end; also true (stop) when the input is cut or broken.
   */
  endOfContainer(): bool {
    if (!this.ok) return true;
    if (this.pos >= this.end) {
      this.truncated = true;
      return true;
    }
    if (this.byteAt(this.pos) == 0x5a) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** Reads an object header ('O' n or 0x60+n): the class index, -1 when not an object. */
  beginObject(): i32 {
    if (!this.skipClassDefs()) return -1;
    const t = <u32>this.peekTag();
    let cls: i64 = -1;
    if (t >= 0x60 && t <= 0x6f) {
      this.pos++;
      cls = <i64>(t - 0x60);
    } else if (t == 0x4f) {
      this.pos++;
      cls = this.readLong();
    } else {
      this.unexpected();
      return -1;
    }
    if (!this.ok) return -1;
    if (cls < 0 || cls >= <i64>this.classCount) {
      this.fail();
      return -1;
    }
    return <i32>cls;
  }

  // ---- skipping ----

  /** Skips one value of any kind (with the class definitions before it). False on error. */
  skipValue(): bool {
    this.skipAt(0);
    return this.ok;
  }

  private skipAt(depth: i32): void {
    if (!this.skipClassDefs()) return;
    if (this.pos >= this.end) {
      this.truncated = true;
      return;
    }
    const t = this.byteAt(this.pos);
    switch (hessianKind(t)) {
      case HK_NULL:
      case HK_BOOL:
        this.pos++;
        return;
      case HK_INT:
      case HK_LONG:
        this.readLong();
        return;
      case HK_DOUBLE:
        this.readDouble();
        return;
      case HK_DATE:
        this.pos++;
        this.skipBytes(t == 0x4a ? 8 : 4);
        return;
      case HK_STRING:
        this.stringBody(false);
        return;
      case HK_BINARY:
        this.binaryBody(null);
        return;
      case HK_REF:
        this.pos++;
        this.readLong();
        return;
      default:
        break;
    }
    if (depth >= this.maxDepth) {
      this.fail();
      return;
    }
    const kind = hessianKind(t);
    if (kind == HK_LIST) {
      const n = this.beginListSkippingType();
      if (n == LIST_VARIABLE) {
        while (!this.endOfContainer()) this.skipAt(depth + 1);
      } else {
        for (let i = 0; i < n && this.ok; i++) this.skipAt(depth + 1);
      }
    } else if (kind == HK_MAP) {
      this.pos++;
      if (t == 0x4d) this.skipType();
      while (!this.endOfContainer()) {
        this.skipAt(depth + 1);
        this.skipAt(depth + 1);
      }
    } else if (kind == HK_OBJECT) {
      const cls = this.beginObject();
      if (cls < 0) return;
      const n = unchecked(this.classFieldCount[cls]);
      for (let i = 0; i < n && this.ok; i++) this.skipAt(depth + 1);
    } else {
      // 'Z' where a value belongs, or a tag Hessian2 does not define.
      this.fail();
    }
  }

  /** beginList for skipping: type names are only walked. */
  private beginListSkippingType(): i32 {
    const t = this.byteAt(this.pos);
    this.pos++;
    let count: i64 = LIST_VARIABLE;
    if (t == 0x55) this.skipType();
    else if (t == 0x56) {
      this.skipType();
      count = this.readLong();
    } else if (t == 0x57) count = LIST_VARIABLE;
    else if (t == 0x58) count = this.readLong();
    else if (t <= 0x77) {
      this.skipType();
      count = <i64>(t - 0x70);
    } else count = <i64>(t - 0x78);
    if (!this.ok) return 0;
    if (count < LIST_VARIABLE || count > <i64>i32.MAX_VALUE) {
      this.fail();
      return 0;
    }
    return <i32>count;
  }

  /**
   * The next value as text when it is a scalar (string, int, long, bool, double,
   * date as epoch millis); other values are skipped and give null, as does null.
   */
  readScalarText(): string | null {
    if (!this.skipClassDefs()) return null;
    if (this.peekKind() == HK_DOUBLE) return this.readDouble().toString();
    return this.readIdText();
  }

  /**
   * As readScalarText, but a double is skipped and gives null: what an id can be. A module
   * that reads no doubles as text carries no float formatting (about 3 KB).
   */
  readIdText(): string | null {
    if (!this.skipClassDefs()) return null;
    switch (this.peekKind()) {
      case HK_STRING:
        return this.readString();
      case HK_INT:
      case HK_LONG:
        return this.readLong().toString();
      case HK_BOOL:
        return this.readBool() ? "true" : "false";
      case HK_DATE:
        return this.readDate().toString();
      case HK_NULL:
        this.pos++;
        return null;
      default:
        this.skipValue();
        return null;
    }
  }
}
