// OTLP encoding. JSON is written directly from the span model, in one pass, as the text that
// @opentelemetry/otlp-transformer's JsonTraceSerializer makes (JSON.stringify of its request object:
// same fields, same order, same omissions); tests/converter/export.test.ts holds the two equal.
// That serializer builds a request object per span and then a Uint8Array, which callers decoded back
// to text: three copies of every span, and the cost of the converter at volume.
// Protobuf is written the same way (ProtobufWriter below), as the bytes of the official
// ProtobufTraceSerializer (same fields, order and omissions; the tests hold the two equal), which
// sizes every message in a first pass and makes a byte array per id and string. Values the span
// model never holds (non-primitive attributes, times outside 0..2^42 ms) go to that serializer whole.
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { TRACE_FLAGS, type HrTime, type OtelResource, type OtelSpan } from "./otel-span.ts";
import type { Attributes } from "./semconv.ts";

type SerializerInput = Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0];

/** ExportTraceServiceRequest, protobuf bytes. */
export function encodeProtobuf(spans: OtelSpan[]): Uint8Array {
  const groups = byResource(spans);
  const w = new ProtobufWriter(1024 + spans.length * 768);
  for (const [resource, group] of groups) {
    // ExportTraceServiceRequest.resource_spans (1) → ResourceSpans
    w.tag(1, LEN);
    const rs = w.begin();
    w.tag(1, LEN); // resource (1)
    const r = w.begin();
    w.attributes(1, resource.attributes);
    w.tag(2, VARINT); // dropped_attributes_count
    w.varint(0);
    w.end(r);
    w.tag(2, LEN); // scope_spans (2): one scope, the converter's
    const ss = w.begin();
    const scope = group[0].instrumentationScope;
    w.tag(1, LEN);
    const sc = w.begin();
    w.tag(1, LEN);
    w.string(scope.name);
    if (scope.version) {
      w.tag(2, LEN);
      w.string(scope.version);
    }
    w.end(sc);
    for (const span of group) {
      w.tag(2, LEN);
      spanProto(w, span);
    }
    w.end(ss);
    w.end(rs);
  }
  if (w.unusual) {
    const bytes = ProtobufTraceSerializer.serializeRequest(spans as unknown as SerializerInput);
    if (!bytes) throw new Error("otlp-transformer returned no protobuf payload");
    return bytes;
  }
  return w.done();
}

function spanProto(w: ProtobufWriter, s: OtelSpan): void {
  const at = w.begin();
  w.tag(1, LEN);
  w.hexBytes(s.traceId);
  w.tag(2, LEN);
  w.hexBytes(s.spanId);
  if (s.parentId) {
    w.tag(4, LEN);
    w.hexBytes(s.parentId);
  }
  w.tag(5, LEN);
  w.string(s.name);
  const kind = s.kind == null ? 0 : s.kind + 1;
  if (kind !== 0) {
    w.tag(6, VARINT);
    w.varint(kind);
  }
  w.tag(7, I64);
  w.msTime(s.startMs);
  w.tag(8, I64);
  w.msTime(s.endMs);
  w.attributes(9, s.attributes);
  w.tag(10, VARINT);
  w.varint(s.droppedAttributesCount);
  for (const e of s.events) {
    w.tag(11, LEN);
    const ev = w.begin();
    w.tag(1, I64);
    w.hrTime(e.time);
    w.tag(2, LEN);
    w.string(e.name);
    if (e.attributes) w.attributes(3, e.attributes);
    w.tag(4, VARINT);
    w.varint(0);
    w.end(ev);
  }
  w.tag(12, VARINT);
  w.varint(s.droppedEventsCount);
  // links (13): none
  w.tag(14, VARINT);
  w.varint(s.droppedLinksCount);
  w.tag(15, LEN);
  const st = w.begin();
  if (s.status.message) {
    w.tag(2, LEN);
    w.string(s.status.message);
  }
  w.tag(3, VARINT);
  w.varint(s.status.code);
  w.end(st);
  w.tag(16, I32);
  w.fixed32(TRACE_FLAGS | HAS_IS_REMOTE | (s.parentId && s.parentIsRemote ? IS_REMOTE : 0));
  w.end(at);
}

/** Spans by resource object, in order of first appearance (as both serializers group them). */
function byResource(spans: OtelSpan[]): Map<OtelResource, OtelSpan[]> {
  const groups = new Map<OtelResource, OtelSpan[]>();
  for (const s of spans) {
    const g = groups.get(s.resource);
    if (g) g.push(s);
    else groups.set(s.resource, [s]);
  }
  return groups;
}

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

// OTLP span flags (trace.proto): the low byte is the W3C trace flags; bit 8 says whether the parent
// is remote is known, bit 9 that it is.
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

/** ExportTraceServiceRequest in the OTLP/JSON mapping (hex ids, string nanoseconds), as text. */
export function encodeJson(spans: OtelSpan[]): string {
  return encodeJsonBytes(spans).toString("utf8");
}

/**
 * The same as UTF-8 bytes, written straight into one buffer (with a trailing newline when asked, for
 * JSON lines): what a file or an OTLP/HTTP body needs, without a string in between.
 */
export function encodeJsonBytes(spans: OtelSpan[], newline = false): Buffer {
  // Grouped by resource object in order of first appearance, as the serializer does (one scope).
  const groups = byResource(spans);
  const w = new JsonWriter(1024 + spans.length * 1536);
  w.ascii('{"resourceSpans":[');
  let firstGroup = true;
  for (const [resource, group] of groups) {
    if (!firstGroup) w.byte(0x2c);
    firstGroup = false;
    const scope = group[0].instrumentationScope;
    w.ascii('{"resource":{"attributes":');
    attributesJson(w, resource.attributes);
    w.ascii(',"droppedAttributesCount":0},"scopeSpans":[{"scope":{"name":');
    w.str(scope.name);
    if (scope.version !== undefined) {
      w.ascii(',"version":');
      w.str(scope.version);
    }
    w.ascii('},"spans":[');
    for (let i = 0; i < group.length; i++) {
      if (i) w.byte(0x2c);
      spanJson(w, group[i]);
    }
    w.ascii("]}]}");
  }
  w.ascii(newline ? "]}\n" : "]}");
  return w.done();
}

function spanJson(w: JsonWriter, s: OtelSpan): void {
  // The fields behind spanContext() and parentSpanContext, read without making those objects.
  w.ascii('{"traceId":');
  w.str(s.traceId);
  w.ascii(',"spanId":');
  w.str(s.spanId);
  if (s.parentId) {
    w.ascii(',"parentSpanId":');
    w.str(s.parentId);
  }
  w.ascii(',"name":');
  w.str(s.name);
  w.ascii(',"kind":');
  w.num(s.kind == null ? 0 : s.kind + 1);
  w.ascii(',"startTimeUnixNano":"');
  w.nanos(s.startMs);
  w.ascii('","endTimeUnixNano":"');
  w.nanos(s.endMs);
  w.ascii('","attributes":');
  attributesJson(w, s.attributes);
  // The dropped counts are constants of OtelSpan (0): written with the text around them.
  w.ascii(',"droppedAttributesCount":0,"events":[');
  const events = s.events;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (i) w.byte(0x2c);
    w.ascii('{"attributes":');
    if (e.attributes) attributesJson(w, e.attributes);
    else w.ascii("[]");
    w.ascii(',"name":');
    w.str(e.name);
    w.ascii(',"timeUnixNano":"');
    w.ascii(hrNanos(e.time));
    w.ascii('","droppedAttributesCount":0}');
  }
  w.ascii('],"droppedEventsCount":0,"status":{"code":');
  w.num(s.status.code);
  if (s.status.message !== undefined) {
    w.ascii(',"message":');
    w.str(s.status.message);
  }
  w.ascii('},"links":[],"droppedLinksCount":0,"flags":');
  w.num(TRACE_FLAGS | HAS_IS_REMOTE | (s.parentId && s.parentIsRemote ? IS_REMOTE : 0));
  w.byte(0x7d);
}

function attributesJson(w: JsonWriter, attrs: Attributes): void {
  w.byte(0x5b);
  let first = true;
  for (const key in attrs) {
    if (!Object.hasOwn(attrs, key)) continue;
    if (!first) w.byte(0x2c);
    first = false;
    const heads = keyHeads(key);
    const v: unknown = attrs[key];
    switch (typeof v) {
      case "string":
        w.bytes(heads.string);
        w.str(v);
        break;
      case "number":
        w.bytes(Number.isInteger(v) ? heads.int : heads.double);
        w.num(v);
        break;
      case "boolean":
        w.bytes(v ? heads.true : heads.false);
        break;
      default:
        // Attributes hold primitives only; anything else is what the serializer makes of it.
        w.bytes(heads.any);
        w.utf8(JSON.stringify(toAnyValueObject(v)).slice(0, -1));
    }
    w.byte(0x7d);
    w.byte(0x7d);
  }
  w.byte(0x5d);
}

/** An attribute up to its value, `{"key":"<key>","value":{"<type>Value":`, as UTF-8 per value type. */
interface KeyHeads {
  string: Buffer;
  int: Buffer;
  double: Buffer;
  true: Buffer;
  false: Buffer;
  /** Up to `"value":` only. */
  any: Buffer;
}

/** Per attribute key: the few keys in use are written over and over. */
const KEY_HEADS = new Map<string, KeyHeads>();
/** Keys come from annotation codes too (any int32): the cache stays bounded whatever the agents send. */
const MAX_KEY_PREFIXES = 4096;

function keyHeads(key: string): KeyHeads {
  let h = KEY_HEADS.get(key);
  if (h === undefined) {
    const head = `{"key":${JSON.stringify(key)},"value":`;
    const b = (rest: string): Buffer => Buffer.from(head + rest, "utf8");
    h = { string: b('{"stringValue":'), int: b('{"intValue":'), double: b('{"doubleValue":'), true: b('{"boolValue":true'), false: b('{"boolValue":false'), any: b("") };
    if (KEY_HEADS.size < MAX_KEY_PREFIXES) KEY_HEADS.set(key, h);
  }
  return h;
}

/** UTF-8 JSON text into a growing buffer. */
class JsonWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = b;
  }

  bytes(b: Uint8Array): void {
    if (this.pos + b.length > this.buf.length) this.grow(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Text known to be ASCII without anything to escape (the fixed parts, digits). */
  ascii(s: string): void {
    const n = s.length;
    if (this.pos + n > this.buf.length) this.grow(n);
    const buf = this.buf;
    let p = this.pos;
    if (n > 32) p += buf.write(s, p, "latin1");
    else for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  utf8(s: string): void {
    if (this.pos + s.length * 3 > this.buf.length) this.grow(s.length * 3);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  /** A number as JSON.stringify writes it (NaN and ±Infinity as null). */
  num(v: number): void {
    // Integers (nearly every number written) digit by digit, without a string each.
    if (Number.isSafeInteger(v) && !Object.is(v, -0)) this.int(v);
    else this.ascii(Number.isFinite(v) ? String(v) : "null");
  }

  /** Epoch ms as decimal nanoseconds (msNanos). */
  nanos(ms: number): void {
    // Whole milliseconds (all Pinpoint times): the digits followed by six zeros.
    if (Number.isSafeInteger(ms) && ms > 0) {
      this.int(ms);
      this.ascii("000000");
    } else this.ascii(msNanos(ms));
  }

  private int(v: number): void {
    if (this.pos + 17 > this.buf.length) this.grow(17);
    const buf = this.buf;
    if (v < 0) {
      buf[this.pos++] = 0x2d;
      v = -v;
    }
    if (v < 10) {
      buf[this.pos++] = 0x30 + v;
      return;
    }
    let digits = 1;
    for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    do {
      const q = Math.floor(v / 10);
      buf[--p] = 0x30 + (v - q * 10);
      v = q;
    } while (v > 0);
  }

  /** A JSON string, escaped exactly as JSON.stringify escapes it. */
  str(s: string): void {
    const n = s.length;
    if (this.pos + n + 2 > this.buf.length) this.grow(n + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f) {
        // Escapes or non-ASCII: JSON.stringify decides (lone surrogates become \udxxx), written as
        // UTF-8 over what this loop wrote (pos has not moved yet).
        this.utf8(JSON.stringify(s));
        return;
      }
      buf[p++] = c;
    }
    buf[p++] = 0x22;
    this.pos = p;
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + need + 1024));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/** KeyValue.key (1) with its length and the key, then the tag of KeyValue.value (2), per attribute key. */
const KEY_FIELDS = new Map<string, Buffer>();

function keyField(key: string): Buffer {
  let b = KEY_FIELDS.get(key);
  if (b === undefined) {
    const k = Buffer.from(key, "utf8");
    const head = [0x0a];
    for (let n = k.length; ; n >>>= 7) {
      if (n < 0x80) {
        head.push(n);
        break;
      }
      head.push((n & 0x7f) | 0x80);
    }
    b = Buffer.concat([Buffer.from(head), k, Buffer.from([0x12])]);
    if (KEY_FIELDS.size < MAX_KEY_PREFIXES) KEY_FIELDS.set(key, b);
  }
  return b;
}

const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX_VALUE["0123456789abcdef".charCodeAt(i)] = i;
  HEX_VALUE["0123456789ABCDEF".charCodeAt(i)] = i;
}

const TWO_32 = 4294967296;
/** Times past this (ms, year 2109) or before 1970 go to the official serializer: its arithmetic decides them. */
const MAX_MS = 2 ** 42;

/**
 * Protobuf into a growing buffer, in one pass: an embedded message's length is given one byte ahead
 * and the message moved along when it needs more (spans are a few hundred bytes: one move each).
 */
class ProtobufWriter {
  private buf: Buffer;
  private pos = 0;
  /** Something only the official serializer writes (see encodeProtobuf). */
  unusual = false;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** An unsigned 32-bit value. */
  varint(v: number): void {
    if (this.pos + 5 > this.buf.length) this.grow(5);
    const buf = this.buf;
    let p = this.pos;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.pos = p;
  }

  /** int64 varint of an integer in [-2^63, 2^63): two's complement, ten bytes when negative. */
  int64(v: number): void {
    if (v >= 0 && v < TWO_32) return this.varint(v);
    const neg = v < 0;
    const a = neg ? -v : v;
    let lo = a >>> 0;
    let hi = (a / TWO_32) >>> 0;
    if (neg) {
      lo = ~lo >>> 0;
      hi = ~hi >>> 0;
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi = (hi + 1) >>> 0;
    }
    if (this.pos + 10 > this.buf.length) this.grow(10);
    const buf = this.buf;
    let p = this.pos;
    while (hi > 0 || lo > 0x7f) {
      buf[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[p++] = lo;
    this.pos = p;
  }

  fixed32(v: number): void {
    if (this.pos + 4 > this.buf.length) this.grow(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  private fixed64(lo: number, hi: number): void {
    if (this.pos + 8 > this.buf.length) this.grow(8);
    const buf = this.buf;
    const p = this.pos;
    buf[p] = lo;
    buf[p + 1] = lo >>> 8;
    buf[p + 2] = lo >>> 16;
    buf[p + 3] = lo >>> 24;
    buf[p + 4] = hi;
    buf[p + 5] = hi >>> 8;
    buf[p + 6] = hi >>> 16;
    buf[p + 7] = hi >>> 24;
    this.pos = p + 8;
  }

  double(v: number): void {
    if (this.pos + 8 > this.buf.length) this.grow(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** Epoch ms as fixed64 nanoseconds, as msToHrTime and the serializer make them. */
  msTime(ms: number): void {
    if (!(ms >= 0 && ms < MAX_MS)) {
      this.unusual = true;
      return this.fixed64(0, 0);
    }
    const s = Math.floor(ms / 1000);
    this.nanos(s, Math.round((ms - s * 1000) * 1e6));
  }

  hrTime(t: HrTime): void {
    const [s, n] = t;
    if (!(Number.isSafeInteger(s) && s >= 0 && s < MAX_MS / 1000 && Number.isSafeInteger(n) && n >= 0 && n < 1e9)) {
      this.unusual = true;
      return this.fixed64(0, 0);
    }
    this.nanos(s, n);
  }

  /** s × 10^9 + n as 64 bits, exactly: s split at 2^16 keeps every product below 2^53. */
  private nanos(s: number, n: number): void {
    const upper = Math.floor(s / 65536) * 1e9; // × 2^16 still to come
    const lower = (s % 65536) * 1e9 + n;
    const upperHi = Math.floor(upper / 65536);
    const upperLo = (upper % 65536) * 65536;
    const lo = upperLo + (lower % TWO_32);
    this.fixed64(lo >>> 0, upperHi + Math.floor(lower / TWO_32) + Math.floor(lo / TWO_32));
  }

  /** 32 or 16 hex digits → bytes, length-prefixed. */
  hexBytes(hex: string): void {
    const n = hex.length >>> 1;
    if (this.pos + n + 1 > this.buf.length) this.grow(n + 1);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = n;
    for (let i = 0; i < n; i++) {
      const h = HEX_VALUE[hex.charCodeAt(2 * i) & 127];
      const l = HEX_VALUE[hex.charCodeAt(2 * i + 1) & 127];
      if (h < 0 || l < 0 || n > 127) {
        // Not our ids' lowercase hex: the serializer's own reading decides.
        this.unusual = true;
      }
      buf[p++] = (h << 4) | l;
    }
    this.pos = p;
  }

  string(s: string): void {
    const n = s.length;
    if (this.pos + n + 5 > this.buf.length) this.grow(n + 5);
    const start = this.pos;
    // ASCII: length, then the characters; otherwise UTF-8 after its length.
    this.varint(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) {
        this.pos = start;
        return this.utf8(s);
      }
      buf[p++] = c;
    }
    this.pos = p;
  }

  private utf8(s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.varint(n);
    if (this.pos + n > this.buf.length) this.grow(n);
    this.pos += this.buf.write(s, this.pos, "utf8");
  }

  /** Repeated KeyValue in `field`. */
  attributes(field: number, attrs: Attributes): void {
    for (const key in attrs) {
      if (!Object.hasOwn(attrs, key)) continue;
      const v: unknown = attrs[key];
      this.tag(field, LEN);
      const kv = this.begin();
      const head = keyField(key);
      if (this.pos + head.length > this.buf.length) this.grow(head.length);
      this.buf.set(head, this.pos);
      this.pos += head.length;
      const any = this.begin();
      switch (typeof v) {
        case "string":
          this.tag(1, LEN);
          this.string(v);
          break;
        case "boolean":
          this.tag(2, VARINT);
          this.varint(v ? 1 : 0);
          break;
        case "number":
          if (Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) {
            this.tag(3, VARINT);
            this.int64(v);
          } else {
            this.tag(4, I64);
            this.double(v);
          }
          break;
        default:
          // Never made by the converter (Attributes are primitives).
          this.unusual = true;
      }
      this.end(any);
      this.end(kv);
    }
  }

  /** Starts an embedded message (after its tag): one byte kept for its length. */
  begin(): number {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    return this.pos++;
  }

  /** Ends the message begun at `at`: its length before it, the message moved along if that takes more than a byte. */
  end(at: number): void {
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    let size = 2;
    while (len >= 2 ** (7 * size)) size++;
    if (this.pos + size > this.buf.length) this.grow(size);
    const buf = this.buf;
    buf.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = len;
    let p = at;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p] = v;
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + need + 1024));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

function toAnyValueObject(v: unknown): unknown {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "number") return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v).toString("base64") };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(toAnyValueObject) } };
  if (typeof v === "object" && v !== null) return { kvlistValue: { values: Object.keys(v).map((key) => ({ key, value: toAnyValueObject((v as Record<string, unknown>)[key]) })) } };
  return {};
}

/** Epoch ms → decimal nanoseconds, as msToHrTime and the serializer's hrTimeToNanos would give. */
function msNanos(ms: number): string {
  // Whole milliseconds (all Pinpoint times) are exact: the digits followed by six zeros.
  if (Number.isSafeInteger(ms)) return ms === 0 ? "0" : `${ms}000000`;
  const s = Math.floor(ms / 1000);
  return hrNanos([s, Math.round((ms - s * 1000) * 1e6)]);
}

function hrNanos(t: HrTime): string {
  return (BigInt(Math.trunc(t[0])) * 1_000_000_000n + BigInt(Math.trunc(t[1]))).toString();
}
