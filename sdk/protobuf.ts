// A small protobuf wire reader/writer. The reader reproduces what prost (the agent's
// protobuf library) accepts and rejects, so that a record the agent would refuse is
// refused here too: 10-byte varint limit, key/wire-type/tag checks, wire-type checks on
// known fields, group skipping with a recursion limit, strict UTF-8 for strings.

import { ByteWriter, decodeUtf8Strict, encodeUtf8 } from "./wire.ts";

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_SGROUP = 3;
export const WIRE_EGROUP = 4;
export const WIRE_I32 = 5;

/** prost's RECURSION_LIMIT. */
const RECURSION_LIMIT = 100;

export class PbDecodeError extends Error {}

export class PbReader {
  pos: number;
  readonly end: number;
  /** Low and high 32 bits of the last varint read (unsigned). */
  lo = 0;
  hi = 0;
  /** Field number and wire type of the last key read. */
  field = 0;
  wireType = 0;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
    readonly depth = RECURSION_LIMIT,
  ) {
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** decode_varint: at most 10 bytes, the 10th must be 0 or 1. Result in lo/hi. */
  varint(): void {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new PbDecodeError("invalid varint");
      const b = this.buf[this.pos++];
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= bits << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if (b < 0x80) {
        if (i === 9 && b >= 0x02) throw new PbDecodeError("invalid varint");
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
    }
    throw new PbDecodeError("invalid varint");
  }

  /** decode_key. Returns false at the end of the message. */
  key(): boolean {
    if (this.pos >= this.end) return false;
    this.varint();
    if (this.hi !== 0) throw new PbDecodeError(`invalid key value`);
    const wt = this.lo & 7;
    if (wt > 5) throw new PbDecodeError(`invalid wire type value: ${wt}`);
    const field = this.lo >>> 3;
    if (field < 1) throw new PbDecodeError("invalid tag value: 0");
    this.field = field;
    this.wireType = wt;
    return true;
  }

  expect(wireType: number): void {
    if (this.wireType !== wireType) {
      throw new PbDecodeError(`invalid wire type: ${this.wireType} (expected ${wireType}) for field ${this.field}`);
    }
  }

  uint32(): number {
    this.expect(WIRE_VARINT);
    this.varint();
    return this.lo;
  }

  int32(): number {
    this.expect(WIRE_VARINT);
    this.varint();
    return this.lo | 0;
  }

  bool(): boolean {
    this.expect(WIRE_VARINT);
    this.varint();
    return this.lo !== 0 || this.hi !== 0;
  }

  /** A length-delimited field: returns its start; it ends at the new `pos`. */
  lengthDelimited(): number {
    this.expect(WIRE_LEN);
    this.varint();
    const remaining = this.end - this.pos;
    if (this.hi !== 0 || this.lo > remaining) throw new PbDecodeError("buffer underflow");
    const start = this.pos;
    this.pos += this.lo;
    return start;
  }

  bytes(): Uint8Array {
    const start = this.lengthDelimited();
    return this.buf.subarray(start, this.pos);
  }

  string(): string {
    const start = this.lengthDelimited();
    const s = decodeUtf8Strict(this.buf, start, this.pos); // no view made for a string found in the cache
    if (s === null) throw new PbDecodeError(`invalid string value: data is not UTF-8 encoded (field ${this.field})`);
    return s;
  }

  /** A reader over an embedded message (message::merge: checks the recursion limit). */
  message(): PbReader {
    if (this.depth <= 0) throw new PbDecodeError("recursion limit reached");
    const start = this.lengthDelimited();
    return new PbReader(this.buf, start, this.pos, this.depth - 1);
  }

  /** skip_field for the field whose key was just read. */
  skip(): void {
    this.skipField(this.wireType, this.field, this.depth);
  }

  private skipField(wireType: number, field: number, depth: number): void {
    if (depth <= 0) throw new PbDecodeError("recursion limit reached");
    let len = 0;
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        break;
      case WIRE_I32:
        len = 4;
        break;
      case WIRE_I64:
        len = 8;
        break;
      case WIRE_LEN:
        this.varint();
        if (this.hi !== 0) throw new PbDecodeError("buffer underflow");
        len = this.lo;
        break;
      case WIRE_SGROUP:
        for (;;) {
          if (!this.key()) throw new PbDecodeError("invalid varint");
          if (this.wireType === WIRE_EGROUP) {
            if (this.field !== field) throw new PbDecodeError("unexpected end group tag");
            break;
          }
          this.skipField(this.wireType, this.field, depth - 1);
        }
        break;
      default:
        throw new PbDecodeError("unexpected end group tag");
    }
    if (len > this.end - this.pos) throw new PbDecodeError("buffer underflow");
    this.pos += len;
  }
}

/** A protobuf writer (fields are written in the order the caller writes them). */
export class PbWriter {
  private readonly out = new ByteWriter(128);

  private varint32(v: number): void {
    let x = v >>> 0;
    while (x >= 0x80) {
      this.out.u8((x & 0x7f) | 0x80);
      x >>>= 7;
    }
    this.out.u8(x);
  }

  private tag(field: number, wireType: number): void {
    this.varint32(((field << 3) | wireType) >>> 0);
  }

  uint32(field: number, v: number): this {
    this.tag(field, WIRE_VARINT);
    this.varint32(v);
    return this;
  }

  /** int32: negative values are sign-extended to a 10-byte varint. */
  int32(field: number, v: number): this {
    if (v >= 0) return this.uint32(field, v);
    this.tag(field, WIRE_VARINT);
    let x = BigInt.asUintN(64, BigInt(v | 0));
    while (x >= 0x80n) {
      this.out.u8(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.out.u8(Number(x));
    return this;
  }

  bool(field: number, v: boolean): this {
    return this.uint32(field, v ? 1 : 0);
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint32(b.length);
    this.out.bytes(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, encodeUtf8(s));
  }

  /** An embedded message, given its encoded bytes. */
  message(field: number, encoded: Uint8Array): this {
    return this.bytes(field, encoded);
  }

  finish(): Uint8Array {
    return this.out.finish();
  }
}
