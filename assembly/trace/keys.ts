// Which carrier keys (Dubbo attachments, Kafka record headers, AMQP headers) hold
// trace context and company ids, and how their values land in a record. Shared by
// the plugins so that every protocol maps the same keys the same way; each plugin's
// config.ts starts from defaultTraceKeys() and adds or removes keys at build time.
import { equalsIgnoreCase } from "../codec/text";
import { base64DecodeToString } from "../codec/base64";
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
  private bytes: StaticArray<u8>;
  private offset: StaticArray<i32>;
  private length: StaticArray<i32>;
  /** First rule per key length (the last slot takes every longer key); -1 = none. */
  private head: StaticArray<i32> = new StaticArray<i32>(KEY_LENGTH_SLOTS + 1);
  /** Next rule of the same slot. */
  private next: StaticArray<i32>;

  constructor(rules: KeyRule[]) {
    const n = rules.length;
    this.rules = n;
    this.offset = new StaticArray<i32>(n);
    this.length = new StaticArray<i32>(n);
    this.next = new StaticArray<i32>(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += String.UTF8.byteLength(rules[i].key);
    const bytes = new StaticArray<u8>(total);
    this.bytes = bytes;
    for (let s = 0; s <= KEY_LENGTH_SLOTS; s++) this.head[s] = -1;
    const tail = new StaticArray<i32>(KEY_LENGTH_SLOTS + 1);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const key = rules[i].key;
      const len = String.UTF8.encodeUnsafe(changetype<usize>(key), key.length, changetype<usize>(bytes) + <usize>at);
      for (let k = 0; k < <i32>len; k++) bytes[at + k] = <u8>lowerAscii(bytes[at + k]);
      this.offset[i] = at;
      this.length[i] = <i32>len;
      this.next[i] = -1;
      at += <i32>len;
      if (len == 0) continue;
      const slot = slotOf(<i32>len);
      if (this.head[slot] < 0) this.head[slot] = i;
      else this.next[tail[slot]] = i;
      tail[slot] = i;
    }
  }

  find(p: usize, len: i32): i32 {
    const keys = changetype<usize>(this.bytes);
    for (let i = unchecked(this.head[slotOf(len)]); i >= 0; i = unchecked(this.next[i])) {
      if (unchecked(this.length[i]) != len) continue;
      const key = keys + <usize>unchecked(this.offset[i]);
      let k = 0;
      while (k < len && lowerAscii(<u32>load<u8>(p + <usize>k)) == <u32>load<u8>(key + <usize>k)) k++;
      if (k == len) return i;
    }
    return -1;
  }
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


/**
 * value.split("-")[i] without splitting the rest: null when value has fewer than
 * `need` fields. (Headers are read per message, often many per call.)
 */
function dashField(value: string, i: i32, need: i32): string | null {
  let from = 0;
  let fields = 1;
  let start = -1;
  let end = -1;
  for (let f = 0; ; f++) {
    const dash = value.indexOf("-", from);
    if (f == i) {
      start = from;
      end = dash < 0 ? value.length : dash;
    }
    if (dash < 0) break;
    fields++;
    if (fields >= need && start >= 0) break;
    from = dash + 1;
  }
  if (fields < need || start < 0) return null;
  return value.substring(start, end);
}

/** sw8: 1-TRACEID-SEGMENTID-SPANID-...; ids base64, span id "SEGMENTID-SPANID". */
function sw8Part(value: string, wantSpan: bool): string | null {
  if (!wantSpan) {
    const trace = dashField(value, 1, 3);
    if (trace === null) return null;
    const decoded = base64DecodeToString(trace);
    return decoded !== null ? decoded : trace;
  }
  const segment = dashField(value, 2, 5);
  const span = dashField(value, 3, 5);
  if (segment === null || span === null) return null;
  const decoded = base64DecodeToString(segment);
  const seg: string = decoded !== null ? decoded : segment;
  return seg + "-" + span;
}

/** traceparent: 00-TRACEID-SPANID-FLAGS. */
function traceparentPart(value: string, wantSpan: bool): string | null {
  const i = wantSpan ? 2 : 1;
  return dashField(value, i, i + 1);
}

/**
 * Collects the ids found in one message's key/value pairs, then writes them into a
 * record. For each field the earliest rule (in TraceKeys order) that matched wins;
 * every distinct trace id is kept for trace_ids.
 */
export class TraceCollector {
  traceId: string | null = null;
  spanId: string | null = null;
  parentSpanId: string | null = null;
  requestId: string | null = null;
  traceIds: string[] = [];
  attrNames: string[] = [];
  attrValues: string[] = [];
  private traceRank: i32 = i32.MAX_VALUE;
  private spanRank: i32 = i32.MAX_VALUE;
  private parentRank: i32 = i32.MAX_VALUE;
  private requestRank: i32 = i32.MAX_VALUE;

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
    this.attrValues.length = 0;
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
    const rule = this.keys.rules[rank];
    const role = rule.role;
    if (role == ROLE_TRACE_ID) this.setTrace(value, rank);
    else if (role == ROLE_SPAN_ID) this.setSpan(value, rank);
    else if (role == ROLE_PARENT_SPAN_ID) {
      if (rank < this.parentRank) {
        this.parentRank = rank;
        this.parentSpanId = value;
      }
    } else if (role == ROLE_REQUEST_ID) {
      if (rank < this.requestRank) {
        this.requestRank = rank;
        this.requestId = value;
      }
    } else if (role == ROLE_SW8 || role == ROLE_TRACEPARENT) {
      const sw = role == ROLE_SW8;
      const t = sw ? sw8Part(value, false) : traceparentPart(value, false);
      if (t !== null) this.setTrace(t, rank);
      // The span id only when it would win (many messages of a batch share the rank).
      if (rank < this.spanRank) {
        const s = sw ? sw8Part(value, true) : traceparentPart(value, true);
        if (s !== null) this.setSpan(s, rank);
      }
    }
    if (withAttribute && rule.attribute.length > 0) this.addAttribute(rule.attribute, value);
    return true;
  }

  addAttribute(name: string, value: string): void {
    if (this.attrNames.length >= this.maxAttributes) {
      this.attributesDropped++;
      return;
    }
    this.attrNames.push(name);
    this.attrValues.push(value);
  }

  private setTrace(value: string, rank: i32): void {
    if (value.length == 0) return;
    if (!this.traceIds.includes(value)) {
      if (this.traceIds.length < this.maxTraceIds) this.traceIds.push(value);
      else this.traceIdsDropped++;
    }
    if (rank < this.traceRank) {
      this.traceRank = rank;
      this.traceId = value;
    }
  }

  private setSpan(value: string, rank: i32): void {
    if (value.length == 0) return;
    if (rank < this.spanRank) {
      this.spanRank = rank;
      this.spanId = value;
    }
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
    for (let i = 0; i < this.attrNames.length; i++) info.attr(this.attrNames[i], this.attrValues[i]);
  }
}
