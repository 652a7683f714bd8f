// RabbitMQ plugin cost: ns per Basic.Publish + content header + body message with a
// message id, correlation id, app id, type and Pinpoint/RequestID headers (what the
// capture's publisher sends), and the release module size. Targets: < 2 µs, < 40 KB.
// "plugin alone": the exports called straight (bench/measure.ts); "host-sim": through
// WasmHost, whose per-call work (context, payload copy, record decoding) is included.
import { readFileSync, statSync } from "node:fs";
import { WasmHost, type CallCtx } from "../sdk/host.ts";
import { ensureBuilt } from "../plugins/rabbitmq/tests/session.ts";
import { PROTOCOL_HEADER, body, contentHeader, method, publish } from "../plugins/rabbitmq/tests/wire.ts";
import { cpuNsPerCall, nsPerCall, pluginAlone, show, showCpu } from "./measure.ts";

const AMQP_PROTO = 160;
const PER_PAYLOAD = 64;

export default async function (): Promise<void> {
  const wasm = ensureBuilt();
  const size = statSync(wasm).size;
  console.log(`build/rabbitmq.wasm: ${size} bytes (${(size / 1024).toFixed(1)} KiB; target < 40 KB)`);

  const props = {
    messageId: "msg-0001", correlationId: "corr-0001", appId: "checkout", type: "order.created", contentType: "application/json",
    deliveryMode: 2, timestamp: 1700000001,
    headers: {
      "Pinpoint-TraceID": "order-api^1700000000000^17", "Pinpoint-SpanID": "-3851275403612377601",
      "Pinpoint-pSpanID": "5132977373491392512", "Pinpoint-Flags": "0", "Pinpoint-pAppName": "order-api", RequestID: "req-0001",
    },
  };
  const content = "{\"order\":1,\"items\":[1,2,3]}";
  const message = publish(1, "shop", "order.created", props, content);
  // What the consumer side sees of the same message, and its acknowledgement.
  const delivery = Buffer.concat([
    method("BasicDeliver", 1, { consumerTag: "amq.ctag-Xy1Abc2dEf3GhI4jKl5mNo", deliveryTag: 12345, redelivered: false, exchange: "shop", routingKey: "order.created" }),
    contentHeader(1, content.length, props), body(1, content),
  ]);
  const ack = method("BasicAck", 1, { deliveryTag: 12345, multiple: false });
  const batch = Buffer.concat(Array.from({ length: PER_PAYLOAD }, () => message));
  console.log(`message: ${message.length} bytes in 3 frames; batch: ${PER_PAYLOAD} messages in ${batch.length} bytes`);

  const bytes = readFileSync(wasm);
  const one = pluginAlone(bytes, message, { direction: 0, dstPort: 5672, bufSize: 65535 });
  const many = pluginAlone(bytes, batch, { direction: 0, dstPort: 5672, bufSize: 65535 });
  if (one.parse(AMQP_PROTO) !== 1 || one.resultBytes() === 0 || many.parse(AMQP_PROTO) !== 1) throw new Error("the plugin did not log the message");
  showCpu("plugin alone: one message per parse_payload", cpuNsPerCall(() => one.parse(AMQP_PROTO)));
  show(`plugin alone: ${PER_PAYLOAD} messages per parse_payload, per message`, nsPerCall(() => many.parse(AMQP_PROTO), 300) / PER_PAYLOAD);
  const deliver = pluginAlone(bytes, delivery, { direction: 1, dstPort: 5672, bufSize: 65535 });
  const acked = pluginAlone(bytes, ack, { direction: 0, dstPort: 5672, bufSize: 65535 });
  if (deliver.parse(AMQP_PROTO) !== 1 || acked.parse(AMQP_PROTO) !== 1) throw new Error("the plugin did not log the delivery or the ack");
  showCpu("plugin alone: one Deliver + header + body per parse_payload", cpuNsPerCall(() => deliver.parse(AMQP_PROTO)));
  showCpu("plugin alone: one Basic.Ack per parse_payload", cpuNsPerCall(() => acked.parse(AMQP_PROTO)));

  const host = await WasmHost.load([wasm]);
  const ctx: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 5672, direction: 0, flowId: 1, bufSize: 65535 };
  if (!host.checkPayload(ctx, PROTOCOL_HEADER) || host.parsePayload(ctx, message, AMQP_PROTO)?.length !== 1) {
    throw new Error("the plugin did not log the message through the host");
  }
  const record = host.parsePayload(ctx, message, AMQP_PROTO)![0];
  console.log(`one record: ${record.attributes.length} attributes`);
  show("host-sim: one message per parse_payload", nsPerCall(() => host.parsePayload(ctx, message, AMQP_PROTO)));
  const c = host.counters()[0];
  console.log(`failures: ${c.hooks.parse_payload.failures}; memory ${c.hooks.parse_payload.memSize} bytes`);
}
