// OTLP encoding. JSON is written directly from the span model, in one pass, as the text that
// @opentelemetry/otlp-transformer's JsonTraceSerializer makes (JSON.stringify of its request object:
// same fields, same order, same omissions); tests/converter/export.test.ts holds the two equal.
// That serializer builds a request object per span and then a Uint8Array, which callers decoded back
// to text: three copies of every span, and the cost of the converter at volume.
// Protobuf still goes through the official ProtobufTraceSerializer (one encoding, to bytes).
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { HrTime, OtelResource, OtelSpan } from "./otel-span.ts";
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
  // Grouped by resource object in order of first appearance, as the serializer does (one scope).
  const groups = new Map<OtelResource, OtelSpan[]>();
  for (const s of spans) {
    const g = groups.get(s.resource);
    if (g) g.push(s);
    else groups.set(s.resource, [s]);
  }
  let out = '{"resourceSpans":[';
  let firstGroup = true;
  for (const [resource, group] of groups) {
    if (!firstGroup) out += ",";
    firstGroup = false;
    const scope = group[0].instrumentationScope;
    out += `{"resource":{"attributes":${attributesJson(resource.attributes)},"droppedAttributesCount":0},"scopeSpans":[{"scope":{"name":${JSON.stringify(scope.name)}`;
    if (scope.version !== undefined) out += `,"version":${JSON.stringify(scope.version)}`;
    out += '},"spans":[';
    for (let i = 0; i < group.length; i++) {
      if (i) out += ",";
      out += spanJson(group[i]);
    }
    out += "]}]}";
  }
  return `${out}]}`;
}

function spanJson(s: OtelSpan): string {
  const ctx = s.spanContext();
  const parent = s.parentSpanContext;
  let out = `{"traceId":${JSON.stringify(ctx.traceId)},"spanId":${JSON.stringify(ctx.spanId)}`;
  if (parent?.spanId) out += `,"parentSpanId":${JSON.stringify(parent.spanId)}`;
  out += `,"name":${JSON.stringify(s.name)},"kind":${s.kind == null ? 0 : s.kind + 1}`;
  out += `,"startTimeUnixNano":"${msNanos(s.startMs)}","endTimeUnixNano":"${msNanos(s.endMs)}"`;
  out += `,"attributes":${attributesJson(s.attributes)},"droppedAttributesCount":${s.droppedAttributesCount},"events":[`;
  const events = s.events;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (i) out += ",";
    out += `{"attributes":${e.attributes ? attributesJson(e.attributes) : "[]"},"name":${JSON.stringify(e.name)},"timeUnixNano":"${hrNanos(e.time)}","droppedAttributesCount":0}`;
  }
  out += `],"droppedEventsCount":${s.droppedEventsCount},"status":{"code":${s.status.code}`;
  if (s.status.message !== undefined) out += `,"message":${JSON.stringify(s.status.message)}`;
  const flags = (ctx.traceFlags & 0xff) | HAS_IS_REMOTE | (parent?.isRemote ? IS_REMOTE : 0);
  return `${out}},"links":[],"droppedLinksCount":${s.droppedLinksCount},"flags":${flags}}`;
}

function attributesJson(attrs: Attributes): string {
  let out = "[";
  let first = true;
  for (const key of Object.keys(attrs)) {
    if (!first) out += ",";
    first = false;
    out += `{"key":${JSON.stringify(key)},"value":${anyValueJson(attrs[key])}}`;
  }
  return `${out}]`;
}

function anyValueJson(v: unknown): string {
  switch (typeof v) {
    case "string":
      return `{"stringValue":${JSON.stringify(v)}}`;
    case "number":
      // JSON.stringify, not String: NaN and ±Infinity become null as in the serializer's output.
      return Number.isInteger(v) ? `{"intValue":${JSON.stringify(v)}}` : `{"doubleValue":${JSON.stringify(v)}}`;
    case "boolean":
      return `{"boolValue":${v}}`;
    default:
      // Attributes hold primitives only; anything else is what the serializer makes of it.
      return JSON.stringify(toAnyValueObject(v));
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
