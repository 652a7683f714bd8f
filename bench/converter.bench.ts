// Converter throughput: capture → OTLP bytes beside its peers (target ≥ 200,000 spans/s on one core),
// Pinpoint events → OTLP spans per second from pre-decoded messages, and bytes/s through the HTTP/2 +
// gRPC decoder and the converter on real grpc-js client bytes.
import net from "node:net";
import { statSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { TraceAssembler } from "../converter/assembler.ts";
import { GrpcCaptureDecoder } from "../converter/capture.ts";
import { convertCapture } from "../converter/capture-file.ts";
import { Pipeline } from "../converter/pipeline.ts";
import { ingestGrpcRequest, newIngestStats } from "../converter/ingest.ts";
import type { AgentHeader, PSpanMessageMsg } from "../converter/messages.ts";
import { encodeProtobuf } from "../converter/otlp.ts";
import { PSpanMessage } from "../converter/schema.ts";
import { decodeSpanMessage } from "../converter/span-decode.ts";
import { PinpointCollector } from "../converter/serve.ts";
import { decodeFrame, DecodedPacket, openCaptureBytes } from "../capture/open.ts";
import { encodeJsonBytes } from "../converter/otlp.ts";
import type { OtelSpan } from "../converter/otel-span.ts";
import type { SpanSink } from "../converter/export.ts";
import { pinpointCapture } from "../tests/converter/support/pinpoint-capture.ts";

const HEADER: AgentHeader = { agentId: "bench-agent", applicationName: "bench", agentStartTime: 1_700_000_000_000 };
const EVENTS_PER_SPAN = 40;
const ASYNC_EVENTS = 10;

/** One transaction: a span with sync events (depth 1-3, some compressed) and an async chunk. */
function transactionMessages(i: number): Uint8Array[] {
  const tx = { agentId: "bench-agent", agentStartTime: 1_700_000_000_000, sequence: i };
  const events = [];
  for (let s = 0; s < EVENTS_PER_SPAN; s++) {
    events.push({
      sequence: s,
      depth: s % 4 === 0 ? 1 : s % 4 === 1 ? 2 : s % 4 === 2 ? 0 : 3,
      startElapsed: 1,
      endElapsed: 2,
      serviceType: s % 5 === 0 ? 9056 : 1401,
      apiId: (s % 7) + 1,
      asyncEvent: s === 3 ? 1 : 0,
      annotation: s % 5 === 0 ? [{ key: 40, value: { stringValue: "back:8080/data" } }, { key: 46, value: { intValue: 200 } }] : [],
      nextEvent: s % 5 === 0 ? { messageEvent: { nextSpanId: i * 1000 + s, endPoint: "back:8080" } } : null,
    });
  }
  const asyncEvents = [];
  for (let s = 0; s < ASYNC_EVENTS; s++) asyncEvents.push({ sequence: s, depth: s === 0 ? 1 : 2, startElapsed: 1, endElapsed: 1, serviceType: s === 0 ? 100 : 1401, apiId: 9 });
  const span = { version: 1, transactionId: tx, spanId: i + 1, parentSpanId: -1, startTime: 1_700_000_100_000 + i, elapsed: 100, apiId: 1, serviceType: 1400, acceptEvent: { rpc: "/bench" }, spanEvent: events };
  const chunk = { version: 1, transactionId: tx, spanId: i + 1, keyTime: 1_700_000_100_010 + i, localAsyncId: { asyncId: 1, sequence: 1 }, spanEvent: asyncEvents };
  return [PSpanMessage.encode(PSpanMessage.fromObject({ spanChunk: chunk })).finish(), PSpanMessage.encode(PSpanMessage.fromObject({ span })).finish()];
}

/** CPU seconds the process spent (user + system): on a shared, loaded machine wall time measures the neighbours. */
function time(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

/** Steady state as in `serve`: transactions are flushed as they complete and then forgotten. */
function convertDecoded(decoded: PSpanMessageMsg[], sink: (spans: ReturnType<TraceAssembler["flush"]>) => void = () => undefined): number {
  const asm = new TraceAssembler(() => 0);
  for (let i = 1; i <= 9; i++) asm.addApiMetaData(HEADER, { apiId: i, apiInfo: `com.bench.Service.method${i}(java.lang.String)` });
  let n = 0;
  for (let i = 0; i < decoded.length; i++) {
    asm.addSpanMessage(HEADER, decoded[i]);
    if (i % 200 === 199 || i === decoded.length - 1) {
      const spans = asm.flush();
      n += spans.length;
      sink(spans);
      asm.forget(-1);
    }
  }
  return n;
}

async function recordGrpcBytes(messages: Uint8Array[]): Promise<Buffer> {
  const collector = new PinpointCollector({ agentPort: 0, statPort: 0, spanPort: 0 });
  await collector.start();
  const chunks: Buffer[] = [];
  const proxy = net.createServer((c) => {
    const up = net.connect(collector.ports.span, "127.0.0.1");
    c.on("data", (d: Buffer) => {
      chunks.push(Buffer.from(d));
      up.write(d);
    });
    up.on("data", (d: Buffer) => c.write(d));
    c.on("close", () => up.destroy());
    up.on("close", () => c.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const client = new grpc.Client(`127.0.0.1:${(proxy.address() as AddressInfo).port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set("agentid", HEADER.agentId);
  md.set("applicationname", HEADER.applicationName);
  md.set("starttime", String(HEADER.agentStartTime));
  await new Promise<void>((resolve, reject) => {
    const id = (b: Buffer): Buffer => b;
    const stream = client.makeClientStreamRequest("/v1.Span/SendSpan", id, id, md, (err) => (err ? reject(err) : resolve()));
    for (const m of messages) stream.write(Buffer.from(m));
    stream.end();
  });
  client.close();
  await new Promise<void>((r) => proxy.close(() => r()));
  await collector.stop();
  return Buffer.concat(chunks);
}

const PORTS = [9991, 9992, 9993];

/** Encodes every emitted batch (the bytes `--out` or `--otlp` would write) and counts them. */
function encodingSink(encode: (spans: OtelSpan[]) => { length: number }): SpanSink & { bytes: number; spans: number } {
  return {
    bytes: 0,
    spans: 0,
    async write(spans) {
      this.bytes += encode(spans).length;
      this.spans += spans.length;
    },
    async close() {},
    report: () => "",
  };
}

/** `convert` as the CLI runs it (capture clock, --flush-ms 2000), into an encoding sink; CPU seconds. */
async function convertToOtlp(capture: Buffer, encode: (spans: OtelSpan[]) => { length: number }): Promise<{ cpu: number; spans: number; bytes: number; live: number; closed: number }> {
  const clock = { nowMs: 0 };
  const sink = encodingSink(encode);
  const c0 = process.cpuUsage();
  const p = new Pipeline([sink], undefined, undefined, () => clock.nowMs, { sweepMs: 0 });
  const r = await convertCapture(openCaptureBytes(capture), p, PORTS, { flushMs: 2000, clock });
  await p.close();
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1e6, spans: sink.spans, bytes: sink.bytes, live: r.connections.live, closed: r.connections.closed };
}

/** The same capture read and decoded to packets, and nothing else. */
function readOnly(capture: Buffer): { cpu: number; payload: number } {
  let payload = 0;
  const cpu = time(() => {
    const r = openCaptureBytes(capture);
    const pkt = new DecodedPacket();
    for (let f = r.next(); f; f = r.next()) if (decodeFrame(f, pkt)) payload += pkt.payload().length;
    r.close();
  });
  return { cpu, payload };
}

/** Capture → reassembly → HTTP/2 → gRPC messages, nothing decoded. */
async function toGrpcOnly(capture: Buffer): Promise<number> {
  const noop = { request() {}, flush: async () => [], asm: { forget() {} } } as unknown as Pipeline;
  const c0 = process.cpuUsage();
  await convertCapture(openCaptureBytes(capture), noop, PORTS);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

const rate = (n: number, s: number): string => `${Math.round(n / s).toLocaleString("en-US")}/s`;
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;

/**
 * The whole `convert` path, capture bytes to OTLP bytes, on real agent traffic repeated (distinct
 * traces per copy), each figure next to its peers of the same run: reading the capture alone, up to
 * gRPC messages, a plain protobufjs decode of the same span messages.
 */
async function captureToOtlp(): Promise<void> {
  const COPIES = 3000;
  const cap = pinpointCapture(COPIES);
  await convertToOtlp(pinpointCapture(50).bytes, encodeJsonBytes); // warm up
  const best = async <T extends { cpu: number }>(fn: () => Promise<T>): Promise<T> => {
    const a = await fn();
    const b = await fn();
    return a.cpu <= b.cpu ? a : b;
  };
  const json = await best(() => convertToOtlp(cap.bytes, encodeJsonBytes));
  const proto = await best(() => convertToOtlp(cap.bytes, encodeProtobuf));
  const [r1, r2] = [readOnly(cap.bytes), readOnly(cap.bytes)];
  const read = Math.min(r1.cpu, r2.cpu);
  const grpcOnly = Math.min(await toGrpcOnly(cap.bytes), await toGrpcOnly(cap.bytes));
  const plain = Math.min(...[0, 1].map(() => time(() => { for (const m of cap.spanMessages) PSpanMessage.decode(m); })));
  const own = Math.min(...[0, 1].map(() => time(() => { for (const m of cap.spanMessages) decodeSpanMessage(m); })));
  const n = json.spans;
  console.log(`capture → OTLP bytes, ${(cap.bytes.length / 1e6).toFixed(1)} MB capture of pinpoint-node-agent traffic × ${COPIES} (${cap.spanMessages.length} span messages → ${n} OTel spans); CPU time, best of 2; target ≥ 200,000 spans/s:`);
  console.log(`  convert → OTLP JSON:          ${rate(n, json.cpu)} spans (${(json.cpu * 1000).toFixed(0)} ms, ${(json.bytes / 1e6).toFixed(0)} MB)`);
  console.log(`  convert → OTLP protobuf:      ${rate(n, proto.cpu)} spans (${(proto.cpu * 1000).toFixed(0)} ms, ${(proto.bytes / 1e6).toFixed(0)} MB)`);
  console.log(`  baseline, capture read only:  ${rate(n, read)} spans' worth (${(read * 1000).toFixed(0)} ms, ${(r1.payload / 1e6).toFixed(1)} MB of TCP payload)`);
  console.log(`  baseline, → gRPC messages:    ${rate(n, grpcOnly)} spans' worth (${(grpcOnly * 1000).toFixed(0)} ms: read + TCP reassembly + HTTP/2)`);
  console.log(`  baseline, protobufjs decode:  ${rate(n, plain)} spans' worth (${(plain * 1000).toFixed(0)} ms: PSpanMessage.decode of the same ${cap.spanMessages.length} messages)`);
  console.log(`  the converter's span decoder: ${rate(n, own)} spans' worth (${(own * 1000).toFixed(0)} ms: decodeSpanMessage of the same messages)`);
  console.log(`  connections: ${json.closed} closed and freed, ${json.live} open at the end`);
}

/**
 * Peak memory of `convert` (this process: RSS, and heap used sampled after each emitted batch) on a
 * capture and on one 4× as long of the same traffic: it should not grow with the length. Each in a
 * child process of its own so the first does not inflate the second.
 */
async function memoryByLength(): Promise<void> {
  const { execFileSync } = await import("node:child_process");
  const run = (copies: number): { rss: number; heap: number; spans: number } =>
    JSON.parse(execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", import.meta.filename, "--memory-child", String(copies)], { encoding: "utf8" })) as { rss: number; heap: number; spans: number };
  const short = run(3000);
  const long = run(12000);
  console.log(`convert memory, short vs 4× longer capture of the same traffic (own process each):`);
  console.log(`  ${short.spans} spans: RSS grew by ${mib(short.rss)} at most, live heap (after GC) ${mib(short.heap)} at most`);
  console.log(`  ${long.spans} spans: RSS grew by ${mib(long.rss)} at most, live heap (after GC) ${mib(long.heap)} at most`);
}

async function memoryChild(copies: number): Promise<void> {
  const cap = pinpointCapture(copies).bytes;
  const base = process.memoryUsage().rss;
  let heap = 0;
  let batches = 0;
  const gc = (globalThis as { gc?: () => void }).gc as () => void;
  const { spans } = await convertToOtlp(cap, (s) => {
    // What is live (after a full GC), every 20th batch: the state the converter holds.
    if (++batches % 20 === 0) {
      gc();
      heap = Math.max(heap, process.memoryUsage().heapUsed);
    }
    return encodeJsonBytes(s);
  });
  // The capture itself is in memory here (a file is read in chunks): only the growth while converting counts.
  const rss = process.resourceUsage().maxRSS * 1024 - base;
  process.stdout.write(JSON.stringify({ rss, heap, spans }));
}

export default async function bench(): Promise<void> {
  await captureToOtlp();
  await memoryByLength();
  const TX = 4000;
  const encoded = Array.from({ length: TX }, (_, i) => transactionMessages(i)).flat();
  const decoded: PSpanMessageMsg[] = encoded.map((b) => decodeSpanMessage(b));
  const events = TX * (EVENTS_PER_SPAN + ASYNC_EVENTS);
  convertDecoded(decoded.slice(0, 200)); // warm up
  // Best of three: the figure is the converter's, not the machine's other load.
  const bestOf3 = (fn: () => void): number => Math.min(time(fn), time(fn), time(fn));
  console.log(`(load average ${loadavg()[0].toFixed(1)}; CPU time of this process, best of 3 runs)`);
  let spans = 0;
  const best = bestOf3(() => (spans = convertDecoded(decoded)));
  console.log(`pre-decoded → OTel spans: ${events} events + ${TX} spans in ${(best * 1000).toFixed(0)} ms = ${Math.round(events / best).toLocaleString("en-US")} events/s (${spans} spans out; target ≥ 200,000)`);

  let out = 0;
  const withEncode = bestOf3(() => {
    out = 0;
    convertDecoded(decoded, (spans) => (out += encodeProtobuf(spans).length));
  });
  console.log(`  + OTLP protobuf encoding: ${Math.round(events / withEncode).toLocaleString("en-US")} events/s (${(out / 1e6).toFixed(1)} MB of OTLP)`);

  const decodeToo = bestOf3(() => convertDecoded(encoded.map((b) => decodeSpanMessage(b))));
  console.log(`  incl. protobuf decoding: ${Math.round(events / decodeToo).toLocaleString("en-US")} events/s`);

  const wire = await recordGrpcBytes(encoded.slice(0, 2000));
  const asm = new TraceAssembler(() => 0);
  const stats = newIngestStats();
  const d = new GrpcCaptureDecoder((r) => {
    ingestGrpcRequest(asm, stats, r.path, r.header, r.data);
    if (stats.messages % 200 === 0) {
      asm.flush();
      asm.forget(-1);
    }
  });
  const CHUNK = 1448; // segments as a capture would carry them
  const wireTime = time(() => {
    for (let at = 0; at < wire.length; at += CHUNK) d.push({ connection: "c", fromClient: true, data: wire.subarray(at, at + CHUNK), timeUs: at });
    asm.flush();
  });
  console.log(
    `gRPC bytes (HTTP/2 + HPACK + gRPC + decode + convert): ${(wire.length / 1e6).toFixed(1)} MB in ${(wireTime * 1000).toFixed(0)} ms = ${(wire.length / 1e6 / wireTime).toFixed(1)} MB/s (${stats.messages} messages)`,
  );

  // The whole `convert` path on a real capture (pcap reader, host-sim TCP reassembly, HTTP/2, convert).
  const pcap = join(import.meta.dirname, "../tests/fixtures/pinpoint/pinpoint-full.pcap");
  const size = statSync(pcap).size;
  const ROUNDS = 200;
  const pcapTime = await (async () => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < ROUNDS; i++) {
      const p = new Pipeline([]);
      await convertCapture(pcap, p, [9991, 9992, 9993]);
      await p.close();
    }
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1e6;
  })();
  console.log(`capture file (pcap → reassembly → HTTP/2 → OTel): ${((size * ROUNDS) / 1e6).toFixed(1)} MB in ${(pcapTime * 1000).toFixed(0)} ms = ${((size * ROUNDS) / 1e6 / pcapTime).toFixed(1)} MB/s (pinpoint-full.pcap × ${ROUNDS})`);
}

if (process.argv[2] === "--memory-child") await memoryChild(Number(process.argv[3]));
