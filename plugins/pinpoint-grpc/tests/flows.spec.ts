import {
  FlowState, FlowTable, StreamState, StreamTexts,
  TEXT_AGENT_ID, TEXT_APPLICATION_NAME, TEXT_ATTRS, TEXT_ENDPOINT, TEXT_PATH, TEXT_TRACE_AGENT, TEXT_TYPE,
} from "../flows";
import { MAX_STREAMS_PER_FLOW } from "../config";
import { H2Sink } from "../../../protocols/http2";
import { GrpcMessageSink } from "../../../protocols/grpc";
import { asciiCodes, bytes, toHex } from "../../../assembly/__tests__/support";

// A connection's state and its streams live in unmanaged memory (flows.ts), which no
// collection walks: these specs hold that every byte of it is freed when a stream or a
// connection is forgotten, and that the texts a stream keeps are the bytes its records write.

/** One frame: 9-byte header and payload, as byte values. */
function frame(type: i32, flags: i32, stream: i32, payload: i32[]): i32[] {
  const n = payload.length;
  const out: i32[] = [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, type, flags, (stream >> 24) & 0x7f, (stream >> 16) & 0xff, (stream >> 8) & 0xff, stream & 0xff];
  return out.concat(payload);
}

// A client's first bytes: preface, SETTINGS, and HEADERS with a literal put in the HPACK table ("a: b").
const OPENING = bytes(asciiCodes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").concat(frame(4, 0, 0, [])).concat(frame(1, 4, 1, [0x40, 0x01, 0x61, 0x01, 0x62])));

/** A gRPC message of 2,000 bytes with its prefix: fed in part, its first bytes are kept. */
const MESSAGE = messageOf(2000);

function messageOf(n: i32): Uint8Array {
  const m = new Uint8Array(5 + n);
  m[3] = <u8>(n >> 8);
  m[4] = <u8>n;
  return m;
}

const ignore = new H2Sink();
const nothing = new GrpcMessageSink();
const texts = new StreamTexts();

/** A slot's data, as the SDK's table gives one to a flow (FlowState keeps small state there). */
function slot(): usize {
  const p = heap.alloc(256);
  memory.fill(p, 0, 256);
  return p;
}

/** The texts of a SendSpan stream's request headers. */
function spanTexts(): StreamTexts {
  const t = texts;
  t.begin();
  t.put(TEXT_PATH, "/v1.Span/SendSpan");
  t.put(TEXT_ENDPOINT, "v1.Span/SendSpan");
  t.put(TEXT_TYPE, "SendSpan");
  t.putUtf8Std(TEXT_TRACE_AGENT, "agent-1");
  t.put(TEXT_AGENT_ID, "agent-1");
  t.put(TEXT_APPLICATION_NAME, "app");
  t.put(TEXT_ATTRS + 2, "1700000000000");
  return t;
}

/** Opens stream `id` with all a stream holds: texts, a PResult's message, a message kept in part each way. */
function fullStream(f: FlowState, id: u32): StreamState {
  const s = f.openStream(id, true);
  s.keepTexts(spanTexts());
  s.keepResult("failed: no such agent");
  s.up.push(MESSAGE, 0, 1000, true, nothing, id);
  s.down.push(MESSAGE, 0, 300, true, nothing, id);
  return s;
}

function text(s: StreamState, t: i32): string {
  const n = s.textLen(t);
  return n < 0 ? "(absent)" : String.UTF8.decodeUnsafe(s.textAt(t), <usize>n);
}

describe("StreamState texts", () => {
  it("keeps the texts as the bytes a record writes; an endpoint, a method and the trace's agent id share bytes already kept", () => {
    const f = new FlowState(slot());
    const s = f.openStream(1, true);
    s.keepTexts(spanTexts());
    expect<string>(text(s, TEXT_PATH)).toBe("/v1.Span/SendSpan");
    expect<string>(text(s, TEXT_ENDPOINT)).toBe("v1.Span/SendSpan");
    expect<string>(text(s, TEXT_TYPE)).toBe("SendSpan");
    expect<string>(text(s, TEXT_AGENT_ID)).toBe("agent-1");
    expect<string>(text(s, TEXT_TRACE_AGENT)).toBe("agent-1");
    expect<string>(text(s, TEXT_APPLICATION_NAME)).toBe("app");
    expect<string>(text(s, TEXT_ATTRS + 2)).toBe("1700000000000");
    expect<string>(text(s, TEXT_ATTRS + 3)).toBe("(absent)");
    expect<bool>(s.hasPath).toBe(true);
    // The path, agent id, application name and start time: 17 + 7 + 3 + 13 bytes.
    expect<i32>(s.textBytesLen).toBe(40);
    expect<i32>(s.resultLen).toBe(-1);
    s.keepResult("dé");
    expect<string>(String.UTF8.decodeUnsafe(s.resultAt, <usize>s.resultLen)).toBe("dé");
    f.free();
  });

  it("a lone surrogate: U+FFFD in agent_id as a record writes it, its three bytes for the trace id (as before)", () => {
    const f = new FlowState(slot());
    const s = f.openStream(1, true);
    const t = texts;
    t.begin();
    const agent = "a" + String.fromCharCode(0xd800);
    t.putUtf8Std(TEXT_TRACE_AGENT, agent);
    t.put(TEXT_AGENT_ID, agent);
    s.keepTexts(t);
    expect<string>(toHex(bytesOf(s, TEXT_AGENT_ID))).toBe("61efbfbd");
    expect<string>(toHex(bytesOf(s, TEXT_TRACE_AGENT))).toBe("61eda080");
    expect<bool>(s.hasPath).toBe(false);
    f.free();
  });

  it("counts what it keeps in its footprint", () => {
    const f = new FlowState(slot());
    const bare = f.openStream(1, true).footprint;
    const before = f.footprint;
    fullStream(f, 2);
    // Texts (88 + 40 bytes), the result (4 + 21) and the first bytes of the two messages (1024 + 512 kept).
    expect<bool>(f.stream(2)!.footprint >= bare + 128 + 25 + 1024 + 512).toBe(true);
    expect<bool>(f.footprint >= before + 128 + 25 + 1024 + 512).toBe(true);
    f.closeStream(2);
    expect<i32>(f.footprint).toBe(before);
    f.free();
  });
});

function bytesOf(s: StreamState, t: i32): Uint8Array {
  const n = s.textLen(t);
  const out = new Uint8Array(n);
  memory.copy(out.dataStart, s.textAt(t), <usize>n);
  return out;
}

describe("StreamState and FlowState free what they hold (unmanaged)", () => {
  it("a stream closed: 10,000 opened with texts, a result and messages kept in part, then closed, leave memory as it was", () => {
    const f = new FlowState(slot());
    fullStream(f, 1);
    f.closeStream(1);
    const pages = memory.size();
    // Unfreed, ~4 KiB a stream would grow memory by ~40 MB.
    for (let i = 0; i < 10000; i++) {
      fullStream(f, 3);
      f.closeStream(3);
    }
    expect<i32>(memory.size()).toBe(pages);
    expect<i32>(f.streamCount).toBe(0);
    f.free();
  });

  it("texts and a result kept again: the ones before are freed", () => {
    const f = new FlowState(slot());
    const s = fullStream(f, 1);
    const pages = memory.size();
    for (let i = 0; i < 10000; i++) {
      s.keepTexts(spanTexts());
      s.keepResult("failed: no such agent");
    }
    expect<i32>(memory.size()).toBe(pages);
    f.free();
  });

  it("the oldest stream, forgotten for a new one past MAX_STREAMS_PER_FLOW, is freed", () => {
    const f = new FlowState(slot());
    for (let i = 0; i < MAX_STREAMS_PER_FLOW + 1; i++) fullStream(f, <u32>i);
    const pages = memory.size();
    for (let i = 0; i < 10000; i++) fullStream(f, <u32>(100 + i));
    expect<i32>(memory.size()).toBe(pages);
    expect<i32>(f.streamCount).toBe(MAX_STREAMS_PER_FLOW);
    expect<u32>(f.streamAt(0).id).toBe(10100 - MAX_STREAMS_PER_FLOW);
    f.free();
  });

  it("dropStreams frees every stream", () => {
    const f = new FlowState(slot());
    for (let i = 0; i < 10; i++) fullStream(f, <u32>i);
    f.dropStreams();
    const pages = memory.size();
    for (let k = 0; k < 1000; k++) {
      for (let i = 0; i < 10; i++) fullStream(f, <u32>i);
      f.dropStreams();
    }
    expect<i32>(memory.size()).toBe(pages);
    expect<i32>(f.streamCount).toBe(0);
    f.free();
  });

  it("a connection freed: 10,000 made, fed (HPACK table, streams) and freed leave memory as it was", () => {
    const at = slot();
    const warm = new FlowState(at);
    warm.c2s.feed(OPENING, false, ignore);
    fullStream(warm, 1);
    warm.free();
    const pages = memory.size();
    for (let i = 0; i < 10000; i++) {
      const f = new FlowState(at);
      f.c2s.feed(OPENING, false, ignore);
      if (i == 0) expect<i32>(f.c2s.hpack.count).toBe(1);
      fullStream(f, 1);
      fullStream(f, 3);
      f.free();
    }
    expect<i32>(memory.size()).toBe(pages);
  });
});

/** Uses flow `id` as a call does: its state, a stream with all a stream holds, then the accounting. */
function call(table: FlowTable, id: u64): FlowState {
  const f = table.use(id);
  if (f.streamCount == 0) {
    f.c2s.feed(OPENING, false, ignore);
    fullStream(f, 1);
  }
  table.account(f);
  return f;
}

/** 10,000 new connections through the table, after 100 to warm it up: memory as it was. */
function manyThrough(table: FlowTable): void {
  for (let i = 0; i < 100; i++) call(table, <u64>i);
  const pages = memory.size();
  for (let i = 100; i < 10100; i++) call(table, <u64>i);
  expect<i32>(memory.size()).toBe(pages);
}

describe("FlowTable frees the connections it forgets", () => {
  it("forgotten for others when full (least recently used): 10,000 connections through 16 places", () => {
    const table = new FlowTable(16, 1 << 30);
    manyThrough(table);
    expect<i32>(table.size).toBe(16);
  });

  it("forgotten while over the byte budget: 10,000 connections through 64 KiB", () => {
    const table = new FlowTable(1024, 64 << 10);
    manyThrough(table);
    expect<bool>(table.bytes <= 64 << 10).toBe(true);
    expect<bool>(table.size < 64).toBe(true);
  });

  it("a single connection over the budget keeps no stream, and frees them", () => {
    const table = new FlowTable(16, 1);
    const f = call(table, 1);
    expect<i32>(f.streamCount).toBe(0);
    const pages = memory.size();
    for (let i = 0; i < 10000; i++) call(table, 1);
    expect<i32>(memory.size()).toBe(pages);
    expect<i32>(table.size).toBe(1);
  });
});
