// The per-flow memory of correlation id → (api key, version) that responses are decoded
// with: bounded in entries per flow (the oldest request is forgotten first) and in flows
// (the least recently used flow is forgotten first), each entry used once.
import { join, resolve } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { exchange } from "./many-flows-traffic.ts";
import { WasmHost, type CallCtx } from "../../../sdk/host.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const PROTO = 150;
// As plugins/kafka/config.ts (512 until the SDK's FlowTable kept Kafka's flows).
const MAX_FLOWS = 1 << 17;
const MAX_PENDING_PER_FLOW = 32;


const { request, response } = exchange();
const withCorrelation = (bytes: Uint8Array, at: number, id: number) => {
  const b = Uint8Array.from(bytes);
  new DataView(b.buffer).setInt32(at, id);
  return b;
};
const ctx = (flowId: number, direction: 0 | 1): CallCtx => ({
  srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: direction ? 9092 : 40000, dstPort: direction ? 40000 : 9092, direction, flowId,
});

let host: WasmHost;
beforeEach(async () => {
  host = await WasmHost.load([join(root, "build", "kafka.wasm")]);
});

const send = (flowId: number, correlationId: number) =>
  host.parsePayload(ctx(flowId, 0), withCorrelation(request, 8, correlationId), PROTO) ?? [];
const answer = (flowId: number, correlationId: number) =>
  host.parsePayload(ctx(flowId, 1), withCorrelation(response, 4, correlationId), PROTO) ?? [];

describe("correlation memory", () => {
  it("decodes a response with its request's api, once", () => {
    expect(send(1, 77)).toHaveLength(1);
    const [rec] = answer(1, 77);
    expect(rec).toMatchObject({ request_id: 77, resp: { status: "ok", code: 0 } });
    expect(answer(1, 77)).toEqual([]);
    // Another flow's correlation ids are its own.
    expect(send(2, 78)).toHaveLength(1);
    expect(answer(1, 78)).toEqual([]);
  });

  it(`keeps the newest ${MAX_PENDING_PER_FLOW} outstanding requests of a flow`, () => {
    const extra = 8;
    for (let i = 0; i < MAX_PENDING_PER_FLOW + extra; i++) send(1, 1000 + i);
    const decoded = [];
    for (let i = 0; i < MAX_PENDING_PER_FLOW + extra; i++) decoded.push(answer(1, 1000 + i).length);
    expect(decoded).toEqual([...Array(extra).fill(0), ...Array(MAX_PENDING_PER_FLOW).fill(1)]);
  });

  it(`keeps the ${MAX_FLOWS} most recently used flows`, { timeout: 60_000 }, () => {
    const flows = MAX_FLOWS + 88;
    for (let f = 0; f < flows; f++) send(1000 + f, 5);
    const decoded = [];
    for (let f = 0; f < flows; f++) decoded.push(answer(1000 + f, 5).length);
    expect(decoded).toEqual([...Array(88).fill(0), ...Array(MAX_FLOWS).fill(1)]);
    const c = host.counters()[0];
    expect(c.hooks.parse_payload.failures).toBe(0);
  });
});
