// Call-tree reconstruction on hand-built PSpan / PSpanChunk sequences. Every message goes through
// the real protobuf encoding and decoding first, as it would off the wire.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { TraceAssembler } from "../../converter/assembler.ts";
import { Kind } from "../../converter/codes.ts";
import { eventSpanId, traceIdOf } from "../../converter/ids.ts";
import type { AgentHeader, PSpanChunkMsg, PSpanEventMsg, PSpanMessageMsg, PSpanMsg } from "../../converter/messages.ts";
import type { OtelSpan } from "../../converter/otel-span.ts";
import { PSpanMessage } from "../../converter/schema.ts";
import { decodeSpanMessage } from "../../converter/span-decode.ts";

const A: AgentHeader = { agentId: "agent-a", applicationName: "front", agentStartTime: 1_700_000_000_000 };
const B: AgentHeader = { agentId: "agent-b", applicationName: "back", agentStartTime: 1_700_000_000_500 };
const TX = { agentId: "agent-a", agentStartTime: 1_700_000_000_000, sequence: 7 };
const TX_STRING = "agent-a^1700000000000^7";

/** Through the wire and the converter's own span decoder. */
function wire<T>(msg: { span?: PSpanMsg; spanChunk?: PSpanChunkMsg }): T {
  const bytes = PSpanMessage.encode(PSpanMessage.fromObject(msg as Record<string, unknown>)).finish();
  const d = decodeSpanMessage(bytes) as unknown as { span?: T; spanChunk?: T };
  return (d.span ?? d.spanChunk) as T;
}

function span(fields: PSpanMsg): PSpanMsg {
  return wire<PSpanMsg>({ span: { version: 1, transactionId: TX, parentSpanId: -1, serviceType: 1400, ...fields } });
}

function chunk(fields: PSpanChunkMsg): PSpanChunkMsg {
  return wire<PSpanChunkMsg>({ spanChunk: { version: 1, transactionId: TX, ...fields } });
}

function ev(sequence: number, depth: number, startElapsed: number, endElapsed: number, extra: PSpanEventMsg = {}): PSpanEventMsg {
  return { sequence, depth, startElapsed, endElapsed, serviceType: 1401, ...extra };
}

function bySeq(spans: OtelSpan[], sequence: number, asyncId?: number): OtelSpan {
  const s = spans.find((x) => x.attributes["pinpoint.sequence"] === sequence && x.attributes["pinpoint.async_id"] === asyncId);
  if (!s) throw new Error(`no event ${sequence}/${asyncId}`);
  return s;
}

function spanOf(spans: OtelSpan[], spanIdDecimal: string): OtelSpan {
  const s = spans.find((x) => x.attributes["pinpoint.span_id"] === spanIdDecimal && x.attributes["pinpoint.sequence"] === undefined);
  if (!s) throw new Error(`no span ${spanIdDecimal}`);
  return s;
}

describe("ids", () => {
  it("trace id is the first 16 bytes of SHA-256 of the transaction id string", () => {
    expect(traceIdOf(TX_STRING)).toBe(createHash("sha256").update(TX_STRING).digest("hex").slice(0, 32));
  });

  it("span id is spanId as 8 bytes big-endian two's complement; parent -1 means root", () => {
    const a = new TraceAssembler(() => 0);
    a.addSpan(A, span({ spanId: -2, startTime: 1000, elapsed: 5 }));
    a.addSpan(A, span({ spanId: 0x0102030405, parentSpanId: -2, startTime: 1001, elapsed: 1, transactionId: { ...TX, sequence: 8 } }));
    const out = a.flush();
    const root = spanOf(out, "-2");
    expect(root.spanId).toBe("fffffffffffffffe");
    expect(root.parentSpanId).toBeUndefined();
    const child = spanOf(out, String(0x0102030405));
    expect(child.spanId).toBe("0000000102030405");
    expect(child.parentSpanId).toBe("fffffffffffffffe");
  });

  it("event span ids differ by sequence, async id and span, and are stable", () => {
    const ids = new Set([eventSpanId(0, 1, 0, 0, 0), eventSpanId(0, 1, 0, 0, 1), eventSpanId(0, 1, 5, 1, 0), eventSpanId(0, 2, 0, 0, 0), eventSpanId(1, 1, 0, 0, 0)]);
    expect(ids.size).toBe(5);
    expect(eventSpanId(7, 9, 3, 1, 4)).toBe(eventSpanId(7, 9, 3, 1, 4));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("V2 compression", () => {
  it("undoes start-time deltas and depth 0 = same depth as previous", () => {
    const a = new TraceAssembler(() => 0);
    a.addSpan(
      A,
      span({
        spanId: 100,
        startTime: 10_000,
        elapsed: 50,
        spanEvent: [
          ev(0, 1, 2, 40), // 10002..10042, under the span
          ev(1, 2, 1, 10), // 10003..10013, under seq 0
          ev(2, 0, 3, 5), // depth 0 → 2: 10006..10011, under seq 0 (a naive reader puts it at depth 0 / 10003)
          ev(3, 3, 1, 2), // 10007..10009, under seq 2
          ev(4, 1, 4, 1), // 10011..10012, under the span
        ],
      }),
    );
    const out = a.flush();
    const root = spanOf(out, "100");
    expect([root.startMs, root.endMs]).toEqual([10_000, 10_050]);
    const e = [0, 1, 2, 3, 4].map((i) => bySeq(out, i));
    expect(e.map((x) => [x.startMs, x.endMs])).toEqual([
      [10_002, 10_042],
      [10_003, 10_013],
      [10_006, 10_011],
      [10_007, 10_009],
      [10_011, 10_012],
    ]);
    expect(e.map((x) => x.parentSpanId)).toEqual([root.spanId, e[0].spanId, e[0].spanId, e[2].spanId, root.spanId]);
    expect(e[2].attributes["pinpoint.depth"]).toBe(2);
    expect(root.startTime).toEqual([10, 0]);
    expect(e[1].endTime).toEqual([10, 13_000_000]);
  });
});

describe("chunks", () => {
  it("merges chunks sent before and after the span; each message restarts the compression", () => {
    const a = new TraceAssembler(() => 0);
    // The agent flushed seq 0-1 early (keyTime = first event's start), then sent the span with seq 2-3,
    // then a late chunk with seq 4 (its parent seq 3 came in the span).
    a.addSpanChunk(A, chunk({ spanId: 5, keyTime: 20_010, spanEvent: [ev(0, 1, 0, 30), ev(1, 2, 5, 3)] }));
    const early = a.flush();
    expect(early).toEqual([]); // waiting for the span
    a.addSpan(A, span({ spanId: 5, startTime: 20_000, elapsed: 100, spanEvent: [ev(2, 2, 20_012 - 20_000, 4), ev(3, 0, 2, 6)] }));
    a.addSpanChunk(A, chunk({ spanId: 5, keyTime: 20_016, spanEvent: [ev(4, 3, 1, 1)] }));
    const out = a.flush();
    expect(out).toHaveLength(6);
    const root = spanOf(out, "5");
    const e = [0, 1, 2, 3, 4].map((i) => bySeq(out, i));
    expect(e.map((x) => x.startMs)).toEqual([20_010, 20_015, 20_012, 20_014, 20_017]);
    expect(e.map((x) => x.parentSpanId)).toEqual([root.spanId, e[0].spanId, e[0].spanId, e[0].spanId, e[3].spanId]);
  });

  it("emits events of a span that never arrives on the final flush, flagged", () => {
    const a = new TraceAssembler(() => 0);
    a.addSpanChunk(A, chunk({ spanId: 6, keyTime: 1000, spanEvent: [ev(0, 1, 0, 3)] }));
    expect(a.flush()).toEqual([]);
    const out = a.flush({ final: true });
    expect(out).toHaveLength(1);
    expect(out[0].parentSpanId).toBe("0000000000000006");
    expect(out[0].attributes["pinpoint.span_missing"]).toBe(true);
    expect(a.stats.orphanEvents).toBe(1);
  });

  it("times keyTime-less chunks from old agents relative to the span start", () => {
    const a = new TraceAssembler(() => 0);
    a.addSpanChunk(A, chunk({ spanId: 7, spanEvent: [ev(1, 1, 30, 2)] }));
    a.addSpan(A, span({ spanId: 7, startTime: 5000, elapsed: 40, spanEvent: [ev(0, 1, 1, 2)] }));
    const out = a.flush();
    expect(bySeq(out, 1).startMs).toBe(5030);
  });
});

describe("async chunks", () => {
  it("hangs async events under the event whose asyncEvent is their asyncId; depths restart inside", () => {
    const a = new TraceAssembler(() => 0);
    // Shape of pinpoint-node-agent's outgoing HTTP call: a sync event starts async id 11; the async chunk
    // holds the async invocation (depth 1) and the client call (depth 2); same sequence numbers as sync events.
    a.addSpanChunk(
      A,
      chunk({
        spanId: 9,
        keyTime: 30_005,
        localAsyncId: { asyncId: 11, sequence: 1 },
        spanEvent: [ev(0, 1, 0, 20, { serviceType: 100 }), ev(1, 2, 1, 18, { serviceType: 9056, nextEvent: { messageEvent: { nextSpanId: 77, destinationId: "back:80" } } })],
      }),
    );
    a.addSpan(A, span({ spanId: 9, startTime: 30_000, elapsed: 30, spanEvent: [ev(0, 1, 2, 25), ev(1, 2, 2, 1, { serviceType: 9057, asyncEvent: 11 })] }));
    const out = a.flush();
    const root = spanOf(out, "9");
    const s0 = bySeq(out, 0);
    const s1 = bySeq(out, 1);
    const a0 = bySeq(out, 0, 11);
    const a1 = bySeq(out, 1, 11);
    expect(new Set([s0.spanId, s1.spanId, a0.spanId, a1.spanId]).size).toBe(4);
    expect(s0.parentSpanId).toBe(root.spanId);
    expect(s1.parentSpanId).toBe(s0.spanId);
    expect(a0.parentSpanId).toBe(s1.spanId);
    expect(a1.parentSpanId).toBe(a0.spanId);
    expect([a0.startMs, a1.startMs]).toEqual([30_005, 30_006]);
    expect(a1.kind).toBe(Kind.CLIENT);
    expect(a1.attributes["server.address"]).toBe("back");
    expect(a1.attributes["server.port"]).toBe(80);
  });
});

describe("cross-application links", () => {
  it("parents the callee's span on the caller's event with nextSpanId == callee spanId, whatever arrives first", () => {
    const a = new TraceAssembler(() => 0);
    // Callee (another agent and application) reports first; its transaction id names the caller agent.
    a.addSpan(
      B,
      span({
        spanId: 222,
        parentSpanId: 111,
        startTime: 40_010,
        elapsed: 20,
        acceptEvent: { rpc: "/api", endPoint: "back:80", remoteAddr: "10.0.0.1", parentInfo: { parentApplicationName: "front", parentApplicationType: 1400 } },
      }),
    );
    a.addSpan(
      A,
      span({ spanId: 111, startTime: 40_000, elapsed: 50, acceptEvent: { rpc: "/" }, spanEvent: [ev(0, 1, 5, 30, { serviceType: 9056, nextEvent: { messageEvent: { nextSpanId: 222, endPoint: "back:80" } } })] }),
    );
    const out = a.flush();
    const caller = spanOf(out, "111");
    const call = bySeq(out, 0);
    const callee = spanOf(out, "222");
    expect(call.parentSpanId).toBe(caller.spanId);
    expect(callee.parentSpanId).toBe(call.spanId);
    expect(callee.parentSpanContext?.isRemote).toBe(true);
    expect(callee.traceId).toBe(caller.traceId);
    expect(callee.resource.attributes["service.name"]).toBe("back");
    expect(caller.resource.attributes["service.name"]).toBe("front");
    expect(callee.kind).toBe(Kind.SERVER);
    expect(call.kind).toBe(Kind.CLIENT);
    expect(callee.attributes["pinpoint.parent_application_name"]).toBe("front");
    expect(callee.attributes["pinpoint.clock_skew_ms"]).toBeUndefined();
  });

  it("falls back to the caller span when the calling event is not seen", () => {
    const a = new TraceAssembler(() => 0);
    a.addSpan(B, span({ spanId: 333, parentSpanId: 111, startTime: 1, elapsed: 1 }));
    const [callee] = a.flush();
    expect(callee.parentSpanId).toBe("000000000000006f");
  });

  it("keeps and flags a callee that starts before its caller's event (clock skew)", () => {
    const a = new TraceAssembler(() => 0);
    a.addSpan(A, span({ spanId: 1, startTime: 50_000, elapsed: 50, spanEvent: [ev(0, 1, 10, 20, { serviceType: 9056, nextEvent: { messageEvent: { nextSpanId: 2 } } })] }));
    a.addSpan(B, span({ spanId: 2, parentSpanId: 1, startTime: 50_004, elapsed: 10 }));
    const callee = spanOf(a.flush(), "2");
    expect([callee.startMs, callee.endMs]).toEqual([50_004, 50_014]);
    expect(callee.attributes["pinpoint.clock_skew_ms"]).toBe(6);
    expect(a.stats.clockSkewed).toBe(1);
  });
});

describe("metadata", () => {
  it("names by api id once ApiMetaData arrives, even after the spans; exceptions by StringMetaData", () => {
    const build = (): TraceAssembler => {
      const a = new TraceAssembler(() => 0);
      a.addSpan(
        A,
        span({
          spanId: 3,
          startTime: 0,
          elapsed: 9,
          apiId: 4,
          err: 1,
          spanEvent: [ev(0, 1, 1, 2, { apiId: 5, exceptionInfo: { intValue: 6, stringValue: { value: "bad input" } } }), ev(1, 1, 1, 1, { apiId: 8, annotation: [{ key: 20, value: { intStringStringValue: { intValue: 2, stringValue2: { value: "42" } } } }] })],
        }),
      );
      return a;
    };
    const early = build().flush();
    expect(bySeq(early, 0).name).toBe("api#5");
    expect(bySeq(early, 0).attributes["pinpoint.unresolved"]).toBe(true);
    expect(bySeq(early, 0).events[0].attributes["exception.type"]).toBe("string#6");

    const late = build();
    late.addApiMetaData(A, { apiId: 5, apiInfo: "com.foo.Repo.find(java.lang.String)", line: 31 });
    late.addApiMetaData(A, { apiId: 4, apiInfo: "com.foo.Controller.get()" });
    late.addApiMetaData(B, { apiId: 8, apiInfo: "wrong agent" });
    late.addStringMetaData(A, { stringId: 6, stringValue: "java.lang.IllegalArgumentException" });
    late.addSqlMetaData(A, { sqlId: 2, sql: "SELECT * FROM t WHERE id = ?" });
    const out = late.flush();
    const e0 = bySeq(out, 0);
    expect(e0.name).toBe("com.foo.Repo.find");
    expect(e0.attributes["code.function.name"]).toBe("com.foo.Repo.find(java.lang.String)");
    expect(e0.attributes["code.line.number"]).toBe(31);
    expect(e0.status).toEqual({ code: 2, message: "bad input" });
    expect(e0.events[0]).toMatchObject({ name: "exception", attributes: { "exception.type": "java.lang.IllegalArgumentException", "exception.message": "bad input" } });
    const e1 = bySeq(out, 1);
    expect(e1.name).toBe("api#8"); // metadata is per agent
    expect(e1.attributes["db.query.text"]).toBe("SELECT * FROM t WHERE id = ?");
    expect(e1.attributes["pinpoint.sql.bind_values"]).toBe("42");
    const root = spanOf(out, "3");
    expect(root.name).toBe("com.foo.Controller.get");
    expect(root.status.code).toBe(2);
  });

  it("uses the API annotation when apiId is 0 (pinpoint-node-agent style)", () => {
    const a = new TraceAssembler(() => 0);
    a.addSpan(A, span({ spanId: 4, startTime: 0, elapsed: 1, spanEvent: [ev(0, 1, 0, 1, { apiId: 0, annotation: [{ key: 12, value: { stringValue: "http.request" } }] })] }));
    expect(bySeq(a.flush(), 0).name).toBe("http.request");
  });

  it("reads an annotation's int value as the number, not the string member's default", () => {
    // protobufjs 8 answers an absent oneof member (stringValue) with its default "" through the prototype.
    const bytes = PSpanMessage.encode(PSpanMessage.fromObject({ span: { version: 1, transactionId: TX, spanId: 5, parentSpanId: -1, serviceType: 1400, annotation: [{ key: 46, value: { intValue: 200 } }] } })).finish();
    const a = new TraceAssembler(() => 0);
    a.addSpanMessage(A, PSpanMessage.decode(bytes) as unknown as PSpanMessageMsg);
    expect(spanOf(a.flush(), "5").attributes["http.response.status_code"]).toBe(200);
  });
});

describe("duplicates and headers", () => {
  it("drops re-delivered spans and chunks (transaction + span + sequence)", () => {
    const a = new TraceAssembler(() => 0);
    const s = span({ spanId: 12, startTime: 0, elapsed: 5, spanEvent: [ev(0, 1, 0, 1)] });
    const c = chunk({ spanId: 12, keyTime: 2, localAsyncId: { asyncId: 1, sequence: 1 }, spanEvent: [ev(0, 1, 0, 1)] });
    a.addSpan(A, s);
    a.addSpanChunk(A, c);
    a.addSpan(A, s);
    a.addSpanChunk(A, c);
    const out = a.flush();
    expect(out).toHaveLength(2); // span + sync event; the async chunk has no starter event → waits
    a.addSpan(A, s);
    expect(a.flush({ final: true })).toHaveLength(1); // only the async event, flagged
    expect(a.stats.duplicateSpans).toBe(2);
    expect(a.stats.duplicateEvents).toBe(1); // the chunk's; a duplicate span's events are not read at all
  });

  it("takes an empty transactionId.agentId from the sending agent's header", () => {
    const a = new TraceAssembler(() => 0);
    a.addSpan(A, span({ spanId: 13, startTime: 0, elapsed: 1, transactionId: { agentId: "", agentStartTime: 1_700_000_000_000, sequence: 7 } }));
    const [s] = a.flush();
    expect(s.attributes["pinpoint.transaction_id"]).toBe(TX_STRING);
    expect(s.traceId).toBe(traceIdOf(TX_STRING));
    expect(s.resource.attributes).toMatchObject({
      "service.name": "front",
      "service.instance.id": "agent-a",
      "pinpoint.applicationName": "front",
      "pinpoint.agentId": "agent-a",
      "pinpoint.agentStartTime": 1_700_000_000_000,
      "pinpoint.serviceType": 1400,
    });
  });

  it("keeps an agent start time no date can show, without process.creation.time (a header is the agent's word, not checked)", () => {
    const a = new TraceAssembler(() => 0);
    const odd: AgentHeader = { ...A, agentStartTime: 9e15 }; // past Date's range (±8.64e15 ms)
    a.addSpan(odd, span({ spanId: 15, startTime: 0, elapsed: 1 }));
    const [s] = a.flush();
    expect(s.resource.attributes["pinpoint.agentStartTime"]).toBe(9e15);
    expect(s.resource.attributes["process.creation.time"]).toBeUndefined();
    a.addSpan(A, span({ spanId: 16, startTime: 0, elapsed: 1 }));
    expect(a.flush()[0]!.resource.attributes["process.creation.time"]).toBe("2023-11-14T22:13:20.000Z");
  });

  it("flushes only transactions that have been quiet for idleMs", () => {
    let now = 0;
    const a = new TraceAssembler(() => now);
    a.addSpan(A, span({ spanId: 14, startTime: 0, elapsed: 1 }));
    now = 100;
    expect(a.flush({ idleMs: 500 })).toEqual([]);
    now = 700;
    expect(a.flush({ idleMs: 500 })).toHaveLength(1);
    expect(a.pendingTransactions).toBe(0);
  });

  it("forgets emitted transactions quiet past retainMs, in any order of the clock's readings", () => {
    let now = 1000;
    const a = new TraceAssembler(() => now);
    a.addSpan(A, span({ spanId: 14, startTime: 0, elapsed: 1 }));
    // The clock went back: the transaction updated last is the older one.
    now = 500;
    a.addSpan(A, span({ transactionId: { ...TX, sequence: 8 }, spanId: 15, startTime: 0, elapsed: 1 }));
    expect(a.flush({ now: 1000 })).toHaveLength(2);
    a.forget(100, 1100);
    expect(a.retention().transactions).toBe(1);
    a.forget(100, 1101);
    expect(a.retention().transactions).toBe(0);
  });
});
