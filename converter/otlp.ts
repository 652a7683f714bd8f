// OTLP encoding. JSON is written directly from the span model, in one pass, as the text that
// @opentelemetry/otlp-transformer's JsonTraceSerializer makes (JSON.stringify of its request object:
// same fields, same order, same omissions); tests/converter/export.test.ts holds the two equal.
// That serializer builds a request object per span and then a Uint8Array, which callers decoded back
// to text: three copies of every span, and the cost of the converter at volume.
// Protobuf still goes through the official ProtobufTraceSerializer (one encoding, to bytes).
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { TRACE_FLAGS, type HrTime, type OtelResource, type OtelSpan } from "./otel-span.ts";
import type { Attributes } from "./semconv.ts";

type SerializerInput = Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0];

/** ExportTraceServiceRequest, protobuf bytes. */
export function encodeProtobuf(spans: OtelSpan[]): Uint8Array {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans as unknown as SerializerInput);
  if (!bytes) throw new Error("otlp-transformer returned no protobuf payload");
  return bytes;
}

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
  const groups = new Map<OtelResource, OtelSpan[]>();
  for (const s of spans) {
    const g = groups.get(s.resource);
    if (g) g.push(s);
    else groups.set(s.resource, [s]);
  }
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
  w.ascii(',"droppedAttributesCount":');
  w.num(s.droppedAttributesCount);
  w.ascii(',"events":[');
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
  w.ascii('],"droppedEventsCount":');
  w.num(s.droppedEventsCount);
  w.ascii(',"status":{"code":');
  w.num(s.status.code);
  if (s.status.message !== undefined) {
    w.ascii(',"message":');
    w.str(s.status.message);
  }
  w.ascii('},"links":[],"droppedLinksCount":');
  w.num(s.droppedLinksCount);
  w.ascii(',"flags":');
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
    w.bytes(keyPrefix(key));
    const v: unknown = attrs[key];
    switch (typeof v) {
      case "string":
        w.ascii('{"stringValue":');
        w.str(v);
        break;
      case "number":
        w.ascii(Number.isInteger(v) ? '{"intValue":' : '{"doubleValue":');
        w.num(v);
        break;
      case "boolean":
        w.ascii(v ? '{"boolValue":true' : '{"boolValue":false');
        break;
      default:
        // Attributes hold primitives only; anything else is what the serializer makes of it.
        w.utf8(JSON.stringify(toAnyValueObject(v)).slice(0, -1));
    }
    w.ascii("}}");
  }
  w.byte(0x5d);
}

/** `{"key":"<key>","value":` as UTF-8, per attribute key: the few keys in use are written over and over. */
const KEY_PREFIXES = new Map<string, Buffer>();
/** Keys come from annotation codes too (any int32): the cache stays bounded whatever the agents send. */
const MAX_KEY_PREFIXES = 4096;

function keyPrefix(key: string): Buffer {
  let b = KEY_PREFIXES.get(key);
  if (b === undefined) {
    b = Buffer.from(`{"key":${JSON.stringify(key)},"value":`, "utf8");
    if (KEY_PREFIXES.size < MAX_KEY_PREFIXES) KEY_PREFIXES.set(key, b);
  }
  return b;
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
