// Produce v3–v11 and Fetch v4–v17 requests as two independent client libraries encode
// them (kafkajs: Produce v0–v7; @platformatic/kafka: up to Produce v11 and Fetch v17, the
// flexible versions with compact types, tagged fields and topic ids), through the plugin.
// No broker here speaks these newer versions (librdkafka's mock stops at Produce v7 /
// Fetch v11), so the requests are made with the clients' own encoders.
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import * as pk from "@platformatic/kafka";
import { beforeAll, describe, expect, it } from "vitest";
import { WasmHost, type CallCtx, type CustomInfo } from "../../../host-sim/host.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const PROTO = 150;
const require = createRequire(import.meta.url);
const kjsRequest = require("kafkajs/src/protocol/request") as (o: object) => Promise<{ buffer: Buffer }>;
const kjsProduce = require("kafkajs/src/protocol/requests/produce") as { protocol: (o: { version: number }) => (a: object) => { request: object } };
const kjsCodec = (require("kafkajs/src/protocol/message/compression") as { Types: { None: number; GZIP: number } }).Types;

/** Request header v1 (v2 with an empty tagged-field section for flexible versions) + body. */
function frame(apiKey: number, version: number, correlationId: number, clientId: string, flexible: boolean, body: Uint8Array): Uint8Array {
  const id = Buffer.from(clientId);
  const head = Buffer.alloc(4 + 2 + 2 + 4 + 2 + id.length + (flexible ? 1 : 0));
  head.writeInt32BE(head.length - 4 + body.length, 0);
  head.writeInt16BE(apiKey, 4);
  head.writeInt16BE(version, 6);
  head.writeInt32BE(correlationId, 8);
  head.writeInt16BE(id.length, 12);
  id.copy(head, 14);
  return Buffer.concat([head, body]);
}

const headersOf = (i: number) => ({
  "message-id": `msg-${i}`,
  traceparent: `00-${(0xabc000 + i).toString(16).padStart(32, "0")}-${(0x100 + i).toString(16).padStart(16, "0")}-01`,
  RequestID: `req-${i}`,
});
const messageIds = (n: number) => Array.from({ length: n }, (_, i) => `msg-${i}`);
const traceIds = (n: number) => Array.from({ length: n }, (_, i) => (0xabc000 + i).toString(16).padStart(32, "0"));
const attrs = (info: CustomInfo, key: string) => info.attributes.filter((a) => a.key === key).map((a) => a.val);
const attr = (info: CustomInfo, key: string) => attrs(info, key)[0];

let host: WasmHost;
beforeAll(async () => {
  host = await WasmHost.load([join(root, "build", "kafka.wasm")]);
});

function parse(payload: Uint8Array): CustomInfo {
  const ctx: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 9092, direction: 0, flowId: 1, bufSize: 65535 };
  expect(host.checkPayload(ctx, payload)?.proto).toBe(PROTO);
  const out = host.parsePayload(ctx, payload, PROTO) ?? [];
  expect(out).toHaveLength(1);
  return out[0];
}

type PkMessage = { topic: string; partition: number; key: Buffer; value: Buffer; headers: Map<Buffer, Buffer> };
const pkMessages = (n: number): PkMessage[] => Array.from({ length: n }, (_, i) => ({
  topic: "orders", partition: 3, key: Buffer.from(`k${i}`), value: Buffer.from(`order ${i}`),
  headers: new Map(Object.entries(headersOf(i)).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
}));

type Encoder = { createRequest: (...a: unknown[]) => { buffer: Buffer } | Promise<{ buffer: Buffer }> };
const produceApis = pk as unknown as Record<string, Encoder>;

describe("Produce requests of @platformatic/kafka, v3-v11", () => {
  for (let version = 3; version <= 11; version++) {
    for (const compression of ["none", "gzip"] as const) {
      it(`v${version} ${compression}`, async () => {
        const body = await produceApis[`produceV${version}`].createRequest(-1, 5000, pkMessages(5), { compression, transactionalId: "txn-1" });
        const info = parse(frame(0, version, 321, "pk-producer", version >= 9, (body as { buffer: Buffer }).buffer));
        expect(info.req).toMatchObject({ req_type: "Produce", version: String(version), domain: "orders", resource: "orders-3", endpoint: "orders-3" });
        expect(info.request_id).toBe(321);
        expect(attr(info, "client_id")).toBe("pk-producer");
        expect(attr(info, "transactional_id")).toBe("txn-1");
        expect(attr(info, "record_count")).toBe("5");
        expect(attr(info, "compression")).toBe(compression === "gzip" ? "gzip" : undefined);
        // Every record's ids, in one attribute per kind.
        expect(attrs(info, "message_id")).toEqual([messageIds(5).join(",")]);
        expect(attrs(info, "RequestID")).toEqual([Array.from({ length: 5 }, (_, i) => `req-${i}`).join(",")]);
        expect(attr(info, "message_id_count")).toBe("5");
        expect([...info.trace.trace_ids].sort()).toEqual(traceIds(5).sort());
        expect(info.trace.span_id).toBe((0x100).toString(16).padStart(16, "0"));
      });
    }
  }
});

describe("Produce requests of kafkajs, v0-v7", () => {
  for (let version = 0; version <= 7; version++) {
    for (const compression of [kjsCodec.None, kjsCodec.GZIP]) {
      it(`v${version} ${compression === kjsCodec.GZIP ? "gzip" : "none"}`, async () => {
        const messages = Array.from({ length: 4 }, (_, i) => ({ key: `k${i}`, value: `order ${i}`, headers: headersOf(i) }));
        const req = kjsProduce.protocol({ version })({
          acks: -1, timeout: 1000, compression, topicData: [{ topic: "orders", partitions: [{ partition: 2, messages }] }],
        }).request;
        const info = parse((await kjsRequest({ correlationId: 9, clientId: "kjs", request: req })).buffer);
        expect(info.req).toMatchObject({ req_type: "Produce", version: String(version), domain: "orders", endpoint: "orders-2" });
        expect(attr(info, "record_count")).toBe("4");
        // kafkajs compresses from Produce v2 on.
        expect(attr(info, "compression")).toBe(compression === kjsCodec.GZIP && version >= 2 ? "gzip" : undefined);
        // Record batch v2 (Produce v3+) carries headers; legacy message sets (v0-v2) do not.
        expect(attrs(info, "message_id")).toEqual(version >= 3 ? [messageIds(4).join(",")] : []);
        expect(attr(info, "records_cut_off")).toBeUndefined();
      });
    }
  }
});

describe("a Produce of many records (kafkajs v7)", () => {
  it("lists message ids and RequestIDs up to a bound and counts the rest", async () => {
    const n = 300;
    // UUID-sized message ids, and some short ones that would still fit once the list is full.
    const id = (i: number) => (i % 7 === 6 ? `s${i}` : `${i}`.padStart(36, "m"));
    const messages = Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `order ${i}`, headers: { ...headersOf(i), "message-id": id(i) } }));
    const req = kjsProduce.protocol({ version: 7 })({
      acks: -1, timeout: 1000, compression: kjsCodec.None, topicData: [{ topic: "orders", partitions: [{ partition: 0, messages }] }],
    }).request;
    const info = parse((await kjsRequest({ correlationId: 12, clientId: "kjs", request: req })).buffer);
    expect(attr(info, "record_count")).toBe(String(n));
    expect(attr(info, "message_id_count")).toBe(String(n));
    const messageIdList = attr(info, "message_id")!.split(",");
    const requestIdList = attr(info, "RequestID")!.split(",");
    // The first ids in record order, each whole, within 4 KiB per list.
    expect(messageIdList).toEqual(Array.from({ length: messageIdList.length }, (_, i) => id(i)));
    expect(requestIdList).toEqual(Array.from({ length: requestIdList.length }, (_, i) => `req-${i}`));
    expect(attr(info, "message_id")!.length).toBeLessThanOrEqual(4096);
    expect(messageIdList.length).toBeGreaterThan(100);
    expect(Number(attr(info, "ids_not_listed"))).toBe(2 * n - messageIdList.length - requestIdList.length);
    // trace_ids stay bounded too: 64 of the 300 distinct trace ids, the rest counted.
    expect(info.trace.trace_ids).toEqual(traceIds(64));
    expect(attr(info, "trace_ids_dropped")).toBe(String(n - 64));
  });
});

describe("Fetch requests of @platformatic/kafka, v4-v17", () => {
  const topicId = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
  for (let version = 4; version <= 17; version++) {
    it(`v${version}`, () => {
      const partitions = [{ partition: 5, currentLeaderEpoch: -1, fetchOffset: 4242n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }];
      // (The library passes a topic's name in `topicId` before v13.)
      const topic = { topicId: version >= 13 ? topicId : "orders", partitions };
      const api = produceApis[`fetchV${version}`];
      const body = api.createRequest(500, 1, 1 << 20, 0, 0, -1, [topic], [], "rack-a") as { buffer: Buffer };
      const info = parse(frame(1, version, 77, "pk-consumer", version >= 12, body.buffer));
      const name = version >= 13 ? topicId : "orders";
      expect(info.req).toMatchObject({ req_type: "Fetch", version: String(version), domain: name, resource: `${name}-5`, endpoint: `${name}-5` });
      expect(attr(info, "fetch_offset")).toBe("4242");
      expect(attr(info, "client_id")).toBe("pk-consumer");
    });
  }
});

describe("Fetch responses v12-v17 (flexible) with record batches", () => {
  // No client encodes Fetch responses, and no broker here answers these versions: the
  // response is assembled with @platformatic/kafka's Writer and record-batch encoder,
  // checked with that library's own Fetch response parser, then given to the plugin.
  const topicId = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
  type W = { appendInt32(v: number): W; appendInt16(v: number): W; appendInt64(v: bigint): W; appendUUID(v: string): W;
    appendString(v: string): W; appendUnsignedVarInt(v: number): W; appendFrom(b: unknown): W; appendTaggedFields(): W;
    appendArray<T>(v: T[], f: (w: W, t: T) => void): W; buffer: Buffer; length: number };
  const lib = pk as unknown as {
    Writer: { create(): W };
    Reader: { from(b: Buffer): unknown };
    createRecordsBatch(m: PkMessage[], o: object): { length: number };
  };
  const fetchApis = pk as unknown as Record<string, { parseResponse(c: number, k: number, v: number, r: unknown): { responses: { partitions: { records: { records: unknown[] }[] }[] }[] } }>;

  function fetchResponse(version: number, compression: "none" | "gzip", errorCode: number): Buffer {
    const records = lib.createRecordsBatch(pkMessages(6), { compression });
    return lib.Writer.create()
      .appendInt32(0) // throttle
      .appendInt16(0) // error
      .appendInt32(99) // session id
      .appendArray([0], (w) => {
        (version >= 13 ? w.appendUUID(topicId) : w.appendString("orders")).appendArray([0], (w) => {
          w.appendInt32(3).appendInt16(errorCode).appendInt64(6n).appendInt64(6n).appendInt64(0n)
            .appendUnsignedVarInt(0) // aborted transactions: null
            .appendInt32(-1) // preferred read replica
            .appendUnsignedVarInt(records.length + 1)
            .appendFrom(records);
        });
      })
      .appendTaggedFields().buffer;
  }

  for (let version = 12; version <= 17; version++) {
    for (const compression of ["none", "gzip"] as const) {
      it(`v${version} ${compression}`, () => {
        const body = fetchResponse(version, compression, 0);
        const parsed = fetchApis[`fetchV${version}`].parseResponse(5, 1, version, lib.Reader.from(body));
        expect(parsed.responses[0].partitions[0].records[0].records).toHaveLength(6);

        const flow = 1000 + version * 2 + (compression === "gzip" ? 1 : 0);
        const req: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 9092, direction: 0, flowId: flow, bufSize: 65535 };
        const resp: CallCtx = { ...req, srcIp: "10.0.0.2", dstIp: "10.0.0.1", srcPort: 9092, dstPort: 40000, direction: 1 };
        const partitions = [{ partition: 3, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }];
        const fetch = produceApis[`fetchV${version}`].createRequest(500, 1, 1 << 20, 0, 0, -1, [{ topicId: version >= 13 ? topicId : "orders", partitions }], [], "") as { buffer: Buffer };
        host.parsePayload(req, frame(1, version, 5, "pk-consumer", true, fetch.buffer), PROTO);
        // Response header v1: correlation id, empty tagged fields.
        const head = Buffer.alloc(9);
        head.writeInt32BE(5 + body.length, 0);
        head.writeInt32BE(5, 4);
        const [info] = host.parsePayload(resp, Buffer.concat([head, body]), PROTO) ?? [];
        expect(info).toMatchObject({ request_id: 5, resp: { status: "ok", code: 0, endpoint: `${version >= 13 ? topicId : "orders"}-3` } });
        expect(attr(info, "record_count")).toBe("6");
        expect(attrs(info, "message_id")).toEqual([messageIds(6).join(",")]);
        expect([...info.trace.trace_ids].sort()).toEqual(traceIds(6).sort());
      });
    }
  }

  it("a partition error becomes the response's status", () => {
    const body = fetchResponse(13, "none", 6);
    const req: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 9092, direction: 0, flowId: 5000, bufSize: 65535 };
    const partitions = [{ partition: 3, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }];
    const fetch = produceApis.fetchV13.createRequest(500, 1, 1 << 20, 0, 0, -1, [{ topicId, partitions }], [], "") as { buffer: Buffer };
    host.parsePayload(req, frame(1, 13, 8, "pk-consumer", true, fetch.buffer), PROTO);
    const head = Buffer.alloc(9);
    head.writeInt32BE(5 + body.length, 0);
    head.writeInt32BE(8, 4);
    const [info] = host.parsePayload({ ...req, srcIp: "10.0.0.2", dstIp: "10.0.0.1", srcPort: 9092, dstPort: 40000, direction: 1 }, Buffer.concat([head, body]), PROTO) ?? [];
    expect(info.resp).toMatchObject({ status: "server_error", code: 6, exception: "NOT_LEADER_OR_FOLLOWER" });
  });
});

describe("Fetch requests of kafkajs, v0-v11", () => {
  const kjsFetch = require("kafkajs/src/protocol/requests/fetch") as { protocol: (o: { version: number }) => (a: object) => { request: object } };
  for (let version = 0; version <= 11; version++) {
    it(`v${version}`, async () => {
      const req = kjsFetch.protocol({ version })({
        maxWaitTime: 100, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 1, sessionId: 0, sessionEpoch: -1, rackId: "",
        topics: [{ topic: "payments", partitions: [{ partition: 7, fetchOffset: "31337", maxBytes: 1 << 20 }] }],
      }).request;
      const info = parse((await kjsRequest({ correlationId: 11, clientId: "kjs-consumer", request: req })).buffer);
      expect(info.req).toMatchObject({ req_type: "Fetch", version: String(version), domain: "payments", endpoint: "payments-7" });
      expect(attr(info, "fetch_offset")).toBe("31337");
    });
  }
});
