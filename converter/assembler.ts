// Rebuilds Pinpoint call trees from PSpan / PSpanChunk messages and turns them into OpenTelemetry spans.
//
// Rules (Pinpoint's GrpcSpanBinder and call-tree builders, see docs in the design page):
// - In each message, the first event's startElapsed is relative to the key time (PSpan.startTime or
//   PSpanChunk.keyTime; keyTime 0 from old agents means the span's startTime), each later event's
//   to the previous event's start; endElapsed is the duration. depth 0 means "same as previous";
//   both compressions restart with every message.
// - Events of one scope (the span's own events, or one async chunk stream (asyncId, asyncSequence))
//   are ordered by sequence; an event of depth d hangs under the latest earlier event of depth d-1,
//   depth 1 under the scope root: the PSpan, or for an async scope the event whose asyncEvent == asyncId.
// - An outgoing call event carries nextSpanId == the callee PSpan's spanId (the callee's parentSpanId
//   is the caller's spanId): the callee's OpenTelemetry parent is that event.
import { serviceTypeInfo, Kind, type KindValue } from "./codes.ts";
import { eventSpanId, int64Decimal, int64Hex, isRootParent, traceIdOf } from "./ids.ts";
import {
  int64Number,
  int64Parts,
  type AgentHeader,
  type PAgentInfoMsg,
  type PApiMetaDataMsg,
  type PAnnotationMsg,
  type PIntStringValueMsg,
  type PSpanChunkMsg,
  type PSpanEventMsg,
  type PSpanMessageMsg,
  type PSpanMsg,
  type PSqlMetaDataMsg,
  type PSqlUidMetaDataMsg,
  type PStringMetaDataMsg,
} from "./messages.ts";
import { OtelSpan, STATUS_ERROR, msToHrTime, type OtelResource } from "./otel-span.ts";
import { mapAnnotation, setServerAddress, type Attributes, type MetadataView } from "./semconv.ts";

interface EventRec {
  sequence: number;
  depth: number;
  /** Absolute start in ms, or offset from the span start when relativeToSpan. */
  start: number;
  relativeToSpan: boolean;
  elapsed: number;
  serviceType: number;
  apiId: number;
  annotations: PAnnotationMsg[] | undefined;
  exception: PIntStringValueMsg | null | undefined;
  nextSpanHex: string | undefined;
  nextSpanDecimal: string | undefined;
  endPoint: string | undefined;
  destinationId: string | undefined;
  asyncEvent: number;
  spanId: string;
  emitted: boolean;
}

interface Scope {
  asyncId: number;
  asyncSequence: number;
  events: Map<number, EventRec>;
}

interface SpanRec {
  spanHex: string;
  spanHigh: number;
  spanLow: number;
  agent: AgentState;
  span: PSpanMsg | undefined;
  spanStartMs: number;
  scopes: Map<string, Scope>;
  spanEmitted: boolean;
}

interface TxRec {
  transactionId: string;
  traceId: string;
  spans: Map<string, SpanRec>;
  lastUpdate: number;
  pending: boolean;
}

interface AgentState {
  key: string;
  header: AgentHeader;
  api: Map<number, PApiMetaDataMsg>;
  sql: Map<number, string>;
  sqlUid: Map<string, string>;
  strings: Map<number, string>;
  info: PAgentInfoMsg | undefined;
  serviceType: number | undefined;
  resource: OtelResource | undefined;
  meta: MetadataView;
  /** Span names parsed from api descriptors ("pkg.Class.method(args)" → "pkg.Class.method"). */
  apiNames: Map<number, string>;
}

export interface AssemblerStats {
  spans: number;
  chunks: number;
  events: number;
  duplicateSpans: number;
  duplicateEvents: number;
  metadata: number;
  emittedSpans: number;
  unresolvedNames: number;
  clockSkewed: number;
  /** Events of chunks whose span never arrived (emitted under the missing span's id). */
  orphanEvents: number;
  /** Events of keyTime-less chunks whose span never arrived: their time is unknowable. */
  untimedEvents: number;
  rejected: number;
}

export interface FlushOptions {
  /** Only transactions quiet for at least this long (ms); default: all. */
  idleMs?: number;
  now?: number;
  /** Last flush: also emit what is still waiting for missing data. */
  final?: boolean;
  /** Transactions quiet for this long (ms) are flushed as final: their missing data is not coming. */
  giveUpMs?: number;
}

const SYNC_SCOPE = "";

export class TraceAssembler {
  readonly stats: AssemblerStats = {
    spans: 0,
    chunks: 0,
    events: 0,
    duplicateSpans: 0,
    duplicateEvents: 0,
    metadata: 0,
    emittedSpans: 0,
    unresolvedNames: 0,
    clockSkewed: 0,
    orphanEvents: 0,
    untimedEvents: 0,
    rejected: 0,
  };
  private readonly txs = new Map<string, TxRec>();
  private readonly agents = new Map<string, AgentState>();

  constructor(private readonly clock: () => number = Date.now) {}

  addSpanMessage(header: AgentHeader, msg: PSpanMessageMsg): void {
    if (msg.span) this.addSpan(header, msg.span);
    else if (msg.spanChunk) this.addSpanChunk(header, msg.spanChunk);
    else this.stats.rejected++;
  }

  addSpan(header: AgentHeader, span: PSpanMsg): void {
    const agent = this.agent(header);
    const rec = this.spanRec(agent, span.transactionId, span.spanId);
    if (!rec) return;
    this.stats.spans++;
    if (rec.span) {
      this.stats.duplicateSpans++;
      return;
    }
    rec.span = span;
    rec.spanStartMs = int64Number(span.startTime);
    setServiceType(agent, span.applicationServiceType || agent.serviceType || span.serviceType);
    this.addEvents(rec, SYNC_SCOPE, 0, 0, span.spanEvent, rec.spanStartMs, false);
  }

  addSpanChunk(header: AgentHeader, chunk: PSpanChunkMsg): void {
    const agent = this.agent(header);
    const rec = this.spanRec(agent, chunk.transactionId, chunk.spanId);
    if (!rec) return;
    this.stats.chunks++;
    setServiceType(agent, chunk.applicationServiceType || agent.serviceType);
    const keyTime = int64Number(chunk.keyTime);
    const asyncId = chunk.localAsyncId?.asyncId ?? 0;
    const asyncSequence = chunk.localAsyncId?.sequence ?? 0;
    const scopeKey = chunk.localAsyncId ? `${asyncId}:${asyncSequence}` : SYNC_SCOPE;
    this.addEvents(rec, scopeKey, asyncId, asyncSequence, chunk.spanEvent, keyTime, keyTime === 0);
  }

  addApiMetaData(header: AgentHeader, m: PApiMetaDataMsg): void {
    this.stats.metadata++;
    const agent = this.agent(header);
    agent.api.set(m.apiId ?? 0, m);
    agent.apiNames.delete(m.apiId ?? 0);
  }

  addSqlMetaData(header: AgentHeader, m: PSqlMetaDataMsg): void {
    this.stats.metadata++;
    this.agent(header).sql.set(m.sqlId ?? 0, m.sql ?? "");
  }

  addSqlUidMetaData(header: AgentHeader, m: PSqlUidMetaDataMsg): void {
    this.stats.metadata++;
    this.agent(header).sqlUid.set(Buffer.from(m.sqlUid ?? []).toString("hex"), m.sql ?? "");
  }

  addStringMetaData(header: AgentHeader, m: PStringMetaDataMsg): void {
    this.stats.metadata++;
    this.agent(header).strings.set(m.stringId ?? 0, m.stringValue ?? "");
  }

  addAgentInfo(header: AgentHeader, info: PAgentInfoMsg): void {
    const agent = this.agent(header);
    agent.info = info;
    agent.resource = undefined;
    setServiceType(agent, info.serviceType || agent.serviceType);
  }

  /** Transactions known and not yet fully emitted. */
  get pendingTransactions(): number {
    let n = 0;
    for (const tx of this.txs.values()) if (tx.pending) n++;
    return n;
  }

  /**
   * Emits the spans not emitted yet of every transaction quiet for idleMs. Emitted spans keep their
   * records (until `forget`) so that data arriving later still finds its parents.
   */
  flush(opts: FlushOptions = {}): OtelSpan[] {
    const now = opts.now ?? this.clock();
    const idleMs = opts.idleMs ?? 0;
    const out: OtelSpan[] = [];
    for (const tx of this.txs.values()) {
      if (!tx.pending || now - tx.lastUpdate < idleMs) continue;
      const final = !!opts.final || (opts.giveUpMs !== undefined && now - tx.lastUpdate >= opts.giveUpMs);
      this.emitTransaction(tx, out, final);
    }
    this.stats.emittedSpans += out.length;
    return out;
  }

  /** Drops transactions fully emitted and quiet for longer than retainMs. */
  forget(retainMs: number, now = this.clock()): void {
    for (const [id, tx] of this.txs) if (!tx.pending && now - tx.lastUpdate > retainMs) this.txs.delete(id);
  }

  private agent(h: AgentHeader): AgentState {
    const key = `${h.agentId}^${h.agentStartTime}^${h.applicationName}`;
    let a = this.agents.get(key);
    if (!a) {
      const sql = new Map<number, string>();
      const strings = new Map<number, string>();
      const meta: MetadataView = { sql: (id) => sql.get(id), string: (id) => strings.get(id) };
      a = { key, header: h, api: new Map(), sql, sqlUid: new Map(), strings, info: undefined, serviceType: undefined, resource: undefined, meta, apiNames: new Map() };
      this.agents.set(key, a);
    } else if (h.agentName && !a.header.agentName) {
      a.header = { ...a.header, agentName: h.agentName };
      a.resource = undefined;
    }
    return a;
  }

  private spanRec(agent: AgentState, txId: PSpanMsg["transactionId"], spanId: PSpanMsg["spanId"]): SpanRec | undefined {
    if (!txId) {
      this.stats.rejected++;
      return undefined;
    }
    const txAgent = txId.agentId || agent.header.agentId;
    const transactionId = `${txAgent}^${int64Number(txId.agentStartTime)}^${int64Number(txId.sequence)}`;
    let tx = this.txs.get(transactionId);
    if (!tx) {
      tx = { transactionId, traceId: traceIdOf(transactionId), spans: new Map(), lastUpdate: 0, pending: true };
      this.txs.set(transactionId, tx);
    }
    tx.lastUpdate = this.clock();
    tx.pending = true;
    const parts = int64Parts(spanId);
    const spanHex = int64Hex(parts);
    let rec = tx.spans.get(spanHex);
    if (!rec) {
      rec = { spanHex, spanHigh: parts.high, spanLow: parts.low, agent, span: undefined, spanStartMs: 0, scopes: new Map(), spanEmitted: false };
      tx.spans.set(spanHex, rec);
    }
    return rec;
  }

  private addEvents(
    rec: SpanRec,
    scopeKey: string,
    asyncId: number,
    asyncSequence: number,
    events: PSpanEventMsg[] | undefined,
    keyTime: number,
    relativeToSpan: boolean,
  ): void {
    if (!events || events.length === 0) return;
    let scope = rec.scopes.get(scopeKey);
    if (!scope) {
      scope = { asyncId, asyncSequence, events: new Map() };
      rec.scopes.set(scopeKey, scope);
    }
    let start = relativeToSpan ? 0 : keyTime;
    let depth = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      start += e.startElapsed ?? 0;
      const d = e.depth ?? 0;
      if (d !== 0) depth = d;
      const sequence = e.sequence ?? 0;
      this.stats.events++;
      if (scope.events.has(sequence)) {
        this.stats.duplicateEvents++;
        continue;
      }
      const msgEvent = e.nextEvent?.messageEvent;
      let nextSpanHex: string | undefined;
      let nextSpanDecimal: string | undefined;
      if (msgEvent && msgEvent.nextSpanId != null) {
        const p = int64Parts(msgEvent.nextSpanId);
        // -1 (and 0, never a real id) mean "no next span".
        if (!((p.high === -1 && p.low === -1) || (p.high === 0 && p.low === 0))) {
          nextSpanHex = int64Hex(p);
          nextSpanDecimal = int64Decimal(p);
        }
      }
      scope.events.set(sequence, {
        sequence,
        depth,
        start,
        relativeToSpan,
        elapsed: e.endElapsed ?? 0,
        serviceType: e.serviceType ?? 0,
        apiId: e.apiId ?? 0,
        annotations: e.annotation,
        exception: e.exceptionInfo,
        nextSpanHex,
        nextSpanDecimal,
        endPoint: msgEvent?.endPoint || undefined,
        destinationId: msgEvent?.destinationId || undefined,
        asyncEvent: e.asyncEvent ?? 0,
        spanId: eventSpanId(rec.spanHigh, rec.spanLow, asyncId, asyncSequence, sequence),
        emitted: false,
      });
    }
  }

  private emitTransaction(tx: TxRec, out: OtelSpan[], final: boolean): void {
    // Caller event of every callee span in this transaction (nextSpanId → event).
    const callers = new Map<string, { spanId: string; startMs: number; endMs: number }>();
    for (const rec of tx.spans.values()) {
      for (const scope of rec.scopes.values()) {
        for (const ev of scope.events.values()) {
          if (!ev.nextSpanHex) continue;
          const start = absoluteStart(rec, ev);
          if (start !== undefined) callers.set(ev.nextSpanHex, { spanId: ev.spanId, startMs: start, endMs: start + ev.elapsed });
        }
      }
    }
    let waiting = false;
    for (const rec of tx.spans.values()) {
      const meta = rec.agent.meta;
      const resource = this.resourceOf(rec.agent);
      const spanDecimal = int64Decimal({ low: rec.spanLow, high: rec.spanHigh });
      if (rec.span && !rec.spanEmitted) {
        out.push(this.spanToOtel(tx, rec, rec.span, callers.get(rec.spanHex), meta, resource, spanDecimal));
        rec.spanEmitted = true;
      }
      // Async scope roots: the event that started each asyncId, in any scope of this span.
      const asyncRoots = new Map<number, string>();
      for (const scope of rec.scopes.values()) for (const ev of scope.events.values()) if (ev.asyncEvent) asyncRoots.set(ev.asyncEvent, ev.spanId);
      for (const scope of rec.scopes.values()) {
        const events = [...scope.events.values()].sort((a, b) => a.sequence - b.sequence);
        let scopeRoot = rec.spanHex;
        let rootMissing = false;
        if (scope.asyncId !== 0 || scope.asyncSequence !== 0) {
          const root = asyncRoots.get(scope.asyncId);
          if (root) scopeRoot = root;
          else if (final) rootMissing = true;
          else {
            // The event that started this async work has not arrived yet.
            waiting = true;
            continue;
          }
        }
        // stack[d] = span id of the latest event at depth d; stack[0] = scope root.
        const stack: (string | undefined)[] = [scopeRoot];
        for (const ev of events) {
          const d = ev.depth < 1 ? 1 : ev.depth;
          let p = d - 1;
          while (p > 0 && stack[p] === undefined) p--;
          const parent = stack[p] as string;
          const depthGap = p !== d - 1;
          stack.length = d + 1;
          stack[d] = ev.spanId;
          if (ev.emitted) continue;
          const start = absoluteStart(rec, ev);
          if (start === undefined) {
            if (final) this.stats.untimedEvents++;
            else waiting = true;
            continue;
          }
          if (!rec.span && !final) {
            // The span may still come (chunks often precede it): wait, unless this is the last flush.
            waiting = true;
            continue;
          }
          const s = this.eventToOtel(tx, rec, ev, start, parent, meta, resource, spanDecimal, scope);
          if (depthGap) s.attributes["pinpoint.depth_gap"] = true;
          if (rootMissing) s.attributes["pinpoint.async_parent_missing"] = true;
          if (!rec.span) {
            s.attributes["pinpoint.span_missing"] = true;
            this.stats.orphanEvents++;
          }
          out.push(s);
          ev.emitted = true;
        }
      }
      if (!rec.span && !final) waiting = true;
    }
    tx.pending = waiting;
  }

  private spanToOtel(
    tx: TxRec,
    rec: SpanRec,
    span: PSpanMsg,
    caller: { spanId: string; startMs: number; endMs: number } | undefined,
    meta: MetadataView,
    resource: OtelResource,
    spanDecimal: string,
  ): OtelSpan {
    const parentHex = int64Hex(int64Parts(span.parentSpanId));
    const isRoot = isRootParent(parentHex);
    const st = serviceTypeInfo(span.serviceType ?? 0);
    const attrs: Attributes = {
      "pinpoint.transaction_id": tx.transactionId,
      "pinpoint.span_id": spanDecimal,
      "pinpoint.parent_span_id": int64Decimal(int64Parts(span.parentSpanId)),
      "pinpoint.service_type": span.serviceType ?? 0,
      "pinpoint.service_type.name": st.name,
    };
    if (st.attributes) Object.assign(attrs, st.attributes);
    if (span.apiId) attrs["pinpoint.api_id"] = span.apiId;
    if (span.err) attrs["pinpoint.err"] = span.err;
    if (span.flag) attrs["pinpoint.flag"] = span.flag;
    const accept = span.acceptEvent;
    if (accept) {
      if (accept.rpc) attrs["url.path"] = accept.rpc;
      setServerAddress(attrs, accept.endPoint || undefined);
      if (accept.remoteAddr) attrs["client.address"] = accept.remoteAddr;
      const pi = accept.parentInfo;
      if (pi?.parentApplicationName) attrs["pinpoint.parent_application_name"] = pi.parentApplicationName;
      if (pi?.parentApplicationType) attrs["pinpoint.parent_application_type"] = pi.parentApplicationType;
      if (pi?.acceptorHost) attrs["pinpoint.acceptor_host"] = pi.acceptorHost;
    }
    if (span.annotation) for (const a of span.annotation) mapAnnotation(a, attrs, meta);
    const name = this.nameOf(rec.agent, span.apiId ?? 0, attrs, accept?.rpc);
    const startMs = rec.spanStartMs;
    const endMs = startMs + (span.elapsed ?? 0);
    // The caller's outgoing event is the parent; without it, the caller's span (parentSpanId).
    const parent = caller?.spanId ?? (isRoot ? undefined : parentHex);
    if (caller && (startMs < caller.startMs || endMs > caller.endMs)) {
      // Different hosts' clocks: keep the data as sent, flag by how much it falls outside.
      attrs["pinpoint.clock_skew_ms"] = Math.max(caller.startMs - startMs, endMs - caller.endMs);
      this.stats.clockSkewed++;
    }
    const kind = st.spanKind;
    const s = new OtelSpan(tx.traceId, rec.spanHex, parent, !isRoot, name, kind, startMs, endMs, attrs, resource);
    s.transactionId = tx.transactionId;
    applyErrors(s, span.err ?? 0, span.exceptionInfo, meta, endMs);
    return s;
  }

  private eventToOtel(
    tx: TxRec,
    rec: SpanRec,
    ev: EventRec,
    startMs: number,
    parent: string,
    meta: MetadataView,
    resource: OtelResource,
    spanDecimal: string,
    scope: Scope,
  ): OtelSpan {
    const st = serviceTypeInfo(ev.serviceType);
    const attrs: Attributes = {
      "pinpoint.span_id": spanDecimal,
      "pinpoint.sequence": ev.sequence,
      "pinpoint.depth": ev.depth,
      "pinpoint.service_type": ev.serviceType,
      "pinpoint.service_type.name": st.name,
    };
    if (st.attributes) Object.assign(attrs, st.attributes);
    if (scope.asyncId !== 0 || scope.asyncSequence !== 0) {
      attrs["pinpoint.async_id"] = scope.asyncId;
      attrs["pinpoint.async_sequence"] = scope.asyncSequence;
    }
    if (ev.apiId) attrs["pinpoint.api_id"] = ev.apiId;
    if (ev.asyncEvent) attrs["pinpoint.next_async_id"] = ev.asyncEvent;
    if (ev.nextSpanDecimal) attrs["pinpoint.next_span_id"] = ev.nextSpanDecimal;
    if (ev.destinationId) attrs["pinpoint.destination_id"] = ev.destinationId;
    if (ev.endPoint) {
      attrs["pinpoint.end_point"] = ev.endPoint;
      setServerAddress(attrs, ev.endPoint);
    } else if (ev.destinationId) setServerAddress(attrs, ev.destinationId);
    if (ev.annotations) for (const a of ev.annotations) mapAnnotation(a, attrs, meta);
    const name = this.nameOf(rec.agent, ev.apiId, attrs, undefined);
    let kind: KindValue = st.eventKind;
    // A queue client entry type used inside a span that is itself the consumer is internal work.
    if (kind === Kind.PRODUCER && !ev.nextSpanHex && !ev.destinationId && !ev.endPoint) kind = Kind.INTERNAL;
    const endMs = startMs + ev.elapsed;
    const s = new OtelSpan(tx.traceId, ev.spanId, parent, false, name, kind, startMs, endMs, attrs, resource);
    s.transactionId = tx.transactionId;
    applyErrors(s, 0, ev.exception, meta, endMs);
    return s;
  }

  private nameOf(agent: AgentState, apiId: number, attrs: Attributes, rpc: string | undefined): string {
    if (apiId !== 0) {
      const api = agent.api.get(apiId);
      if (api?.apiInfo) {
        attrs["code.function.name"] = api.apiInfo;
        if (api.line && api.line > 0) attrs["code.line.number"] = api.line;
        let name = agent.apiNames.get(apiId);
        if (name === undefined) {
          const paren = api.apiInfo.indexOf("(");
          name = paren > 0 ? api.apiInfo.slice(0, paren) : api.apiInfo;
          agent.apiNames.set(apiId, name);
        }
        return name;
      }
    }
    const api = attrs["pinpoint.api"];
    if (typeof api === "string" && api) return api;
    if (rpc) return rpc;
    const url = attrs["pinpoint.http.url"];
    if (typeof url === "string" && url) return url;
    this.stats.unresolvedNames++;
    attrs["pinpoint.unresolved"] = true;
    return `api#${apiId}`;
  }

  private resourceOf(agent: AgentState): OtelResource {
    if (agent.resource) return agent.resource;
    const h = agent.header;
    const attrs: Attributes = {
      "service.name": h.applicationName || "unknown",
      "service.instance.id": h.agentId || "unknown",
      "pinpoint.applicationName": h.applicationName || "unknown",
      "pinpoint.agentId": h.agentId || "unknown",
      "telemetry.sdk.name": "pinpoint",
    };
    if (h.agentStartTime > 0) {
      attrs["pinpoint.agentStartTime"] = h.agentStartTime;
      // Pinpoint's own OTLP collector reads the agent start time from here.
      attrs["process.creation.time"] = new Date(h.agentStartTime).toISOString();
    }
    if (h.agentName) attrs["pinpoint.agentName"] = h.agentName;
    if (agent.serviceType !== undefined) attrs["pinpoint.serviceType"] = agent.serviceType;
    const info = agent.info;
    if (info) {
      if (info.hostname) attrs["host.name"] = info.hostname;
      if (info.ip) attrs["host.ip"] = info.ip;
      if (info.pid) attrs["process.pid"] = info.pid;
      if (info.agentVersion) attrs["pinpoint.agentVersion"] = info.agentVersion;
      if (info.vmVersion) attrs["process.runtime.version"] = info.vmVersion;
    }
    agent.resource = { attributes: attrs };
    return agent.resource;
  }
}

function setServiceType(agent: AgentState, code: number | undefined): void {
  if (!code || code === agent.serviceType) return;
  agent.serviceType = code;
  agent.resource = undefined;
}

function absoluteStart(rec: SpanRec, ev: EventRec): number | undefined {
  if (!ev.relativeToSpan) return ev.start;
  return rec.span ? rec.spanStartMs + ev.start : undefined;
}

function applyErrors(s: OtelSpan, err: number, exception: PIntStringValueMsg | null | undefined, meta: MetadataView, atMs: number): void {
  const status = s.attributes["http.response.status_code"];
  let message: string | undefined;
  if (exception) {
    const id = exception.intValue ?? 0;
    const type = meta.string(id);
    const attrs: Attributes = { "exception.type": type ?? `string#${id}` };
    if (type === undefined) attrs["pinpoint.unresolved"] = true;
    if (exception.stringValue?.value) attrs["exception.message"] = exception.stringValue.value;
    s.events = [...s.events, { name: "exception", time: msToHrTime(atMs), attributes: attrs }];
    message = exception.stringValue?.value || type;
  }
  if (err !== 0 || exception || (typeof status === "number" && status >= 500)) {
    s.status = { code: STATUS_ERROR, message: message ?? (err !== 0 ? `pinpoint err=${err}` : `HTTP ${status}`) };
  }
}
