// OTLP output: the official serializers' bytes decoded with the official definitions, OTLP/HTTP
// retries and failure accounting against a local receiver, JSON lines files, and the request-log join.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TraceAssembler } from "../../converter/assembler.ts";
import { JsonLinesSink, OtlpHttpSink, parseRetryAfter } from "../../converter/export.ts";
import { RequestLogJoin, toMs } from "../../converter/join.ts";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { encodeJson, encodeProtobuf } from "../../converter/otlp.ts";
import { OtelSpan } from "../../converter/otel-span.ts";
import { renderTrees } from "../../converter/tree.ts";
import { decodeExportRequest, startOtlpReceiver, type OtlpReceiver } from "./support/otlp-receiver.ts";

const FRONT = { agentId: "front-1", applicationName: "front", agentStartTime: 1_700_000_000_000 };
const BACK = { agentId: "back-1", applicationName: "back", agentStartTime: 1_700_000_000_100 };
const TX = { agentId: "front-1", agentStartTime: 1_700_000_000_000, sequence: 3 };
const TX_STRING = "front-1^1700000000000^3";

/** front span 10 → client event (nextSpanId 20) → back span 20. */
function sampleSpans(): OtelSpan[] {
  const a = new TraceAssembler(() => 0);
  a.addSpan(FRONT, {
    version: 1,
    transactionId: TX,
    spanId: 10,
    parentSpanId: -1,
    startTime: 1_700_000_100_000,
    elapsed: 40,
    serviceType: 1400,
    acceptEvent: { rpc: "/hello" },
    annotation: [{ key: 46, value: { intValue: 503 } }],
    spanEvent: [{ sequence: 0, depth: 1, startElapsed: 5, endElapsed: 30, serviceType: 9056, annotation: [{ key: 12, value: { stringValue: "GET" } }], nextEvent: { messageEvent: { nextSpanId: 20, endPoint: "back:8080" } } }],
  });
  a.addSpan(BACK, { version: 1, transactionId: TX, spanId: 20, parentSpanId: 10, startTime: 1_700_000_100_010, elapsed: 20, serviceType: 1400, acceptEvent: { rpc: "/data" } });
  return a.flush();
}

describe("OTLP encoding", () => {
  it("JSON is written directly, the same text as @opentelemetry/otlp-transformer's JsonTraceSerializer", () => {
    const spans = sampleSpans();
    // Values the plain samples lack: a double, NaN, a boolean, a non-ASCII string, an event, a status message, fractional ms.
    Object.assign(spans[1].attributes, { ratio: 0.25, nan: Number.NaN, flag: true, "naïve \"key\"": "line\nbreak \u2028" });
    spans[1].events = [{ name: "exception", time: [1_700_000_100, 5_000_000], attributes: { "exception.type": "E" } }];
    spans[1].status = { code: 2, message: "boom" };
    spans.push(new OtelSpan(spans[0].traceId, "00000000000000ff", undefined, false, "fractional", 0, 1_700_000_100_000.5, 0, {}, spans[0].resource));
    const official = new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans as unknown as Parameters<typeof JsonTraceSerializer.serializeRequest>[0]));
    expect(encodeJson(spans)).toBe(official);
  });

  it("protobuf is written directly, the same bytes as @opentelemetry/otlp-transformer's ProtobufTraceSerializer", () => {
    const spans = sampleSpans();
    // As for JSON, plus values only the official serializer writes (a time past 2^42 ms, a negative int).
    Object.assign(spans[1].attributes, { ratio: 0.25, nan: Number.NaN, flag: true, negative: -3, big: 2 ** 60, "naïve \"key\"": "line\nbreak \u2028 \ud800" });
    spans[1].events = [{ name: "exception", time: [1_700_000_100, 5_000_000], attributes: { "exception.type": "E" } }];
    spans[1].status = { code: 2, message: "boom" };
    spans.push(new OtelSpan(spans[0].traceId, "00000000000000ff", undefined, false, "fractional", 0, 1_700_000_100_000.5, 0, { long: "x".repeat(300) }, spans[0].resource));
    const official = (s: OtelSpan[]): Buffer => Buffer.from(ProtobufTraceSerializer.serializeRequest(s as unknown as Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0]) as Uint8Array);
    expect(Buffer.from(encodeProtobuf(spans)).equals(official(spans))).toBe(true);
    const far = [...spans, new OtelSpan(spans[0].traceId, "00000000000000fe", undefined, false, "far", 0, 2 ** 43, -1, {}, spans[0].resource)];
    expect(Buffer.from(encodeProtobuf(far)).equals(official(far))).toBe(true);
  });

  it("protobuf from @opentelemetry/otlp-transformer decodes with the official definitions", () => {
    const spans = sampleSpans();
    const decoded = decodeExportRequest(encodeProtobuf(spans));
    expect(decoded).toHaveLength(3);
    const root = decoded.find((s) => s.name === "/hello");
    const client = decoded.find((s) => s.name === "GET");
    const back = decoded.find((s) => s.name === "/data");
    expect(root?.parentSpanId).toBe("");
    expect(root?.spanId).toBe("000000000000000a");
    expect(client?.parentSpanId).toBe(root?.spanId);
    expect(back?.parentSpanId).toBe(client?.spanId);
    expect([root?.kind, client?.kind, back?.kind]).toEqual([2, 3, 2]);
    expect(root?.startNs).toBe(1_700_000_100_000_000_000n);
    expect(root?.endNs).toBe(1_700_000_100_040_000_000n);
    expect(root?.status).toEqual({ code: 2, message: "HTTP 503" });
    expect(root?.attributes["http.response.status_code"]).toBe(503);
    expect(back?.resource["service.name"]).toBe("back");
    expect(client?.attributes["server.address"]).toBe("back");
    expect(client?.attributes["server.port"]).toBe(8080);
  });

  it("prints a waterfall with children under parents", () => {
    const text = renderTrees(sampleSpans());
    const lines = text.split("\n");
    expect(lines[0]).toContain(TX_STRING);
    expect(lines[1]).toMatch(/\/hello \[SERVER front\] !$/);
    expect(lines[2]).toMatch(/ {2}GET \[CLIENT front\]$/);
    expect(lines[3]).toMatch(/ {4}\/data \[SERVER back\]$/);
  });
});

describe("sinks", () => {
  let receiver: OtlpReceiver;
  let dir: string;
  beforeEach(async () => {
    receiver = await startOtlpReceiver();
    dir = mkdtempSync(join(tmpdir(), "pinpoint-otel-export-"));
  });
  afterEach(async () => {
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("OTLP/HTTP: gzip protobuf, batches, retries 503/429 honouring Retry-After", async () => {
    receiver.failures.push({ status: 503, retryAfter: "0" }, { status: 429 });
    const sink = new OtlpHttpSink({ endpoint: receiver.url, batchSize: 2, initialDelayMs: 10 });
    await sink.write(sampleSpans());
    await sink.close();
    expect(receiver.spans).toHaveLength(3);
    expect(receiver.requests.length).toBe(4); // 2 batches, the first tried 3 times
    expect(receiver.requests[0]).toEqual({ contentType: "application/x-protobuf", encoding: "gzip" });
    expect(sink.stats).toMatchObject({ sentSpans: 3, retries: 2, failedSpans: 0 });
  });

  it("OTLP/HTTP: counts and reports what it could not deliver", async () => {
    receiver.failures.push({ status: 400 }, { status: 503 }, { status: 503 });
    const sink = new OtlpHttpSink({ endpoint: `${receiver.url}/v1/traces`, batchSize: 2, maxAttempts: 2, initialDelayMs: 5, compression: "none" });
    await sink.write(sampleSpans());
    await sink.close();
    expect(sink.stats).toMatchObject({ sentSpans: 0, failedSpans: 3, failedRequests: 2, retries: 1 });
    expect(sink.report()).toMatch(/FAILED 3 spans in 2 requests \(HTTP 503 after 2 attempts\)/);
    expect(receiver.requests[0].encoding).toBe("");
  });

  it("OTLP/HTTP: a collector that is down is retried then reported", async () => {
    await receiver.close();
    const sink = new OtlpHttpSink({ endpoint: receiver.url, maxAttempts: 2, initialDelayMs: 5, timeoutMs: 2000 });
    await sink.write(sampleSpans());
    await sink.close();
    expect(sink.stats.failedSpans).toBe(3);
    receiver = await startOtlpReceiver();
  });

  it("OTLP/HTTP JSON (--otlp-json): the OTLP/JSON mapping with hex ids", async () => {
    const sink = new OtlpHttpSink({ endpoint: receiver.url, encoding: "json" });
    await sink.write(sampleSpans());
    await sink.close();
    expect(receiver.requests[0]).toEqual({ contentType: "application/json", encoding: "gzip" });
    const spans = receiver.jsonRequests.flatMap((r) => r.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
    expect(spans.map((s) => s.name).sort()).toEqual(["/data", "/hello", "GET"]);
    const root = spans.find((s) => s.name === "/hello");
    expect(root?.spanId).toBe("000000000000000a");
    expect(spans.find((s) => s.name === "GET")?.parentSpanId).toBe("000000000000000a");
  });

  it("parses Retry-After as seconds or a date", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(new Date(Date.now() + 60_000).toUTCString())).toBeGreaterThan(50_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
  });

  it("--out writes one OTLP/JSON ExportTraceServiceRequest per line", async () => {
    const file = join(dir, "out.jsonl");
    const sink = new JsonLinesSink(file);
    await sink.write(sampleSpans());
    await sink.write(sampleSpans().slice(0, 1));
    await sink.close();
    const lines = readFileSync(file, "utf8").trim().split("\n");
    expect(lines).toHaveLength(2);
    const req = JSON.parse(lines[0]);
    const spans = req.resourceSpans.flatMap((rs: { scopeSpans: { spans: unknown[] }[] }) => rs.scopeSpans.flatMap((ss) => ss.spans));
    expect(spans).toHaveLength(3);
    expect(spans[0].traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(spans[0].spanId).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("request-log join", () => {
  it("adds wire ids to both ends of a call and a network span timed by the wire", () => {
    const logs = [
      {
        trace_id: TX_STRING,
        span_id: "20",
        start_time: 1_700_000_100_006_500, // µs
        end_time: 1_700_000_100_033_250,
        request_type: "GET",
        request_resource: "/data",
        response_status: "200",
        x_request_id_0: "req-abc",
        attribute_names: ["EntryID", "note"],
        attribute_values: ["entry-9", "x"],
      },
      { trace_id: "other^1^1", trace_ids: ["other^1^1"], span_id: "20", start_time: 1, end_time: 2 },
      { request_type: "no pinpoint ids" },
    ];
    const dir = mkdtempSync(join(tmpdir(), "pinpoint-otel-join-"));
    const file = join(dir, "logs.jsonl");
    writeFileSync(file, `${logs.map((l) => JSON.stringify(l)).join("\n")}\nnot json\n`);
    const join_ = RequestLogJoin.fromFile(file);
    rmSync(dir, { recursive: true, force: true });
    const spans = sampleSpans();
    const extra = join_.apply(spans);
    expect(extra).toHaveLength(1);
    const [net] = extra;
    const client = spans.find((s) => s.name === "GET") as OtelSpan;
    const back = spans.find((s) => s.name === "/data") as OtelSpan;
    expect(net.name).toBe("network");
    expect(net.parentSpanId).toBe(client.spanId);
    expect(net.traceId).toBe(client.traceId);
    expect([net.startMs, net.endMs]).toEqual([1_700_000_100_006.5, 1_700_000_100_033.25]);
    expect(net.attributes).toMatchObject({ "deepflow.request_resource": "/data", "deepflow.x_request_id_0": "req-abc", "deepflow.attr.EntryID": "entry-9" });
    for (const s of [client, back]) expect(s.attributes).toMatchObject({ "deepflow.x_request_id_0": "req-abc", "deepflow.attr.EntryID": "entry-9" });
    expect(join_.stats).toMatchObject({ logs: 3, withPinpointIds: 2, matched: 1, networkSpans: 1, badLines: 1 });
    expect(join_.apply(spans)).toHaveLength(0); // each log becomes one network span
  });

  it("reads times in s, ms, µs, ns and dates", () => {
    expect(toMs(1_700_000_000)).toBe(1_700_000_000_000);
    expect(toMs(1_700_000_000_123)).toBe(1_700_000_000_123);
    expect(toMs(1_700_000_000_123_456)).toBe(1_700_000_000_123.456);
    expect(toMs("2023-11-14T22:13:20.000Z")).toBe(1_700_000_000_000);
    expect(toMs("2023-11-14T22:13:20.123456Z")).toBeCloseTo(1_700_000_000_123.456, 3);
  });
});
