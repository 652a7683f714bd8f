// Produce v0–v11 and Fetch v0–v17 requests as two independent client libraries encode
// them (kafkajs: Produce v0–v7, Fetch v0–v11; kafka-ts: Produce v3–v11 and Fetch v4–v17,
// the flexible versions with compact types, tagged fields and topic ids), through the
// plugin. No broker here speaks these newer versions (librdkafka's mock stops at Produce
// v7 / Fetch v11), so the requests are made with the clients' own encoders.
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { API } from "kafka-ts";
import type { Api } from "kafka-ts/dist/utils/api.js";
import { createBatch } from "kafka-ts/dist/api/produce/common.js";
import { Decoder } from "kafka-ts/dist/utils/decoder.js";
import { Encoder } from "kafka-ts/dist/utils/encoder.js";
import { beforeAll, describe, expect, it } from "vitest";
import { WasmHost, type CallCtx, type CustomInfo } from "../../../sdk/host.ts";

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

/** kafka-ts's encoder of one api version: its API table holds the newest, each with a fallback to the one before. */
function version<Req, Res>(api: Api<Req, Res>, v: number): Api<Req, Res> {
  for (let a: Api<Req, Res> | undefined = api; a; a = a.fallback) if (a.apiVersion === v) return a;
  throw new Error(`kafka-ts has no version ${v} of api ${api.apiKey}`);
}

function encode<Req>(api: Api<Req, unknown>, data: Req): Buffer {
  return api.request(new Encoder(), data).value() as Buffer;
}

/** One partition's record batch (v2) as kafka-ts's producer builds it: n records with the trace headers. */
function partitionData(n: number) {
  return {
    index: 3, baseOffset: 0n, partitionLeaderEpoch: -1, attributes: 0, lastOffsetDelta: n - 1,
    baseTimestamp: 1_700_000_000_000n, maxTimestamp: 1_700_000_000_000n, producerId: -1n, producerEpoch: -1, baseSequence: -1,
    records: Array.from({ length: n }, (_, i) => ({
      attributes: 0, timestampDelta: 0n, offsetDelta: i, key: `k${i}`, value: `order ${i}`,
      headers: Object.entries(headersOf(i)).map(([key, value]) => ({ key, value })),
    })),
  };
}

/** CRC-32C (Castagnoli), the record batch checksum. */
function crc32c(b: Uint8Array): number {
  let crc = ~0;
  for (const x of b) {
    crc ^= x;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

/**
 * A record batch of n records, uncompressed as kafka-ts's producer encodes it, or with
 * its records gzip-compressed (attributes bit 0 = 1, CRC and length over the new bytes),
 * as the protocol lays a compressed batch out.
 */
function recordBatch(n: number, compression: "none" | "gzip"): Buffer {
  const plain = createBatch(partitionData(n)).value() as Buffer;
  if (compression === "none") return plain;
  const RECORDS_AT = 61; // baseOffset .. record count
  const body = Buffer.concat([plain.subarray(21, RECORDS_AT), gzipSync(plain.subarray(RECORDS_AT))]);
  body.writeInt16BE(body.readInt16BE(0) | 1, 0); // attributes: gzip
  const out = Buffer.concat([plain.subarray(0, 21), body]);
  out.writeInt32BE(out.length - 12, 8);
  out.writeUInt32BE(crc32c(body), 17);
  return out;
}

describe("Produce requests of kafka-ts, v3-v11", () => {
  for (let v = 3; v <= 11; v++) {
    for (const compression of ["none", "gzip"] as const) {
      it(`v${v} ${compression}`, () => {
        // kafka-ts's producer compresses nothing: the gzip case puts the compressed batch in its place.
        let body = encode(version(API.PRODUCE, v), {
          transactionalId: "txn-1", acks: -1, timeoutMs: 5000, topicData: [{ name: "orders", topicId: "", partitionData: [partitionData(5)] }],
        });
        if (compression === "gzip") {
          const plain = createBatch(partitionData(5)).value() as Buffer;
          const at = body.indexOf(plain);
          expect(at).toBeGreaterThan(0);
          const gz = recordBatch(5, "gzip");
          // The batch's length prefix: int32 before v9, a compact (unsigned varint, +1) length from v9.
          const head = v >= 9 ? Buffer.from([...uvarint(plain.length + 1)]) : Buffer.alloc(4);
          const newHead = v >= 9 ? Buffer.from([...uvarint(gz.length + 1)]) : Buffer.alloc(4);
          if (v < 9) {
            head.writeInt32BE(plain.length);
            newHead.writeInt32BE(gz.length);
          }
          expect(body.subarray(at - head.length, at).equals(head)).toBe(true);
          body = Buffer.concat([body.subarray(0, at - head.length), newHead, gz, body.subarray(at + plain.length)]);
        }
        const info = parse(frame(0, v, 321, "kts-producer", v >= 9, body));
        expect(info.req).toMatchObject({ req_type: "Produce", version: String(v), domain: "orders", resource: "orders-3", endpoint: "orders-3" });
        expect(info.request_id).toBe(321);
        expect(attr(info, "client_id")).toBe("kts-producer");
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

const TOPIC_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
/** kafka-ts takes and gives a topic id as 32 hex digits. */
const TOPIC_ID_HEX = TOPIC_ID.replaceAll("-", "");

function fetchRequest(v: number, partition: number, fetchOffset: bigint, rackId: string): Buffer {
  return encode(version(API.FETCH, v), {
    maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topicId: TOPIC_ID_HEX, topicName: "orders", partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId,
  });
}

function* uvarint(n: number): Generator<number> {
  while (n >= 0x80) {
    yield (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  yield n;
}

describe("Fetch requests of kafka-ts, v4-v17", () => {
  for (let v = 4; v <= 17; v++) {
    it(`v${v}`, () => {
      const info = parse(frame(1, v, 77, "kts-consumer", v >= 12, fetchRequest(v, 5, 4242n, "rack-a")));
      // From v13 the request names the topic by id.
      const name = v >= 13 ? TOPIC_ID : "orders";
      expect(info.req).toMatchObject({ req_type: "Fetch", version: String(v), domain: name, resource: `${name}-5`, endpoint: `${name}-5` });
      expect(attr(info, "fetch_offset")).toBe("4242");
      expect(attr(info, "client_id")).toBe("kts-consumer");
    });
  }
});

describe("Fetch responses v12-v17 (flexible) with record batches", () => {
  // No client encodes Fetch responses, and no broker here answers these versions: the
  // response is laid out with kafka-ts's encoder and record batch, checked with kafka-ts's
  // own Fetch response parser (which also gunzips), then given to the plugin.
  function fetchResponse(v: number, compression: "none" | "gzip", errorCode: number): Buffer {
    const records = recordBatch(6, compression);
    const e = new Encoder().writeInt32(0).writeInt16(0).writeInt32(99); // throttle, error, session id
    e.writeCompactArray([0], (e) => {
      if (v >= 13) e.writeUUID(TOPIC_ID_HEX);
      else e.writeCompactString("orders");
      e.writeCompactArray([0], (e) => {
        e.writeInt32(3).writeInt16(errorCode).writeInt64(6n).writeInt64(6n).writeInt64(0n)
          .writeUVarInt(0) // aborted transactions: null
          .writeInt32(-1) // preferred read replica
          .writeUVarInt(records.length + 1)
          .write(records)
          .writeTagBuffer();
      }).writeTagBuffer();
    });
    return e.writeTagBuffer().value() as Buffer;
  }

  for (let v = 12; v <= 17; v++) {
    for (const compression of ["none", "gzip"] as const) {
      it(`v${v} ${compression}`, async () => {
        const body = fetchResponse(v, compression, 0);
        const parsed = await version(API.FETCH, v).response(new Decoder(body));
        expect(parsed.responses[0]!.partitions[0]!.records[0]!.records).toHaveLength(6);

        const flow = 1000 + v * 2 + (compression === "gzip" ? 1 : 0);
        const req: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 9092, direction: 0, flowId: flow, bufSize: 65535 };
        const resp: CallCtx = { ...req, srcIp: "10.0.0.2", dstIp: "10.0.0.1", srcPort: 9092, dstPort: 40000, direction: 1 };
        host.parsePayload(req, frame(1, v, 5, "kts-consumer", true, fetchRequest(v, 3, 0n, "")), PROTO);
        // Response header v1: correlation id, empty tagged fields.
        const head = Buffer.alloc(9);
        head.writeInt32BE(5 + body.length, 0);
        head.writeInt32BE(5, 4);
        const [info] = host.parsePayload(resp, Buffer.concat([head, body]), PROTO) ?? [];
        expect(info).toMatchObject({ request_id: 5, resp: { status: "ok", code: 0, endpoint: `${v >= 13 ? TOPIC_ID : "orders"}-3` } });
        expect(attr(info, "record_count")).toBe("6");
        expect(attrs(info, "message_id")).toEqual([messageIds(6).join(",")]);
        expect([...info.trace.trace_ids].sort()).toEqual(traceIds(6).sort());
      });
    }
  }

  it("a partition error becomes the response's status", () => {
    const body = fetchResponse(13, "none", 6);
    const req: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 9092, direction: 0, flowId: 5000, bufSize: 65535 };
    host.parsePayload(req, frame(1, 13, 8, "kts-consumer", true, fetchRequest(13, 3, 0n, "")), PROTO);
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
