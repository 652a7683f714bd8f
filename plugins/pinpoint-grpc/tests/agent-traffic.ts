// Traffic of many concurrent Pinpoint agent connections, for the many-flows test and
// bench/flows.bench.ts: each connection's opening (preface, SETTINGS, HEADERS of a SendSpan
// stream with its own agent id) and a span of its own, made by pinpoint-node-agent's messages.
import { createRequire } from "node:module";
import type { CallCtx } from "../../../sdk/host.ts";
import { PREFACE, frame, grpcMessage } from "./frames.ts";

/** The agent port: a span on a stream whose HEADERS were forgotten gives no record here. */
export const AGENT_PORT = 9991;

const require = createRequire(import.meta.url);
const hpack = require("hpack.js") as {
  compressor: { create(o: { table: { maxSize: number } }): { write(h: { name: string; value: string }[]): void; read(): Buffer | null } };
};
interface Msg { serializeBinary(): Uint8Array }
type Ctor = new () => Msg & Record<string, (v: unknown) => unknown>;
const pb = require("pinpoint-node-agent/lib/data/grpc/Span_pb.js") as Record<string, Ctor>;


export function span(agentId: string, seq: number): Buffer {
  const tx = new pb.PTransactionId();
  tx.setAgentid(agentId);
  tx.setAgentstarttime("1700000000000");
  tx.setSequence(String(seq));
  const s = new pb.PSpan();
  s.setVersion(1);
  s.setTransactionid(tx);
  s.setSpanid(String(1000 + seq));
  s.setParentspanid("-1");
  s.setServicetype(1010);
  const accept = new pb.PAcceptEvent();
  accept.setRpc("/orders");
  s.setAcceptevent(accept);
  const m = new pb.PSpanMessage();
  m.setSpan(s);
  return grpcMessage(m.serializeBinary());
}

/** The client's first payload: preface, SETTINGS, HEADERS of stream 1 (SendSpan), each agent its own id. */
export function opening(agentId: string): Buffer {
  const enc = hpack.compressor.create({ table: { maxSize: 4096 } });
  enc.write([[":method", "POST"], [":scheme", "http"], [":path", "/v1.Span/SendSpan"], [":authority", "collector:9991"],
    ["content-type", "application/grpc"], ["te", "trailers"], ["agentid", agentId], ["applicationname", "orders"],
    ["starttime", "1700000000000"]].map(([name, value]) => ({ name, value })));
  return Buffer.concat([PREFACE, frame(4, 0, 0, []), frame(1, 4, 1, enc.read() ?? Buffer.alloc(0))]);
}

/** The context of connection `flowId`, client to collector. */
export function agentCtx(flowId: number): CallCtx {
  return { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 20000 + (flowId % 40000), dstPort: AGENT_PORT, direction: 0, flowId, bufSize: 65535 };
}

/** Flow ids as the agent's: large, and not dense. */
export const manyFlowId = (i: number): number => 0x10000000 + i * 7;
export const agentName = (i: number): string => `agent-${i}`;

/** Connection i's span message in a DATA frame of stream 1. */
export function spanFrame(i: number): Buffer {
  return frame(0, 0, 1, span(agentName(i), i));
}
