// The converter's decoders on hostile input: real agent messages and connection bytes (pinpoint-full.pcap
// and the collector's received.json), mutated by a seeded generator, so that a failure replays.
// - protobuf path (Pipeline.request: decode by method → assembler → OTLP encoding): a message
//   protobufjs refuses is counted as malformed (ingest.ts catches it, by design); nothing else may throw,
//   and malformed must be exactly the messages protobufjs refuses (an assembler exception would hide
//   there too);
// - HTTP/2 path (GrpcCaptureDecoder: framing, HPACK, gRPC length prefixes) never throws;
// - memory retained after either run stays under a stated bound.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import type protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { TraceAssembler } from "../../converter/assembler.ts";
import { GrpcCaptureDecoder } from "../../converter/capture.ts";
import type { SpanSink } from "../../converter/export.ts";
import { Http2RequestDecoder, type GrpcMessage } from "../../converter/http2.ts";
import { SPAN_PATH } from "../../converter/ingest.ts";
import type { AgentHeader } from "../../converter/messages.ts";
import type { OtelSpan } from "../../converter/otel-span.ts";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { encodeJson, encodeProtobuf } from "../../converter/otlp.ts";
import { Pipeline } from "../../converter/pipeline.ts";
import { PAgentInfo, PApiMetaData, PSpanMessage, pinpointRoot } from "../../converter/schema.ts";
import { tcpSegments, xorshift32 } from "../support/capture.ts";
import { frame } from "./support/h2-frame.ts";

const DIR = join(import.meta.dirname, "../fixtures/pinpoint");
const COLLECTOR_PORTS = [9991, 9992, 9993];
/** Retained memory (heap + Buffers, after a full GC) the runs may add. */
const RETAINED_BOUND = 24 << 20;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const mb = (bytes: number): string => `${bytes >= 0 ? "+" : ""}${(bytes / 1e6).toFixed(1)} MB`;

/** Heap and Buffer bytes still reachable. */
function retained(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

interface Message {
  path: string;
  header: AgentHeader;
  data: Uint8Array;
}

const fixture = JSON.parse(readFileSync(join(DIR, "received.json"), "utf8")) as {
  received: { path: string; metadata: Record<string, string>; raw: string | null }[];
};
const MESSAGES: Message[] = fixture.received
  .filter((r) => r.raw)
  .map((r) => ({
    path: r.path,
    header: { agentId: r.metadata.agentid, applicationName: r.metadata.applicationname, agentStartTime: Number(r.metadata.starttime) },
    data: new Uint8Array(Buffer.from(r.raw as string, "base64")),
  }));
const PATHS = [...new Set(MESSAGES.map((m) => m.path))];
/** The methods ingest.ts decodes (the others are counted as ignored, never decoded). */
const DECODED: Record<string, protobuf.Type> = {
  [SPAN_PATH]: PSpanMessage,
  "/v1.Metadata/RequestApiMetaData": PApiMetaData,
  "/v1.Agent/RequestAgentInfo": PAgentInfo,
};
const MESSAGE_TYPES: Record<string, protobuf.Type> = {
  ...DECODED,
  "/v1.Agent/PingSession": pinpointRoot.lookupType("v1.PPing"),
  "/v1.Stat/SendAgentStat": pinpointRoot.lookupType("v1.PStatMessage"),
};

/** Client→server bytes of each collector connection in the capture, from its preface on. */
function connectionStreams(): { key: string; bytes: Buffer }[] {
  const byKey = new Map<string, Uint8Array[]>();
  for (const s of tcpSegments(join(DIR, "pinpoint-full.pcap"))) {
    if (!COLLECTOR_PORTS.includes(s.dstPort)) continue;
    const key = `${s.srcIp}:${s.srcPort}>${s.dstIp}:${s.dstPort}`;
    const list = byKey.get(key) ?? [];
    list.push(s.payload);
    byKey.set(key, list);
  }
  return [...byKey].map(([key, parts]) => ({ key, bytes: Buffer.concat(parts) }));
}

/** 1-4 byte-level edits: overwrite, bit flip, truncate, extend, splice from another input, varint run, delete. */
function mutate(src: Uint8Array, rnd: () => number, pool: Uint8Array[]): Buffer {
  let b = Buffer.from(src);
  for (let ops = 1 + (rnd() % 4); ops > 0; ops--) {
    const at = rnd() % (b.length + 1);
    switch (rnd() % 8) {
      case 0:
        if (b.length) b[at % b.length] = rnd() & 0xff;
        break;
      case 1:
        if (b.length) b[at % b.length] ^= 1 << (rnd() % 8);
        break;
      case 2:
        b = b.subarray(0, at);
        break;
      case 3:
        b = Buffer.concat([b, Buffer.from(Array.from({ length: 1 + (rnd() % 64) }, () => rnd() & 0xff))]);
        break;
      case 4: {
        const other = pool[rnd() % pool.length];
        const from = rnd() % (other.length + 1);
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + (rnd() % 256)), b.subarray(at)]);
        break;
      }
      case 5:
        if (b.length) b[at % b.length] = [0x00, 0xff, 0x7f, 0x80][rnd() % 4];
        break;
      case 6:
        b = Buffer.concat([b.subarray(0, at), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), b.subarray(at)]);
        break;
      default:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + (rnd() % 32))]);
    }
  }
  return b;
}

const NUMBERS = [0, -1, 1, 0x7fffffff, -0x80000000, 0xffffffff, 2 ** 53, -(2 ** 53)];
const INT64S = ["9223372036854775807", "-9223372036854775808", "-1", "0", "1"];

/** Well-formed but wild values: extreme numbers and 64-bit ids, odd strings, dropped fields, repeated or emptied lists. */
function wild(v: unknown, rnd: () => number): unknown {
  if (Array.isArray(v)) {
    const out = v.map((x) => wild(x, rnd));
    const r = rnd() % 6;
    return r === 0 ? [] : r === 1 ? [...out, ...out] : r === 2 ? out.reverse() : out;
  }
  if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (rnd() % 12 !== 0) o[k] = wild(x, rnd);
    return o;
  }
  if (rnd() % 3 !== 0) return v;
  if (typeof v === "number") return NUMBERS[rnd() % NUMBERS.length];
  if (typeof v === "string") return /^-?\d+$/.test(v) ? INT64S[rnd() % INT64S.length] : ["", "x".repeat(rnd() % 1000), "(", "a.b(", "\u0000\uffff", v + v][rnd() % 6];
  if (typeof v === "boolean") return !v;
  return v;
}

/** The message decoded, its values made wild, encoded again: reaches the assembler and the OTLP encoders. */
function semantic(m: Message, rnd: () => number): Uint8Array {
  const T = MESSAGE_TYPES[m.path];
  const obj = T.toObject(T.decode(m.data), { longs: String, defaults: rnd() % 2 === 0 });
  return T.encode(T.fromObject(wild(obj, rnd) as Record<string, unknown>)).finish();
}

/** The sink the CLI's outputs amount to: both OTLP encodings of every emitted span. */
function encodingSink(): SpanSink & { spans: number } {
  return {
    spans: 0,
    async write(spans: OtelSpan[]) {
      // The direct JSON encoder writes what the official serializer writes, byte for byte.
      const official = new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans as unknown as Parameters<typeof JsonTraceSerializer.serializeRequest>[0]));
      if (encodeJson(spans) !== official) throw new Error("encodeJson differs from JsonTraceSerializer");
      // So does the direct protobuf encoder.
      const officialProto = ProtobufTraceSerializer.serializeRequest(spans as unknown as Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0]) as Uint8Array;
      if (!Buffer.from(encodeProtobuf(spans)).equals(officialProto)) throw new Error("encodeProtobuf differs from ProtobufTraceSerializer");
      this.spans += spans.length;
    },
    async close() {},
    report: () => "",
  };
}

describe("converter decoders on mutated real input", () => {
  it("protobuf path: 100,000 mutated agent messages, malformed ones counted, nothing thrown, memory bounded", async () => {
    const N = 100_000;
    /** Messages per pipeline (per "capture"): spans repeat across rounds, so they are emitted again. */
    const ROUND = 50;
    const rnd = xorshift32(0x9e3779b9);
    const pool = MESSAGES.map((m) => m.data);
    const sink = encodingSink();
    const totals = { messages: 0, malformed: 0, ignored: 0 };
    let refused = 0;
    let semanticInputs = 0;
    const before = retained();
    const t0 = performance.now();
    let pipeline = new Pipeline([sink]);
    for (let i = 0; i < N; i++) {
      const m = MESSAGES[rnd() % MESSAGES.length];
      // One in eight is read as another method's message type.
      const path = rnd() % 8 === 0 ? PATHS[rnd() % PATHS.length] : m.path;
      let data: Uint8Array;
      if (rnd() % 8 === 0) {
        data = semantic(m, rnd);
        semanticInputs++;
      } else data = mutate(m.data, rnd, pool);
      const type = DECODED[path];
      if (type) {
        try {
          type.decode(data);
        } catch {
          refused++;
        }
      }
      pipeline.request(path, m.header, data);
      if (i % ROUND === ROUND - 1 || i === N - 1) {
        await pipeline.close();
        for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += pipeline.ingestStats[k];
        pipeline = new Pipeline([sink]);
      }
    }
    const ms = performance.now() - t0;
    const growth = retained() - before;
    console.log(
      `protobuf fuzz: ${N} messages (${semanticInputs} re-encoded with wild values) in ${ms.toFixed(0)} ms; ` +
        `${totals.malformed} malformed, ${totals.ignored} not decoded (stats, pings), ${sink.spans} spans encoded; retained ${mb(growth)}`,
    );
    expect(totals.messages).toBe(N);
    expect(totals.malformed).toBe(refused);
    // Both outcomes are exercised: refused input and input that reaches the assembler and the encoders.
    expect(refused).toBeGreaterThan(N / 10);
    expect(N - refused - totals.ignored).toBeGreaterThan(N / 10);
    expect(sink.spans).toBeGreaterThan(10_000);
    expect(growth).toBeLessThan(RETAINED_BOUND);
  });

  it("an event depth of 2^31-1 (the wild values found it) costs no more than any other depth", () => {
    const asm = new TraceAssembler(() => 0);
    const MAX = 0x7fffffff;
    const depths = [1, MAX, MAX - 1, MAX, MAX - 1, 2, -7];
    asm.addSpan(MESSAGES[0].header, {
      version: 1,
      transactionId: { agentId: "a", agentStartTime: 1, sequence: 1 },
      spanId: 10,
      parentSpanId: -1,
      startTime: 1_700_000_000_000,
      elapsed: 10,
      serviceType: 1400,
      spanEvent: depths.map((depth, sequence) => ({ sequence, depth, startElapsed: 1, endElapsed: 1, serviceType: 9056 })),
    });
    const t0 = performance.now();
    const spans = asm.flush({ final: true });
    const ms = performance.now() - t0;
    // Parent of each event, by sequence ("span" for the PSpan itself).
    const name = new Map(spans.map((s) => [s.spanId, String(s.attributes["pinpoint.sequence"] ?? "span")]));
    const bySeq = new Map(spans.map((s) => [s.attributes["pinpoint.sequence"], s]));
    const parents = depths.map((_, seq) => name.get(bySeq.get(seq)?.parentSpanContext?.spanId ?? ""));
    // Each event hangs under the latest open event of a smaller depth; a depth below 1 counts as 1.
    expect(parents).toEqual(["span", "0", "0", "2", "0", "0", "span"]);
    // Walking depth by depth took seconds per such event.
    expect(ms).toBeLessThan(500);
  });

  it("HTTP/2 path: 10,000 mutated connection streams in random pieces, with gaps; nothing thrown, memory bounded", async () => {
    const STREAMS = 10_000;
    /** Connections the decoder keeps state for across the whole run (a long, damaged capture). */
    const CONNECTIONS = 16;
    const rnd = xorshift32(0x1234567);
    const sources = connectionStreams();
    expect(sources.length).toBe(6);
    const pool = sources.map((s) => s.bytes);
    const sink = encodingSink();
    let pipeline = new Pipeline([sink]);
    let requests = 0;
    const decoder = new GrpcCaptureDecoder((r) => {
      requests++;
      pipeline.request(r.path ?? (r.connection.endsWith(":9993") ? SPAN_PATH : undefined), r.header, r.data);
    });
    // The reassembler's contract: pushed bytes are valid during the call only, then reused.
    const scratch = new Uint8Array(4096);
    const before = retained();
    const t0 = performance.now();
    for (let i = 0; i < STREAMS; i++) {
      const source = sources[rnd() % sources.length];
      const bytes = mutate(source.bytes, rnd, pool);
      // Port kept, so that span-port streams without HEADERS are read as spans.
      const connection = `c${rnd() % CONNECTIONS}${source.key.slice(source.key.lastIndexOf(":"))}`;
      let gap = rnd() % 4 === 0;
      for (let at = 0; at < bytes.length; ) {
        const n = Math.min(1 + (rnd() % scratch.length), bytes.length - at);
        scratch.set(bytes.subarray(at, at + n));
        decoder.push({ connection, fromClient: true, data: scratch.subarray(0, n), timeUs: i, gap });
        scratch.fill(0xa5, 0, n);
        gap = rnd() % 64 === 0;
        at += n;
      }
      if (i % 200 === 199) {
        await pipeline.close();
        pipeline = new Pipeline([sink]);
      }
    }
    await pipeline.close();
    const ms = performance.now() - t0;
    const growth = retained() - before;
    const h = decoder.stats();
    console.log(
      `HTTP/2 fuzz: ${STREAMS} streams on ${CONNECTIONS} connections in ${ms.toFixed(0)} ms; ${h.frames} frames, ${h.messages} gRPC messages, ` +
        `${h.resyncs} resyncs, ${h.badFrames} bad frames, ${h.unknownHeaderFields} header fields unknown, ${sink.spans} spans encoded; retained ${mb(growth)}`,
    );
    expect(requests).toBe(h.messages);
    // The mutations reach every part: framing (bad frames, resyncs), HPACK (unknown fields), and messages still come through.
    expect(h.resyncs).toBeGreaterThan(100);
    expect(h.badFrames).toBeGreaterThan(100);
    expect(h.unknownHeaderFields).toBeGreaterThan(100);
    expect(h.messages).toBeGreaterThan(STREAMS);
    expect(sink.spans).toBeGreaterThan(1000);
    expect(growth).toBeLessThan(RETAINED_BOUND);
  });

  it("HTTP/2: real streams cut into random pieces, the caller reusing its buffer, decode to the messages of the whole stream", () => {
    const rnd = xorshift32(77);
    const decodeAll = (pieces: (bytes: Buffer, push: (b: Uint8Array) => void) => void, bytes: Buffer): string[] => {
      const got: GrpcMessage[] = [];
      const d = new Http2RequestDecoder((m: GrpcMessage) => got.push(m));
      pieces(bytes, (b) => d.push(b, 0));
      // Read after all the pushes: a message's bytes stay its own (span decoding keeps views of them).
      return got.map((m) => `${m.streamId} ${m.path} ${m.headers.get("agentid")} ${Buffer.from(m.data).toString("hex")}`);
    };
    let compared = 0;
    for (const { bytes } of connectionStreams()) {
      const whole = decodeAll((b, push) => push(b), bytes);
      for (let round = 0; round < 200; round++) {
        const scratch = new Uint8Array(bytes.length);
        const pieced = decodeAll((b, push) => {
          for (let at = 0; at < b.length; ) {
            const n = Math.min(1 + (rnd() % 64), b.length - at);
            scratch.set(b.subarray(at, at + n));
            push(scratch.subarray(0, n));
            scratch.fill(0xee, 0, n);
            at += n;
          }
        }, bytes);
        expect(pieced).toEqual(whole);
        compared += whole.length;
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it("HTTP/2: a compressed gRPC message that would inflate past 64 MB is dropped, a normal one is inflated", () => {
    const span = Buffer.from(MESSAGES.find((m) => m.path === SPAN_PATH)?.data ?? []);
    const bomb = gzipSync(Buffer.alloc((64 << 20) + 1));
    const got: GrpcMessage[] = [];
    const d = new Http2RequestDecoder((m) => got.push(m));
    d.push(h2Connection(["grpc-encoding", "gzip"], [...dataFrames(Buffer.concat([grpcMessage(bomb, true), grpcMessage(gzipSync(span), true)]))]), 0);
    expect(got.map((m) => Buffer.from(m.data).equals(span))).toEqual([true]);
    expect(d.stats.badFrames).toBe(1);
  });

  it("HTTP/2: a 16 MB frame and a 24 MB message, pushed in 1460-byte pieces, decode in linear time", () => {
    const big = Buffer.alloc(24 << 20, 0x61);
    const huge = Buffer.alloc((16 << 20) - 1 - 5, 0x62);
    // The largest frame HTTP/2 allows holds `huge`; `big` comes in 16 KB frames.
    const wire = h2Connection([], [frame(0, 0, 1, grpcMessage(huge, false)), ...dataFrames(grpcMessage(big, false))]);
    const got: number[] = [];
    const d = new Http2RequestDecoder((m) => got.push(m.data.length));
    const t0 = performance.now();
    for (let at = 0; at < wire.length; at += 1460) d.push(wire.subarray(at, at + 1460), 0);
    const ms = performance.now() - t0;
    expect(got).toEqual([huge.length, big.length]);
    // Joining the buffered bytes at every piece copies about 100 GB here (over 10 s); once per frame and message, well under a second.
    expect(ms).toBeLessThan(5000);
  });
});

/** 16 KB DATA frames on stream 1, END_STREAM on the last. */
function* dataFrames(data: Buffer): Generator<Buffer> {
  for (let at = 0; at < data.length; at += 16384) yield frame(0, at + 16384 >= data.length ? 1 : 0, 1, data.subarray(at, at + 16384));
}

function grpcMessage(body: Buffer, compressed: boolean): Buffer {
  const p = Buffer.alloc(5);
  p[0] = compressed ? 1 : 0;
  p.writeUInt32BE(body.length, 1);
  return Buffer.concat([p, body]);
}

/** Preface, SETTINGS, a SendSpan HEADERS frame on stream 1 (with `extra` name/value pairs), then `frames`. */
function h2Connection(extra: string[], frames: Buffer[]): Buffer {
  // HPACK literals without indexing, plain strings (all shorter than 127 bytes).
  const literal = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
  const fields = [":method", "POST", ":path", SPAN_PATH, ...extra];
  const block: Buffer[] = [];
  for (let i = 0; i < fields.length; i += 2) block.push(literal(fields[i], fields[i + 1]));
  return Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), frame(4, 0, 0, Buffer.alloc(0)), frame(1, 0x4, 1, Buffer.concat(block)), ...frames]);
}
