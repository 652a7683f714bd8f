// Requests in → call trees → (joined with request logs) → sinks. Shared by `convert` and `serve`.
import { TraceAssembler, type FlushOptions } from "./assembler.ts";
import { ingestGrpcRequest, newIngestStats, type IngestStats } from "./ingest.ts";
import type { RequestLogJoin } from "./join.ts";
import type { AgentHeader } from "./messages.ts";
import type { OtelSpan } from "./otel-span.ts";
import type { SpanSink } from "./export.ts";

export class Pipeline {
  readonly asm: TraceAssembler;
  readonly ingestStats: IngestStats = newIngestStats();

  constructor(
    private readonly sinks: SpanSink[],
    private readonly join?: RequestLogJoin,
    /** Sees every emitted batch (e.g. to print trees). */
    private readonly observe?: (spans: OtelSpan[]) => void,
    clock?: () => number,
  ) {
    this.asm = new TraceAssembler(clock);
  }

  request(path: string | undefined, header: AgentHeader, data: Uint8Array): void {
    ingestGrpcRequest(this.asm, this.ingestStats, path, header, data);
  }

  async flush(opts: FlushOptions = {}): Promise<OtelSpan[]> {
    const spans = this.asm.flush(opts);
    if (spans.length === 0) return spans;
    if (this.join) spans.push(...this.join.apply(spans));
    this.observe?.(spans);
    for (const sink of this.sinks) await sink.write(spans);
    return spans;
  }

  async close(): Promise<void> {
    await this.flush({ final: true });
    for (const sink of this.sinks) await sink.close();
  }

  report(): string[] {
    const a = this.asm.stats;
    const i = this.ingestStats;
    const lines = [
      `requests: ${i.messages} (${i.ignored} not trace data, ${i.unknownPath} with unknown method, ${i.malformed} malformed, ${i.unknownAgent} from an unknown agent)`,
      `pinpoint: ${a.spans} spans, ${a.chunks} chunks, ${a.events} events, ${a.metadata} metadata; duplicates dropped: ${a.duplicateSpans} spans, ${a.duplicateEvents} events`,
      `otel: ${a.emittedSpans} spans; ${a.unresolvedNames} unresolved names, ${a.clockSkewed} clock-skewed, ${a.orphanEvents} events without their span, ${a.untimedEvents} untimed events dropped`,
    ];
    if (this.join) {
      const j = this.join.stats;
      lines.push(`join: ${j.logs} logs (${j.withPinpointIds} with Pinpoint ids, ${j.badLines} bad lines), ${j.matched} matched, ${j.networkSpans} network spans`);
    }
    for (const s of this.sinks) lines.push(s.report());
    return lines;
  }
}
