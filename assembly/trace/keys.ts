// Which carrier keys (Dubbo attachments, Kafka record headers, AMQP headers) hold
// trace context and company ids, and how their values land in a record. Shared by
// the plugins so that every protocol maps the same keys the same way; each plugin's
// config.ts starts from commonTraceKeys() (Dubbo: defaultTraceKeys()) and adds or
// removes keys at build time.
import { equalsIgnoreCase } from "../codec/text";
import { base64Decode } from "../codec/base64";
import { isValidUtf8 } from "../codec/utf8";
import { ByteWriter, WIRE_LEN, varintSize } from "../codec/writer";
import { PbReader } from "../codec/protobuf";
import { sameBytes } from "../codec/bytes";
import { L7ProtocolInfo } from "../result";
import { AppInfoField, AppTraceField, KeyValField } from "../schema.generated";

// AppInfo.attributes' key (field << 3 | length-delimited): a field past 15, so two varint
// bytes, stored at once as a little-endian u16.
const ATTRIBUTES_KEY: u32 = (AppInfoField.ATTRIBUTES << 3) | WIRE_LEN;
const ATTRIBUTES_KEY_U16: u16 = <u16>((ATTRIBUTES_KEY & 0x7f) | 0x80 | ((ATTRIBUTES_KEY >> 7) << 8));

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

  /** add(), ranked right after the rule for `after` (last when there is none). */
  addAfter(after: string, key: string, role: i32, attribute: string = ""): TraceKeys {
    const at = this.find(after);
    if (at < 0) return this.add(key, role, attribute);
    const rules = this.rules;
    rules.push(new KeyRule(key, role, attribute));
    for (let i = rules.length - 1; i > at + 1; i--) {
      const r = rules[i];
      rules[i] = rules[i - 1];
      rules[i - 1] = r;
    }
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
    return this.indexed().find(data.dataStart + <usize>start, len);
  }

  /** The rules' keys and attribute names as bytes, built on first use after a change. */
  indexed(): KeyIndex {
    let index = this.index;
    if (index === null || index.rules != this.rules.length) {
      index = new KeyIndex(this.rules);
      this.index = index;
    }
    return index;
  }
}

/**
 * The rules' keys as lower-cased UTF-8 bytes, chained by length in rule order, so that
 * a lookup compares bytes only with the keys of the same length.
 */
export class KeyIndex {
  rules: i32;
  /** Every rule's attribute name as UTF-8 (as written), one after another: name i is nameAt[i], nameLength[i]. */
  names: ByteWriter;
  nameAt: StaticArray<i32>;
  nameLength: StaticArray<i32>;
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
    const nameAt = new StaticArray<i32>(n);
    const nameLength = new StaticArray<i32>(n);
    const names = new ByteWriter(256);
    for (let i = 0; i < n; i++) {
      nameAt[i] = names.len;
      names.utf8(rules[i].attribute);
      nameLength[i] = names.len - nameAt[i];
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
    this.names = names;
    this.nameAt = nameAt;
    this.nameLength = nameLength;
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

/** lowerAscii of each of eight bytes. */
// @ts-expect-error: decorator
@inline function lower8(x: u64): u64 {
  const low7 = x & 0x7f7f7f7f7f7f7f7f;
  const fromA = low7 + 0x3f3f3f3f3f3f3f3f; // top bit set where the byte is >= 'A'
  const pastZ = low7 + 0x2525252525252525; // top bit set where the byte is > 'Z'
  const upper = fromA & ~pastZ & ~x & 0x8080808080808080;
  return x | (upper >> 2);
}

const KEY_LENGTH_SLOTS: i32 = 48;

// @ts-expect-error: decorator
@inline function slotOf(len: i32): i32 {
  return len < KEY_LENGTH_SLOTS ? len : KEY_LENGTH_SLOTS;
}

// @ts-expect-error: decorator
@inline function lowerAscii(c: u32): u32 {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/**
 * Keys of every carrier: Pinpoint's header names (its HTTP, Kafka and RabbitMQ plugins
 * write them, other SDKs copy them), RequestID / EntryID spellings, SkyWalking sw8 and
 * W3C traceparent.
 */
export function commonTraceKeys(): TraceKeys {
  return new TraceKeys()
    .add("Pinpoint-TraceID", ROLE_TRACE_ID, "Pinpoint-TraceID")
    .add("Pinpoint-SpanID", ROLE_SPAN_ID, "Pinpoint-SpanID")
    .add("Pinpoint-pSpanID", ROLE_PARENT_SPAN_ID, "Pinpoint-pSpanID")
    .add("Pinpoint-Flags", ROLE_ATTRIBUTE, "Pinpoint-Flags")
    .add("Pinpoint-pAppName", ROLE_ATTRIBUTE, "Pinpoint-pAppName")
    .add("Pinpoint-pAppType", ROLE_ATTRIBUTE, "Pinpoint-pAppType")
    .add("Pinpoint-Host", ROLE_ATTRIBUTE, "Pinpoint-Host")
    .add("X-Request-ID", ROLE_REQUEST_ID, "RequestID")
    .add("RequestID", ROLE_REQUEST_ID, "RequestID")
    .add("EntryID", ROLE_ATTRIBUTE, "EntryID")
    .add("traceparent", ROLE_TRACEPARENT, "traceparent")
    .add("sw8", ROLE_SW8, "sw8");
}

/**
 * commonTraceKeys() and the attachment keys of Pinpoint's Dubbo plugin (with the
 * agent's own spelling `_DUBBO_TRASACTION_ID`), each ranked right after the header name
 * it stands for. Only Dubbo carries them: other plugins start from commonTraceKeys()
 * and leave these names out of their modules.
 */
export function defaultTraceKeys(): TraceKeys {
  return commonTraceKeys()
    .addAfter("Pinpoint-TraceID", "_DUBBO_TRASACTION_ID", ROLE_TRACE_ID, "Pinpoint-TraceID")
    .addAfter("Pinpoint-SpanID", "_DUBBO_SPAN_ID", ROLE_SPAN_ID, "Pinpoint-SpanID")
    .addAfter("Pinpoint-pSpanID", "_DUBBO_PARENT_SPAN_ID", ROLE_PARENT_SPAN_ID, "Pinpoint-pSpanID")
    .addAfter("Pinpoint-Flags", "_DUBBO_FLAGS", ROLE_ATTRIBUTE, "Pinpoint-Flags")
    .addAfter("Pinpoint-pAppName", "_DUBBO_PARENT_APPLICATION_NAME", ROLE_ATTRIBUTE, "Pinpoint-pAppName")
    .addAfter("Pinpoint-pAppType", "_DUBBO_PARENT_APPLICATION_TYPE", ROLE_ATTRIBUTE, "Pinpoint-pAppType")
    .addAfter("Pinpoint-Host", "_DUBBO_HOST", ROLE_ATTRIBUTE, "Pinpoint-Host");
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
  let k = nextDash(ptr, 0, len);
  for (;;) {
    if (fields - 1 == i) {
      fieldAt = from;
      fieldLen = k - from;
      found = true;
    }
    if (k == len) break;
    fields++;
    from = k + 1;
    if (found && fields >= need) break;
    k = nextDash(ptr, from, len);
  }
  return found && fields >= need;
}

/** Offset of the first "-" at or after `from` in the len bytes at ptr; len when none. */
function nextDash(ptr: usize, from: i32, len: i32): i32 {
  let k = from;
  // Eight bytes at a time: a byte equal to '-' becomes zero, and zero bytes are found
  // by the borrow they cause (the lowest one exactly).
  for (; k + 8 <= len; k += 8) {
    const x = load<u64>(ptr + <usize>k) ^ 0x2d2d2d2d2d2d2d2d;
    const zero = (x - 0x0101010101010101) & ~x & 0x8080808080808080;
    if (zero != 0) return k + <i32>(ctz(zero) >> 3);
  }
  for (; k < len; k++) if (load<u8>(ptr + <usize>k) == 0x2d) return k;
  return len;
}

/**
 * Collects the ids found in one message's key/value pairs, then writes them into a
 * record. For each field the earliest rule (in TraceKeys order) that matched wins;
 * every distinct trace id is kept for trace_ids. Values may be offered as text or as
 * UTF-8 bytes (offerBytes). Ids are kept as bytes and copied into the record as bytes:
 * no string is made on the way (the text getters below make them, for inspection).
 */
export class TraceCollector {
  // Per id field (ID_* below, the same numbers as Trace's fields): the rank of the rule
  // that set it, and where its bytes are in `fields` (-1: not set).
  private idRank: StaticArray<i32> = new StaticArray<i32>(ID_FIELDS).fill(i32.MAX_VALUE);
  private idAt: StaticArray<i32> = new StaticArray<i32>(ID_FIELDS).fill(-1);
  private idLen: StaticArray<i32> = new StaticArray<i32>(ID_FIELDS);
  private fields: ByteWriter = new ByteWriter(128);
  // Attribute pairs in their protobuf form (AppInfo field 31), one after another: pair i ends at attrEnds[i].
  private attrBytes: ByteWriter = new ByteWriter(256);
  private attrEnds: i32[] = [];
  // Scratch: an attribute name's UTF-8.
  private name: ByteWriter = new ByteWriter(64);
  // The distinct trace ids, each already a trace_ids entry (tag, length, valid UTF-8), one
  // after another, so that fill() copies them into the record in one go; traceTable holds
  // TRACE_SLOT bytes per id.
  private traceEntries: ByteWriter = new ByteWriter(256);
  private traceTable: ByteWriter = new ByteWriter(128);
  private traceCount: i32 = 0;
  // The ids chained by hash (a batch may hold dozens of distinct ids, each checked against
  // all): traceHeads[hash % TRACE_HEADS] = 1 + the index of the chain's last id, 0 for none;
  // each id's slot links to the one before it.
  private traceHeads: StaticArray<i32> = new StaticArray<i32>(TRACE_HEADS);
  // Scratch: a text value's UTF-8, a decoded id, a repaired id.
  private input: ByteWriter = new ByteWriter(128);
  private decoded: ByteWriter = new ByteWriter(64);
  private repaired: ByteWriter = new ByteWriter(64);

  /** Attribute pairs dropped because maxAttributes was reached. */
  attributesDropped: i32 = 0;
  /** Bound on trace_ids (one message may carry the ids of many: a Kafka batch); the rest are counted. */
  maxTraceIds: i32 = i32.MAX_VALUE;
  traceIdsDropped: i32 = 0;

  /**
   * false (the default): every value of a key with an attribute name is also kept as
   * that attribute. true: a trace id, span id, parent span id or RequestID that lands
   * in its trace field is not repeated as an attribute (values that do not land there
   * still are, so none is lost) — for records whose trace fields the agent keeps
   * (parse_payload; the custom-message hook drops some, see fill()).
   */
  idsInFieldsOnly: bool = false;

  constructor(public keys: TraceKeys, public maxAttributes: i32 = 32) {}

  /** Same as clear(). */
  reset(): void {
    this.clear();
  }

  /** Forgets what was found, for the next message (nothing is allocated: the buffers are reused). */
  clear(): void {
    this.fields.reset();
    this.idAt.fill(-1);
    this.idRank.fill(i32.MAX_VALUE);
    this.attrBytes.reset();
    this.attrEnds.length = 0;
    if (this.traceCount > 0) {
      this.traceEntries.reset();
      this.traceTable.reset();
      this.traceCount = 0;
      memory.fill(changetype<usize>(this.traceHeads), 0, <usize>TRACE_HEADS << 2);
    }
    this.attributesDropped = 0;
    this.traceIdsDropped = 0;
  }

  get found(): bool {
    return this.anyId || this.attrEnds.length > 0;
  }

  private get anyId(): bool {
    for (let i = 0; i < ID_FIELDS; i++) if (unchecked(this.idAt[i]) >= 0) return true;
    return false;
  }

  get traceId(): string | null {
    return this.idText(ID_TRACE);
  }

  get spanId(): string | null {
    return this.idText(ID_SPAN);
  }

  get parentSpanId(): string | null {
    return this.idText(ID_PARENT);
  }

  /** The company RequestID. */
  get requestId(): string | null {
    return this.idText(ID_REQUEST);
  }

  /** Whether a RequestID was found (without making its text). */
  get hasRequestId(): bool {
    return unchecked(this.idAt[ID_REQUEST]) >= 0;
  }

  /** The distinct trace ids, in the order found (made on each read: for inspection). */
  get traceIds(): string[] {
    const ids = new Array<string>(this.traceCount);
    const table = this.traceTable.dataStart;
    for (let i = 0; i < this.traceCount; i++) {
      const slot = table + <usize>(i * TRACE_SLOT);
      ids[i] = String.UTF8.decodeUnsafe(this.traceEntries.dataStart + <usize>load<i32>(slot, 4), <usize>load<i32>(slot, 8));
    }
    return ids;
  }

  /** The attribute names, as text (made on each read: for inspection). */
  get attrNames(): string[] {
    return this.attrTexts(1);
  }

  /** The attribute values, as text (made on each read: for inspection). */
  get attrValues(): string[] {
    return this.attrTexts(2);
  }

  private attrTexts(field: u32): string[] {
    const out: string[] = [];
    const pairs = new PbReader(this.attrBytes.view());
    while (pairs.next()) {
      const pair = pairs.message();
      while (pair.next()) {
        if (pair.field == field) out.push(pair.string());
        else pair.skip();
      }
    }
    return out;
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
    this.take(rank, w.dataStart, w.len, withAttribute);
    return true;
  }

  /** offerRule() for a value given as the UTF-8 bytes data[start .. start+len) (invalid ones are replaced). */
  offerBytes(rank: i32, data: Uint8Array, start: i32, len: i32, withAttribute: bool = true): bool {
    if (rank < 0 || rank >= this.keys.rules.length || start < 0 || len < 0 || start > data.length - len) return false;
    this.take(rank, data.dataStart + <usize>start, len, withAttribute);
    return true;
  }

  /** The value at ptr .. ptr+len. */
  private take(rank: i32, ptr: usize, len: i32, withAttribute: bool): void {
    const rule = unchecked(this.keys.rules[rank]);
    const role = rule.role;
    if (role == ROLE_TRACE_ID) {
      this.setTrace(ptr, len, rank);
      // Every distinct trace id reaches trace_id or trace_ids.
      if (this.idsInFieldsOnly) withAttribute = false;
    } else if (role == ROLE_SPAN_ID) {
      if (len > 0) withAttribute = this.offerId(ID_SPAN, rank, ptr, len, withAttribute);
    } else if (role == ROLE_PARENT_SPAN_ID) {
      withAttribute = this.offerId(ID_PARENT, rank, ptr, len, withAttribute);
    } else if (role == ROLE_REQUEST_ID) {
      withAttribute = this.offerId(ID_REQUEST, rank, ptr, len, withAttribute);
    } else if (role == ROLE_SW8) {
      // 1-TRACEID-SEGMENTID-SPANID-...: ids base64 (kept raw when not base64 of UTF-8), span id "SEGMENTID-SPANID".
      this.sw8Trace(rank, ptr, len);
      // The span id only when it would win (many messages of a batch share the rank).
      if (rank < unchecked(this.idRank[ID_SPAN]) && dashField(ptr, len, 3, 5)) {
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
      this.traceparentTrace(rank, ptr, len);
      if (rank < unchecked(this.idRank[ID_SPAN]) && dashField(ptr, len, 2, 3)) this.setSpan(ptr + <usize>fieldAt, fieldLen, rank);
    }
    if (withAttribute) this.ruleAttribute(rank, ptr, len);
  }

  /**
   * The trace id alone of a value for the rule at `rank` (a trace id, sw8 or traceparent
   * key; other keys are passed over), given as bytes data[start .. start+len): for the
   * later messages of a batch, whose other ids and attributes would only repeat the first's.
   */
  offerTraceIdBytes(rank: i32, data: Uint8Array, start: i32, len: i32): void {
    if (rank < 0 || rank >= this.keys.rules.length || start < 0 || len < 0 || start > data.length - len) return;
    const ptr = data.dataStart + <usize>start;
    const role = unchecked(this.keys.rules[rank]).role;
    if (role == ROLE_TRACE_ID) this.setTrace(ptr, len, rank);
    else if (role == ROLE_SW8) this.sw8Trace(rank, ptr, len);
    else if (role == ROLE_TRACEPARENT) this.traceparentTrace(rank, ptr, len);
  }

  /** The trace id of an sw8 value (1-TRACEID-SEGMENTID-...): base64, kept raw when not base64 of UTF-8. */
  private sw8Trace(rank: i32, ptr: usize, len: i32): void {
    if (!dashField(ptr, len, 1, 3)) return;
    const d = this.base64(ptr + <usize>fieldAt, fieldLen);
    if (d >= 0) this.setTrace(this.decoded.dataStart, d, rank, true);
    else this.setTrace(ptr + <usize>fieldAt, fieldLen, rank);
  }

  /** The trace id of a traceparent value (00-TRACEID-SPANID-FLAGS). */
  private traceparentTrace(rank: i32, ptr: usize, len: i32): void {
    if (dashField(ptr, len, 1, 2)) this.setTrace(ptr + <usize>fieldAt, fieldLen, rank);
  }

  /** The value as the attribute named by rule `rank` (when it names one). */
  private ruleAttribute(rank: i32, ptr: usize, len: i32): void {
    const index = this.keys.indexed();
    const nameLen = unchecked(index.nameLength[rank]);
    if (nameLen > 0) this.attribute(index.names.dataStart + <usize>unchecked(index.nameAt[rank]), nameLen, ptr, len);
  }

  /**
   * A value for id field `id` from rule `rank`: it becomes the field when no earlier
   * rule set it. Returns whether the value must still be kept as an attribute.
   */
  private offerId(id: i32, rank: i32, ptr: usize, len: i32, withAttribute: bool): bool {
    const wins = rank < unchecked(this.idRank[id]);
    if (!this.idsInFieldsOnly) {
      if (wins) this.setId(id, rank, ptr, len);
      return withAttribute;
    }
    const at = unchecked(this.idAt[id]);
    const base = this.fields.dataStart;
    const same = at >= 0 && unchecked(this.idLen[id]) == len && sameBytes(base + <usize>at, ptr, len);
    if (!wins) return withAttribute && !same;
    // The value it displaces is kept as an attribute, unless it is the same (or came
    // out of an sw8/traceparent value, which is an attribute whole already).
    if (at >= 0 && !same) {
      const displaced = unchecked(this.idRank[id]);
      const role = unchecked(this.keys.rules[displaced]).role;
      if (role != ROLE_SW8 && role != ROLE_TRACEPARENT) this.ruleAttribute(displaced, base + <usize>at, unchecked(this.idLen[id]));
    }
    this.setId(id, rank, ptr, len);
    return false;
  }

  /** Field `id` = the bytes at ptr .. ptr+len (made valid unless `valid`), set by rule `rank`. */
  private setId(id: i32, rank: i32, ptr: usize, len: i32, valid: bool = false): void {
    const w = this.fields;
    const at = w.len;
    w.utf8Bytes(ptr, len, valid);
    unchecked((this.idRank[id] = rank));
    unchecked((this.idAt[id] = at));
    unchecked((this.idLen[id] = w.len - at));
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
    this.addAttributeBytes(name, w.dataStart, w.len);
  }

  /** addAttribute() with the value as UTF-8 bytes at ptr .. ptr+len (invalid ones are replaced). */
  addAttributeBytes(name: string, ptr: usize, len: i32): void {
    const n = this.name;
    n.reset();
    n.utf8(name);
    this.attribute(n.dataStart, n.len, ptr, len);
  }

  /** Appends the pair (name: valid UTF-8, value: any bytes) in its protobuf form. */
  private attribute(name: usize, nameLen: i32, ptr: usize, len: i32): void {
    if (this.attrEnds.length >= this.maxAttributes) {
      this.attributesDropped++;
      return;
    }
    if (!isValidUtf8(ptr, len)) {
      const r = this.repaired;
      r.reset();
      r.utf8Bytes(ptr, len);
      ptr = r.dataStart;
      len = r.len;
    }
    const w = this.attrBytes;
    const inner = 2 + varintSize(<u64>nameLen) + nameLen + varintSize(<u64>len) + len;
    if (inner < 128) {
      // The common short pair: every length one byte, written in place.
      w.ensure(3 + inner);
      const p = w.dataStart + <usize>w.len;
      store<u16>(p, ATTRIBUTES_KEY_U16);
      store<u8>(p, <u8>inner, 2);
      store<u16>(p, <u16>(((KeyValField.KEY << 3) | WIRE_LEN) | (nameLen << 8)), 3);
      w.len += 5;
      w.raw(name, nameLen);
      w.u16be(<u32>((((KeyValField.VAL << 3) | WIRE_LEN) << 8) | len));
      w.raw(ptr, len);
    } else {
      w.tag(AppInfoField.ATTRIBUTES, WIRE_LEN);
      w.varint(<u64>inner);
      w.u8((KeyValField.KEY << 3) | WIRE_LEN);
      w.varint(<u64>nameLen);
      w.raw(name, nameLen);
      w.u8((KeyValField.VAL << 3) | WIRE_LEN);
      w.varint(<u64>len);
      w.raw(ptr, len);
    }
    this.attrEnds.push(w.len);
  }

  /** A trace id; `valid`: the bytes are known to be valid UTF-8 (decoded base64 checked already). */
  private setTrace(ptr: usize, len: i32, rank: i32, valid: bool = false): void {
    if (len == 0) return;
    if (!valid && !isValidUtf8(ptr, len)) {
      const w = this.repaired;
      w.reset();
      w.utf8Bytes(ptr, len);
      ptr = w.dataStart;
      len = w.len;
    }
    const hash = idHash(ptr, len);
    if (!this.knownTrace(hash, ptr, len)) {
      if (this.traceCount < this.maxTraceIds) this.addTrace(hash, ptr, len);
      else this.traceIdsDropped++;
    }
    if (rank < unchecked(this.idRank[ID_TRACE])) this.setId(ID_TRACE, rank, ptr, len, true);
  }

  /** Whether the trace id whose UTF-8 is the bytes at ptr .. ptr+len (hashed to `hash`) was found already. */
  private knownTrace(hash: u32, ptr: usize, len: i32): bool {
    const table = this.traceTable.dataStart;
    const ids = this.traceEntries.dataStart;
    let i = unchecked(this.traceHeads[hash & (TRACE_HEADS - 1)]);
    while (i != 0) {
      const slot = table + <usize>((i - 1) * TRACE_SLOT);
      if (load<u32>(slot) == hash && load<i32>(slot, 8) == len && sameBytes(ids + <usize>load<i32>(slot, 4), ptr, len)) return true;
      i = load<i32>(slot, 12);
    }
    return false;
  }

  /** Appends a new trace id (as a trace_ids entry) and chains it by its hash. */
  private addTrace(hash: u32, ptr: usize, len: i32): void {
    const entries = this.traceEntries;
    entries.fieldRaw(AppTraceField.TRACE_IDS, ptr, len);
    const table = this.traceTable;
    table.ensure(TRACE_SLOT);
    const slot = table.dataStart + <usize>table.len;
    const head = changetype<usize>(this.traceHeads) + (<usize>(hash & (TRACE_HEADS - 1)) << 2);
    store<u32>(slot, hash);
    store<i32>(slot, entries.len - len, 4);
    store<i32>(slot, len, 8);
    store<i32>(slot, load<i32>(head), 12);
    table.len += TRACE_SLOT;
    store<i32>(head, ++this.traceCount);
  }

  private setSpan(ptr: usize, len: i32, rank: i32): void {
    if (len > 0) this.setId(ID_SPAN, rank, ptr, len);
  }

  private idText(id: i32): string | null {
    const at = unchecked(this.idAt[id]);
    return at < 0 ? null : String.UTF8.decodeUnsafe(this.fields.dataStart + <usize>at, <usize>unchecked(this.idLen[id]));
  }

  /**
   * Writes what was found into the record's trace and attributes. With idsInFieldsOnly,
   * idsAsAttributes = true still adds the ids set in fields as attributes too: for the
   * custom-message hook, whose records lose parent span id and x_request_id in the agent.
   */
  fill(info: L7ProtocolInfo, idsAsAttributes: bool = false): void {
    const base = this.fields.dataStart;
    if (this.anyId) {
      const t = info.traceInfo();
      for (let id = 0; id < ID_FIELDS; id++) {
        const at = unchecked(this.idAt[id]);
        if (at >= 0) t.setBytes(id, base + <usize>at, unchecked(this.idLen[id]), true);
      }
      // A single trace id is trace_id alone.
      if (this.traceCount > 1) t.addTraceIdEntries(this.traceEntries.dataStart, this.traceEntries.len);
    }
    if (idsAsAttributes && this.idsInFieldsOnly) {
      for (let id = 0; id < ID_FIELDS; id++) {
        const at = unchecked(this.idAt[id]);
        if (at < 0) continue;
        const rank = unchecked(this.idRank[id]);
        // sw8 / traceparent values were kept whole as attributes already.
        const role = unchecked(this.keys.rules[rank]).role;
        if (role != ROLE_SW8 && role != ROLE_TRACEPARENT) this.ruleAttribute(rank, base + <usize>at, unchecked(this.idLen[id]));
      }
    }
    if (this.attrEnds.length > 0) info.addEncodedAttributes(this.attrBytes.dataStart, this.attrBytes.len, this.attrEnds);
  }
}

// TraceCollector's id fields: the numbers of the same fields of Trace.
const ID_TRACE: i32 = 0; // Trace.TRACE_ID
const ID_SPAN: i32 = 1; // Trace.SPAN_ID
const ID_PARENT: i32 = 2; // Trace.PARENT_SPAN_ID
const ID_REQUEST: i32 = 3; // Trace.X_REQUEST_ID
const ID_FIELDS: i32 = 4;

/** Bytes per trace id in traceTable: its hash, where it starts in traceEntries, its length, the chain's previous id. */
const TRACE_SLOT: i32 = 16;
/** Hash chains of trace ids (a power of two): with the up to 64 ids Kafka keeps per record, chains stay short. */
const TRACE_HEADS: i32 = 64;

/**
 * A hash of the n bytes at p for telling trace ids apart: it mixes their first and last
 * eight bytes (random ids differ in both, counted ones at their end); ids alike there
 * share a chain and are told apart by their bytes.
 */
function idHash(p: usize, n: i32): u32 {
  let x: u64;
  if (n >= 8) {
    x = load<u64>(p) ^ rotl(load<u64>(p + <usize>(n - 8)), 29);
  } else {
    x = 0;
    for (let k = 0; k < n; k++) x = (x << 8) | <u64>load<u8>(p + <usize>k);
  }
  x *= 0x9e3779b97f4a7c15;
  return <u32>(x >> 32) ^ <u32>n;
}
