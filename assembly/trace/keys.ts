// Which carrier keys (Dubbo attachments, Kafka record headers, AMQP headers) hold
// trace context and company ids, and how their values land in a record. Shared by
// the plugins so that every protocol maps the same keys the same way; each plugin's
// config.ts starts from defaultTraceKeys() and adds or removes keys at build time.
import { equalsIgnoreCase } from "../codec/text";
import { base64Decode } from "../codec/base64";
import { decodeUtf8Lossy, isValidUtf8 } from "../codec/utf8";
import { ByteWriter } from "../codec/writer";
import { L7ProtocolInfo } from "../result";

/** What a key's value is. */
export const ROLE_TRACE_ID: i32 = 1;
export const ROLE_SPAN_ID: i32 = 2;
export const ROLE_PARENT_SPAN_ID: i32 = 3;
/** The company RequestID: x_request_id. */
export const ROLE_REQUEST_ID: i32 = 4;
/** A SkyWalking sw8 header: trace and span id, decoded as the agent's built-in parsers do. */
export const ROLE_SW8: i32 = 5;
/** A W3C traceparent: trace and span id. */
export const ROLE_TRACEPARENT: i32 = 6;
/** Kept as an attribute only (EntryID, Pinpoint-Flags, message ids, ...). */
export const ROLE_ATTRIBUTE: i32 = 7;

export class KeyRule {
  constructor(public key: string, public role: i32, public attribute: string) {}
}

export class TraceKeys {
  rules: KeyRule[] = [];
  /** findBytes' index of the rules; rebuilt after add/remove. */
  private index: KeyIndex | null = null;

  /**
   * Adds a key (matched case-insensitively). Earlier keys win a field over later
   * ones. `attribute` names the attribute the value is also kept under ("" = none).
   */
  add(key: string, role: i32, attribute: string = ""): TraceKeys {
    this.rules.push(new KeyRule(key, role, attribute));
    this.index = null;
    return this;
  }

  remove(key: string): TraceKeys {
    const kept: KeyRule[] = [];
    for (let i = 0; i < this.rules.length; i++) {
      if (!equalsIgnoreCase(this.rules[i].key, key)) kept.push(this.rules[i]);
    }
    this.rules = kept;
    this.index = null;
    return this;
  }

  /** Index of the rule for key, -1 when the key means nothing to us. */
  find(key: string): i32 {
    for (let i = 0; i < this.rules.length; i++) {
      if (equalsIgnoreCase(this.rules[i].key, key)) return i;
    }
    return -1;
  }

  /**
   * find() for a key given as UTF-8 bytes data[start .. start+len), without
   * allocating: for binary carriers (Kafka record headers) where most keys are not ours.
   */
  findBytes(data: Uint8Array, start: i32, len: i32): i32 {
    if (start < 0 || len <= 0 || start + len > data.length) return -1;
    let index = this.index;
    if (index === null || index.rules != this.rules.length) {
      index = new KeyIndex(this.rules);
      this.index = index;
    }
    return index.find(data.dataStart + <usize>start, len);
  }
}

/**
 * The rules' keys as lower-cased UTF-8 bytes, chained by length in rule order, so that
 * a lookup compares bytes only with the keys of the same length.
 */
class KeyIndex {
  rules: i32;
  /** Every key's bytes, lower-cased, one after another: key i starts at offset[i]. */
  private bytes: Uint8Array;
  private offset: StaticArray<i32>;
  private length: StaticArray<i32>;
  /** First rule per key length (the last slot takes every longer key); -1 = none. */
  private head: StaticArray<i32>;
  /** Next rule of the same slot. */
  private next: StaticArray<i32>;

  constructor(rules: KeyRule[]) {
    const n = rules.length;
    const offset = new StaticArray<i32>(n);
    const length = new StaticArray<i32>(n);
    const next = new StaticArray<i32>(n);
    const head = new StaticArray<i32>(KEY_LENGTH_SLOTS + 1).fill(-1);
    const w = new ByteWriter();
    for (let i = 0; i < n; i++) {
      offset[i] = w.len;
      w.utf8(rules[i].key);
      length[i] = w.len - offset[i];
    }
    for (let k = 0; k < w.len; k++) store<u8>(w.dataStart + <usize>k, <u8>lowerAscii(load<u8>(w.dataStart + <usize>k)));
    // Last rule first, each put in front of its chain: chains run in rule order.
    for (let i = n - 1; i >= 0; i--) {
      const len = length[i];
      if (len == 0) continue;
      const slot = slotOf(len);
      next[i] = head[slot];
      head[slot] = i;
    }
    this.rules = n;
    this.bytes = w.buf;
    this.offset = offset;
    this.length = length;
    this.next = next;
    this.head = head;
  }

  find(p: usize, len: i32): i32 {
    const keys = this.bytes.dataStart;
    for (let i = unchecked(this.head[slotOf(len)]); i >= 0; i = unchecked(this.next[i])) {
      if (unchecked(this.length[i]) != len) continue;
      if (sameLowered(p, keys + <usize>unchecked(this.offset[i]), len)) return i;
    }
    return -1;
  }
}

/** Whether the len bytes at p, ASCII-lower-cased, equal the (lower-cased) bytes at key. */
function sameLowered(p: usize, key: usize, len: i32): bool {
  if (len < 8) {
    for (let k = 0; k < len; k++) {
      if (lowerAscii(<u32>load<u8>(p + <usize>k)) != <u32>load<u8>(key + <usize>k)) return false;
    }
    return true;
  }
  // Eight bytes at a time, the last eight overlapping when len is not a multiple.
  let k = 0;
  for (; k + 8 <= len; k += 8) {
    if (lower8(load<u64>(p + <usize>k)) != load<u64>(key + <usize>k)) return false;
  }
  return k == len || lower8(load<u64>(p + <usize>(len - 8))) == load<u64>(key + <usize>(len - 8));
}

/** Whether the len bytes at a and b are equal (ids are short: no memory.compare call). */
function sameBytes(a: usize, b: usize, len: i32): bool {
  let k = 0;
  for (; k + 8 <= len; k += 8) {
    if (load<u64>(a + <usize>k) != load<u64>(b + <usize>k)) return false;
  }
  for (; k < len; k++) {
    if (load<u8>(a + <usize>k) != load<u8>(b + <usize>k)) return false;
  }
  return true;
}

/** lowerAscii of each of eight bytes. */
@inline function lower8(x: u64): u64 {
  const low7 = x & 0x7f7f7f7f7f7f7f7f;
  const fromA = low7 + 0x3f3f3f3f3f3f3f3f; // top bit set where the byte is >= 'A'
  const pastZ = low7 + 0x2525252525252525; // top bit set where the byte is > 'Z'
  const upper = fromA & ~pastZ & ~x & 0x8080808080808080;
  return x | (upper >> 2);
}

const KEY_LENGTH_SLOTS: i32 = 48;

@inline function slotOf(len: i32): i32 {
  return len < KEY_LENGTH_SLOTS ? len : KEY_LENGTH_SLOTS;
}

@inline function lowerAscii(c: u32): u32 {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/**
 * Keys every plugin knows: Pinpoint's Dubbo attachment keys (with the agent's own
 * spelling `_DUBBO_TRASACTION_ID`), Pinpoint's header names that other SDKs copy,
 * RequestID / EntryID spellings, SkyWalking sw8 and W3C traceparent.
 */
export function defaultTraceKeys(): TraceKeys {
  return new TraceKeys()
    .add("Pinpoint-TraceID", ROLE_TRACE_ID, "Pinpoint-TraceID")
    .add("_DUBBO_TRASACTION_ID", ROLE_TRACE_ID, "Pinpoint-TraceID")
    .add("Pinpoint-SpanID", ROLE_SPAN_ID, "Pinpoint-SpanID")
    .add("_DUBBO_SPAN_ID", ROLE_SPAN_ID, "Pinpoint-SpanID")
    .add("Pinpoint-pSpanID", ROLE_PARENT_SPAN_ID, "Pinpoint-pSpanID")
    .add("_DUBBO_PARENT_SPAN_ID", ROLE_PARENT_SPAN_ID, "Pinpoint-pSpanID")
    .add("Pinpoint-Flags", ROLE_ATTRIBUTE, "Pinpoint-Flags")
    .add("_DUBBO_FLAGS", ROLE_ATTRIBUTE, "Pinpoint-Flags")
    .add("Pinpoint-pAppName", ROLE_ATTRIBUTE, "Pinpoint-pAppName")
    .add("_DUBBO_PARENT_APPLICATION_NAME", ROLE_ATTRIBUTE, "Pinpoint-pAppName")
    .add("Pinpoint-pAppType", ROLE_ATTRIBUTE, "Pinpoint-pAppType")
    .add("_DUBBO_PARENT_APPLICATION_TYPE", ROLE_ATTRIBUTE, "Pinpoint-pAppType")
    .add("Pinpoint-Host", ROLE_ATTRIBUTE, "Pinpoint-Host")
    .add("_DUBBO_HOST", ROLE_ATTRIBUTE, "Pinpoint-Host")
    .add("X-Request-ID", ROLE_REQUEST_ID, "RequestID")
    .add("RequestID", ROLE_REQUEST_ID, "RequestID")
    .add("EntryID", ROLE_ATTRIBUTE, "EntryID")
    .add("traceparent", ROLE_TRACEPARENT, "traceparent")
    .add("sw8", ROLE_SW8, "sw8");
}


// Where dashField found its field (offsets into the value).
let fieldAt: i32 = 0;
let fieldLen: i32 = 0;

/**
 * Field i of the value at ptr .. ptr+len split on "-", into fieldAt/fieldLen; false when
 * the value has fewer than `need` fields.
 */
function dashField(ptr: usize, len: i32, i: i32, need: i32): bool {
  let fields = 1;
  let from = 0;
  let found = false;
  for (let k = 0; k <= len; k++) {
    if (k < len && load<u8>(ptr + <usize>k) != 0x2d) continue;
    if (fields - 1 == i) {
      fieldAt = from;
      fieldLen = k - from;
      found = true;
    }
    if (k == len) break;
    fields++;
    from = k + 1;
    if (found && fields >= need) break;
  }
  return found && fields >= need;
}

/**
 * Collects the ids found in one message's key/value pairs, then writes them into a
 * record. For each field the earliest rule (in TraceKeys order) that matched wins;
 * every distinct trace id is kept for trace_ids. Values may be offered as text or as
 * UTF-8 bytes (offerBytes: no string is made unless the value becomes a trace field).
 */
export class TraceCollector {
  traceId: string | null = null;
  spanId: string | null = null;
  parentSpanId: string | null = null;
  requestId: string | null = null;
  /** Read-only: the distinct trace ids, in the order found. */
  traceIds: string[] = [];
  attrNames: string[] = [];
  private traceRank: i32 = i32.MAX_VALUE;
  private spanRank: i32 = i32.MAX_VALUE;
  private parentRank: i32 = i32.MAX_VALUE;
  private requestRank: i32 = i32.MAX_VALUE;
  // Attribute values as UTF-8, one after another: value i ends at attrEnds[i].
  private attrBytes: ByteWriter = new ByteWriter(256);
  private attrEnds: i32[] = [];
  // traceIds as UTF-8, to compare offered bytes with.
  private traceBytes: ByteWriter = new ByteWriter(128);
  private traceEnds: i32[] = [];
  // Scratch: a text value's UTF-8, a decoded id, a repaired id.
  private input: ByteWriter = new ByteWriter(128);
  private decoded: ByteWriter = new ByteWriter(64);
  private repaired: ByteWriter = new ByteWriter(64);

  /** Attribute pairs dropped because maxAttributes was reached. */
  attributesDropped: i32 = 0;
  /** Bound on trace_ids (one message may carry the ids of many: a Kafka batch); the rest are counted. */
  maxTraceIds: i32 = i32.MAX_VALUE;
  traceIdsDropped: i32 = 0;

  constructor(public keys: TraceKeys, public maxAttributes: i32 = 32) {}

  /** Same as clear(). */
  reset(): void {
    this.clear();
  }

  /**
   * Forgets what was found, for the next message. The lists are emptied in place (no
   * allocation): what fill() wrote into records stays intact (it copies), but lists read
   * from the collector before are emptied too.
   */
  clear(): void {
    this.traceId = null;
    this.spanId = null;
    this.parentSpanId = null;
    this.requestId = null;
    this.traceIds.length = 0;
    this.attrNames.length = 0;
    this.attrBytes.reset();
    this.attrEnds.length = 0;
    this.traceBytes.reset();
    this.traceEnds.length = 0;
    this.attributesDropped = 0;
    this.traceIdsDropped = 0;
    this.traceRank = i32.MAX_VALUE;
    this.spanRank = i32.MAX_VALUE;
    this.parentRank = i32.MAX_VALUE;
    this.requestRank = i32.MAX_VALUE;
  }

  get found(): bool {
    return this.traceId !== null || this.spanId !== null || this.parentSpanId !== null ||
      this.requestId !== null || this.attrNames.length > 0;
  }

  /** The attribute values, as text (made on each read: for inspection). */
  get attrValues(): string[] {
    const values = new Array<string>(this.attrEnds.length);
    let from = 0;
    for (let i = 0; i < this.attrEnds.length; i++) {
      const end = this.attrEnds[i];
      values[i] = String.UTF8.decodeUnsafe(this.attrBytes.dataStart + <usize>from, <usize>(end - from));
      from = end;
    }
    return values;
  }

  /** Offers one pair; true when the key was one of ours. */
  offer(key: string, value: string): bool {
    return this.offerRule(this.keys.find(key), value);
  }

  /**
   * Offers a value for the rule at `rank` (from TraceKeys.find / findBytes); false for
   * rank < 0. withAttribute = false fills the trace fields only (e.g. for the second and
   * later messages of a batch, whose raw header copies would only repeat).
   */
  offerRule(rank: i32, value: string, withAttribute: bool = true): bool {
    if (rank < 0 || rank >= this.keys.rules.length) return false;
    const w = this.input;
    w.reset();
    w.utf8(value);
    this.take(rank, w.dataStart, w.len, value, withAttribute);
    return true;
  }

  /** offerRule() for a value given as the UTF-8 bytes data[start .. start+len) (invalid ones are replaced). */
  offerBytes(rank: i32, data: Uint8Array, start: i32, len: i32, withAttribute: bool = true): bool {
    if (rank < 0 || rank >= this.keys.rules.length || start < 0 || len < 0 || start > data.length - len) return false;
    this.take(rank, data.dataStart + <usize>start, len, null, withAttribute);
    return true;
  }

  /** The value at ptr .. ptr+len (`whole`: the same as text, when offered as text). */
  private take(rank: i32, ptr: usize, len: i32, whole: string | null, withAttribute: bool): void {
    const rule = unchecked(this.keys.rules[rank]);
    const role = rule.role;
    if (role == ROLE_TRACE_ID) {
      this.setTrace(ptr, len, whole, rank);
    } else if (role == ROLE_SPAN_ID) {
      if (len > 0 && rank < this.spanRank) {
        this.spanRank = rank;
        this.spanId = textOf(ptr, len, whole);
      }
    } else if (role == ROLE_PARENT_SPAN_ID) {
      if (rank < this.parentRank) {
        this.parentRank = rank;
        this.parentSpanId = textOf(ptr, len, whole);
      }
    } else if (role == ROLE_REQUEST_ID) {
      if (rank < this.requestRank) {
        this.requestRank = rank;
        this.requestId = textOf(ptr, len, whole);
      }
    } else if (role == ROLE_SW8) {
      // 1-TRACEID-SEGMENTID-SPANID-...: ids base64 (kept raw when not base64 of UTF-8), span id "SEGMENTID-SPANID".
      if (dashField(ptr, len, 1, 3)) {
        const d = this.base64(ptr + <usize>fieldAt, fieldLen);
        if (d >= 0) this.setTrace(this.decoded.dataStart, d, null, rank);
        else this.setTrace(ptr + <usize>fieldAt, fieldLen, null, rank);
      }
      // The span id only when it would win (many messages of a batch share the rank).
      if (rank < this.spanRank && dashField(ptr, len, 3, 5)) {
        const spanAt = fieldAt;
        const spanLen = fieldLen;
        dashField(ptr, len, 2, 5);
        const d = this.base64(ptr + <usize>fieldAt, fieldLen);
        const w = this.decoded;
        if (d < 0) {
          w.reset();
          w.raw(ptr + <usize>fieldAt, fieldLen);
        }
        w.u8(0x2d);
        w.raw(ptr + <usize>spanAt, spanLen);
        this.setSpan(w.dataStart, w.len, rank);
      }
    } else if (role == ROLE_TRACEPARENT) {
      // 00-TRACEID-SPANID-FLAGS.
      if (dashField(ptr, len, 1, 2)) this.setTrace(ptr + <usize>fieldAt, fieldLen, null, rank);
      if (rank < this.spanRank && dashField(ptr, len, 2, 3)) this.setSpan(ptr + <usize>fieldAt, fieldLen, rank);
    }
    if (withAttribute && rule.attribute.length > 0) this.attribute(rule.attribute, ptr, len);
  }

  /** base64 of the bytes at ptr .. ptr+len into `decoded`: its length, -1 when not base64 of UTF-8. */
  private base64(ptr: usize, len: i32): i32 {
    const w = this.decoded;
    w.reset();
    w.ensure(len + 1);
    const n = base64Decode(ptr, len, w.dataStart);
    if (n < 0 || !isValidUtf8(w.dataStart, n)) return -1;
    w.len = n;
    return n;
  }

  addAttribute(name: string, value: string): void {
    const w = this.input;
    w.reset();
    w.utf8(value);
    this.attribute(name, w.dataStart, w.len);
  }

  /** addAttribute() with the value as UTF-8 bytes at ptr .. ptr+len. */
  addAttributeBytes(name: string, ptr: usize, len: i32): void {
    this.attribute(name, ptr, len);
  }

  private attribute(name: string, ptr: usize, len: i32): void {
    if (this.attrNames.length >= this.maxAttributes) {
      this.attributesDropped++;
      return;
    }
    this.attrNames.push(name);
    this.attrBytes.utf8Bytes(ptr, len);
    this.attrEnds.push(this.attrBytes.len);
  }

  private setTrace(ptr: usize, len: i32, whole: string | null, rank: i32): void {
    if (len == 0) return;
    if (!isValidUtf8(ptr, len)) {
      const w = this.repaired;
      w.reset();
      w.utf8Bytes(ptr, len);
      ptr = w.dataStart;
      len = w.len;
    }
    let id: string | null = null;
    const known = this.traceIndex(ptr, len);
    if (known >= 0) {
      id = unchecked(this.traceIds[known]);
    } else if (this.traceIds.length < this.maxTraceIds) {
      id = textOf(ptr, len, whole);
      this.traceIds.push(id);
      this.traceBytes.raw(ptr, len);
      this.traceEnds.push(this.traceBytes.len);
    } else {
      this.traceIdsDropped++;
    }
    if (rank < this.traceRank) {
      this.traceRank = rank;
      this.traceId = id !== null ? id : textOf(ptr, len, whole);
    }
  }

  /** Index in traceIds of the id whose UTF-8 is the bytes at ptr .. ptr+len; -1 when new. */
  private traceIndex(ptr: usize, len: i32): i32 {
    const ends = this.traceEnds;
    const base = this.traceBytes.dataStart;
    let from = 0;
    for (let i = 0; i < ends.length; i++) {
      const end = unchecked(ends[i]);
      if (end - from == len && sameBytes(base + <usize>from, ptr, len)) return i;
      from = end;
    }
    return -1;
  }

  private setSpan(ptr: usize, len: i32, rank: i32): void {
    if (len == 0) return;
    this.spanRank = rank;
    this.spanId = decodeUtf8Lossy(ptr, len);
  }

  /** Writes what was found into the record's trace and attributes. */
  fill(info: L7ProtocolInfo): void {
    if (this.traceId !== null || this.spanId !== null || this.parentSpanId !== null || this.requestId !== null) {
      const t = info.traceInfo();
      if (this.traceId !== null) t.traceId = this.traceId;
      if (this.spanId !== null) t.spanId = this.spanId;
      if (this.parentSpanId !== null) t.parentSpanId = this.parentSpanId;
      if (this.requestId !== null) t.xRequestId = this.requestId;
      if (this.traceIds.length > 1) t.setTraceIds(this.traceIds);
    }
    const base = this.attrBytes.dataStart;
    let from = 0;
    for (let i = 0; i < this.attrNames.length; i++) {
      const end = unchecked(this.attrEnds[i]);
      info.attrBytes(unchecked(this.attrNames[i]), base + <usize>from, end - from, true);
      from = end;
    }
  }
}

/** The text of a whole value: the string it was offered as, or its bytes decoded. */
function textOf(ptr: usize, len: i32, whole: string | null): string {
  return whole !== null ? whole : decodeUtf8Lossy(ptr, len);
}
