// Pinpoint gRPC plugin cost: ns per SendSpan message (pinpoint-node-agent's real spans
// and span chunks in DATA frames of an open stream), ns per HEADERS frame decode (the
// agent connection's header blocks: a first block of literals, then mostly indexed
// ones), and the release module size. Targets: < 3 µs per span message, < 48 KB.
// "plugin alone" calls the exports straight (bench/measure.ts); "via host-sim" adds the
// simulated agent's work (context, copies, decoding the records). CPU time per call.
import { readFileSync, statSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { DecodedPacket, decodeFrame, openCapture } from "../capture/open.ts";
import { WasmHost, type CallCtx } from "../sdk/host.ts";
import { nsPerCall, pluginAlone, pluginWasm, show } from "./measure.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const PROTO = 170;
const PREFACE_LEN = 24;

interface Frame {
  type: number;
  bytes: Uint8Array;
}

/** The HTTP/2 frames one client sent to `port` in the capture (its first connection), in order. */
function clientFrames(file: string, port: number): Frame[] {
  const reader = openCapture(file);
  const pkt = new DecodedPacket();
  const parts: Uint8Array[] = [];
  let client = -1;
  try {
    for (let f = reader.next(); f; f = reader.next()) {
      if (!decodeFrame(f, pkt) || pkt.status !== "ok" || pkt.payloadLength === 0 || pkt.dstPort !== port) continue;
      if (client < 0) client = pkt.srcPort;
      if (pkt.srcPort === client) parts.push(pkt.payload().slice());
    }
  } finally {
    reader.close();
  }
  const stream = Buffer.concat(parts);
  const frames: Frame[] = [];
  for (let at = PREFACE_LEN; at + 9 <= stream.length;) {
    const len = stream.readUIntBE(at, 3);
    frames.push({ type: stream[at + 3], bytes: stream.subarray(at, at + 9 + len) });
    at += 9 + len;
  }
  return frames;
}

/**
 * A payload that differs on every call: a PING frame whose counter `next()` bumps, then
 * `rest`. The plugin drops a payload identical to a recent one as a TCP retransmission.
 */
function varying(rest: Uint8Array): { bytes: Buffer; next: () => void } {
  const ping = Buffer.alloc(17);
  ping.writeUIntBE(8, 0, 3);
  ping[3] = 6;
  const bytes = Buffer.concat([ping, rest]);
  let n = 0n;
  return { bytes, next: () => void bytes.writeBigUInt64BE(++n, 9) };
}

export default async function (): Promise<void> {
  const wasm = pluginWasm("pinpoint-grpc");
  const size = statSync(wasm).size;
  console.log(`${relative(root, wasm)}: ${size} bytes (${(size / 1024).toFixed(1)} KiB; target < 48 KB)`);
  const bytes = readFileSync(wasm);
  const capture = `${root}tests/fixtures/pinpoint/pinpoint-full.pcap`;

  // SendSpan: the stream's HEADERS, then its DATA frames (one span or span chunk each) repeated
  // to 20 messages per payload; each call continues the same open stream.
  const span = clientFrames(capture, 9993);
  const headers = span.find((f) => f.type === 1)!;
  const data = span.filter((f) => f.type === 0 && f.bytes.length > 9 + 5);
  const messages = 20;
  const dataRun = Buffer.concat(Array.from({ length: messages }, (_, i) => data[i % data.length].bytes));
  const avg = Math.round(dataRun.length / messages);
  console.log(`SendSpan messages: ${data.length} distinct DATA frames from pinpoint-node-agent, ${avg} bytes on average`);
  const run = varying(Buffer.concat([headers.bytes, dataRun]));
  const spans = pluginAlone(bytes, run.bytes, { direction: 0, dstPort: 9993, bufSize: 65535 });
  if (spans.check() === 0 || spans.parse(PROTO) !== 1 || spans.resultBytes() === 0) throw new Error("the plugin did not log the spans");
  const perSpanCall = nsPerCall(() => {
    run.next();
    spans.parse(PROTO);
  }, 2_000);
  show(`plugin alone: SendSpan message (${messages} per payload, per message)`, perSpanCall / messages);

  const single = varying(Buffer.concat([headers.bytes, data[0].bytes]));
  const one = pluginAlone(bytes, single.bytes, { direction: 0, dstPort: 9993, bufSize: 65535 });
  show("plugin alone: one SendSpan message per payload (per call)", nsPerCall(() => {
    single.next();
    one.parse(PROTO);
  }));

  // HEADERS: the agent connection's blocks (PingSession, RequestAgentInfo, 2 × RequestApiMetaData).
  const agent = clientFrames(capture, 9991).filter((f) => f.type === 1);
  const blocks = varying(Buffer.concat(agent.map((f) => f.bytes)));
  const hp = pluginAlone(bytes, blocks.bytes, { direction: 0, dstPort: 9991, bufSize: 65535 });
  show(`plugin alone: HEADERS frame decode (${agent.length} blocks per payload, per frame)`, nsPerCall(() => {
    blocks.next();
    hp.parse(PROTO);
  }, 5_000) / agent.length);
  const firstBlock = varying(headers.bytes);
  const first = pluginAlone(bytes, firstBlock.bytes, { direction: 0, dstPort: 9993, bufSize: 65535 });
  show(`plugin alone: a connection's first HEADERS (${headers.bytes.length} bytes, literals + Huffman)`, nsPerCall(() => {
    firstBlock.next();
    first.parse(PROTO);
  }, 5_000));

  const floor = pluginAlone(bytes, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), { direction: 0, dstPort: 9993 });
  show("plugin alone: check_payload on HTTP/1 (not mine)", nsPerCall(() => floor.check()));

  const host = await WasmHost.load([wasm]);
  const ctx: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 9993, direction: 0, flowId: 1, bufSize: 65535 };
  const viaHost = varying(Buffer.concat([headers.bytes, dataRun]));
  const records = host.parsePayload(ctx, viaHost.bytes, PROTO)?.length ?? 0;
  if (records !== messages) throw new Error(`expected ${messages} records, got ${records}`);
  show(`via host-sim: SendSpan message (+ host's record decoding, per message)`, nsPerCall(() => {
    viaHost.next();
    host.parsePayload(ctx, viaHost.bytes, PROTO);
  }, 1_000) / messages);
  const c = host.counters()[0];
  console.log(`failures: ${c.hooks.parse_payload.failures}; memory ${c.hooks.parse_payload.memSize} bytes`);
}
