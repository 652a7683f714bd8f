// Traffic of many concurrent RabbitMQ connections, for the many-flows test and
// bench/flows.bench.ts: each connection's client declares a queue that does not exist
// (a synchronous request) and the broker answers with Channel.Close 404, which pairs with
// the request only while the connection remembers the channel waiting for its reply.
import type { CallCtx } from "../../../sdk/host.ts";
import { method } from "./wire.ts";

export const AMQP_PROTO = 160;
/** The channel each connection's request goes on. */
export const MANY_CHANNEL = 3;

/** The context of flow `flowId` (0 client to broker, 1 back). */
export function amqpCtx(flowId: number, direction: 0 | 1): CallCtx {
  const client = 40000 + (flowId % 20000);
  return {
    srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: direction ? 5672 : client, dstPort: direction ? client : 5672,
    direction, flowId, time: 1_700_000_000_000_000 + flowId,
  };
}

/** Flow ids as the agent's: large, and not dense. */
export const manyFlowId = (i: number): number => 0x10000000 + i * 7;

/** Queue.Declare (passive) of a queue that is not there, on MANY_CHANNEL. */
export const declareFrame = (): Uint8Array => Uint8Array.from(method("QueueDeclare", MANY_CHANNEL, { queue: "orders-missing", passive: true }));

/** The broker's Channel.Close 404 answering it. */
export const closeFrame = (): Uint8Array =>
  Uint8Array.from(method("ChannelClose", MANY_CHANNEL, { replyCode: 404, replyText: "NOT_FOUND - no queue 'orders-missing' in vhost '/'", classId: 50, methodId: 10 }));
