// RabbitMQ plugin cost: ns per Basic.Publish + content header + body message with a
// message id, correlation id, app id, type and Pinpoint/RequestID headers (what the
// capture's publisher sends), and the release module size. Targets: < 2 µs, < 40 KB.
// "plugin alone": the exports called straight (bench/measure.ts); "host-sim": through
// WasmHost, whose per-call work (context, payload copy, record decoding) is included.
import { readFileSync, statSync } from "node:fs";
import { WasmHost, type CallCtx } from "../host-sim/host.ts";
import { ensureBuilt } from "../plugins/rabbitmq/tests/session.ts";
import { PROTOCOL_HEADER, publish } from "../plugins/rabbitmq/tests/wire.ts";
import { nsPerCall, pluginAlone, show } from "./measure.ts";

const AMQP_PROTO = 160;
const PER_PAYLOAD = 64;

export default async function (): Promise<void> {
  const wasm = ensureBuilt();
  const size = statSync(wasm).size;
  console.log(`build/rabbitmq.wasm: ${size} bytes (${(size / 1024).toFixed(1)} KiB; target < 40 KB)`);

  const message = publish(1, "shop", "order.created", {
    messageId: "msg-0001", correlationId: "corr-0001", appId: "checkout", type: "order.created", contentType: "application/json",
    deliveryMode: 2, timestamp: 1700000001,
    headers: {
      "Pinpoint-TraceID": "order-api^1700000000000^17", "Pinpoint-SpanID": "-3851275403612377601",
      "Pinpoint-pSpanID": "5132977373491392512", "Pinpoint-Flags": "0", "Pinpoint-pAppName": "order-api", RequestID: "req-0001",
    },
  }, "{\"order\":1,\"items\":[1,2,3]}");
  const batch = Buffer.concat(Array.from({ length: PER_PAYLOAD }, () => message));
  console.log(`message: ${message.length} bytes in 3 frames, 14 attributes; batch: ${PER_PAYLOAD} messages in ${batch.length} bytes`);

  const bytes = readFileSync(wasm);
  const one = pluginAlone(bytes, message, { direction: 0, dstPort: 5672, bufSize: 65535 });
  const many = pluginAlone(bytes, batch, { direction: 0, dstPort: 5672, bufSize: 65535 });
  if (one.parse(AMQP_PROTO) !== 1 || one.resultBytes() === 0 || many.parse(AMQP_PROTO) !== 1) throw new Error("the plugin did not log the message");
  show("plugin alone: one message per parse_payload", nsPerCall(() => one.parse(AMQP_PROTO)));
  show(`plugin alone: ${PER_PAYLOAD} messages per parse_payload, per message`, nsPerCall(() => many.parse(AMQP_PROTO), 300) / PER_PAYLOAD);

  const host = await WasmHost.load([wasm]);
  const ctx: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 5672, direction: 0, flowId: 1, bufSize: 65535 };
  if (!host.checkPayload(ctx, PROTOCOL_HEADER) || host.parsePayload(ctx, message, AMQP_PROTO)?.length !== 1) {
    throw new Error("the plugin did not log the message through the host");
  }
  show("host-sim: one message per parse_payload", nsPerCall(() => host.parsePayload(ctx, message, AMQP_PROTO)));
  const c = host.counters()[0];
  console.log(`failures: ${c.hooks.parse_payload.failures}; memory ${c.hooks.parse_payload.memSize} bytes`);
}
