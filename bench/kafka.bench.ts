// Kafka plugin cost: ns per message for a Produce request with 10 records with headers —
// sent within one trace, or each record from its own Pinpoint trace (both made by kafkajs'
// encoder), or each record carrying its own Pinpoint, traceparent and sw8 contexts (30
// trace ids: kafkajs, tests/fixtures/kafka/v7.pcap) —, whole and cut to the agent's
// default 1024 bytes, gzip, and the release module size. Targets: < 3 µs per such
// request, < 48 KB.
import { createRequire } from "node:module";
import { readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DecodedPacket, decodeFrame, openCapture } from "../capture/open.ts";
import { WasmHost, type CallCtx } from "../sdk/host.ts";
import { cpuNsPerCall, pluginAlone, pluginWasm, showCpu } from "./measure.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const PROTO = 150;

/** The first request payload of a capture that satisfies `want`, and the response that follows it. */
function pick(file: string, want: (p: Uint8Array) => boolean): { request: Uint8Array; response: Uint8Array } {
  const rd = openCapture(file);
  const pkt = new DecodedPacket();
  let request: Uint8Array | null = null;
  try {
    for (let f = rd.next(); f; f = rd.next()) {
      if (!decodeFrame(f, pkt) || pkt.payloadLength === 0) continue;
      const p = Uint8Array.from(pkt.payload());
      if (request === null) {
        if (want(p)) request = p;
      } else if (p.length >= 8 && Buffer.from(p).readInt32BE(4) === Buffer.from(request).readInt32BE(8)) {
        return { request, response: p };
      }
    }
  } finally {
    rd.close();
  }
  throw new Error(`no such request in ${file}`);
}

const require = createRequire(import.meta.url);
const encodeRequest = require("kafkajs/src/protocol/request") as (o: object) => Promise<{ buffer: Buffer }>;
const produce = require("kafkajs/src/protocol/requests/produce") as { protocol: (o: { version: number }) => (a: object) => { request: object } };

/** A Produce v7 request made by kafkajs' encoder: 10 records, record i with headers(i). */
async function produce10(headers: (i: number) => Record<string, string>, compression: number): Promise<Uint8Array> {
  const req = produce.protocol({ version: 7 })({
    acks: -1, timeout: 30000, compression,
    topicData: [{ topic: "orders", partitions: [{ partition: 0, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `{"order":${i},"items":[1,2,3]}`, headers: headers(i) })) }] }],
  }).request;
  return Uint8Array.from((await encodeRequest({ correlationId: 7, clientId: "checkout-service", request: req })).buffer);
}

/** 10 records sent within one trace (same Pinpoint, traceparent and sw8 context), each with its own message-id and RequestID. */
const oneTraceHeaders = (i: number) => ({
  "message-id": `order-${1000 + i}`,
  "Pinpoint-TraceID": "checkout^1700000000000^42",
  "Pinpoint-SpanID": "7345820418870711235",
  "Pinpoint-pSpanID": "-1",
  "Pinpoint-Flags": "0",
  RequestID: `req-${5000 + i}`,
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  sw8: "1-MWUwZDQ0ZTRmODQ1NGYxNg==-MWUwZDQ0ZTRmODQ1NGYxNw==-3-Y2hlY2tvdXQ=-aW5zdDE=-L29yZGVy-a2Fma2E6OTA5Mg==",
});

/**
 * 10 records each sent from its own Pinpoint trace (a producer batching the sends of
 * different requests): the headers Pinpoint's Kafka interceptor writes, with the
 * record's message-id and RequestID.
 */
const pinpointTracesHeaders = (i: number) => ({
  "message-id": `order-${1000 + i}`,
  "Pinpoint-TraceID": `checkout-7f9c^1700000000000^${4200 + i}`,
  "Pinpoint-SpanID": String(7345820418870711235n + BigInt(i) * 7919n),
  "Pinpoint-pSpanID": String(-2188410066355291401n - BigInt(i) * 104729n),
  "Pinpoint-Flags": "0",
  "Pinpoint-pAppName": "checkout",
  "Pinpoint-pAppType": "1210",
  "Pinpoint-Host": "orders-kafka:9092",
  RequestID: `req-${5000 + i}`,
});

export default async function (): Promise<void> {
  const wasm = pluginWasm("kafka");
  const size = statSync(wasm).size;
  console.log(`build/kafka.wasm: ${size} bytes (${(size / 1024).toFixed(1)} KiB; target < 48 KB)`);

  const pcap = `${root}tests/fixtures/kafka/v7.pcap`;
  const isProduce = (p: Uint8Array) => p.length > 12 && p[4] === 0 && p[5] === 0;
  const tenTraces = pick(pcap, (p) => isProduce(p) && p.length > 3000); // 10 records, each its own trace: 30 trace ids
  const oneTrace = await produce10(oneTraceHeaders, 0);
  const oneTraceGzip = await produce10(oneTraceHeaders, 1);
  const pinpointTraces = await produce10(pinpointTracesHeaders, 0);
  console.log(`Produce v7, 10 records: one trace (8 headers each) ${oneTrace.length} bytes (gzip ${oneTraceGzip.length}); ` +
    `ten Pinpoint traces (9 headers each) ${pinpointTraces.length} bytes; ten traces x three contexts (kafkajs capture, 8 headers each) ${tenTraces.request.length} bytes`);

  const bytes = readFileSync(wasm);
  const cases = [
    ["Produce, 10 records, one trace (whole)", oneTrace, 0, 65535],
    ["Produce, 10 records, one trace (cut to 1024 bytes)", oneTrace, 0, 1024],
    ["Produce, 10 gzip records, one trace (whole)", oneTraceGzip, 0, 65535],
    ["Produce, 10 records, ten Pinpoint traces (whole)", pinpointTraces, 0, 65535],
    ["Produce, 10 records, ten traces x Pinpoint+traceparent+sw8 (whole)", tenTraces.request, 0, 65535],
    ["Produce, 10 records, ten traces x Pinpoint+traceparent+sw8 (cut to 1024 bytes)", tenTraces.request, 0, 1024],
    ["Produce response (no request seen: not decoded)", tenTraces.response, 1, 1024],
  ] as const;
  for (const [label, payload, dir, bufSize] of cases) {
    const plugin = pluginAlone(bytes, payload, { direction: dir, dstPort: 9092, flowId: 7, bufSize });
    if (plugin.parse(PROTO) !== 1) throw new Error(`the plugin did not take the ${label}`);
    showCpu(`plugin alone: ${label}`, cpuNsPerCall(() => plugin.parse(PROTO), 20_000, 9));
  }

  // Through the host simulator (context serialization, result decoding in JS included).
  const host = await WasmHost.load([wasm]);
  const ctx: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 9092, direction: 0, flowId: 1, bufSize: 65535 };
  // What each whole request gives: the work measured above is the work of a whole record.
  for (const [label, payload] of [["one trace", oneTrace], ["ten Pinpoint traces", pinpointTraces], ["ten traces x three contexts", tenTraces.request]] as const) {
    const rec = (host.parsePayload(ctx, payload, PROTO) ?? [])[0];
    console.log(`${label}: a record with ${rec?.attributes.length ?? 0} attributes, ${rec?.trace.trace_ids.length ?? 0} trace ids`);
  }
  showCpu("via WasmHost: Produce, 10 records, one trace, parse", cpuNsPerCall(() => host.parsePayload(ctx, oneTrace, PROTO), 5000, 9));
  const c = host.counters()[0];
  console.log(`failures: ${c.hooks.parse_payload.failures}; memory ${c.hooks.parse_payload.memSize} bytes`);
}
