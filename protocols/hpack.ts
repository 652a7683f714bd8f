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

/** Decoded octets of the literal being read (name, value): scratch shared by all decoders. */
class Octets {
  buf: Uint8Array = new Uint8Array(256);
  len: i32 = 0;

  ensure(n: i32): void {
    if (this.buf.length < n) {
      let cap = this.buf.length;
      while (cap < n) cap <<= 1;
      this.buf = new Uint8Array(cap);
    }
  }

}

const nameOctets = new Octets();
const valueOctets = new Octets();


// ---- Huffman: canonical code tables built from the code lengths ----

const HUFF_MAX_LEN: i32 = 30;
const huffFirst = new StaticArray<i32>(HUFF_MAX_LEN + 1);
const huffCount = new StaticArray<i32>(HUFF_MAX_LEN + 1);
const huffOffset = new StaticArray<i32>(HUFF_MAX_LEN + 1);
const huffSymbols = new StaticArray<u16>(257);
const HUFF_EOS: u16 = 256;
/**
 * For each value of the next 12 bits, the codes of at most 12 bits that start them: the
 * first symbol (bits 0-7), a second one when it fits too (8-15), the first code's length
 * (16-20), both codes' length (21-25), the symbol count (26-27); 0 when the first code is
 * longer. Most header characters have 5-8 bit codes: one lookup usually yields two.
 */
const FAST_BITS: i32 = 12;
const huffFast = new StaticArray<u32>(1 << FAST_BITS);

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
  for (let w = 0; w < 1 << FAST_BITS; w++) {
    const first = shortCode(w, FAST_BITS);
    if (first == 0) continue;
    const len = first >> 8;
    const second = shortCode(w & ((1 << (FAST_BITS - len)) - 1), FAST_BITS - len);
    let e = <u32>(first & 0xff) | (<u32>len << 16);
    if (second != 0) e |= (<u32>(second & 0xff) << 8) | (<u32>(len + (second >> 8)) << 21) | (2 << 26);
    else e |= (<u32>len << 21) | (1 << 26);
    unchecked((huffFast[w] = e));
  }
}

/** The code that starts the `width`-bit value w: (length << 8) | symbol, 0 when none fits. */
function shortCode(w: i32, width: i32): i32 {
  for (let len = 1; len <= width; len++) {
    const idx = (w >> (width - len)) - unchecked(huffFirst[len]);
    if (idx >= 0 && idx < unchecked(huffCount[len])) return (len << 8) | <i32>unchecked(huffSymbols[unchecked(huffOffset[len]) + idx]);
  }
  return 0;
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

/**
 * Decodes `n` Huffman-coded bytes at `ptr` to `out` (room for 8n/5+1 bytes); the decoded
 * length, or -1 when invalid. Codes of up to 8 bits (most header characters) come from
 * one lookup of the next 8 bits; longer ones are found by length in the canonical tables.
 */
function huffmanDecode(ptr: usize, n: i32, out: usize): i32 {
  let outLen = 0;
  let acc: u64 = 0;
  let bits = 0;
  let i = 0;
  while (i < n || bits > 0) {
    while (bits <= 56 && i < n) {
      acc = (acc << 8) | <u64>load<u8>(ptr + <usize>i);
      i++;
      bits += 8;
    }
    // The next 12 bits; at the tail (fewer left) padded with ones, and codes must fit in what is left.
    const w = bits >= FAST_BITS ? <i32>(acc >> <u64>(bits - FAST_BITS)) : <i32>(acc << <u64>(FAST_BITS - bits)) | ((1 << (FAST_BITS - bits)) - 1);
    const e = unchecked(huffFast[w & ((1 << FAST_BITS) - 1)]);
    if (e != 0 && <i32>((e >> 16) & 31) <= bits) {
      store<u8>(out + <usize>outLen, <u8>e);
      const both = <i32>((e >> 21) & 31);
      if (e >> 26 == 2 && both <= bits) {
        store<u8>(out + <usize>outLen, <u8>(e >> 8), 1);
        outLen += 2;
        bits -= both;
      } else {
        outLen++;
        bits -= <i32>((e >> 16) & 31);
      }
      continue;
    }
    let found = false;
    // Codes longer than the fast table's, or at the tail a code the padding could not complete.
    for (let len = bits >= FAST_BITS ? FAST_BITS + 1 : 1; len <= HUFF_MAX_LEN && len <= bits; len++) {
      const code = <i32>(acc >> <u64>(bits - len)) & ((1 << len) - 1);
      const idx = code - unchecked(huffFirst[len]);
      if (idx >= 0 && idx < unchecked(huffCount[len])) {
        const sym = unchecked(huffSymbols[unchecked(huffOffset[len]) + idx]);
        if (sym == HUFF_EOS) return -1;
        store<u8>(out + <usize>outLen, <u8>sym);
        outLen++;
        bits -= len;
        found = true;
        break;
      }
    }
    if (found) continue;
    // No whole code left: the rest must be padding, fewer than 8 bits, all ones (the EOS prefix).
    if (i < n || bits > 7) return -1;
    const mask = (<u64>1 << <u64>bits) - 1;
    if ((acc & mask) != mask) return -1;
    bits = 0;
  }
  return outLen;
}

// ---- static table (RFC 7541 Appendix A) ----

// The static table (RFC 7541 Appendix A) as ASCII: per entry its name, 0, its value, 0
// (bytes: half a string literal's size in the module).
const STATIC_TABLE: StaticArray<u8> = [
  58, 97, 117, 116, 104, 111, 114, 105, 116, 121, 0, 0,  // :authority
  58, 109, 101, 116, 104, 111, 100, 0, 71, 69, 84, 0,  // :method GET
  58, 109, 101, 116, 104, 111, 100, 0, 80, 79, 83, 84, 0,  // :method POST
  58, 112, 97, 116, 104, 0, 47, 0,  // :path /
  58, 112, 97, 116, 104, 0, 47, 105, 110, 100, 101, 120, 46, 104, 116, 109, 108, 0,  // :path /index.html
  58, 115, 99, 104, 101, 109, 101, 0, 104, 116, 116, 112, 0,  // :scheme http
  58, 115, 99, 104, 101, 109, 101, 0, 104, 116, 116, 112, 115, 0,  // :scheme https
  58, 115, 116, 97, 116, 117, 115, 0, 50, 48, 48, 0,  // :status 200
  58, 115, 116, 97, 116, 117, 115, 0, 50, 48, 52, 0,  // :status 204
  58, 115, 116, 97, 116, 117, 115, 0, 50, 48, 54, 0,  // :status 206
  58, 115, 116, 97, 116, 117, 115, 0, 51, 48, 52, 0,  // :status 304
  58, 115, 116, 97, 116, 117, 115, 0, 52, 48, 48, 0,  // :status 400
  58, 115, 116, 97, 116, 117, 115, 0, 52, 48, 52, 0,  // :status 404
  58, 115, 116, 97, 116, 117, 115, 0, 53, 48, 48, 0,  // :status 500
  97, 99, 99, 101, 112, 116, 45, 99, 104, 97, 114, 115, 101, 116, 0, 0,  // accept-charset
  97, 99, 99, 101, 112, 116, 45, 101, 110, 99, 111, 100, 105, 110, 103, 0, 103, 122, 105, 112, 44, 32, 100, 101, 102, 108, 97, 116, 101, 0,  // accept-encoding gzip, deflate
  97, 99, 99, 101, 112, 116, 45, 108, 97, 110, 103, 117, 97, 103, 101, 0, 0,  // accept-language
  97, 99, 99, 101, 112, 116, 45, 114, 97, 110, 103, 101, 115, 0, 0,  // accept-ranges
  97, 99, 99, 101, 112, 116, 0, 0,  // accept
  97, 99, 99, 101, 115, 115, 45, 99, 111, 110, 116, 114, 111, 108, 45, 97, 108, 108, 111, 119, 45, 111, 114, 105, 103, 105, 110, 0, 0,  // access-control-allow-origin
  97, 103, 101, 0, 0,  // age
  97, 108, 108, 111, 119, 0, 0,  // allow
  97, 117, 116, 104, 111, 114, 105, 122, 97, 116, 105, 111, 110, 0, 0,  // authorization
  99, 97, 99, 104, 101, 45, 99, 111, 110, 116, 114, 111, 108, 0, 0,  // cache-control
  99, 111, 110, 116, 101, 110, 116, 45, 100, 105, 115, 112, 111, 115, 105, 116, 105, 111, 110, 0, 0,  // content-disposition
  99, 111, 110, 116, 101, 110, 116, 45, 101, 110, 99, 111, 100, 105, 110, 103, 0, 0,  // content-encoding
  99, 111, 110, 116, 101, 110, 116, 45, 108, 97, 110, 103, 117, 97, 103, 101, 0, 0,  // content-language
  99, 111, 110, 116, 101, 110, 116, 45, 108, 101, 110, 103, 116, 104, 0, 0,  // content-length
  99, 111, 110, 116, 101, 110, 116, 45, 108, 111, 99, 97, 116, 105, 111, 110, 0, 0,  // content-location
  99, 111, 110, 116, 101, 110, 116, 45, 114, 97, 110, 103, 101, 0, 0,  // content-range
  99, 111, 110, 116, 101, 110, 116, 45, 116, 121, 112, 101, 0, 0,  // content-type
  99, 111, 111, 107, 105, 101, 0, 0,  // cookie
  100, 97, 116, 101, 0, 0,  // date
  101, 116, 97, 103, 0, 0,  // etag
  101, 120, 112, 101, 99, 116, 0, 0,  // expect
  101, 120, 112, 105, 114, 101, 115, 0, 0,  // expires
  102, 114, 111, 109, 0, 0,  // from
  104, 111, 115, 116, 0, 0,  // host
  105, 102, 45, 109, 97, 116, 99, 104, 0, 0,  // if-match
  105, 102, 45, 109, 111, 100, 105, 102, 105, 101, 100, 45, 115, 105, 110, 99, 101, 0, 0,  // if-modified-since
  105, 102, 45, 110, 111, 110, 101, 45, 109, 97, 116, 99, 104, 0, 0,  // if-none-match
  105, 102, 45, 114, 97, 110, 103, 101, 0, 0,  // if-range
  105, 102, 45, 117, 110, 109, 111, 100, 105, 102, 105, 101, 100, 45, 115, 105, 110, 99, 101, 0, 0,  // if-unmodified-since
  108, 97, 115, 116, 45, 109, 111, 100, 105, 102, 105, 101, 100, 0, 0,  // last-modified
  108, 105, 110, 107, 0, 0,  // link
  108, 111, 99, 97, 116, 105, 111, 110, 0, 0,  // location
  109, 97, 120, 45, 102, 111, 114, 119, 97, 114, 100, 115, 0, 0,  // max-forwards
  112, 114, 111, 120, 121, 45, 97, 117, 116, 104, 101, 110, 116, 105, 99, 97, 116, 101, 0, 0,  // proxy-authenticate
  112, 114, 111, 120, 121, 45, 97, 117, 116, 104, 111, 114, 105, 122, 97, 116, 105, 111, 110, 0, 0,  // proxy-authorization
  114, 97, 110, 103, 101, 0, 0,  // range
  114, 101, 102, 101, 114, 101, 114, 0, 0,  // referer
  114, 101, 102, 114, 101, 115, 104, 0, 0,  // refresh
  114, 101, 116, 114, 121, 45, 97, 102, 116, 101, 114, 0, 0,  // retry-after
  115, 101, 114, 118, 101, 114, 0, 0,  // server
  115, 101, 116, 45, 99, 111, 111, 107, 105, 101, 0, 0,  // set-cookie
  115, 116, 114, 105, 99, 116, 45, 116, 114, 97, 110, 115, 112, 111, 114, 116, 45, 115, 101, 99, 117, 114, 105, 116, 121, 0, 0,  // strict-transport-security
  116, 114, 97, 110, 115, 102, 101, 114, 45, 101, 110, 99, 111, 100, 105, 110, 103, 0, 0,  // transfer-encoding
  117, 115, 101, 114, 45, 97, 103, 101, 110, 116, 0, 0,  // user-agent
  118, 97, 114, 121, 0, 0,  // vary
  118, 105, 97, 0, 0,  // via
  119, 119, 119, 45, 97, 117, 116, 104, 101, 110, 116, 105, 99, 97, 116, 101, 0, 0,  // www-authenticate
];
export const HPACK_STATIC_COUNT: i32 = 61;

// The static table as octets (name then value per entry), copied into blocks without
// per-character work: per entry its start, name length and value length.
const staticSpans = new StaticArray<i32>(HPACK_STATIC_COUNT * 3);
const staticOctets = buildStatic();

function buildStatic(): Uint8Array {
  const n = STATIC_TABLE.length;
  const b = new Uint8Array(n - 2 * HPACK_STATIC_COUNT);
  let at = 0;
  let i = 0;
  for (let e = 0; e < HPACK_STATIC_COUNT; e++) {
    unchecked((staticSpans[e * 3] = at));
    for (let part = 1; part <= 2; part++) {
      const from = at;
      for (; i < n && unchecked(STATIC_TABLE[i]) != 0; i++) unchecked((b[at++] = STATIC_TABLE[i]));
      i++; // the 0 after the name or value
      unchecked((staticSpans[e * 3 + part] = at - from));
    }
  }
  return b;
}

/**
 * Decoded header fields of one block, kept as octets: strings are made only for the
 * fields asked for. Fields that refer to unknown entries are counted, not listed.
 */
export class HeaderBlock {
  private octets: Uint8Array = new Uint8Array(512);
  private used: i32 = 0;
  // Per field: name start, name length, value start, value length.
  private spans: StaticArray<i32> = new StaticArray<i32>(64);
  private fields: i32 = 0;
  /** Fields whose name or value is in a dynamic-table entry this decoder never saw. */
  unknown: i32 = 0;
  status: i32 = HPACK_OK;

  reset(): void {
    this.used = 0;
    this.fields = 0;
    this.unknown = 0;
    this.status = HPACK_OK;
  }

  get count(): i32 {
    return this.fields;
  }

  /** Appends a field from raw octets. */
  add(namePtr: usize, nameLen: i32, valuePtr: usize, valueLen: i32): void {
    const at = this.reserve(nameLen, valueLen);
    memory.copy(at, namePtr, <usize>nameLen);
    memory.copy(at + <usize>nameLen, valuePtr, <usize>valueLen);
  }

  /** Appends a field whose name and value octets the caller writes, name then value, at the address returned. */
  reserve(nameLen: i32, valueLen: i32): usize {
    const need = this.used + nameLen + valueLen;
    if (need > this.octets.length) {
      let cap = this.octets.length;
      while (cap < need) cap <<= 1;
      const n = new Uint8Array(cap);
      memory.copy(n.dataStart, this.octets.dataStart, <usize>this.used);
      this.octets = n;
    }
    if ((this.fields + 1) * 4 > this.spans.length) {
      const n = new StaticArray<i32>(this.spans.length * 2);
      memory.copy(changetype<usize>(n), changetype<usize>(this.spans), <usize>(this.fields * 16));
      this.spans = n;
    }
    const at = this.octets.dataStart + <usize>this.used;
    const k = this.fields << 2;
    unchecked((this.spans[k] = this.used));
    unchecked((this.spans[k + 1] = nameLen));
    this.used += nameLen;
    unchecked((this.spans[k + 2] = this.used));
    unchecked((this.spans[k + 3] = valueLen));
    this.used += valueLen;
    this.fields++;
    return at;
  }

  private text(at: i32, len: i32): string {
    return String.UTF8.decodeUnsafe(this.octets.dataStart + <usize>at, <usize>len);
  }

  name(i: i32): string {
    if (i < 0 || i >= this.fields) return "";
    return this.text(unchecked(this.spans[i << 2]), unchecked(this.spans[(i << 2) + 1]));
  }

  value(i: i32): string {
    if (i < 0 || i >= this.fields) return "";
    return this.text(unchecked(this.spans[(i << 2) + 2]), unchecked(this.spans[(i << 2) + 3]));
  }

  /** Index of the first field named `name` (ASCII, compared exactly: HTTP/2 names are lower-case); -1 when absent. */
  find(name: string): i32 {
    const n = name.length;
    const base = this.octets.dataStart;
    for (let i = 0; i < this.fields; i++) {
      const k = i << 2;
      if (unchecked(this.spans[k + 1]) != n) continue;
      const at = base + <usize>unchecked(this.spans[k]);
      let j = 0;
      while (j < n && <i32>load<u8>(at + <usize>j) == name.charCodeAt(j)) j++;
      if (j == n) return i;
    }
    return -1;
  }

  /** The first value of a header; null when absent. */
  get(name: string): string | null {
    const i = this.find(name);
    return i < 0 ? null : this.value(i);
  }

  /** True when every field was resolved and the block was read to its end. */
  get complete(): bool {
    return this.unknown == 0 && this.status == HPACK_OK;
  }
}

/**
 * Unmanaged, as its table: a collection does not walk a connection's decoders. One made
 * with `new` is freed by `free`, and not used after.
 */
@unmanaged export class HpackDecoder {
  // Entry ring, newest at `head`. Per slot in `meta`: start of the entry's bytes in
  // `store` (name then value), name octets (-1: never seen), value octets, size.
  // Both in unmanaged memory (heap.alloc; `release` frees them), so that a collection
  // does not walk the tables of every connection kept.
  private meta: usize = 0;
  private head: i32 = 0;
  private slots: i32 = 0;
  // FIFO byte ring holding the entries' octets.
  private store: usize = 0;
  private storeCap: i32 = 0;
  private storeUsed: i32 = 0;
  /** Entries held (known or placeholders). */
  count: i32 = 0;
  /** Table size by RFC 7541 accounting (lower bound for placeholders). */
  bytes: i32 = 0;
  /** Current maximum size (last size update, bounded by `limit`). */
  capacity: i32;
  /** Times a table with entries was forgotten (a block not read to its end, bytes lost). */
  invalidations: i32 = 0;

  // Cursor over the block being decoded.
  private ptr: usize = 0;
  private pos: i32 = 0;
  private end: i32 = 0;
  private status: i32 = HPACK_OK;

  /** @param limit the most table bytes kept (bounds memory; larger tables lose their oldest entries here first). */
  constructor(public limit: i32 = HPACK_DEFAULT_TABLE_SIZE) {
    if (this.limit < 0) this.limit = 0;
    this.capacity = this.limit < HPACK_DEFAULT_TABLE_SIZE ? this.limit : HPACK_DEFAULT_TABLE_SIZE;
  }

  /** Approximate heap bytes held (for per-flow memory budgets). */
  get footprint(): i32 {
    return 64 + this.slots * 16 + this.storeCap;
  }

  /** Frees the table's memory (an empty table after; freeing twice is harmless). Call when dropping the decoder. */
  release(): void {
    this.invalidate();
    heap.free(this.meta);
    heap.free(this.store);
    this.meta = 0;
    this.store = 0;
    this.slots = 0;
    this.storeCap = 0;
    this.head = 0;
  }

  /** Frees the decoder with its table (one made with `new`). */
  free(): void {
    this.release();
    heap.free(changetype<usize>(this));
  }

  /** Forgets every entry: their indices are no longer known. */
  invalidate(): void {
    if (this.count > 0) this.invalidations++;
    this.count = 0;
    this.bytes = 0;
    this.storeUsed = 0;
  }

  /** Back to a fresh decoder (the table size too), keeping the buffers. */
  reset(): void {
    this.invalidate();
    this.invalidations = 0;
    this.capacity = this.limit < HPACK_DEFAULT_TABLE_SIZE ? this.limit : HPACK_DEFAULT_TABLE_SIZE;
  }

  /**
   * Decodes one complete header block (HEADERS + CONTINUATION fragments, padding and
   * priority removed) into `out`. Returns out.status; on anything but HPACK_OK the
   * table is invalidated (the fields decoded before the problem stay in `out`).
   */
  decode(data: Uint8Array, start: i32, end: i32, out: HeaderBlock): i32 {
    if (start < 0) start = 0;
    if (end > data.length) end = data.length;
    return this.decodeAt(data.dataStart + <usize>start, end - start, out);
  }

  /** As decode, the `n` bytes at `ptr` (a block kept in unmanaged memory). */
  decodeAt(ptr: usize, n: i32, out: HeaderBlock): i32 {
    out.reset();
    this.ptr = ptr;
    this.pos = 0;
    this.end = n;
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
        const k = (index - 1) * 3;
        const nameLen = unchecked(staticSpans[k + 1]);
        const at = staticOctets.dataStart + <usize>unchecked(staticSpans[k]);
        out.add(at, nameLen, at + <usize>nameLen, unchecked(staticSpans[k + 2]));
        return HPACK_OK;
      }
      const d = index - HPACK_STATIC_COUNT;
      if (d > this.count || this.entryNameLen(d) < 0) {
        out.unknown++;
        return HPACK_OK;
      }
      this.entryToBlock(d, out);
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
    let nameKnown = true;
    let namePtr: usize = 0;
    let nameLen = 0;
    if (index == 0) {
      if (!this.literal(nameOctets)) return this.status;
      namePtr = nameOctets.buf.dataStart;
      nameLen = nameOctets.len;
    } else if (index <= HPACK_STATIC_COUNT) {
      const k = (index - 1) * 3;
      namePtr = staticOctets.dataStart + <usize>unchecked(staticSpans[k]);
      nameLen = unchecked(staticSpans[k + 1]);
    } else {
      const d = index - HPACK_STATIC_COUNT;
      if (d > this.count || this.entryNameLen(d) < 0) nameKnown = false;
      else {
        this.entryOctets(d, true, nameOctets);
        namePtr = nameOctets.buf.dataStart;
        nameLen = nameOctets.len;
      }
    }
    if (!this.literal(valueOctets)) return this.status;
    if (nameKnown) {
      out.add(namePtr, nameLen, valueOctets.buf.dataStart, valueOctets.len);
    } else {
      out.unknown++;
    }
    if (indexing) this.insert(namePtr, nameLen);
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

  /** A string literal into `dst`; false with `status` set when cut or invalid. */
  private literal(dst: Octets): bool {
    if (this.pos >= this.end) {
      this.status = HPACK_TRUNCATED;
      return false;
    }
    const huffman = (<i32>load<u8>(this.ptr + <usize>this.pos) & 0x80) != 0;
    const n = this.integer(7);
    if (n < 0) {
      this.status = -n;
      return false;
    }
    if (n > MAX_STRING) {
      this.status = HPACK_MALFORMED;
      return false;
    }
    if (this.end - this.pos < n) {
      this.status = HPACK_TRUNCATED;
      return false;
    }
    const at = this.ptr + <usize>this.pos;
    this.pos += n;
    if (!huffman) {
      dst.ensure(n);
      memory.copy(dst.buf.dataStart, at, <usize>n);
      dst.len = n;
      return true;
    }
    // Shortest code is 5 bits: at most 8n/5 symbols.
    dst.ensure((n * 8) / 5 + 1);
    const m = huffmanDecode(at, n, dst.buf.dataStart);
    if (m < 0) {
      this.status = HPACK_MALFORMED;
      return false;
    }
    dst.len = m;
    return true;
  }

  // ---- the entry ring ----

  @inline private metaAt(k: i32): i32 {
    return load<i32>(this.meta + (<usize>k << 2));
  }

  @inline private setMeta(k: i32, v: i32): void {
    store<i32>(this.meta + (<usize>k << 2), v);
  }

  private slot(d: i32): i32 {
    let i = this.head - (d - 1);
    if (i < 0) i += this.slots;
    return i << 2;
  }

  private entryNameLen(d: i32): i32 {
    return this.metaAt(this.slot(d) + 1);
  }

  /** Copies entry d's name (or value) octets into `dst` (the ring may wrap inside them). */
  private entryOctets(d: i32, name: bool, dst: Octets): void {
    const k = this.slot(d);
    const nameLen = this.metaAt(k + 1);
    const n = name ? nameLen : this.metaAt(k + 2);
    const cap = this.storeCap;
    let start = this.metaAt(k) + (name ? 0 : (nameLen > 0 ? nameLen : 0));
    if (start >= cap) start -= cap;
    dst.ensure(n);
    this.take(dst.buf.dataStart, start, n);
    dst.len = n;
  }

  /** Appends entry d (known name) to the block, straight from the ring. */
  private entryToBlock(d: i32, out: HeaderBlock): void {
    const k = this.slot(d);
    const nameLen = this.metaAt(k + 1);
    const valueLen = this.metaAt(k + 2);
    // Name and value are adjacent in the ring.
    this.take(out.reserve(nameLen, valueLen), this.metaAt(k), nameLen + valueLen);
  }

  /** Copies n bytes of the ring from `start` to `to` (the ring may wrap inside them). */
  private take(to: usize, start: i32, n: i32): void {
    const cap = this.storeCap;
    const first = n < cap - start ? n : cap - start;
    memory.copy(to, this.store + <usize>start, <usize>first);
    if (n > first) memory.copy(to + <usize>first, this.store, <usize>(n - first));
  }

  private evictOldest(): void {
    const k = this.slot(this.count);
    const nameLen = this.metaAt(k + 1);
    this.bytes -= this.metaAt(k + 3);
    this.storeUsed -= (nameLen > 0 ? nameLen : 0) + this.metaAt(k + 2);
    this.count--;
  }

  private resize(size: i32): void {
    this.capacity = size < this.limit ? size : this.limit;
    while (this.count > 0 && this.bytes > this.capacity) this.evictOldest();
  }

  /** Adds the name (namePtr 0: unknown) + valueOctets as the newest entry. */
  private insert(namePtr: usize, nameLen: i32): void {
    const nameKnown = namePtr != 0;
    const valueLen = valueOctets.len;
    // An unknown name counts as empty: a lower bound, so this table never evicts more than the encoder's.
    const size = nameLen + valueLen + ENTRY_OVERHEAD;
    if (size > this.capacity) {
      // RFC 7541 §4.4: an entry larger than the table empties it and is not added.
      while (this.count > 0) this.evictOldest();
      return;
    }
    while (this.count > 0 && this.bytes + size > this.capacity) this.evictOldest();
    this.ensureSlots();
    const octets = nameLen + valueLen;
    if (!this.ensureStore(octets)) {
      this.invalidate();
      return;
    }
    const cap = this.storeCap;
    let at = this.count > 0 ? this.metaAt(this.slot(this.count)) + this.storeUsed : 0;
    if (at >= cap) at -= cap;
    this.put(at, namePtr, nameLen);
    let vAt = at + nameLen;
    if (vAt >= cap) vAt -= cap;
    this.put(vAt, valueOctets.buf.dataStart, valueLen);
    this.head = this.head + 1 == this.slots ? 0 : this.head + 1;
    const k = this.head << 2;
    this.setMeta(k, at);
    this.setMeta(k + 1, nameKnown ? nameLen : -1);
    this.setMeta(k + 2, valueLen);
    this.setMeta(k + 3, size);
    this.count++;
    this.bytes += size;
    this.storeUsed += octets;
  }

  /** Copies n bytes into the ring at `at`, wrapping at its end. */
  private put(at: i32, src: usize, n: i32): void {
    const cap = this.storeCap;
    const first = n < cap - at ? n : cap - at;
    memory.copy(this.store + <usize>at, src, <usize>first);
    if (n > first) memory.copy(this.store, src + <usize>first, <usize>(n - first));
  }

  /** Room for one more entry slot: the ring grows (oldest first when re-packed) up to what `limit` can hold. */
  private ensureSlots(): void {
    if (this.count < this.slots) return;
    // Every entry is at least 32 bytes: limit/32 + 1 slots always suffice.
    const most = this.limit / ENTRY_OVERHEAD + 1;
    if (this.slots >= most) {
      this.evictOldest();
      return;
    }
    let n = this.slots == 0 ? 8 : this.slots * 2;
    if (n > most) n = most;
    const m = heap.alloc(<usize>n << 4);
    // Oldest entry goes to slot 0, newest to count-1.
    for (let d = this.count; d >= 1; d--) memory.copy(m + (<usize>(this.count - d) << 4), this.meta + (<usize>this.slot(d) << 2), 16);
    heap.free(this.meta);
    this.meta = m;
    this.slots = n;
    this.head = this.count > 0 ? this.count - 1 : n - 1;
  }

  /** Room for `n` more octets in the byte ring; false when even `limit` bytes cannot hold them. */
  private ensureStore(n: i32): bool {
    const cap = this.storeCap;
    if (this.store != 0 && this.storeUsed + n <= cap) return true;
    let want = cap == 0 ? 64 : cap * 2;
    while (want < this.storeUsed + n) want <<= 1;
    if (want > this.limit) want = this.limit;
    if (want < this.storeUsed + n) return false;
    const ns = heap.alloc(<usize>want);
    // Re-pack the entries, oldest first, from offset 0.
    let at = 0;
    for (let d = this.count; d >= 1; d--) {
      const k = this.slot(d);
      const nameLen = this.metaAt(k + 1);
      const len = (nameLen > 0 ? nameLen : 0) + this.metaAt(k + 2);
      this.take(ns + <usize>at, this.metaAt(k), len);
      this.setMeta(k, at);
      at += len;
    }
    heap.free(this.store);
    this.store = ns;
    this.storeCap = want;
    return true;
  }
}
