// A finished span in the shape @opentelemetry/otlp-transformer's serializers read
// (ReadableSpan from @opentelemetry/sdk-trace), built from Pinpoint data rather than by a tracer.
import type { Attributes } from "./semconv.ts";
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
