// `convert CAPTURE` on real pinpoint-node-agent traffic captured with tcpdump (tests/fixtures/pinpoint,
// made by its generate.mjs): front calls back; received.json is what the collector stand-in got.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { convertCapture } from "../../converter/capture-file.ts";
import type { OtelSpan } from "../../converter/otel-span.ts";
import { Pipeline } from "../../converter/pipeline.ts";
import { PSpanMessage } from "../../converter/schema.ts";
import type { PSpanMessageMsg } from "../../converter/messages.ts";

const DIR = join(import.meta.dirname, "../fixtures/pinpoint");

interface Received {
  t: number;
  path: string;
  metadata: Record<string, string>;
  raw: string | null;
}

async function convert(file: string): Promise<{ spans: OtelSpan[]; summary: string; pipeline: Pipeline }> {
  const spans: OtelSpan[] = [];
  const pipeline = new Pipeline([], undefined, (s) => spans.push(...s));
  const { summary, damage } = await convertCapture(join(DIR, file), pipeline, [9991, 9992, 9993]);
  expect(damage).toBeUndefined();
  await pipeline.close();
  return { spans, summary, pipeline };
}

function receivedSpans(file: string): { msg: PSpanMessageMsg; agentId: string }[] {
  const fixture = JSON.parse(readFileSync(join(DIR, "received.json"), "utf8")) as { captures: Record<string, { start: number; end: number }>; received: Received[] };
  const w = fixture.captures[file];
  return fixture.received
    .filter((r) => r.path === "/v1.Span/SendSpan" && r.raw && r.t >= w.start && r.t <= w.end)
    .map((r) => ({ msg: PSpanMessage.decode(Buffer.from(r.raw as string, "base64")) as unknown as PSpanMessageMsg, agentId: r.metadata.agentid }));
}

/** Every back span's parent is a GET client event of front, under front's server span. */
function expectCrossAppTrees(spans: OtelSpan[]): number {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const servers = spans.filter((s) => s.kind === 1 && s.parentSpanId);
  for (const callee of servers) {
    const client = byId.get(callee.parentSpanId as string);
    expect(client?.name).toBe("GET");
    expect(client?.kind).toBe(2);
    expect(client?.attributes["pinpoint.next_span_id"]).toBe(callee.attributes["pinpoint.span_id"]);
    let top: OtelSpan | undefined = client;
    while (top?.parentSpanId && byId.get(top.parentSpanId)) top = byId.get(top.parentSpanId);
    expect(top?.kind).toBe(1);
    expect(top?.parentSpanId).toBeUndefined();
    expect(top?.traceId).toBe(callee.traceId);
  }
  return servers.length;
}

describe("convert CAPTURE (pinpoint-node-agent → collector, tcpdump)", () => {
  it("from the connection start: every span the collector received, with agent headers, names and times", async () => {
    const { spans, summary, pipeline } = await convert("pinpoint-full.pcap");
    expect(summary).toMatch(/0 header fields lost/);
    const expected = receivedSpans("pinpoint-full.pcap").filter((r) => r.msg.span);
    expect(expected.length).toBeGreaterThan(4);
    for (const { msg, agentId } of expected) {
      const p = msg.span!;
      const s = spans.find((x) => x.attributes["pinpoint.span_id"] === String(p.spanId) && x.attributes["pinpoint.sequence"] === undefined);
      expect(s, `span ${String(p.spanId)}`).toBeDefined();
      expect(s!.startMs).toBe(Number(p.startTime));
      expect(s!.endMs).toBe(Number(p.startTime) + (p.elapsed ?? 0));
      expect(s!.resource.attributes["service.instance.id"]).toBe(agentId);
      expect(s!.name).toBe("Node Server Process");
    }
    expect(expectCrossAppTrees(spans)).toBeGreaterThan(0);
    expect(pipeline.ingestStats.unknownAgent).toBe(0);
  });

  it("from mid-connection: spans still found and linked; agents whose headers were HPACK-indexed reported unknown", async () => {
    const { spans, pipeline } = await convert("pinpoint-midstream.pcap");
    const expected = receivedSpans("pinpoint-midstream.pcap").filter((r) => r.msg.span);
    expect(expected.length).toBeGreaterThan(0);
    for (const { msg } of expected) {
      const s = spans.find((x) => x.attributes["pinpoint.span_id"] === String(msg.span!.spanId) && x.attributes["pinpoint.sequence"] === undefined);
      expect(s).toBeDefined();
      expect(s!.startMs).toBe(Number(msg.span!.startTime));
      // Never a wrong agent: either the one that sent it or "unknown".
      expect(["unknown", expected.find((e) => e.msg === msg)!.agentId]).toContain(s!.resource.attributes["service.instance.id"]);
    }
    expect(expectCrossAppTrees(spans)).toBeGreaterThan(0);
    expect(pipeline.ingestStats.unknownAgent).toBeGreaterThan(0);
  });
});
