// Request header v0 has no client id; only ControlledShutdown v0 (a broker asking the
// controller to move its partitions away) uses it. Bytes as Kafka's message definitions
// lay them out (ControlledShutdownRequest/Response.json, RequestHeader.json).
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { WasmHost, type CallCtx } from "../../../sdk/host.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const PROTO = 150;
const ctx = (direction: 0 | 1): CallCtx => ({
  srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: direction ? 9092 : 40000, dstPort: direction ? 40000 : 9092, direction, flowId: 5,
});
const int16 = (v: number) => [(v >> 8) & 255, v & 255];
const int32 = (v: number) => [(v >>> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255];
const message = (body: number[]) => Uint8Array.from([...int32(body.length), ...body]);

describe("ControlledShutdown v0 (request header v0)", () => {
  it("logs the request without a client id and pairs its response's error", async () => {
    const host = await WasmHost.load([join(root, "build", "kafka.wasm")]);
    // api key 7, version 0, correlation id 900, broker id 3.
    const [req] = host.parsePayload(ctx(0), message([...int16(7), ...int16(0), ...int32(900), ...int32(3)]), PROTO) ?? [];
    expect(req).toMatchObject({ request_id: 900, req: { req_type: "ControlledShutdown", version: "0" } });
    expect(req.attributes.find((a) => a.key === "client_id")).toBeUndefined();
    // correlation id 900, error 41 (NOT_CONTROLLER, retriable), no partitions remaining.
    const [resp] = host.parsePayload(ctx(1), message([...int32(900), ...int16(41), ...int32(0)]), PROTO) ?? [];
    expect(resp).toMatchObject({ request_id: 900, resp: { status: "server_error", code: 41, exception: "NOT_CONTROLLER" } });
  });
});
