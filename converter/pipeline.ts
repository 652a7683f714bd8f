// Requests in → call trees → (joined with request logs) → sinks. Shared by `convert` and `serve`.
import { TraceAssembler, type AssemblerLimits, type FlushOptions, type RetentionStats } from "./assembler.ts";
import { ingestGrpcRequest, newIngestStats, type IngestStats } from "./ingest.ts";
import type { RequestLogJoin } from "./join.ts";
import type { AgentHeader } from "./messages.ts";
import type { OtelSpan } from "./otel-span.ts";
import type { SpanSink } from "./export.ts";

/** How often agents and transactions past their TTL are dropped, unless a TTL is shorter (then half of it). */
export const SWEEP_INTERVAL_MS = 10_000;

export interface PipelineOptions {
  /** Bounds on the assembler's state; each defaults to assembler.ts's DEFAULT_LIMITS. */
  limits?: Partial<AssemblerLimits>;
  /** Sweep period (ms); 0 = no timer (call sweep() yourself). Default: SWEEP_INTERVAL_MS or half the shortest TTL. */
  sweepMs?: number;
}

export interface PipelineStats extends RetentionStats {
  sweeps: number;
  /** Sweeps whose emitted spans a sink refused (lastSweepError says why). */
  sweepFailures: number;
  lastSweepError?: string;
}

export class Pipeline {
  readonly asm: TraceAssembler;
  readonly ingestStats: IngestStats = newIngestStats();
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private sweeps = 0;
  private sweepFailures = 0;
  private lastSweepError: string | undefined;

  constructor(
    private readonly sinks: SpanSink[],
    private readonly join?: RequestLogJoin,
    /** Sees every emitted batch (e.g. to print trees). */
    private readonly observe?: (spans: OtelSpan[]) => void,
    clock?: () => number,
    options: PipelineOptions = {},
  ) {
    this.asm = new TraceAssembler(clock, options.limits);
    const { agentTtlMs, transactionTtlMs } = this.asm.limits;
    const sweepMs = options.sweepMs ?? Math.max(10, Math.min(SWEEP_INTERVAL_MS, agentTtlMs / 2, transactionTtlMs / 2));
    if (sweepMs > 0) {
      this.sweepTimer = setInterval(() => {
        // One at a time: a slow sink must not pile sweeps up.
        if (this.sweeping) return;
        this.sweeping = this.sweep()
          .then(
            () => undefined,
            (e: unknown) => {
              this.sweepFailures++;
              this.lastSweepError = e instanceof Error ? e.message : String(e);
            },
          )
          .finally(() => (this.sweeping = undefined));
      }, sweepMs);
      // Expired state is freed while the process runs for other reasons; the sweep never keeps it alive.
      this.sweepTimer.unref();
    }
  }

  request(path: string | undefined, header: AgentHeader, data: Uint8Array): void {
    ingestGrpcRequest(this.asm, this.ingestStats, path, header, data);
  }

  async flush(opts: FlushOptions = {}): Promise<OtelSpan[]> {
    return this.emit(this.asm.flush(opts));
  }

  /** Drops state past its TTL; pending trees so dropped are emitted to the sinks (see TraceAssembler.sweep). */
  async sweep(now?: number): Promise<OtelSpan[]> {
    this.sweeps++;
    return this.emit(this.asm.sweep(now));
  }

  stats(): PipelineStats {
    const s: PipelineStats = { ...this.asm.retention(), sweeps: this.sweeps, sweepFailures: this.sweepFailures };
    if (this.lastSweepError !== undefined) s.lastSweepError = this.lastSweepError;
    return s;
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.sweeping;
    await this.flush({ final: true });
    for (const sink of this.sinks) await sink.close();
  }

  report(): string[] {
    const a = this.asm.stats;
    const i = this.ingestStats;
    const r = this.stats();
    const lines = [
      `requests: ${i.messages} (${i.ignored} not trace data, ${i.unknownPath} with unknown method, ${i.malformed} malformed, ${i.unknownAgent} from an unknown agent)`,
      `pinpoint: ${a.spans} spans, ${a.chunks} chunks, ${a.events} events, ${a.metadata} metadata; duplicates dropped: ${a.duplicateSpans} spans, ${a.duplicateEvents} events`,
      `otel: ${a.emittedSpans} spans; ${a.unresolvedNames} unresolved names, ${a.clockSkewed} clock-skewed, ${a.orphanEvents} events without their span, ${a.untimedEvents} untimed events dropped`,
      `state: ${r.agents} agents, ${r.metadataEntries} metadata entries, ${r.transactions} transactions; dropped over the bounds: ${r.agentsEvicted} agents, ${r.metadataEvicted} metadata entries, ${r.transactionsEvicted} transactions (${r.pendingEvicted} pending, emitted); expired: ${r.agentsExpired} agents, ${r.transactionsExpired} transactions (${r.pendingExpired} pending, emitted)`,
    ];
    if (r.sweepFailures) lines.push(`sweeps: ${r.sweepFailures} of ${r.sweeps} failed to write (${r.lastSweepError})`);
    if (this.join) {
      const j = this.join.stats;
      lines.push(`join: ${j.logs} logs (${j.withPinpointIds} with Pinpoint ids, ${j.badLines} bad lines), ${j.matched} matched, ${j.networkSpans} network spans`);
    }
    for (const s of this.sinks) lines.push(s.report());
    return lines;
  }

  private async emit(spans: OtelSpan[]): Promise<OtelSpan[]> {
    if (spans.length === 0) return spans;
    if (this.join) spans.push(...this.join.apply(spans));
    this.observe?.(spans);
    for (const sink of this.sinks) await sink.write(spans);
    return spans;
  }
}
