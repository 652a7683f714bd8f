// Joins wire request logs (JSONL from `host-sim replay`) with converted Pinpoint spans.
//
// A request on the wire that carries Pinpoint-TraceID T and Pinpoint-SpanID S travels between the
// caller's outgoing event (nextSpanId == S) and the callee's span (spanId == S). Each such log:
// - adds its ids (x_request_id_*, request_id, attributes named *id) to both spans, and
// - becomes a `network` span under the caller's event, timed by the request and response seen on
//   the wire, so the gap between the client event and the server span is visible.
import { readFileSync } from "node:fs";
import { eventSpanId } from "./ids.ts";
import { Kind } from "./codes.ts";
import { OtelSpan } from "./otel-span.ts";
import type { AttrValue, Attributes } from "./semconv.ts";

export interface RequestLog {
  [column: string]: unknown;
}

interface LogEntry {
  log: RequestLog;
  index: number;
  startMs: number;
  endMs: number;
  used: boolean;
}

const ID_COLUMNS = /^(x_request_id_\d+|request_id|syscall_trace_id_(request|response)|trace_id_\d+|span_id_\d+)$/;
const SKIPPED_COLUMNS = new Set(["trace_id", "trace_ids", "span_id", "start_time", "end_time", "attribute_names", "attribute_values"]);
/** The `network` span's id space: event ids use asyncId ≥ 0 from the agent, never 0xffffffff. */
const NETWORK_ASYNC_ID = -1;

export class RequestLogJoin {
  readonly stats = { logs: 0, withPinpointIds: 0, matched: 0, networkSpans: 0, badLines: 0 };
  private readonly byKey = new Map<string, LogEntry[]>();

  constructor(logs: RequestLog[]) {
    logs.forEach((log, index) => {
      this.stats.logs++;
      // host-sim replay writes trace_id (the first) and trace_ids (all the keys a record carried).
      const traceIds = new Set<string>();
      if (typeof log.trace_id === "string" && log.trace_id) traceIds.add(log.trace_id);
      if (Array.isArray(log.trace_ids)) for (const t of log.trace_ids) if (typeof t === "string" && t) traceIds.add(t);
      const spanId = normalizeSpanId(log.span_id);
      if (traceIds.size === 0 || spanId === undefined) return;
      const startMs = toMs(log.start_time);
      const endMs = toMs(log.end_time) ?? startMs;
      if (startMs === undefined || endMs === undefined) return;
      this.stats.withPinpointIds++;
      const entry = { log, index, startMs, endMs, used: false };
      for (const traceId of traceIds) {
        const key = `${traceId}|${spanId}`;
        const list = this.byKey.get(key);
        if (list) list.push(entry);
        else this.byKey.set(key, [entry]);
      }
    });
  }

  static fromFile(path: string): RequestLogJoin {
    const logs: RequestLog[] = [];
    let bad = 0;
    readFileSync(path, "utf8")
      .split("\n")
      .forEach((line) => {
        if (!line.trim()) return;
        try {
          logs.push(JSON.parse(line) as RequestLog);
        } catch {
          bad++;
        }
      });
    const join = new RequestLogJoin(logs);
    join.stats.badLines = bad;
    return join;
  }

  /** Adds log ids to matching spans of the batch and returns the `network` spans to add. */
  apply(batch: OtelSpan[]): OtelSpan[] {
    const extra: OtelSpan[] = [];
    for (const s of batch) {
      const tx = s.transactionId;
      if (!tx) continue;
      const isEvent = s.attributes["pinpoint.sequence"] !== undefined;
      const spanId = isEvent ? s.attributes["pinpoint.next_span_id"] : s.attributes["pinpoint.span_id"];
      if (typeof spanId !== "string") continue;
      const entries = this.byKey.get(`${tx}|${spanId}`);
      if (!entries) continue;
      for (const e of entries) addIds(s.attributes, e.log);
      if (!isEvent) continue;
      for (const e of entries) {
        if (e.used) continue;
        e.used = true;
        this.stats.matched++;
        extra.push(this.networkSpan(s, spanId, e));
      }
    }
    this.stats.networkSpans += extra.length;
    return extra;
  }

  private networkSpan(caller: OtelSpan, spanIdDecimal: string, e: LogEntry): OtelSpan {
    const v = BigInt.asUintN(64, BigInt(spanIdDecimal));
    const id = eventSpanId(Number(v >> 32n) | 0, Number(v & 0xffffffffn) | 0, NETWORK_ASYNC_ID, e.index, 0);
    const attrs: Attributes = { "pinpoint.next_span_id": spanIdDecimal };
    for (const [k, val] of Object.entries(e.log)) {
      if (SKIPPED_COLUMNS.has(k)) continue;
      const a = attrValue(val);
      if (a !== undefined) attrs[`deepflow.${k}`] = a;
    }
    addIds(attrs, e.log);
    const span = new OtelSpan(caller.traceId, id, caller.spanId, false, "network", Kind.CLIENT, e.startMs, e.endMs, attrs, caller.resource);
    span.transactionId = caller.transactionId;
    return span;
  }
}

function addIds(attrs: Attributes, log: RequestLog): void {
  for (const [k, v] of Object.entries(log)) {
    if (!ID_COLUMNS.test(k)) continue;
    const a = attrValue(v);
    if (a !== undefined && a !== "" && a !== 0) attrs[`deepflow.${k}`] = a;
  }
  const names = log.attribute_names;
  const values = log.attribute_values;
  if (Array.isArray(names) && Array.isArray(values)) {
    names.forEach((n, i) => {
      if (typeof n !== "string" || !/id$/i.test(n)) return;
      const a = attrValue(values[i]);
      if (a !== undefined && a !== "") attrs[`deepflow.attr.${n}`] = a;
    });
  }
}

function attrValue(v: unknown): AttrValue | undefined {
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number" && Number.isFinite(v)) return v;
  return undefined;
}

/** Pinpoint span ids travel as signed decimals; 16 hex digits are accepted too. */
function normalizeSpanId(v: unknown): string | undefined {
  if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
  if (typeof v !== "string" || !v) return undefined;
  if (/^-?\d+$/.test(v)) return BigInt.asIntN(64, BigInt(v)).toString();
  if (/^[0-9a-f]{16}$/i.test(v)) return BigInt.asIntN(64, BigInt(`0x${v}`)).toString();
  return undefined;
}

/** Times as epoch seconds, ms or µs numbers (told apart by size), or date strings. */
export function toMs(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) {
    if (v > 1e17) return v / 1e6; // ns
    if (v > 1e14) return v / 1e3; // µs
    if (v > 1e11) return v; // ms
    return v * 1e3; // s
  }
  if (typeof v === "string" && v) {
    if (/^\d+(\.\d+)?$/.test(v)) return toMs(Number(v));
    const t = Date.parse(v);
    if (Number.isNaN(t)) return undefined;
    // Date.parse keeps milliseconds only; replay writes microseconds (…:05.123456Z).
    const frac = /\.(\d{4,9})(?=Z|[+-]\d\d:?\d\d$)/.exec(v);
    return frac ? t + Number(`0.${frac[1].slice(3)}`) : t;
  }
  return undefined;
}
