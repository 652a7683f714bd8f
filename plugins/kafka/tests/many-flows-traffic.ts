// Traffic of many concurrent Kafka flows, for the sessions and many-flows tests and bench/flows.bench.ts:
// the LeaveGroup v4 exchange of DeepFlow's capture, each flow with its own correlation id.
import { join, resolve } from "node:path";
import { DecodedPacket, decodeFrame, openCapture } from "../../../capture/open.ts";
import type { CallCtx } from "../../../sdk/host.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
export const KAFKA_PROTO = 150;

/** LeaveGroup v4 request and response of the agent's capture. */
export function exchange(): { request: Uint8Array; response: Uint8Array } {
  const rd = openCapture(join(root, "tests", "fixtures", "deepflow", "kafka", "13-leave-group-v4.pcap"));
  const p = new DecodedPacket();
  const payloads: Uint8Array[] = [];
  for (let f = rd.next(); f; f = rd.next()) if (decodeFrame(f, p) && p.payloadLength > 0) payloads.push(Uint8Array.from(p.payload()));
  rd.close();
  return { request: payloads[0], response: payloads[1] };
}

/** The context of flow `flowId` (0 client to server, 1 back). */
export function kafkaCtx(flowId: number, direction: 0 | 1): CallCtx {
  return {
    srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: direction ? 9092 : 40000 + (flowId % 20000),
    dstPort: direction ? 40000 + (flowId % 20000) : 9092, direction, flowId, time: 1_700_000_000_000_000 + flowId,
  };
}

/** Flow ids as the agent's: large, and not dense. */
export const manyFlowId = (i: number): number => 0x10000000 + i * 7;

/** The request of flow i (correlation id i) and its response. */
export function requestOf(req: Uint8Array, i: number): Uint8Array {
  new DataView(req.buffer).setInt32(8, i);
  return req;
}
export function responseOf(resp: Uint8Array, i: number): Uint8Array {
  new DataView(resp.buffer).setInt32(4, i);
  return resp;
}
