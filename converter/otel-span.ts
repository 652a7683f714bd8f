// A finished span in the shape @opentelemetry/otlp-transformer's serializers read
// (ReadableSpan from @opentelemetry/sdk-trace), built from Pinpoint data rather than by a tracer.
import type { AttrValue, Attributes } from "./semconv.ts";
import type { KindValue } from "./codes.ts";

export type HrTime = [number, number];

export interface OtelResource {
  attributes: Attributes;
}

export interface OtelScope {
  name: string;
  version?: string;
}

export interface OtelEvent {
  name: string;
  time: HrTime;
  attributes: Attributes;
}

export interface SpanContextLike {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
}

export const STATUS_UNSET = 0;
export const STATUS_ERROR = 2;

/** W3C trace flags of every span: sampled. */
export const TRACE_FLAGS = 1;

export const SCOPE: OtelScope = { name: "pinpoint-otel", version: "0.1.0" };

export function msToHrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

const NO_LINKS: never[] = [];
const NO_EVENTS: readonly OtelEvent[] = Object.freeze([]);
const UNSET: { code: number; message?: string } = Object.freeze({ code: STATUS_UNSET });

export class OtelSpan {
  // Constants shared by every span: converting hundreds of thousands of events a second is
  // mostly a matter of not allocating.
  get droppedAttributesCount(): number {
    return 0;
  }
  get droppedEventsCount(): number {
    return 0;
  }
  get droppedLinksCount(): number {
    return 0;
  }
  get ended(): boolean {
    return true;
  }
  get links(): never[] {
    return NO_LINKS;
  }
  get instrumentationScope(): OtelScope {
    return SCOPE;
  }
  events: readonly OtelEvent[] = NO_EVENTS;
  status: { code: number; message?: string } = UNSET;
  /** Pinpoint transaction id (kept here for every span; as an attribute on PSpans only). */
  transactionId = "";
  /** The parent's span id, "" for a root. */
  readonly parentId: string;

  constructor(
    readonly traceId: string,
    readonly spanId: string,
    parentSpanId: string | undefined,
    /** The parent is another process's span. */
    readonly parentIsRemote: boolean,
    public name: string,
    readonly kind: KindValue,
    /** Epoch milliseconds (Pinpoint's resolution). */
    readonly startMs: number,
    readonly endMs: number,
    readonly attributes: Attributes,
    readonly resource: OtelResource,
  ) {
    this.parentId = parentSpanId || "";
  }

  // The contexts are made when asked (the protobuf serializer asks once per span), not held by every span.
  get parentSpanContext(): SpanContextLike | undefined {
    return this.parentId ? { traceId: this.traceId, spanId: this.parentId, traceFlags: TRACE_FLAGS, isRemote: this.parentIsRemote } : undefined;
  }

  get parentSpanId(): string | undefined {
    return this.parentId || undefined;
  }

  spanContext(): SpanContextLike {
    return { traceId: this.traceId, spanId: this.spanId, traceFlags: TRACE_FLAGS };
  }

  get startTime(): HrTime {
    return msToHrTime(this.startMs);
  }

  get endTime(): HrTime {
    return msToHrTime(this.endMs);
  }

  get duration(): HrTime {
    return msToHrTime(this.endMs - this.startMs);
  }
}

/**
 * One span being converted, reused for every span: the assembler fills it and hands it on, to be
 * written straight to OTLP bytes (otlp.ts SpanBytes) or made into an OtelSpan where objects are asked
 * for (the join, --tree, callers of flush). Attributes are a list in the order set, a key set again
 * keeping its place and taking the new value, as an object's properties do.
 */
export class SpanDraft {
  traceId = "";
  spanId = "";
  parentId = "";
  parentIsRemote = false;
  name = "";
  kind: KindValue = 0;
  startMs = 0;
  endMs = 0;
  resource: OtelResource = { attributes: {} };
  transactionId = "";
  events: readonly OtelEvent[] = NO_EVENTS;
  status: { code: number; message?: string } = UNSET;
  readonly keys: string[] = [];
  readonly values: AttrValue[] = [];
  /** Attributes in keys/values (the arrays are kept and overwritten, not emptied). */
  count = 0;

  /** Starts the next span: no attributes, no events, status unset. */
  begin(traceId: string, spanId: string, parentId: string | undefined, parentIsRemote: boolean, resource: OtelResource, transactionId: string): void {
    this.traceId = traceId;
    this.spanId = spanId;
    this.parentId = parentId || "";
    this.parentIsRemote = parentIsRemote;
    this.resource = resource;
    this.transactionId = transactionId;
    this.events = NO_EVENTS;
    this.status = UNSET;
    this.count = 0;
  }

  set(key: string, value: AttrValue): void {
    const keys = this.keys;
    const n = this.count;
    for (let i = 0; i < n; i++) {
      if (keys[i] === key) {
        this.values[i] = value;
        return;
      }
    }
    keys[n] = key;
    this.values[n] = value;
    this.count = n + 1;
  }

  get(key: string): AttrValue | undefined {
    const keys = this.keys;
    for (let i = 0; i < this.count; i++) if (keys[i] === key) return this.values[i];
    return undefined;
  }

  /** The span as an object (attributes, events and status its own). */
  toOtelSpan(): OtelSpan {
    const attrs: Attributes = {};
    for (let i = 0; i < this.count; i++) attrs[this.keys[i]] = this.values[i];
    const s = new OtelSpan(this.traceId, this.spanId, this.parentId, this.parentIsRemote, this.name, this.kind, this.startMs, this.endMs, attrs, this.resource);
    s.transactionId = this.transactionId;
    s.events = this.events;
    s.status = this.status;
    return s;
  }

  /** Takes a span object's values (to be written as the assembler's drafts are). */
  load(s: OtelSpan): this {
    this.begin(s.traceId, s.spanId, s.parentId, s.parentIsRemote, s.resource, s.transactionId);
    this.name = s.name;
    this.kind = s.kind;
    this.startMs = s.startMs;
    this.endMs = s.endMs;
    this.events = s.events;
    this.status = s.status;
    const attrs = s.attributes;
    let n = 0;
    for (const key in attrs) {
      if (!Object.hasOwn(attrs, key)) continue;
      this.keys[n] = key;
      this.values[n++] = attrs[key];
    }
    this.count = n;
    return this;
  }
}
