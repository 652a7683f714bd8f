// Kafka messages cut across payloads, every way TCP and senders cut them: each message of
// the committed captures of real clients (kafkajs and librdkafka against librdkafka's mock
// broker: tests/fixtures/kafka, and fixtures/large.pcap here, with Produce requests and
// Fetch responses of 90-102 KB: fixtures/generate-large.ts) is cut at points in its header
// and body and fed piece by piece, as the agent feeds segments. Uncut pieces are put back
// together and give the same record as the whole message; a piece the agent cut gives what
// it holds and the pieces after it give nothing; a piece the capture lost or saw twice
// never makes a record out of other bytes. A response is fed after its request, on the
// same flow (its body is read with the request's api). KAFKA_WASM=path runs it on another
// build (e.g. an older one).
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { WasmHost, type CallCtx } from "../../../sdk/host.ts";
import type { FlowLogRow } from "../../../sdk/row.ts";
import type { Truth } from "../../../tests/fixtures/kafka/traffic.ts";
import { tcpSegments } from "../../../tests/support/capture.ts";
import { attr, listed, replayKafka } from "./replay-records.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const wasm = process.env.KAFKA_WASM ?? join(root, "build", "kafka.wasm");
const KAFKA = 150;
const WHOLE = 65535;
const LARGE = join(import.meta.dirname, "fixtures", "large.pcap");
const CAPTURES = [...["v7", "v5", "v3", "errors", "rdkafka"].map((n) => join(root, "tests", "fixtures", "kafka", `${n}.pcap`)), LARGE];

interface Message {
  bytes: Buffer;
  direction: 0 | 1;
  /** Of a response: its request (same connection, same correlation id). */
  request: Buffer | null;
  /** Where it is from: capture, connection, index in its direction. */
  name: string;
}

/** The messages of each connection of a capture, from each direction's byte stream. */
function messagesOf(pcap: string): Message[][] {
  const conns = new Map<string, { client: string; streams: [Buffer[], Buffer[]] }>();
  for (const s of tcpSegments(pcap)) {
    const [a, b] = [`${s.srcIp}:${s.srcPort}`, `${s.dstIp}:${s.dstPort}`];
    const key = [a, b].sort().join("-");
    // Kafka clients speak first: the first payload's sender is the client.
    let c = conns.get(key);
    if (!c) conns.set(key, (c = { client: a, streams: [[], []] }));
    c.streams[a === c.client ? 0 : 1].push(Buffer.from(s.payload));
  }
  const out: Message[][] = [];
  for (const [key, c] of conns) {
    const byDirection = c.streams.map((parts) => {
      const stream = Buffer.concat(parts);
      const list: Buffer[] = [];
      for (let at = 0; at < stream.length; ) {
        const end = at + 4 + stream.readInt32BE(at);
        list.push(stream.subarray(at, end));
        at = end;
      }
      return list;
    });
    const requests = new Map(byDirection[0]!.map((m) => [m.readInt32BE(8), m]));
    const name = `${pcap.split("/").pop()} ${key}`;
    const conn: Message[] = byDirection[0]!.map((bytes, i) => ({ bytes, direction: 0, request: null, name: `${name} request ${i}` }));
    byDirection[1]!.forEach((bytes, i) => {
      const request = requests.get(bytes.readInt32BE(4));
      if (!request) throw new Error(`${name}: response ${i} without its request`);
      conn.push({ bytes, direction: 1, request, name: `${name} response ${i}` });
    });
    out.push(conn);
  }
  return out;
}

let host: WasmHost;
let flow = 1;
let connections: Message[][];
let all: Message[];

beforeAll(async () => {
  host = await WasmHost.load([wasm]);
  connections = CAPTURES.flatMap(messagesOf);
  all = connections.flat();
});

const ctxOf = (flowId: number, direction: 0 | 1, bufSize = WHOLE): CallCtx =>
  direction === 0
    ? { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 9092, direction, flowId, bufSize }
    : { srcIp: "10.0.0.2", dstIp: "10.0.0.1", srcPort: 9092, dstPort: 40000, direction, flowId, bufSize };

/** Records as plain values (what the agent receives), so that a difference shows field by field. */
const json = (records: unknown[] | null): unknown[] => (records ?? []).map((r) => JSON.parse(JSON.stringify(r)) as unknown);

/** Feeds pieces of messages of one direction on a flow of their own (after the requests of responses); the records of each call. */
function feed(ms: Message | Message[], pieces: Uint8Array[], bufSizes: number[] = []): unknown[][] {
  const list = Array.isArray(ms) ? ms : [ms];
  const flowId = flow++;
  for (const m of list) if (m.request) host.parsePayload(ctxOf(flowId, 0), m.request, KAFKA);
  return pieces.map((p, i) => json(host.parsePayload(ctxOf(flowId, list[0]!.direction, bufSizes[i] ?? WHOLE), p, KAFKA)));
}

const segments = (b: Uint8Array, size: number, from = 0): Uint8Array[] => {
  const out: Uint8Array[] = [];
  for (let at = from; at < b.length; at += size) out.push(b.subarray(at, at + size));
  return out;
};

/** Bytes as the payloads of uncut segments: in one, or when longer than a payload can be, in 60,000-byte ones. */
const uncut = (b: Uint8Array): Uint8Array[] => (b.length <= WHOLE ? [b] : segments(b, 60_000));

/**
 * The record of a message fed whole: in one payload, or for one over 65,535 bytes (more
 * than a payload can hold) in 60,000-byte payloads (the test of the record itself is that
 * it says nothing was cut off and holds what the client sent: see below).
 */
const wholeRecord = (m: Message): unknown[] => feed(m, uncut(m.bytes)).at(-1)!;

const cutPoints = (n: number) => [...new Set([1, 2, 3, 4, 5, 7, 8, 9, 12, 14, 15, 16, 17, 21, 25, 40, 100, Math.floor(n / 2), n - 1])].filter((k) => k > 0 && k < n);

/** Pairs of consecutive messages of one direction of a connection. */
function pairs(): [Message, Message][] {
  const out: [Message, Message][] = [];
  for (const conn of connections) {
    for (const direction of [0, 1]) {
      const list = conn.filter((m) => m.direction === direction);
      for (let i = 0; i + 1 < list.length; i++) out.push([list[i]!, list[i + 1]!]);
    }
  }
  return out;
}

describe("a Kafka message cut across payloads", () => {
  it("has messages of every kind to cut", () => {
    expect(all.filter((m) => m.direction === 0).length).toBeGreaterThan(100);
    expect(all.filter((m) => m.direction === 1).length).toBeGreaterThan(100);
    // Over 64 KB: three Produce requests (one record of 100,000 bytes; five of 20,000; a gzip
    // batch of four of 30,000) and the three Fetch responses that read them back.
    const large = all.filter((m) => m.bytes.length > 65536);
    expect(large.map((m) => [m.direction, m.direction === 0 ? m.bytes.readInt16BE(4) : m.request!.readInt16BE(4)])).toEqual([
      [0, 0], [0, 0], [0, 0], [1, 1], [1, 1], [1, 1],
    ]);
    // Every message gives a record when whole, which says nothing was cut off.
    for (const m of all) {
      const whole = wholeRecord(m) as { attributes: { key: string }[] }[];
      expect(whole, m.name).toHaveLength(1);
      expect(whole[0]!.attributes.map((a) => a.key), m.name).not.toContain("message_cut_off");
    }
  });

  it("two uncut pieces, cut anywhere in the header or body: the record of the whole message, given with the last piece", () => {
    let checked = 0;
    for (const m of all) {
      const whole = wholeRecord(m);
      for (const k of cutPoints(m.bytes.length)) {
        // (A message over 64 KB: each piece in payloads of 60,000 bytes.)
        const got = feed(m, [...uncut(m.bytes.subarray(0, k)), ...uncut(m.bytes.subarray(k))]);
        expect(got.at(-1), `${m.name} cut at ${k} of ${m.bytes.length}`).toEqual(whole);
        expect(got.slice(0, -1).flat(), `${m.name} cut at ${k} of ${m.bytes.length}`).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(3000);
  });

  it("in 1448-byte segments, as a 1500-byte MTU cuts it: the whole message's record, with the last segment", () => {
    const long = all.filter((m) => m.bytes.length > 1448);
    expect(long.length).toBeGreaterThanOrEqual(14);
    for (const m of long) {
      const got = feed(m, segments(m.bytes, 1448));
      expect(got.at(-1), m.name).toEqual(wholeRecord(m));
      expect(got.slice(0, -1).flat(), m.name).toEqual([]);
    }
  });

  it("each direction of a connection as one stream in 1448-byte segments: every message's record, in order", () => {
    for (const conn of connections) {
      const flowId = flow++;
      for (const direction of [0, 1] as const) {
        const list = conn.filter((m) => m.direction === direction);
        const stream = Buffer.concat(list.map((m) => m.bytes));
        const got = segments(stream, 1448).flatMap((p) => json(host.parsePayload(ctxOf(flowId, direction), p, KAFKA)));
        expect(got, `${list[0]?.name} direction ${direction}`).toEqual(list.flatMap(wholeRecord));
      }
    }
  });

  it("the next message in the same payload as the end of one: both records", () => {
    let checked = 0;
    for (const [a, b] of pairs()) {
      const both = Buffer.concat([a.bytes, b.bytes]);
      const wa = wholeRecord(a);
      const wb = wholeRecord(b);
      if (both.length > WHOLE) continue;
      for (const k of [Math.floor(a.bytes.length / 2), a.bytes.length - 1]) {
        expect(feed([a, b], [both.subarray(0, k), both.subarray(k)]), `${a.name} + next, cut at ${k}`).toEqual([[], [...wa, ...wb]]);
      }
      // The next one's header cut too.
      for (const k of [1, 3, 6, 10, 20].filter((n) => n < b.bytes.length)) {
        expect(feed([a, b], [both.subarray(0, a.bytes.length + k), both.subarray(a.bytes.length + k)]), `${a.name} + next's first ${k} bytes`).toEqual([wa, wb]);
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(200);
  });

  it("a piece the agent cut: a record of what it holds at once, nothing from the pieces after it", () => {
    const long = all.filter((m) => m.bytes.length > 1100);
    expect(long.length).toBeGreaterThanOrEqual(14);
    for (const m of long) {
      const first = m.bytes.subarray(0, 1024);
      const [alone] = feed(m, [first], [1024]);
      expect(alone, m.name).toHaveLength(1);
      // The agent cut the first segment at 1024 bytes; the next segments are continuations, cut too.
      const rest = segments(m.bytes, 1448, 1448);
      const got = feed(m, [first, ...rest], [1024, ...rest.map(() => 1024)]);
      expect(got[0], m.name).toEqual(alone);
      expect(got.slice(1).flat(), m.name).toEqual([]);
    }
  });

  it("a piece the capture lost: the first piece's record when the next message arrives, never one made of other bytes", () => {
    let checked = 0;
    for (const [a, b] of pairs()) {
      if (a.bytes.length < 400) continue;
      const [k1, k2] = [200, 300];
      // What the first piece alone gives (as the agent's cut payload).
      const [firstOnly] = feed(a, [a.bytes.subarray(0, k1)], [k1]);
      const wb = wholeRecord(b);
      // Piece 1, (piece 2 lost), piece 3, then the next message.
      const rest = uncut(a.bytes.subarray(k2));
      const next = uncut(b.bytes);
      const got = feed([a, b], [a.bytes.subarray(0, k1), ...rest, ...next]);
      expect(got.slice(0, 1 + rest.length).flat(), a.name).toEqual([]);
      // The first piece's record comes with the next message's first payload.
      const expected = next.length === 1 ? [[...firstOnly!, ...wb]] : [firstOnly, ...next.slice(2).map(() => []), wb];
      expect(got.slice(1 + rest.length), a.name).toEqual(expected);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(15);
  });

  it("a segment seen twice (a retransmission): the first piece's record or the whole message's, never one made of other bytes", () => {
    let checked = 0;
    for (const m of all) {
      if (m.bytes.length < 600) continue;
      const [k, j] = [200, 400];
      const [firstOnly] = feed(m, [m.bytes.subarray(0, k)], [k]);
      const twice = m.bytes.subarray(k, j);
      const got = feed(m, [m.bytes.subarray(0, k), twice, twice, ...uncut(m.bytes.subarray(j))]).flat();
      // The whole message's record (when the extra bytes lie where nothing is read), else the first piece's.
      if (JSON.stringify(got) !== JSON.stringify(wholeRecord(m))) expect(got, m.name).toEqual(firstOnly);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(19);
  });
});

describe("messages over 64 KB, as captured (segments of up to 57,344 bytes)", () => {
  const truth = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "large.json"), "utf8")) as Truth;
  const known = {
    messageIds: new Set(truth.sent.map((m) => m.headers["message-id"]!)),
    requestIds: new Set(truth.sent.map((m) => m.headers.RequestID!)),
    traceIds: new Set(truth.sent.flatMap((m) => [m.headers["Pinpoint-TraceID"]!, m.headers.traceparent!.split("-")[1]!, Buffer.from(m.headers.sw8!.split("-")[1]!, "base64").toString()])),
  };
  // The correlation ids of the capture's requests.
  const correlationIds = new Set(messagesOf(LARGE).flat().filter((m) => m.direction === 0).map((m) => m.bytes.readInt32BE(8)));
  const noneInvented = (rows: FlowLogRow[]) => {
    for (const r of rows) {
      for (const id of listed(r, "message_id")) expect(known.messageIds, `${r.request_type} message id`).toContain(id);
      for (const id of listed(r, "RequestID")) expect(known.requestIds).toContain(id);
      for (const t of r.trace_ids) expect(known.traceIds).toContain(t);
      expect(correlationIds, `${r.request_type} request id`).toContain(r.request_id);
    }
  };

  it("whole payloads: every record's ids, in the Produce and in the Fetch logs", async () => {
    const { rows } = await replayKafka(LARGE, WHOLE);
    noneInvented(rows);
    const produces = rows.filter((r) => r.request_type === "Produce");
    const fetches = rows.filter((r) => r.request_type === "Fetch" && r.type === 2);
    expect(produces.map((r) => [attr(r, "record_count"), attr(r, "compression") ?? "none", attr(r, "message_cut_off") ?? null])).toEqual([
      ["1", "none", null], ["5", "none", null], ["4", "gzip", null],
    ]);
    const ids = (rs: FlowLogRow[]) => rs.flatMap((r) => listed(r, "message_id")).sort();
    expect(ids(produces)).toEqual([...known.messageIds].sort());
    expect(ids(fetches)).toEqual([...known.messageIds].sort());
    // Request and response paired, and the Produce answered.
    for (const r of produces) expect(r.type, `Produce ${r.request_id}`).toBe(2);
  });

  it("a 1024-byte payload limit: each message's row with what its first payload holds, no id invented", async () => {
    const { rows } = await replayKafka(LARGE, 1024);
    noneInvented(rows);
    const produces = rows.filter((r) => r.request_type === "Produce");
    expect(produces).toHaveLength(3);
    for (const r of produces) expect(attr(r, "message_cut_off"), `Produce ${r.request_id}`).toMatch(/^\d+ bytes$/);
  });
});
