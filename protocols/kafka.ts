// Kafka wire primitives (https://kafka.apache.org/protocol): the classic and the
// flexible (compact + tagged fields) encodings, request/response headers, api and
// error tables, and record sets — record batch v2 (magic 2) and legacy message sets
// (magic 0/1), gzip batches decompressed with ./inflate. Nothing here traps on bad
// input: reads past the end mark the reader short (see ./reader).
import { ByteReader, decodeUtf8Lossy, NameList } from "../assembly/index";
import { Inflater, INFLATE_TRUNCATED } from "./inflate";
import { API_KEY_MAX, API_NAMES, ERROR_NAMES, FIRST_FLEXIBLE, MAX_VERSION, RETRIABLE_ERRORS } from "./kafka-tables";

export { API_KEY_MAX } from "./kafka-tables";

export const API_PRODUCE: i32 = 0;
export const API_FETCH: i32 = 1;
export const API_LIST_OFFSETS: i32 = 2;
export const API_METADATA: i32 = 3;
export const API_CONTROLLED_SHUTDOWN: i32 = 7;
export const API_OFFSET_COMMIT: i32 = 8;
export const API_OFFSET_FETCH: i32 = 9;
export const API_FIND_COORDINATOR: i32 = 10;
export const API_JOIN_GROUP: i32 = 11;
export const API_HEARTBEAT: i32 = 12;
export const API_LEAVE_GROUP: i32 = 13;
export const API_SYNC_GROUP: i32 = 14;
export const API_LIST_GROUPS: i32 = 16;
export const API_SASL_HANDSHAKE: i32 = 17;
export const API_API_VERSIONS: i32 = 18;
export const API_INIT_PRODUCER_ID: i32 = 22;
export const API_ADD_OFFSETS_TO_TXN: i32 = 25;
export const API_END_TXN: i32 = 26;
export const API_SASL_AUTHENTICATE: i32 = 36;
export const API_DESCRIBE_CLUSTER: i32 = 60;
export const API_CONSUMER_GROUP_HEARTBEAT: i32 = 68;

export const CODEC_NONE: i32 = 0;
export const CODEC_GZIP: i32 = 1;
export const CODEC_SNAPPY: i32 = 2;
export const CODEC_LZ4: i32 = 3;
export const CODEC_ZSTD: i32 = 4;

// ---- tables ----

const API_NAME_LIST = new NameList(API_NAMES, API_KEY_MAX + 1);
const ERROR_NAME_LIST = new NameList(ERROR_NAMES, 162);

/** "Produce", "Fetch", ... as the agent names api keys; "" for keys it does not know. */
export function apiName(key: i32): string {
  return API_NAME_LIST.get(key);
}

/** Whether requests of this api key and version use the flexible encoding (request header v2). */
export function isFlexible(apiKey: i32, version: i32): bool {
  if (apiKey < 0 || apiKey > API_KEY_MAX) return false;
  return version >= <i32>unchecked(FIRST_FLEXIBLE[apiKey]);
}

/** Response header v1 (with tagged fields): flexible apis except ApiVersions, whose response header stays v0. */
export function responseHeaderHasTags(apiKey: i32, version: i32): bool {
  return apiKey != API_API_VERSIONS && isFlexible(apiKey, version);
}

/** Versions newer than those Kafka defines today still count as plausible up to this margin. */
const VERSION_MARGIN: i32 = 4;

export function plausibleApi(apiKey: i32, version: i32): bool {
  if (apiKey < 0 || apiKey > API_KEY_MAX || version < 0) return false;
  return version <= <i32>unchecked(MAX_VERSION[apiKey]) + VERSION_MARGIN;
}

/** "NOT_LEADER_OR_FOLLOWER", ...; "" when the code is not assigned. */
export function errorName(code: i32): string {
  return ERROR_NAME_LIST.get(code + 1);
}

export function errorRetriable(code: i32): bool {
  if (code < 0 || code >= 160) return false;
  return (unchecked(RETRIABLE_ERRORS[code >> 5]) & (1 << (<u32>code & 31))) != 0;
}

export function codecName(codec: i32): string {
  if (codec == CODEC_GZIP) return "gzip";
  if (codec == CODEC_SNAPPY) return "snappy";
  if (codec == CODEC_LZ4) return "lz4";
  if (codec == CODEC_ZSTD) return "zstd";
  return codec == CODEC_NONE ? "none" : "unknown";
}

// ---- primitive types ----

/**
 * A ByteReader that knows Kafka's types. `flexible` switches strings, arrays and
 * bytes to their compact forms (unsigned varint length + 1) and enables tagged fields.
 */
export class KafkaReader extends ByteReader {
  flexible: bool = false;

  constructor(data: Uint8Array, pos: i32 = 0, end: i32 = -1) {
    super(data, pos, end);
  }

  /** STRING / NULLABLE_STRING / COMPACT_(NULLABLE_)STRING length; -1 = null. */
  stringLength(): i32 {
    if (this.flexible) return <i32>this.uvarint32() - 1;
    return this.i16be();
  }

  /** A string, cut to maxLen bytes (the rest skipped); null for a null string or when it is not all there. */
  string(maxLen: i32 = 256): string | null {
    const n = this.stringBytes(maxLen);
    return n < 0 ? null : decodeUtf8Lossy(this.spanAt, n);
  }

  /** Where the bytes stringBytes() read are. */
  spanAt: usize = 0;

  /** string() as the bytes it holds (at spanAt, valid until the data changes): their count, -1 where string() gives null. */
  stringBytes(maxLen: i32 = 256): i32 {
    const n = this.stringLength();
    if (n < 0 || !this.has(n)) {
      if (n > 0) this.skip(n);
      return -1;
    }
    this.spanAt = this.data.dataStart + <usize>this.pos;
    this.skip(n);
    return n < maxLen ? n : maxLen;
  }

  skipString(): void {
    const n = this.stringLength();
    if (n > 0) this.skip(n);
  }

  /** ARRAY / COMPACT_ARRAY element count; -1 = null. */
  arrayLength(): i32 {
    if (this.flexible) return <i32>this.uvarint32() - 1;
    return this.i32be();
  }

  /** BYTES / NULLABLE_BYTES / COMPACT_(NULLABLE_)BYTES / RECORDS size; -1 = null. */
  bytesLength(): i32 {
    if (this.flexible) return <i32>this.uvarint32() - 1;
    return this.i32be();
  }

  /** Skips a tagged-field section (flexible versions only). */
  tags(): void {
    if (!this.flexible) return;
    const n = this.uvarint32();
    for (let i: u32 = 0; i < n && !this.short; i++) {
      this.uvarint32();
      this.skip(<i32>this.uvarint32());
    }
  }

  /** A UUID (topic ids), hyphenated lower-case hex as the agent prints them. */
  uuid(): string {
    if (!this.has(16)) {
      this.skip(16);
      return "";
    }
    const hex = "0123456789abcdef";
    let s = "";
    for (let i = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) s += "-";
      const b = this.u8();
      s += hex.charAt(<i32>(b >> 4)) + hex.charAt(<i32>(b & 15));
    }
    return s;
  }
}

// ---- headers ----

export class RequestHeader {
  /** The message size field: bytes after the 4-byte size. */
  size: i32 = 0;
  apiKey: i32 = 0;
  apiVersion: i32 = 0;
  correlationId: i32 = 0;
  /** The client id: printable ASCII at data[clientIdStart ..], clientIdLen bytes; -1 = null. */
  clientIdStart: i32 = 0;
  clientIdLen: i32 = -1;
  data: Uint8Array | null = null;
  /** Offset of the request body in the data. */
  bodyStart: i32 = 0;
  /** Offset one past the message (may lie beyond the data when cut). */
  messageEnd: i32 = 0;

  /** The client id as text (made on each call: read it as bytes where it only is copied). */
  get clientId(): string | null {
    const data = this.data;
    if (data === null || this.clientIdLen < 0) return null;
    return decodeUtf8Lossy(data.dataStart + <usize>this.clientIdStart, this.clientIdLen);
  }
}

/** Smallest request: size, api key, version, correlation id, client id length. */
export const REQUEST_HEADER_MIN: i32 = 4 + 2 + 2 + 4 + 2;
/** Kafka's own default limit on a request (socket.request.max.bytes) is 100 MiB. */
export const MAX_MESSAGE_SIZE: i32 = 100 << 20;

// readRequestHeader's reader, reused (a request header is read several times per call).
const headerReader = new KafkaReader(new Uint8Array(0));

/**
 * Reads a request header at `start`: v1, v2 for flexible versions, v0 (no client id)
 * for ControlledShutdown v0. False when it is not a plausible Kafka request header:
 * unknown api key or version, size out of range, client id not printable ASCII, or
 * the header itself cut off.
 */
export function readRequestHeader(data: Uint8Array, start: i32, out: RequestHeader): bool {
  const r = headerReader;
  r.reset(data, start);
  r.flexible = false;
  const size = r.i32be();
  const apiKey = <i32>r.u16be();
  const version = <i32>r.u16be();
  const correlationId = r.i32be();
  // Request header v0 (no client id) is ControlledShutdown v0's alone.
  const hasClientId = apiKey != API_CONTROLLED_SHUTDOWN || version > 0;
  const least = hasClientId ? REQUEST_HEADER_MIN - 4 : REQUEST_HEADER_MIN - 6;
  if (r.short || size < least || size > MAX_MESSAGE_SIZE || !plausibleApi(apiKey, version)) return false;
  const idLen = hasClientId ? r.i16be() : -1;
  if (idLen < -1 || r.short || (idLen > 0 && !r.has(idLen)) || idLen > size) return false;
  const idStart = r.pos;
  // All there (checked above): read in place.
  const id = data.dataStart + <usize>idStart;
  for (let i = 0; i < idLen; i++) {
    const c = load<u8>(id + <usize>i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  if (idLen > 0) r.skip(idLen);
  if (isFlexible(apiKey, version)) {
    r.flexible = true;
    r.tags();
    if (r.short) return false;
  }
  out.size = size;
  out.apiKey = apiKey;
  out.apiVersion = version;
  out.correlationId = correlationId;
  out.data = data;
  out.clientIdStart = idStart;
  out.clientIdLen = idLen;
  out.bodyStart = r.pos;
  out.messageEnd = start + 4 + size;
  return true;
}

// ---- record sets ----

/**
 * Receives what a record set holds. Offsets index `data`, which is the payload or,
 * for compressed batches, the inflater's output: read or copy before returning.
 */
export class RecordVisitor {
  /** The records of one batch follow (what `data` held for the previous batch may be gone). */
  onBatch(): void {}

  /** A record's key (keyLen -1 = null), before its headers. */
  onRecord(data: Uint8Array, keyStart: i32, keyLen: i32): void {}

  /** One record header; valueLen -1 = null value. */
  onHeader(data: Uint8Array, keyStart: i32, keyLen: i32, valueStart: i32, valueLen: i32): void {}
}

/** What one or more record sets held, including what could not be read. */
export class RecordSetSummary {
  batches: i32 = 0;
  /** Records the batches declare (legacy messages count one each). */
  declared: i32 = 0;
  /** Records read whole (key, value and all headers). */
  decoded: i32 = 0;
  /** Records in compressed batches whose codec is not decoded here (snappy, lz4, zstd). */
  notDecoded: i32 = 0;
  /** Bit (1 << codec) for every codec seen, CODEC_NONE included. */
  codecs: u32 = 0;
  /** The data ended before the record set did. */
  cutOff: bool = false;
  /** Something did not decode as a record set (the rest was skipped). */
  bad: bool = false;
  legacy: bool = false;
  transactional: bool = false;
  control: bool = false;

  reset(): void {
    this.batches = 0;
    this.declared = 0;
    this.decoded = 0;
    this.notDecoded = 0;
    this.codecs = 0;
    this.cutOff = false;
    this.bad = false;
    this.legacy = false;
    this.transactional = false;
    this.control = false;
  }

  /** Names of the compression codecs seen, e.g. "gzip" or "gzip,lz4"; "" for none. */
  compressionNames(): string {
    let s = "";
    for (let c = CODEC_GZIP; c <= 7; c++) {
      if ((this.codecs & (1 << <u32>c)) == 0) continue;
      if (s.length > 0) s += ",";
      s += codecName(c);
    }
    return s;
  }
}

// readRecords reads with a position in a local (`p`, before `end`) rather than in a
// reader's field or a global: varints are read by the hundred per batch, each a step of
// one chain of position updates. A read that does not fit puts p past end ("short").

/** A varint read: the value in the low 32 bits, the position after it in the high ones. */
// @ts-expect-error: decorator
@inline function varintRead(value: u32, next: usize): u64 {
  return (<u64>next << 32) | <u64>value;
}

// @ts-expect-error: decorator
@inline function readValue(r: u64): i32 {
  return <i32><u32>r;
}

// @ts-expect-error: decorator
@inline function readNext(r: u64): usize {
  return <usize>(r >>> 32);
}

/** A zigzag varint of up to 32 bits at p (ByteReader.zigzag32): mostly one byte, read inline. */
// @ts-expect-error: decorator
@inline function zigzagAt(p: usize, end: usize): u64 {
  if (p < end) {
    const b = <u32>load<u8>(p);
    if (b < 0x80) return varintRead((b >>> 1) ^ -(b & 1), p + 1);
  }
  return zigzagLongAt(p, end);
}

/** zigzagAt() for lengths that often take two bytes (records, header values of 64 bytes and more). */
// @ts-expect-error: decorator
@inline function zigzagLengthAt(p: usize, end: usize): u64 {
  if (p + 1 < end) {
    const b = <u32>load<u8>(p);
    if (b < 0x80) return varintRead((b >>> 1) ^ -(b & 1), p + 1);
    const c = <u32>load<u8>(p + 1);
    if (c < 0x80) {
      const v = (b & 0x7f) | (c << 7);
      return varintRead((v >>> 1) ^ -(v & 1), p + 2);
    }
  }
  return zigzagLongAt(p, end);
}

function zigzagLongAt(p: usize, end: usize): u64 {
  let result: u32 = 0;
  for (let shift: u32 = 0; shift < 35; shift += 7) {
    if (p >= end) break;
    const b = <u32>load<u8>(p);
    p++;
    result |= (b & 0x7f) << shift;
    if (b < 0x80) return varintRead((result >>> 1) ^ -(result & 1), p);
  }
  return varintRead(0, end + 1);
}

/** The position after a varint of up to 64 bits at p. */
// @ts-expect-error: decorator
@inline function skipVarintAt(p: usize, end: usize): usize {
  if (p < end && load<u8>(p) < 0x80) return p + 1;
  return skipVarintLongAt(p, end);
}

function skipVarintLongAt(p: usize, end: usize): usize {
  for (let i = 0; i < 10 && p < end; i++) {
    const b = load<u8>(p);
    p++;
    if (b < 0x80) return p;
  }
  return end + 1;
}

/** Record batch v2 header: base offset .. records count. */
const BATCH_HEADER_LEN: i32 = 61;
/** The part of the header that batchLength counts (from partition leader epoch on). */
const BATCH_LENGTH_MIN: i32 = BATCH_HEADER_LEN - 12;

/** Reads record sets (the RECORDS field of Produce requests and Fetch responses). */
export class RecordSetReader {
  inflater: Inflater = new Inflater(4096);
  // One reader per step, reused; each is done with before the step nests (a gzip
  // legacy wrapper reads its inner set with readSet again).
  private setReader: ByteReader = new ByteReader(new Uint8Array(0));
  private batchReader: ByteReader = new ByteReader(new Uint8Array(0));
  private legacyReader: ByteReader = new ByteReader(new Uint8Array(0));

  /** @param maxInflate bound on one gzip batch's decompressed size */
  constructor(public maxInflate: i32 = 65536) {}

  /**
   * Reads the record set at data[start .. start+size), of which only data[.. data.length)
   * may be there; adds what it finds to `summary` and hands keys and headers to `visitor`.
   */
  read(data: Uint8Array, start: i32, size: i32, visitor: RecordVisitor, summary: RecordSetSummary): void {
    if (size <= 0 || start < 0 || start > data.length) return;
    let end = start + size;
    if (end > data.length || end < start) {
      end = data.length;
      summary.cutOff = true;
    }
    this.readSet(data, start, end, visitor, summary, true);
  }

  private readSet(data: Uint8Array, start: i32, end: i32, visitor: RecordVisitor, summary: RecordSetSummary, mayInflate: bool): void {
    let pos = start;
    while (pos < end) {
      const r = this.setReader.reset(data, pos, end);
      r.skip(8); // base offset
      const length = r.i32be();
      if (r.short) {
        // A set ends exactly at `end` unless the data was cut (or the broker sent a
        // partial trailing batch, which Fetch responses may do).
        summary.cutOff = true;
        return;
      }
      if (length <= 0) {
        summary.bad = true;
        return;
      }
      const batchEnd = pos + 12 + length;
      const magic = r.peekU8(4);
      if (r.remaining < 5) {
        summary.cutOff = true;
        return;
      }
      if (magic == 2) {
        if (!this.readBatchV2(data, pos, end, length, visitor, summary, mayInflate)) return;
      } else if (magic <= 1) {
        if (!this.readLegacyMessage(data, pos, end, length, <i32>magic, visitor, summary, mayInflate)) return;
      } else {
        summary.bad = true;
        return;
      }
      if (batchEnd > end || batchEnd < pos) {
        summary.cutOff = true;
        return;
      }
      pos = batchEnd;
    }
  }

  /** False when reading must stop (cut off or bad). */
  private readBatchV2(data: Uint8Array, pos: i32, end: i32, length: i32, visitor: RecordVisitor, summary: RecordSetSummary, mayInflate: bool): bool {
    if (length < BATCH_LENGTH_MIN) {
      summary.bad = true;
      return false;
    }
    const r = this.batchReader.reset(data, pos + 21, end);
    const attributes = r.u16be();
    r.skip(4 + 8 + 8 + 8 + 2 + 4); // last offset delta, timestamps, producer id/epoch, base sequence
    const count = r.i32be();
    if (r.short) {
      summary.cutOff = true;
      return false;
    }
    summary.batches++;
    if (count > 0) summary.declared += count;
    const codec = <i32>(attributes & 7);
    summary.codecs |= 1 << <u32>codec;
    if (attributes & 0x10) summary.transactional = true;
    const control = (attributes & 0x20) != 0;
    if (control) summary.control = true;
    const recordsStart = pos + BATCH_HEADER_LEN;
    // (Compared as lengths: a batch length near 2^31 must not wrap pos + 12 + length.)
    const recordsEnd = length > end - pos - 12 ? end : pos + 12 + length;
    if (control || count <= 0) return true;
    if (codec == CODEC_NONE) {
      this.readRecords(data, recordsStart, recordsEnd, count, visitor, summary);
    } else if (codec == CODEC_GZIP && mayInflate) {
      const inf = this.inflater;
      const status = inf.gunzip(data, recordsStart, recordsEnd, this.maxInflate);
      if (inf.len > 0) this.readRecords(inf.out, 0, inf.len, count, visitor, summary);
      if (status == INFLATE_TRUNCATED) summary.cutOff = true;
    } else {
      summary.notDecoded += count;
    }
    return true;
  }

  /** Records of an uncompressed v2 batch (or a decompressed one). */
  private readRecords(data: Uint8Array, start: i32, end: i32, count: i32, visitor: RecordVisitor, summary: RecordSetSummary): void {
    const base = data.dataStart;
    const limit = base + <usize>end;
    let at = base + <usize>start;
    let decoded = 0;
    let bad = false;
    visitor.onBatch();
    for (let i = 0; i < count && at < limit; i++) {
      let r = zigzagLengthAt(at, limit);
      let p = readNext(r);
      const length = readValue(r);
      if (p > limit) break;
      if (length <= 0) {
        bad = true;
        break;
      }
      const recordEnd = p + <usize>length;
      const whole = recordEnd <= limit;
      const stop = whole ? recordEnd : limit;
      p = skipVarintAt(p + 1, stop); // attributes, timestamp delta
      p = skipVarintAt(p, stop); // offset delta
      r = zigzagAt(p, stop);
      p = readNext(r);
      const keyLen = readValue(r);
      const keyStart = <i32>(p - base);
      // -1 is a null key; other negative lengths are malformed.
      if (keyLen < -1) {
        bad = true;
        break;
      }
      if (keyLen > 0) p += <usize>keyLen;
      if (p <= stop) {
        visitor.onRecord(data, keyStart, keyLen);
        r = zigzagAt(p, stop);
        p = readNext(r);
        const valueLen = readValue(r);
        if (valueLen < -1) {
          bad = true;
          break;
        }
        if (valueLen > 0) p += <usize>valueLen;
        r = zigzagAt(p, stop);
        p = readNext(r);
        const headers = readValue(r);
        for (let h = 0; h < headers && p <= stop; h++) {
          r = zigzagAt(p, stop);
          p = readNext(r);
          const hkLen = readValue(r);
          const hkStart = <i32>(p - base);
          if (hkLen > 0) p += <usize>hkLen;
          r = zigzagLengthAt(p, stop);
          p = readNext(r);
          const hvLen = readValue(r);
          const hvStart = <i32>(p - base);
          if (hvLen > 0) p += <usize>hvLen;
          if (p > stop || hkLen < 0) break;
          visitor.onHeader(data, hkStart, hkLen, hvStart, hvLen);
        }
      }
      if (!whole) break;
      if (p > stop) {
        bad = true;
        break;
      }
      decoded++;
      at = recordEnd;
    }
    summary.decoded += decoded;
    // Fewer whole records than declared: a malformed record, or else the data ended first.
    if (bad) summary.bad = true;
    else if (decoded < count) summary.cutOff = true;
  }

  /** One magic 0/1 message; a compressed one wraps an inner message set. */
  private readLegacyMessage(data: Uint8Array, pos: i32, end: i32, length: i32, magic: i32, visitor: RecordVisitor, summary: RecordSetSummary, mayInflate: bool): bool {
    summary.legacy = true;
    const messageEnd = length > end - pos - 12 ? end : pos + 12 + length;
    const r = this.legacyReader.reset(data, pos + 12 + 4 + 1, messageEnd);
    const attributes = r.u8();
    if (magic == 1) r.skip(8); // timestamp
    const keyLen = r.i32be();
    const keyStart = r.pos;
    if (keyLen > 0) r.skip(keyLen);
    if (r.short) {
      summary.declared++;
      summary.cutOff = true;
      return false;
    }
    const codec = <i32>(attributes & 7);
    summary.codecs |= 1 << <u32>codec;
    const valueLen = r.i32be();
    const valueStart = r.pos;
    if (codec == CODEC_NONE) {
      summary.declared++;
      visitor.onRecord(data, keyStart, keyLen);
      if (valueLen > 0) r.skip(valueLen);
      if (r.short) {
        summary.cutOff = true;
        return false;
      }
      summary.decoded++;
      return true;
    }
    // A compressed wrapper: its value is an inner message set, counted message by message.
    if (codec == CODEC_GZIP && mayInflate && valueLen > 0) {
      let valueEnd = valueStart + valueLen;
      if (valueEnd > r.end) valueEnd = r.end;
      const inf = this.inflater;
      const status = inf.gunzip(data, valueStart, valueEnd, this.maxInflate);
      if (inf.len > 0) this.readSet(inf.out, 0, inf.len, visitor, summary, false);
      if (status == INFLATE_TRUNCATED) summary.cutOff = true;
    } else {
      summary.declared++;
      summary.notDecoded++;
    }
    return true;
  }
}
