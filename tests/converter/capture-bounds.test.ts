// `convert` holds what is in flight, not what the capture held: connections (and their HTTP/2
// decoders) are freed at FIN/RST, when idle and beyond a cap; transactions are emitted and forgotten
// on the capture's clock. Behaviour, counted (live connections, transactions held), not timed.
import { describe, expect, it } from "vitest";
import { openCaptureBytes } from "../../capture/open.ts";
import { GrpcCaptureDecoder } from "../../converter/capture.ts";
import { convertCapture, type ConvertOptions } from "../../converter/capture-file.ts";
import type { SpanSink } from "../../converter/export.ts";
import type { OtelSpan } from "../../converter/otel-span.ts";
import { Pipeline } from "../../converter/pipeline.ts";
import { frame } from "./support/h2-frame.ts";
import { pinpointCapture, type PinpointCaptureOptions } from "./support/pinpoint-capture.ts";

const PORTS = [9991, 9992, 9993];

/** Converts a generated capture as the CLI does; records the transactions held at every emitted batch. */
async function convert(copies: number, capture: PinpointCaptureOptions, opts: Omit<ConvertOptions, "clock"> = {}) {
  const clock = { nowMs: 0 };
  const spans: OtelSpan[] = [];
  let peakTransactions = 0;
  const pipeline: Pipeline = new Pipeline(
    [
      {
        async write(s: OtelSpan[]) {
          spans.push(...s);
          peakTransactions = Math.max(peakTransactions, pipeline.stats().transactions);
        },
        async close() {},
        report: () => "",
      } satisfies SpanSink,
    ],
    undefined,
    undefined,
    () => clock.nowMs,
    { sweepMs: 0 },
  );
  const cap = pinpointCapture(copies, capture);
  const result = await convertCapture(openCaptureBytes(cap.bytes), pipeline, PORTS, { ...opts, clock });
  await pipeline.close();
  return { result, spans, peakTransactions, connections: cap.connections };
}

describe("convert: memory follows the traffic in flight, not the capture's length", () => {
  it("frees the decoder of every connection closed by FIN", async () => {
    const { result, spans, connections } = await convert(40, { copiesPerConnection: 10 });
    expect(connections).toBe(12); // 4 rounds of: agent info + metadata, one span stream per agent
    expect(result.connections).toMatchObject({ live: 0, closed: 12, idleClosed: 0 });
    expect(result.connections.peak).toBeLessThanOrEqual(3);
    expect(result.summary).toContain("0 open connections at the end (12 closed, 0 of them idle)");
    expect(spans).toHaveLength(40 * 35);
  });

  it("closes connections idle for idleUs (FIN never captured) and converts the same spans", async () => {
    const capture = { copiesPerConnection: 10, copyIntervalUs: 200_000, fin: false };
    const kept = await convert(40, capture);
    expect(kept.result.connections).toMatchObject({ live: 12, closed: 0 });
    const freed = await convert(40, capture, { idleUs: 1_000_000 });
    // Each round's connections go quiet when the next round opens; the last round is still live.
    expect(freed.result.connections.idleClosed).toBeGreaterThanOrEqual(6);
    expect(freed.result.connections.live).toBeLessThanOrEqual(6);
    expect(freed.spans.map((s) => s.spanId).sort()).toEqual(kept.spans.map((s) => s.spanId).sort());
  });

  it("holds at most maxConnections, closing the quietest", async () => {
    const { result, spans } = await convert(40, { copiesPerConnection: 5, fin: false }, { maxConnections: 3 });
    expect(result.connections.peak).toBe(3);
    expect(result.connections.live).toBe(3);
    expect(result.connections.idleClosed).toBe(24 - 3);
    expect(spans).toHaveLength(40 * 35);
  });

  it("with flushMs, transactions are emitted and forgotten as capture time passes: 4× the capture, the same held", async () => {
    const opts = { flushMs: 20 };
    const short = await convert(200, { copyIntervalUs: 20_000 }, opts);
    const long = await convert(800, { copyIntervalUs: 20_000 }, opts);
    expect(long.spans).toHaveLength(4 * short.spans.length);
    // Forgotten 60 × flushMs after their last data: 1.2 s of capture, 60 copies of 7 transactions.
    expect(short.peakTransactions).toBeLessThan(7 * 100);
    expect(long.peakTransactions).toBeLessThanOrEqual(short.peakTransactions + 7 * 5);
    // Without it everything waits for the end (the assembler's own cap aside).
    const atEnd = await convert(200, { copyIntervalUs: 20_000 });
    expect(atEnd.peakTransactions).toBe(200 * 7);
    expect(atEnd.spans.map((s) => s.spanId).sort()).toEqual(short.spans.map((s) => s.spanId).sort());
  });

  it("GrpcCaptureDecoder.close frees a connection's decoder and keeps its counts", () => {
    const d = new GrpcCaptureDecoder(() => undefined);
    const settings = frame(4, 0, 0, Buffer.alloc(0));
    d.push({ connection: "a", fromClient: true, data: Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), settings]), timeUs: 0 });
    d.push({ connection: "b", fromClient: true, data: settings, timeUs: 0 });
    expect(d.liveConnections).toBe(2);
    const frames = d.stats().frames;
    d.close("a");
    d.close("a"); // twice: nothing more
    expect(d.liveConnections).toBe(1);
    expect(d.closedConnections).toBe(1);
    expect(d.stats().frames).toBe(frames);
  });
});
