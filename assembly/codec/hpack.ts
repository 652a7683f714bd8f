// HPACK (RFC 7541) header-block decoding for one direction of one HTTP/2 connection.
//
// A plugin sees a connection from wherever the capture (or the agent) started, so the
// dynamic table may hold entries it never saw. Entries are indexed newest-first and
// the table this decoder keeps is always a prefix of the encoder's: it inserts what it
// sees in the same order and never evicts more than the encoder (it evicts by its own,
// possibly smaller, size bound, and may under-estimate an entry's size when its name
// came from an unknown entry). So an index within the known prefix is exact, and an
// index beyond it is reported as unknown — never decoded into a wrong value. When a
// block cannot be read to its end, the insertions it made are lost and every older
// entry's index shifts: the decoder then forgets its table (`invalidate`) and re-syncs
// as new entries arrive.
import { HUFFMAN_CODE_LENGTHS } from "./hpack-huffman";

export const HPACK_OK: i32 = 0;
/** The block ended inside a field (cut payload, missing CONTINUATION). */
export const HPACK_TRUNCATED: i32 = 1;
/** Not valid HPACK. */
export const HPACK_MALFORMED: i32 = 2;

/** SETTINGS_HEADER_TABLE_SIZE until the peer says otherwise (RFC 7540 §6.5.2). */
export const HPACK_DEFAULT_TABLE_SIZE: i32 = 4096;
/** Per-entry overhead in the table-size accounting (RFC 7541 §4.1). */
const ENTRY_OVERHEAD: i32 = 32;
/** Longest string literal accepted (bytes on the wire); longer is malformed here. */
const MAX_STRING: i32 = 1 << 16;

// ---- Huffman: canonical code tables built from the code lengths ----

const HUFF_MAX_LEN: i32 = 30;
const huffFirst = new StaticArray<i32>(HUFF_MAX_LEN + 1);
const huffCount = new StaticArray<i32>(HUFF_MAX_LEN + 1);
const huffOffset = new StaticArray<i32>(HUFF_MAX_LEN + 1);
const huffSymbols = new StaticArray<u16>(257);
const HUFF_EOS: u16 = 256;

function buildHuffman(): void {
  for (let s = 0; s < 257; s++) {
    const len = <i32>unchecked(HUFFMAN_CODE_LENGTHS[s]);
    unchecked((huffCount[len] = huffCount[len] + 1));
  }
  let pos = 0;
  let code = 0;
  for (let len = 1; len <= HUFF_MAX_LEN; len++) {
    unchecked((huffOffset[len] = pos));
    unchecked((huffFirst[len] = code));
    for (let s = 0; s < 257; s++) {
      if (<i32>unchecked(HUFFMAN_CODE_LENGTHS[s]) == len) unchecked((huffSymbols[pos++] = <u16>s));
    }
    code = (code + unchecked(huffCount[len])) << 1;
  }
}
buildHuffman();

/** Canonical Huffman code of a symbol (for tests): length in the high 8 bits of the u64, code below. */
export function huffmanCode(symbol: i32): u64 {
  if (symbol < 0 || symbol > 256) return 0;
  const len = <i32>unchecked(HUFFMAN_CODE_LENGTHS[symbol]);
  const base = unchecked(huffOffset[len]);
  let idx = 0;
  while (idx < unchecked(huffCount[len]) && <i32>unchecked(huffSymbols[base + idx]) != symbol) idx++;
  return ((<u64>len) << 56) | <u64>(<u32>(unchecked(huffFirst[len]) + idx));
}

let huffOut = new Uint8Array(256);

/** Decodes `n` Huffman-coded bytes at `ptr` into huffOut; the decoded length, or -1 when invalid. */
function huffmanDecode(ptr: usize, n: i32): i32 {
  // Shortest code is 5 bits: at most 8n/5 symbols.
  const need = (n * 8) / 5 + 1;
  if (huffOut.length < need) huffOut = new Uint8Array(need);
  const out = huffOut.dataStart;
  let outLen = 0;
  let code = 0;
  let len = 0;
  for (let i = 0; i < n; i++) {
    const b = <i32>load<u8>(ptr + <usize>i);
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((b >> bit) & 1);
      len++;
      if (len > HUFF_MAX_LEN) return -1;
      const idx = code - unchecked(huffFirst[len]);
      if (idx >= 0 && idx < unchecked(huffCount[len])) {
        const sym = unchecked(huffSymbols[unchecked(huffOffset[len]) + idx]);
        if (sym == HUFF_EOS) return -1;
        store<u8>(out + <usize>outLen, <u8>sym);
        outLen++;
        code = 0;
        len = 0;
      }
    }
  }
  // Padding: fewer than 8 bits, all ones (the EOS prefix).
  if (len > 7 || code != (1 << len) - 1) return -1;
  return outLen;
}

// ---- static table (RFC 7541 Appendix A) ----

const STATIC_NAMES: StaticArray<string> = [
  ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status", ":status", ":status",
  ":status", ":status", ":status", ":status", "accept-charset", "accept-encoding", "accept-language", "accept-ranges", "accept", "access-control-allow-origin",
  "age", "allow", "authorization", "cache-control", "content-disposition", "content-encoding", "content-language", "content-length", "content-location", "content-range",
  "content-type", "cookie", "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
  "if-none-match", "if-range", "if-unmodified-since", "last-modified", "link", "location", "max-forwards", "proxy-authenticate", "proxy-authorization", "range",
  "referer", "refresh", "retry-after", "server", "set-cookie", "strict-transport-security", "transfer-encoding", "user-agent", "vary", "via",
  "www-authenticate",
];
const STATIC_VALUES: StaticArray<string> = [
  "", "GET", "POST", "/", "/index.html", "http", "https", "200", "204", "206",
  "304", "400", "404", "500", "", "gzip, deflate", "", "", "", "",
  "", "", "", "", "", "", "", "", "", "",
  "", "", "", "", "", "", "", "", "", "",
  "", "", "", "", "", "", "", "", "", "",
  "", "", "", "", "", "", "", "", "", "",
  "",
];
export const HPACK_STATIC_COUNT: i32 = 61;

/** Decoded header fields of one block. Fields that refer to unknown entries are counted, not listed. */
export class HeaderBlock {
  names: string[] = [];
  values: string[] = [];
  /** Fields whose name or value is in a dynamic-table entry this decoder never saw. */
  unknown: i32 = 0;
  status: i32 = HPACK_OK;

  reset(): void {
    this.names.length = 0;
    this.values.length = 0;
    this.unknown = 0;
    this.status = HPACK_OK;
  }

  get count(): i32 {
    return this.names.length;
  }

  /** The first value of a header (names are lower-case in HTTP/2); null when absent. */
  get(name: string): string | null {
    for (let i = 0; i < this.names.length; i++) {
      if (unchecked(this.names[i]) == name) return unchecked(this.values[i]);
    }
    return null;
  }

  /** True when every field was resolved and the block was read to its end. */
  get complete(): bool {
    return this.unknown == 0 && this.status == HPACK_OK;
  }
}

export class HpackDecoder {
  // Ring of entries, newest at `head`; null name/value = never seen.
  private names: StaticArray<string | null> | null = null;
  private values: StaticArray<string | null> | null = null;
  private sizes: StaticArray<i32> | null = null;
  private head: i32 = 0;
  private slots: i32 = 0;
  /** Entries held (known or placeholders). */
  count: i32 = 0;
  /** Table size by RFC 7541 accounting (lower bound for placeholders). */
  bytes: i32 = 0;
  /** Current maximum size (last size update, bounded by `limit`). */
  capacity: i32;
  /** Blocks that could not be read to their end since the start (each forgot the table). */
  invalidations: i32 = 0;

  // Cursor over the block being decoded.
  private ptr: usize = 0;
  private pos: i32 = 0;
  private end: i32 = 0;
  private octets: i32 = 0;

  /** @param limit the most table bytes kept (bounds memory; larger tables lose their oldest entries here first). */
  constructor(public limit: i32 = HPACK_DEFAULT_TABLE_SIZE) {
    if (this.limit < 0) this.limit = 0;
    this.capacity = this.limit < HPACK_DEFAULT_TABLE_SIZE ? this.limit : HPACK_DEFAULT_TABLE_SIZE;
  }

  /** Approximate heap bytes held (for per-flow memory budgets). */
  get footprint(): i32 {
    return 64 + this.slots * 12 + this.bytes * 2;
  }

  /** Forgets every entry: their indices are no longer known. */
  invalidate(): void {
    if (this.count > 0) {
      const names = this.names!;
      const values = this.values!;
      for (let i = 0; i < this.slots; i++) {
        unchecked((names[i] = null));
        unchecked((values[i] = null));
      }
    }
    this.count = 0;
    this.bytes = 0;
    this.invalidations++;
  }

  /**
   * Decodes one complete header block (HEADERS + CONTINUATION fragments, padding and
   * priority removed) into `out`. Returns out.status; on anything but HPACK_OK the
   * table is invalidated (the fields decoded before the problem stay in `out`).
   */
  decode(data: Uint8Array, start: i32, end: i32, out: HeaderBlock): i32 {
    out.reset();
    if (start < 0) start = 0;
    if (end > data.length) end = data.length;
    this.ptr = data.dataStart;
    this.pos = start;
    this.end = end;
    let status = HPACK_OK;
    while (this.pos < this.end) {
      status = this.field(out);
      if (status != HPACK_OK) break;
    }
    out.status = status;
    if (status != HPACK_OK) this.invalidate();
    return status;
  }

  private field(out: HeaderBlock): i32 {
    const b = <i32>load<u8>(this.ptr + <usize>this.pos);
    if (b & 0x80) {
      // Indexed field.
      const index = this.integer(7);
      if (index < 0) return -index;
      if (index == 0) return HPACK_MALFORMED;
      if (index <= HPACK_STATIC_COUNT) {
        out.names.push(unchecked(STATIC_NAMES[index - 1]));
        out.values.push(unchecked(STATIC_VALUES[index - 1]));
        return HPACK_OK;
      }
      const d = index - HPACK_STATIC_COUNT;
      const name = this.dynName(d);
      const value = this.dynValue(d);
      if (name === null || value === null) out.unknown++;
      else {
        out.names.push(name);
        out.values.push(value);
      }
      return HPACK_OK;
    }
    if ((b & 0xe0) == 0x20) {
      // Dynamic table size update.
      const size = this.integer(5);
      if (size < 0) return -size;
      this.resize(size);
      return HPACK_OK;
    }
    const indexing = (b & 0xc0) == 0x40;
    const index = this.integer(indexing ? 6 : 4);
    if (index < 0) return -index;
    let name: string | null = null;
    let nameOctets = 0;
    let nameKnown = true;
    if (index == 0) {
      name = this.string();
      if (name === null) return this.octets;
      nameOctets = this.octets;
    } else if (index <= HPACK_STATIC_COUNT) {
      name = unchecked(STATIC_NAMES[index - 1]);
      nameOctets = name.length; // static names are ASCII
    } else {
      const d = index - HPACK_STATIC_COUNT;
      name = this.dynName(d);
      if (name === null) nameKnown = false;
      else nameOctets = String.UTF8.byteLength(name);
    }
    const value = this.string();
    if (value === null) return this.octets;
    const valueOctets = this.octets;
    if (nameKnown) {
      out.names.push(name!);
      out.values.push(value);
    } else {
      out.unknown++;
    }
    if (indexing) this.insert(nameKnown ? name : null, value, (nameKnown ? nameOctets : 0) + valueOctets + ENTRY_OVERHEAD);
    return HPACK_OK;
  }

  /** HPACK integer with an n-bit prefix; negative status when truncated or too large. */
  private integer(prefixBits: i32): i32 {
    const mask = (1 << prefixBits) - 1;
    let v = <i32>load<u8>(this.ptr + <usize>this.pos) & mask;
    this.pos++;
    if (v < mask) return v;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) return -HPACK_TRUNCATED;
      const b = <i32>load<u8>(this.ptr + <usize>this.pos);
      this.pos++;
      if (shift > 21) return -HPACK_MALFORMED; // > 2^28: no sane header block needs it
      v += (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) == 0) return v;
    }
    return -HPACK_MALFORMED;
  }

  /** A string literal; null on failure with the status in `octets`, else `octets` = decoded length. */
  private string(): string | null {
    if (this.pos >= this.end) {
      this.octets = HPACK_TRUNCATED;
      return null;
    }
    const huffman = (<i32>load<u8>(this.ptr + <usize>this.pos) & 0x80) != 0;
    const n = this.integer(7);
    if (n < 0) {
      this.octets = -n;
      return null;
    }
    if (n > MAX_STRING) {
      this.octets = HPACK_MALFORMED;
      return null;
    }
    if (this.end - this.pos < n) {
      this.octets = HPACK_TRUNCATED;
      return null;
    }
    const at = this.ptr + <usize>this.pos;
    this.pos += n;
    if (!huffman) {
      this.octets = n;
      return String.UTF8.decodeUnsafe(at, <usize>n);
    }
    const m = huffmanDecode(at, n);
    if (m < 0) {
      this.octets = HPACK_MALFORMED;
      return null;
    }
    this.octets = m;
    return String.UTF8.decodeUnsafe(huffOut.dataStart, <usize>m);
  }

  private slot(d: i32): i32 {
    let i = this.head - (d - 1);
    if (i < 0) i += this.slots;
    return i;
  }

  private dynName(d: i32): string | null {
    if (d < 1 || d > this.count) return null;
    return unchecked(this.names![this.slot(d)]);
  }

  private dynValue(d: i32): string | null {
    if (d < 1 || d > this.count) return null;
    return unchecked(this.values![this.slot(d)]);
  }

  private evictOldest(): void {
    const i = this.slot(this.count);
    this.bytes -= unchecked(this.sizes![i]);
    unchecked((this.names![i] = null));
    unchecked((this.values![i] = null));
    this.count--;
  }

  private resize(size: i32): void {
    this.capacity = size < this.limit ? size : this.limit;
    while (this.count > 0 && this.bytes > this.capacity) this.evictOldest();
  }

  private insert(name: string | null, value: string, size: i32): void {
    if (size > this.capacity) {
      // RFC 7541 §4.4: an entry larger than the table empties it and is not added.
      while (this.count > 0) this.evictOldest();
      return;
    }
    while (this.count > 0 && this.bytes + size > this.capacity) this.evictOldest();
    if (this.slots == 0) {
      // Every entry is at least 32 bytes: this many slots always suffice.
      this.slots = this.limit / ENTRY_OVERHEAD + 1;
      this.names = new StaticArray<string | null>(this.slots);
      this.values = new StaticArray<string | null>(this.slots);
      this.sizes = new StaticArray<i32>(this.slots);
      this.head = this.slots - 1;
    }
    if (this.count >= this.slots) this.evictOldest();
    this.head = this.head + 1 == this.slots ? 0 : this.head + 1;
    unchecked((this.names![this.head] = name));
    unchecked((this.values![this.head] = value));
    unchecked((this.sizes![this.head] = size));
    this.count++;
    this.bytes += size;
  }
}
