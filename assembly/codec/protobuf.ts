// Protobuf wire-format reading over untrusted bytes: fields one at a time, with
// unknown fields skipped. Errors (bad wire type, short data) end the walk and set
// `bad`; nothing traps.
import { ByteReader } from "./reader";
import { decodeUtf8Lossy } from "./utf8";
import { WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT } from "./writer";

export class PbReader {
  field: u32 = 0;
  wire: u32 = 0;
  bad: bool = false;
  r: ByteReader;

  constructor(data: Uint8Array, start: i32 = 0, end: i32 = -1) {
    this.r = new ByteReader(data, start, end);
  }

  static over(r: ByteReader): PbReader {
    return new PbReader(r.data, r.pos, r.end);
  }

  /** Moves to the next field; false at the end or on malformed input. */
  next(): bool {
    if (this.bad || this.r.remaining <= 0) return false;
    const key = this.r.uvarint64();
    const field = <u32>(key >> 3);
    const wire = <u32>(key & 7);
    if (this.r.short || field == 0 || key >> 32 != 0 || (wire != WIRE_VARINT && wire != WIRE_I64 && wire != WIRE_LEN && wire != WIRE_I32)) {
      this.bad = true;
      return false;
    }
    this.field = field;
    this.wire = wire;
    return true;
  }

  private check(): void {
    if (this.r.short) this.bad = true;
  }

  varint(): u64 {
    if (this.wire != WIRE_VARINT) {
      this.skip();
      return 0;
    }
    const v = this.r.uvarint64();
    this.check();
    return v;
  }

  int32(): i32 {
    return <i32>this.varint();
  }

  int64(): i64 {
    return <i64>this.varint();
  }

  sint32(): i32 {
    const v = <u32>this.varint();
    return <i32>(v >>> 1) ^ -(<i32>(v & 1));
  }

  sint64(): i64 {
    const v = this.varint();
    return <i64>(v >>> 1) ^ -(<i64>(v & 1));
  }

  bool(): bool {
    return this.varint() != 0;
  }

  /** fixed64 / sfixed64 (little-endian on the wire). */
  fixed64(): u64 {
    if (this.wire != WIRE_I64) {
      this.skip();
      return 0;
    }
    const lo = <u64>this.r.u32le();
    const hi = <u64>this.r.u32le();
    this.check();
    return (hi << 32) | lo;
  }

  fixed32(): u32 {
    if (this.wire != WIRE_I32) {
      this.skip();
      return 0;
    }
    const v = this.r.u32le();
    this.check();
    return v;
  }

  double(): f64 {
    return reinterpret<f64>(this.fixed64());
  }

  /** Start and end offsets of a length-delimited field, moving past it; [-1,-1] when bad. */
  private span(): StaticArray<i32> {
    const out = new StaticArray<i32>(2);
    out[0] = -1;
    out[1] = -1;
    if (this.wire != WIRE_LEN) {
      this.skip();
      return out;
    }
    const n = this.r.uvarint32();
    const start = this.r.pos;
    if (this.r.short || n > 0x7fffffff || !this.r.skip(<i32>n)) {
      this.bad = true;
      return out;
    }
    out[0] = start;
    out[1] = start + <i32>n;
    return out;
  }

  /** A string field; invalid UTF-8 becomes U+FFFD (as Rust's from_utf8_lossy). */
  string(): string {
    const s = this.span();
    if (s[0] < 0) return "";
    return decodeUtf8Lossy(this.r.data.dataStart + <usize>s[0], s[1] - s[0]);
  }

  bytes(): Uint8Array {
    const s = this.span();
    if (s[0] < 0) return new Uint8Array(0);
    return this.r.data.subarray(s[0], s[1]);
  }

  /** A reader over a nested message (empty and `bad` set when malformed). */
  message(): PbReader {
    const s = this.span();
    if (s[0] < 0) return new PbReader(this.r.data, 0, 0);
    return new PbReader(this.r.data, s[0], s[1]);
  }

  skip(): void {
    switch (this.wire) {
      case WIRE_VARINT:
        this.r.uvarint64();
        break;
      case WIRE_I64:
        this.r.skip(8);
        break;
      case WIRE_I32:
        this.r.skip(4);
        break;
      case WIRE_LEN: {
        const n = this.r.uvarint32();
        if (n > 0x7fffffff) this.bad = true;
        else this.r.skip(<i32>n);
        break;
      }
      default:
        this.bad = true;
    }
    this.check();
  }
}
