// The Wasm binary format's reading primitives, shared by the link check and the meter.

import type { ValType } from "./abi.ts";
import { decodeUtf8Lossy } from "./wire.ts";

/** Reads one section of a Wasm binary: bytes, LEB128 numbers, names, value types, limits. */
export class SectionReader {
  pos = 0;
  constructor(
    private readonly b: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  byte(): number {
    if (this.pos >= this.end) throw new Error("truncated section");
    return this.b[this.pos++];
  }

  /** Unsigned LEB128 (up to 64 bits; only the low 53 are kept, enough for counts and indices). */
  uleb(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * mul;
      if (byte < 0x80) return result;
      mul *= 128;
    }
  }

  name(): string {
    const len = this.uleb();
    if (this.pos + len > this.end) throw new Error("truncated name");
    const s = decodeUtf8Lossy(this.b.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }

  valType(): ValType {
    const t = this.byte();
    switch (t) {
      case 0x7f: return "i32";
      case 0x7e: return "i64";
      case 0x7d: return "f32";
      case 0x7c: return "f64";
      case 0x7b: return "v128";
      case 0x70: return "funcref";
      case 0x6f: return "externref";
      case 0x63:
      case 0x64:
        this.uleb(); // heap type (s33; non-negative indices and the short negative forms fit)
        return "ref";
      default:
        throw new Error(`unknown value type 0x${t.toString(16)}`);
    }
  }

  limits(): void {
    const flags = this.byte();
    this.uleb();
    if (flags & 1) this.uleb();
  }
}
