// Terminal waterfall of converted traces: one block per trace, children indented under parents.
import type { OtelSpan } from "./otel-span.ts";

const KIND_NAMES = ["INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"];
const BAR_WIDTH = 40;

export function renderTrees(spans: OtelSpan[]): string {
  const byTrace = new Map<string, OtelSpan[]>();
  for (const s of spans) {
    const list = byTrace.get(s.traceId);
    if (list) list.push(s);
    else byTrace.set(s.traceId, [s]);
  }
  const out: string[] = [];
  for (const [traceId, list] of byTrace) {
    const ids = new Set(list.map((s) => s.spanId));
    const children = new Map<string | undefined, OtelSpan[]>();
    for (const s of list) {
      const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : undefined;
      const c = children.get(parent);
      if (c) c.push(s);
      else children.set(parent, [s]);
    }
    for (const c of children.values()) c.sort((a, b) => a.startMs - b.startMs || a.spanId.localeCompare(b.spanId));
    const t0 = Math.min(...list.map((s) => s.startMs));
    const t1 = Math.max(...list.map((s) => s.endMs));
    const scale = BAR_WIDTH / Math.max(1, t1 - t0);
    const txId = list[0].transactionId;
    out.push(`trace ${traceId}  ${txId ?? ""}  ${t1 - t0} ms`);
    const walk = (parent: string | undefined, indent: number): void => {
      for (const s of children.get(parent) ?? []) {
        const from = Math.floor((s.startMs - t0) * scale);
        const width = Math.max(1, Math.round((s.endMs - s.startMs) * scale));
        const bar = " ".repeat(from) + "█".repeat(Math.min(width, BAR_WIDTH + 1 - from));
        const service = s.resource.attributes["service.name"];
        const orphan = parent === undefined && s.parentSpanId ? " (parent not seen)" : "";
        const err = s.status.code === 2 ? " !" : "";
        const label = `${"  ".repeat(indent)}${s.name} [${KIND_NAMES[s.kind]} ${service}]${err}${orphan}`;
        out.push(`  ${bar.padEnd(BAR_WIDTH + 1)} +${String(s.startMs - t0).padStart(5)}ms ${String(s.endMs - s.startMs).padStart(5)}ms  ${label}`);
        walk(s.spanId, indent + 1);
      }
    };
    walk(undefined, 0);
  }
  return out.join("\n");
}
