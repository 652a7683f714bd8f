// The agent's HPACK decoder: DeepFlow's fork of hpack-rs (github.com/deepflowio/hpack-rs,
// src/decoder.rs and src/lib.rs), one per direction of a flow, kept for the flow's life
// (HttpLog::set_header_decoder / reset in agent/src/flow_generator/protocol_logs/http.rs).
// The bit-level decoding (integers, strings, Huffman) and the static table are hpack.js's, the
// same library the converter's HTTP/2 decoder uses (../../converter/http2.ts); what the fork
// does differently is here:
// - the dynamic table keeps the name and value only of "expected" headers
//   (get_expected_headers in agent/plugins/http2 plus the configured trace, span, x-request-id,
//   real-client and HTTP2 custom-field names; the name lowercased for the test): any other
//   header becomes an empty entry that counts 32 octets, not name + value + 32 — so eviction
//   follows the fork's sizes, not the peer's;
// - an index past the end of the dynamic table (a capture that began mid-connection, or an
//   evicted entry) reads as an empty entry, and a field whose name is empty is skipped, not an
//   error; index 0 is an error (HeaderIndexOutOfBounds);
// - any error stops the block: the fields before it were handed over, the table keeps what they
//   added, and the caller drops the record.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
/* eslint-disable @typescript-eslint/no-explicit-any */
const hpack: any = require("hpack.js");
/* eslint-enable @typescript-eslint/no-explicit-any */

const STATIC: ReadonlyArray<{ name: Uint8Array; value: Uint8Array }> = (hpack["static-table"].table as Array<{ name: string; value: string }>).map((e) => ({
  name: Buffer.from(e.name, "latin1"),
  value: Buffer.from(e.value, "latin1"),
}));
const EMPTY = new Uint8Array(0);
const DEFAULT_MAX_SIZE = 4096;

/** get_expected_headers (agent/plugins/http2/src/lib.rs). */
export const BASE_EXPECTED_HEADERS: readonly string[] = [
  ":method", ":status", "host", ":authority", ":path", "content-type", "content-length", "user-agent", "referer", "grpc-status",
];

/** Bytes as a string of the same code units, for comparing names byte for byte. */
export function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
}

function lowerBytes(b: Uint8Array): string {
  return latin1(b).replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** What is used of hpack.js's Decoder. */
interface HpackJsDecoder {
  decodeInt(): number;
  decodeStr(): Buffer | number[];
}

interface Entry {
  name: Uint8Array;
  value: Uint8Array;
}

export class HpackDecoder {
  /** Newest first (VecDeque::push_front). */
  private readonly table: Entry[] = [];
  private size = 0;
  private maxSize = DEFAULT_MAX_SIZE;

  /** `expected`: the header names as latin1 strings of their UTF-8 bytes. */
  constructor(private readonly expected: ReadonlySet<string>) {}

  /** decode_with_cb: throws on the first error (the callback has seen the fields before it). */
  decode(block: Uint8Array, cb: (name: Uint8Array, value: Uint8Array) => void): void {
    const d = hpack.decoder.create() as HpackJsDecoder & { push(b: Buffer): void; isEmpty(): boolean; decodeBit(): number; buffer: { peekUInt8(): number } };
    d.push(Buffer.from(block.buffer, block.byteOffset, block.byteLength));
    while (!d.isEmpty()) {
      const octet: number = d.buffer.peekUInt8();
      if (octet & 0x80) {
        d.decodeBit();
        const e = this.get(d.decodeInt());
        if (e.name.length > 0) cb(e.name, e.value);
      } else if (octet & 0x40) {
        d.decodeBit();
        d.decodeBit();
        const { name, value } = this.literal(d);
        if (name.length > 0) cb(name, value);
        this.add(name, value);
      } else if (octet & 0x20) {
        d.decodeBit();
        d.decodeBit();
        d.decodeBit();
        this.maxSize = d.decodeInt();
        this.consolidate();
      } else {
        // Literal never indexed (0001) or without indexing (0000): a 4-bit prefix.
        for (let i = 0; i < 4; i++) d.decodeBit();
        const { name, value } = this.literal(d);
        if (name.length > 0) cb(name, value);
      }
    }
  }

  private literal(d: HpackJsDecoder): Entry {
    const index: number = d.decodeInt();
    const name = index === 0 ? toBytes(d.decodeStr()) : this.get(index).name;
    return { name, value: toBytes(d.decodeStr()) };
  }

  /** HeaderTable::get_from_table (1-based; static, then dynamic). */
  private get(index: number): Entry {
    if (index <= 0) throw new Error("HeaderIndexOutOfBounds");
    if (index <= STATIC.length) return STATIC[index - 1]!;
    return this.table[index - STATIC.length - 1] ?? { name: EMPTY, value: EMPTY };
  }

  /** DynamicTable::add_header. */
  private add(name: Uint8Array, value: Uint8Array): void {
    if (this.expected.has(lowerBytes(name))) {
      this.size += name.length + value.length + 32;
      this.table.unshift({ name, value });
    } else {
      this.size += 32;
      this.table.unshift({ name: EMPTY, value: EMPTY });
    }
    this.consolidate();
  }

  private consolidate(): void {
    while (this.size > this.maxSize) {
      const last = this.table.pop()!;
      this.size -= last.name.length + last.value.length + 32;
    }
  }
}

function toBytes(s: Buffer | number[]): Uint8Array {
  return Array.isArray(s) ? Uint8Array.from(s) : new Uint8Array(s);
}
