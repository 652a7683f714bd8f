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
  /** The scope's next event in arrival order. */
  next: EventRec | undefined;
}

interface Scope {
  /** The span's own events (or a chunk's without localAsyncId), as opposed to an async stream. */
  sync: boolean;
  asyncId: number;
  asyncSequence: number;
  /** Events in arrival order, linked through `next`. */
  first: EventRec | undefined;
  last: EventRec | undefined;
  count: number;
  /** Events by sequence, made once a scope has more than SMALL events (below, a scan is cheaper). */
  bySequence: Map<number, EventRec> | undefined;
  /** Arrived in increasing sequence (the usual case): no sorted copy needed. */
  sorted: boolean;
  /** The span's next scope in order of first event. */
  next: Scope | undefined;
}

/**
 * Scopes per span and events per scope are few in nearly every trace: lists scanned up to this size,
 * with an index beyond it. A Map (~200 bytes) or an array (17 slots from its first push) per scope and
 * per span, for every transaction kept, was the retained memory the garbage collector spent its time
 * copying; the records link to each other instead.
 */
const SMALL = 16;

/** Map's key equality (SameValueZero), for the scans that stand in for Maps. */
function sameKey(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}

interface SpanRec {
  spanHex: string;
  spanHigh: number;
  spanLow: number;
  agent: AgentState;
  span: PSpanMsg | undefined;
  spanStartMs: number;
  /** Scopes in order of first event, linked through `next`. */
  firstScope: Scope | undefined;
  lastScope: Scope | undefined;
  scopeCount: number;
  /** Scopes by key (scopeKey), made beyond SMALL scopes. */
  scopeIndex: Map<string, Scope> | undefined;
  spanEmitted: boolean;
}

interface TxRec {
  transactionId: string;
  /** The id's parts, compared when looked up by number (txByNumber). */
  agentId: string;
  start: number;
  sequence: number;
  /** The next transaction whose numbers hash alike (txByNumber's chain). */
  sameNumber: TxRec | undefined;
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
  /** Clock time of the agent's latest message of any kind (spans, metadata, stats, pings). */
  lastSeen: number;
  /** Entries in api, sql, sqlUid and strings together. */
  entries: number;
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

/**
 * What the assembler keeps between messages is bounded: `serve` runs for weeks while agents come and
 * go, and every agent restart is a new agent (its start time is part of its identity). Without
 * bounds, 20,000 agent ids held 231 MB for good. Every limit is at least 1; Infinity lifts it.
 */
export interface AssemblerLimits {
  /** Agents kept (identity, agent info, metadata); beyond, the one heard from least recently is dropped. */
  maxAgents: number;
  /** Metadata entries (API, SQL, SQL-UID, string) of all agents together; beyond, agents are dropped as for maxAgents. */
  maxMetadataEntries: number;
  /** Entries in each metadata cache of one agent; beyond, its oldest entry is dropped. */
  maxMetadataPerCache: number;
  /** An agent that sent nothing at all (no span, metadata, stat or ping) for this long (ms) is dropped. */
  agentTtlMs: number;
  /**
   * Transaction trees held, pending or already emitted (emitted ones are kept so late data finds its
   * parents); beyond, the least recently updated one is dropped.
   */
  maxTransactions: number;
  /** A transaction tree without new data for this long (ms) is dropped. */
  transactionTtlMs: number;
}

// Sizes below are V8 heap measured with this code (Node 20): an agent record with its agent info
// about 1.3 KB, an API entry of ~80 characters about 190 bytes, a transaction tree of one span and
// 30 events with SQL annotations about 32 KB (pending or emitted and held).

/**
 * Agents kept (about 13 MB at the bound without metadata). Agents send metadata once, at first use:
 * a dropped agent's later spans are named `api#<id>` (pinpoint.unresolved).
 */
export const MAX_AGENTS = 10_000;
/** Metadata entries of all agents together: about 100 MB at the bound. */
export const MAX_METADATA_ENTRIES = 500_000;
/** Per agent and cache: a large Java application has a few thousand APIs; more SQL ids than this are SQL built with literals. */
export const MAX_METADATA_PER_CACHE = 20_000;
/** Agents ping every minute and send stats more often: 30 minutes of silence is an agent that is gone. */
export const AGENT_TTL_MS = 30 * 60_000;
/**
 * Transaction trees held: about 320 MB at the bound for 30-event trees. `serve` keeps emitted trees for
 * 60 × --flush-ms (2 minutes by default), so beyond about 80 transactions/s emitted trees go earlier;
 * a dropped tree's late data still converts, its parent then being the caller's span instead of the
 * caller's event.
 */
export const MAX_TRANSACTIONS = 10_000;
/** Longer than serve's own give-up (30 × --flush-ms) and retention (60 × --flush-ms) at the default 2 s. */
export const TRANSACTION_TTL_MS = 10 * 60_000;

export const DEFAULT_LIMITS: Readonly<AssemblerLimits> = {
  maxAgents: MAX_AGENTS,
  maxMetadataEntries: MAX_METADATA_ENTRIES,
  maxMetadataPerCache: MAX_METADATA_PER_CACHE,
  agentTtlMs: AGENT_TTL_MS,
  maxTransactions: MAX_TRANSACTIONS,
  transactionTtlMs: TRANSACTION_TTL_MS,
};

/** What is held now, and what the bounds dropped since the start. */
export interface RetentionStats {
  agents: number;
  metadataEntries: number;
  transactions: number;
  pendingTransactions: number;
  /** Spans of dropped pending trees, handed out by the next flush or sweep. */
  backlogSpans: number;
  /** Agents dropped over maxAgents / maxMetadataEntries. */
  agentsEvicted: number;
  /** Agents dropped after agentTtlMs of silence. */
  agentsExpired: number;
  /** Entries dropped over maxMetadataPerCache (entries of dropped agents are not counted here). */
  metadataEvicted: number;
  /** Transactions dropped over maxTransactions; pendingEvicted of them were emitted first. */
  transactionsEvicted: number;
  pendingEvicted: number;
  /** Transactions dropped after transactionTtlMs; pendingExpired of them were emitted first. */
  transactionsExpired: number;
  pendingExpired: number;
}

/** A scope's identity: the span's own events, or an async stream. */
function scopeKey(sync: boolean, asyncId: number, asyncSequence: number): string {
  return sync ? "" : `${asyncId}:${asyncSequence}`;
}

/** txByNumber's key: a small integer (kept unboxed) from a transaction's start time and sequence. */
function txNumber(start: number, sequence: number): number {
  return (sequence + (start % 0x100000) * 0x800) & 0x3fffffff;
}

/** Stands for a PSpan once converted (see emitTransaction). */
const SPAN_EMITTED: PSpanMsg = Object.freeze({});

function agentKey(h: AgentHeader): string {
  return `${h.agentId}^${h.agentStartTime}^${h.applicationName}`;
}

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
  readonly limits: Readonly<AssemblerLimits>;
  /** Both maps are in least recently used order: eviction takes the first entry. */
  private readonly txs = new Map<string, TxRec>();
  /**
   * The transactions of txs by a small integer hashed from agent start time and sequence, chained
   * where two hash alike: found without their id string made and hashed.
   */
  private readonly txByNumber = new Map<number, TxRec>();
  private readonly agents = new Map<string, AgentState>();
  /**
   * Where eviction takes the oldest transaction: one iterator kept over txs. Every entry before it has
   * been dropped or moved to the end (where it will meet it again), so its next is the oldest; a fresh
   * `values().next()` per eviction walked over the hole each move had left at the front, over again.
   */
  private oldestTxs: IterableIterator<TxRec> | undefined;
  /**
   * The pending transactions, in the order of txs: what flush emits, without walking the thousands of
   * emitted ones held for late data at every flush.
   */
  private readonly pendingTxs = new Set<TxRec>();
  /** Every update's clock reading so far at least the one before: txs is then in lastUpdate order. */
  private updatesInOrder = true;
  private latestUpdate = -Infinity;
  private lastAgent: AgentState | undefined;
  private readonly byHeader = new WeakMap<AgentHeader, { state: AgentState; agentId: string; agentStartTime: number; applicationName: string }>();
  private readonly depthStack: number[] = [];
  private readonly idStack: string[] = [];
  /** The transaction updated last (the newest in txs). */
  private lastTx: TxRec | undefined;
  private metadataEntries = 0;
  /** Spans of pending trees dropped between flushes. */
  private backlog: OtelSpan[] = [];
  private readonly dropped = { agentsEvicted: 0, agentsExpired: 0, metadataEvicted: 0, transactionsEvicted: 0, pendingEvicted: 0, transactionsExpired: 0, pendingExpired: 0 };

  constructor(
    private readonly clock: () => number = Date.now,
    limits: Partial<AssemblerLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    for (const [name, v] of Object.entries(this.limits)) if (!(v >= 1)) throw new RangeError(`assembler limit ${name} must be at least 1, got ${v}`);
  }

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
    rec.spanStartMs = int64Number(span.startTime);
    setServiceType(agent, span.applicationServiceType || agent.serviceType || span.serviceType);
    this.addEvents(rec, true, 0, 0, span.spanEvent, rec.spanStartMs, false);
    // Held until emitted without its events, which live on as EventRecs: the decoded events die young
    // instead of being copied by every scavenge until the flush.
    rec.span = span.spanEvent ? { ...span, spanEvent: undefined } : span;
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
    this.addEvents(rec, !chunk.localAsyncId, asyncId, asyncSequence, chunk.spanEvent, keyTime, keyTime === 0);
  }

  addApiMetaData(header: AgentHeader, m: PApiMetaDataMsg): void {
    this.stats.metadata++;
    const agent = this.agent(header);
    this.putMetadata(agent, agent.api, m.apiId ?? 0, m);
    agent.apiNames.delete(m.apiId ?? 0);
  }

  addSqlMetaData(header: AgentHeader, m: PSqlMetaDataMsg): void {
    this.stats.metadata++;
    const agent = this.agent(header);
    this.putMetadata(agent, agent.sql, m.sqlId ?? 0, m.sql ?? "");
  }

  addSqlUidMetaData(header: AgentHeader, m: PSqlUidMetaDataMsg): void {
    this.stats.metadata++;
    const agent = this.agent(header);
    this.putMetadata(agent, agent.sqlUid, Buffer.from(m.sqlUid ?? []).toString("hex"), m.sql ?? "");
  }

  addStringMetaData(header: AgentHeader, m: PStringMetaDataMsg): void {
    this.stats.metadata++;
    const agent = this.agent(header);
    this.putMetadata(agent, agent.strings, m.stringId ?? 0, m.stringValue ?? "");
  }

  /** A message the converter does not read (stats, pings) still shows a known agent is alive. */
  touchAgent(header: AgentHeader): void {
    const a = this.agents.get(agentKey(header));
    if (a) this.touch(a);
  }

  addAgentInfo(header: AgentHeader, info: PAgentInfoMsg): void {
    const agent = this.agent(header);
    agent.info = info;
    agent.resource = undefined;
    setServiceType(agent, info.serviceType || agent.serviceType);
  }

  /** Transactions known and not yet fully emitted. */
  get pendingTransactions(): number {
    return this.pendingTxs.size;
  }

  /**
   * Emits the spans not emitted yet of every transaction quiet for idleMs. Emitted spans keep their
   * records (until `forget`) so that data arriving later still finds its parents.
   */
  flush(opts: FlushOptions = {}): OtelSpan[] {
    const now = opts.now ?? this.clock();
    const idleMs = opts.idleMs ?? 0;
    const out = this.takeBacklog();
    for (const tx of this.pendingTxs) {
      if (now - tx.lastUpdate < idleMs) continue;
      const final = !!opts.final || (opts.giveUpMs !== undefined && now - tx.lastUpdate >= opts.giveUpMs);
      this.emitTransaction(tx, out, final);
    }
    this.stats.emittedSpans += out.length;
    return out;
  }

  /** Drops transactions fully emitted and quiet for longer than retainMs. */
  forget(retainMs: number, now = this.clock()): void {
    // values(), not entries(): an [id, tx] pair per transaction held, at every flush, was garbage.
    for (const tx of this.txs.values()) {
      if (now - tx.lastUpdate <= retainMs) {
        // In lastUpdate order, the rest are as recent or more: the walk over every held transaction
        // at every flush stops here.
        if (this.updatesInOrder) break;
        continue;
      }
      if (tx.pending) continue;
      this.removeTx(tx);
    }
  }

  /**
   * Drops agents silent for agentTtlMs and transactions quiet for transactionTtlMs. Returns the spans
   * not emitted yet of the pending trees so dropped, with any backlog.
   */
  sweep(now = this.clock()): OtelSpan[] {
    for (const a of this.agents.values()) {
      if (now - a.lastSeen > this.limits.agentTtlMs) {
        this.dropAgent(a);
        this.dropped.agentsExpired++;
      }
    }
    for (const tx of this.txs.values()) {
      if (now - tx.lastUpdate > this.limits.transactionTtlMs) {
        if (this.dropTransaction(tx)) this.dropped.pendingExpired++;
        this.dropped.transactionsExpired++;
      }
    }
    const out = this.takeBacklog();
    this.stats.emittedSpans += out.length;
    return out;
  }

  retention(): RetentionStats {
    return {
      agents: this.agents.size,
      metadataEntries: this.metadataEntries,
      transactions: this.txs.size,
      pendingTransactions: this.pendingTransactions,
      backlogSpans: this.backlog.length,
      ...this.dropped,
    };
  }

  private takeBacklog(): OtelSpan[] {
    if (this.backlog.length === 0) return [];
    const out = this.backlog;
    this.backlog = [];
    return out;
  }

  private agent(h: AgentHeader): AgentState {
    // A stream's messages share one header object: its agent is found without making the key again,
    // while the header still says what it said and that record is still the live one.
    const seen = this.byHeader.get(h);
    const known =
      seen && seen.agentId === h.agentId && seen.agentStartTime === h.agentStartTime && seen.applicationName === h.applicationName && this.agents.get(seen.state.key) === seen.state
        ? seen.state
        : undefined;
    const key = known ? known.key : agentKey(h);
    let a = known ?? this.agents.get(key);
    if (!a) {
      const sql = new Map<number, string>();
      const strings = new Map<number, string>();
      const meta: MetadataView = { sql: (id) => sql.get(id), string: (id) => strings.get(id) };
      a = {
        key,
        header: h,
        api: new Map(),
        sql,
        sqlUid: new Map(),
        strings,
        info: undefined,
        serviceType: undefined,
        resource: undefined,
        meta,
        apiNames: new Map(),
        lastSeen: this.clock(),
        entries: 0,
      };
      this.agents.set(key, a);
      this.lastAgent = a;
      this.byHeader.set(h, { state: a, agentId: h.agentId, agentStartTime: h.agentStartTime, applicationName: h.applicationName });
      while (this.agents.size > this.limits.maxAgents) this.evictAgent();
      return a;
    }
    if (!known) this.byHeader.set(h, { state: a, agentId: h.agentId, agentStartTime: h.agentStartTime, applicationName: h.applicationName });
    if (h.agentName && !a.header.agentName) {
      a.header = { ...a.header, agentName: h.agentName };
      a.resource = undefined;
    }
    this.touch(a);
    return a;
  }

  private touch(a: AgentState): void {
    a.lastSeen = this.clock();
    // Most recently heard from last; skipped for the common run of messages from one agent.
    if (a === this.lastAgent) return;
    this.agents.delete(a.key);
    this.agents.set(a.key, a);
    this.lastAgent = a;
  }

  /** Drops the agent heard from least recently. */
  private evictAgent(): void {
    const oldest = this.agents.values().next().value as AgentState;
    this.dropAgent(oldest);
    this.dropped.agentsEvicted++;
  }

  private dropAgent(a: AgentState): void {
    this.agents.delete(a.key);
    if (a === this.lastAgent) this.lastAgent = undefined;
    this.metadataEntries -= a.entries;
    a.entries = 0;
    // Held transactions still point at this record: emptied, its memory goes now, and their spans
    // are named as for any unknown api id. Data arriving later gets a fresh record.
    a.api.clear();
    a.apiNames.clear();
    a.sql.clear();
    a.sqlUid.clear();
    a.strings.clear();
  }

  private putMetadata<K, V>(a: AgentState, cache: Map<K, V>, key: K, value: V): void {
    // Delete first so that a re-sent entry counts as new for the oldest-first order.
    if (!cache.delete(key)) {
      a.entries++;
      this.metadataEntries++;
    }
    cache.set(key, value);
    if (cache.size > this.limits.maxMetadataPerCache) {
      const oldest = cache.keys().next().value as K;
      cache.delete(oldest);
      if (cache === (a.api as Map<unknown, unknown>)) a.apiNames.delete(oldest as number);
      a.entries--;
      this.metadataEntries--;
      this.dropped.metadataEvicted++;
    }
    // The agent just written to is the most recent: evict others, never it.
    while (this.metadataEntries > this.limits.maxMetadataEntries && this.agents.values().next().value !== a) this.evictAgent();
  }

  private spanRec(agent: AgentState, txId: PSpanMsg["transactionId"], spanId: PSpanMsg["spanId"]): SpanRec | undefined {
    if (!txId) {
      this.stats.rejected++;
      return undefined;
    }
    const txAgent = txId.agentId || agent.header.agentId;
    const txStart = int64Number(txId.agentStartTime);
    const txSequence = int64Number(txId.sequence);
    const last = this.lastTx;
    // A transaction's messages tend to come together: the one just updated is already the most
    // recent, without a lookup and the LRU move.
    if (last && last.sequence === txSequence && last.start === txStart && last.agentId === txAgent) return this.spanRecOf(last, agent, spanId);
    const number = txNumber(txStart, txSequence);
    let tx = this.txByNumber.get(number);
    while (tx && !(tx.sequence === txSequence && tx.start === txStart && tx.agentId === txAgent)) tx = tx.sameNumber;
    if (!tx) {
      const transactionId = `${txAgent}^${txStart}^${txSequence}`;
      tx = { transactionId, agentId: txAgent, start: txStart, sequence: txSequence, sameNumber: this.txByNumber.get(number), traceId: traceIdOf(transactionId), spans: new Map(), lastUpdate: 0, pending: true };
      this.txByNumber.set(number, tx);
      this.txs.set(transactionId, tx);
      this.pendingTxs.add(tx);
      while (this.txs.size > this.limits.maxTransactions) {
        if (this.dropTransaction(this.oldestTx())) this.dropped.pendingEvicted++;
        this.dropped.transactionsEvicted++;
      }
    } else {
      // Most recently updated last.
      this.txs.delete(tx.transactionId);
      this.txs.set(tx.transactionId, tx);
      if (tx.pending) {
        this.pendingTxs.delete(tx);
        this.pendingTxs.add(tx);
      }
    }
    this.lastTx = tx;
    return this.spanRecOf(tx, agent, spanId);
  }

  /** Takes the transaction out of txs and txByNumber. */
  private removeTx(tx: TxRec): void {
    this.txs.delete(tx.transactionId);
    if (tx === this.lastTx) this.lastTx = undefined;
    const number = txNumber(tx.start, tx.sequence);
    const first = this.txByNumber.get(number);
    if (first === tx) {
      if (tx.sameNumber) this.txByNumber.set(number, tx.sameNumber);
      else this.txByNumber.delete(number);
    } else {
      let prev = first;
      while (prev && prev.sameNumber !== tx) prev = prev.sameNumber;
      if (prev) prev.sameNumber = tx.sameNumber;
    }
    tx.sameNumber = undefined;
  }

  private oldestTx(): TxRec {
    let next = this.oldestTxs?.next();
    if (!next || next.done) {
      // Finished iterators stay finished: a new one from the front.
      this.oldestTxs = this.txs.values();
      next = this.oldestTxs.next();
    }
    return next.value as TxRec;
  }

  private spanRecOf(tx: TxRec, agent: AgentState, spanId: PSpanMsg["spanId"]): SpanRec {
    const t = this.clock();
    if (t >= this.latestUpdate) this.latestUpdate = t;
    else this.updatesInOrder = false;
    tx.lastUpdate = t;
    if (!tx.pending) {
      // Newest in txs (moved there, or already there as the one updated last): last here too.
      tx.pending = true;
      this.pendingTxs.add(tx);
    }
    const parts = int64Parts(spanId);
    const spanHex = int64Hex(parts);
    let rec = tx.spans.get(spanHex);
    if (!rec) {
      rec = { spanHex, spanHigh: parts.high, spanLow: parts.low, agent, span: undefined, spanStartMs: 0, firstScope: undefined, lastScope: undefined, scopeCount: 0, scopeIndex: undefined, spanEmitted: false };
      tx.spans.set(spanHex, rec);
    } else if (rec.agent !== agent && rec.agent.key === agent.key) {
      // The agent's record was dropped and made afresh since: names come from the live one.
      rec.agent = agent;
    }
    return rec;
  }

  /**
   * Forgets a transaction; returns whether it was pending. A pending tree is emitted (into the backlog)
   * as final first, as `flush({ giveUpMs })` does for one quiet past serve's 30 × --flush-ms: its
   * missing data is not coming, and dropping it silently would lose the data that did come.
   */
  private dropTransaction(tx: TxRec): boolean {
    this.removeTx(tx);
    if (!tx.pending) return false;
    this.emitTransaction(tx, this.backlog, true);
    this.pendingTxs.delete(tx);
    return true;
  }

  private addEvents(
    rec: SpanRec,
    sync: boolean,
    asyncId: number,
    asyncSequence: number,
    events: PSpanEventMsg[] | undefined,
    keyTime: number,
    relativeToSpan: boolean,
  ): void {
    if (!events || events.length === 0) return;
    const scope = scopeOf(rec, sync, asyncId, asyncSequence);
    let start = relativeToSpan ? 0 : keyTime;
    let depth = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      start += e.startElapsed ?? 0;
      const d = e.depth ?? 0;
      if (d !== 0) depth = d;
      const sequence = e.sequence ?? 0;
      this.stats.events++;
      if (hasEvent(scope, sequence)) {
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
      addEvent(scope, {
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
        next: undefined,
      });
    }
  }

  private emitTransaction(tx: TxRec, out: OtelSpan[], final: boolean): void {
    // Caller event of every callee span in this transaction (nextSpanId → event).
    // Made when needed: most emits have no caller event, or no async scope below.
    let callers: Map<string, { spanId: string; startMs: number; endMs: number }> | undefined;
    for (const rec of tx.spans.values()) {
      for (let scope = rec.firstScope; scope; scope = scope.next) {
        for (let ev = scope.first; ev; ev = ev.next) {
          if (!ev.nextSpanHex) continue;
          const start = absoluteStart(rec, ev);
          if (start !== undefined) (callers ??= new Map()).set(ev.nextSpanHex, { spanId: ev.spanId, startMs: start, endMs: start + ev.elapsed });
        }
      }
    }
    let waiting = false;
    for (const rec of tx.spans.values()) {
      const meta = rec.agent.meta;
      const resource = this.resourceOf(rec.agent);
      const spanDecimal = int64Decimal({ low: rec.spanLow, high: rec.spanHigh });
      if (rec.span && !rec.spanEmitted) {
        out.push(this.spanToOtel(tx, rec, rec.span, callers?.get(rec.spanHex), meta, resource, spanDecimal));
        rec.spanEmitted = true;
        // Held on for late data, which needs only that the span came (and its start, kept apart):
        // the decoded message, with its events and annotations, can go.
        rec.span = SPAN_EMITTED;
      }
      // Async scope roots: the event that started each asyncId, in any scope of this span.
      let asyncRoots: Map<number, string> | undefined;
      for (let scope = rec.firstScope; scope; scope = scope.next) for (let ev = scope.first; ev; ev = ev.next) if (ev.asyncEvent) (asyncRoots ??= new Map()).set(ev.asyncEvent, ev.spanId);
      for (let scope = rec.firstScope; scope; scope = scope.next) {
        // In sequence order: the list itself when the events came in order, else a sorted copy.
        const sorted = scope.sorted ? undefined : bySequence(scope);
        let scopeRoot = rec.spanHex;
        let rootMissing = false;
        if (scope.asyncId !== 0 || scope.asyncSequence !== 0) {
          const root = asyncRoots?.get(scope.asyncId);
          if (root) scopeRoot = root;
          else if (final) rootMissing = true;
          else {
            // The event that started this async work has not arrived yet.
            waiting = true;
            continue;
          }
        }
        // The latest event of each depth still open, depths increasing; the scope root is depth 0.
        // Only depths that occur are held: a corrupt depth (2^31-1) costs nothing, where an array
        // indexed by depth walked 2^31 holes per event.
        // Scratch stacks shared by every scope (emitting is not reentrant): two arrays per scope and
        // emit were garbage.
        const depths = this.depthStack;
        const ids = this.idStack;
        depths.length = 0;
        ids.length = 0;
        depths.push(0);
        ids.push(scopeRoot);
        let i = 0;
        for (let ev = sorted ? sorted[0] : scope.first; ev; ev = sorted ? sorted[++i] : ev.next) {
          const d = ev.depth < 1 ? 1 : ev.depth;
          while (depths[depths.length - 1] >= d) {
            depths.pop();
            ids.pop();
          }
          const parent = ids[ids.length - 1];
          const depthGap = depths[depths.length - 1] !== d - 1;
          depths.push(d);
          ids.push(ev.spanId);
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
          // Converted for good: late data needs its id, depth, times and nextSpanHex only.
          ev.annotations = undefined;
          ev.exception = undefined;
          ev.nextSpanDecimal = undefined;
          ev.endPoint = undefined;
          ev.destinationId = undefined;
        }
      }
      if (!rec.span && !final) waiting = true;
    }
    tx.pending = waiting;
    if (!waiting) this.pendingTxs.delete(tx);
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
      // Pinpoint's own OTLP collector reads the agent start time from here; a time past Date's
      // range (the header is whatever the agent sent) keeps only the number above.
      const created = new Date(h.agentStartTime);
      if (!Number.isNaN(created.getTime())) attrs["process.creation.time"] = created.toISOString();
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

/** The scope of (sync | asyncId, asyncSequence) in this span, made on first use. */
function scopeOf(rec: SpanRec, sync: boolean, asyncId: number, asyncSequence: number): Scope {
  if (rec.scopeIndex) {
    const key = scopeKey(sync, asyncId, asyncSequence);
    const known = rec.scopeIndex.get(key);
    if (known) return known;
    const scope = appendScope(rec, sync, asyncId, asyncSequence);
    rec.scopeIndex.set(key, scope);
    return scope;
  }
  for (let sc = rec.firstScope; sc; sc = sc.next) if (sc.sync === sync && sameKey(sc.asyncId, asyncId) && sameKey(sc.asyncSequence, asyncSequence)) return sc;
  const scope = appendScope(rec, sync, asyncId, asyncSequence);
  if (rec.scopeCount > SMALL) {
    rec.scopeIndex = new Map();
    for (let sc = rec.firstScope; sc; sc = sc.next) rec.scopeIndex.set(scopeKey(sc.sync, sc.asyncId, sc.asyncSequence), sc);
  }
  return scope;
}

function appendScope(rec: SpanRec, sync: boolean, asyncId: number, asyncSequence: number): Scope {
  const scope: Scope = { sync, asyncId: sync ? 0 : asyncId, asyncSequence: sync ? 0 : asyncSequence, first: undefined, last: undefined, count: 0, bySequence: undefined, sorted: true, next: undefined };
  if (rec.lastScope) rec.lastScope.next = scope;
  else rec.firstScope = scope;
  rec.lastScope = scope;
  rec.scopeCount++;
  return scope;
}

function hasEvent(scope: Scope, sequence: number): boolean {
  if (scope.bySequence) return scope.bySequence.has(sequence);
  for (let ev = scope.first; ev; ev = ev.next) if (sameKey(ev.sequence, sequence)) return true;
  return false;
}

function addEvent(scope: Scope, ev: EventRec): void {
  const last = scope.last;
  if (last) {
    if (!(last.sequence < ev.sequence)) scope.sorted = false;
    last.next = ev;
  } else scope.first = ev;
  scope.last = ev;
  scope.count++;
  if (scope.bySequence) scope.bySequence.set(ev.sequence, ev);
  else if (scope.count > SMALL) {
    scope.bySequence = new Map();
    for (let e = scope.first; e; e = e.next) scope.bySequence.set(e.sequence, e);
  }
}

/** The scope's events sorted by sequence (stable: arrival order among equals). */
function bySequence(scope: Scope): EventRec[] {
  const events: EventRec[] = [];
  for (let ev = scope.first; ev; ev = ev.next) events.push(ev);
  return events.sort((a, b) => a.sequence - b.sequence);
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
