// The HTTP/2 + HPACK + gRPC request decoder on real bytes: a @grpc/grpc-js client talks to our
// collector through a loopback TCP proxy that records what the client sent.
import net from "node:net";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GrpcCaptureDecoder, type CapturedRequest } from "../../converter/capture.ts";
import { PSpanMessage, PApiMetaData } from "../../converter/schema.ts";
import { PinpointCollector, type ReceivedRequest } from "../../converter/serve.ts";

const identity = (b: Buffer): Buffer => b;

interface Recording {
  port: number;
  chunks: Buffer[];
  close(): Promise<void>;
}

/** TCP proxy to `target` that records client→server bytes. */
async function recordingProxy(target: number): Promise<Recording> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.on("data", (d: Buffer) => {
      chunks.push(Buffer.from(d));
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => client.write(d));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    chunks,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function spanMessage(i: number): Buffer {
  return Buffer.from(
    PSpanMessage.encode(
      PSpanMessage.fromObject({
        span: { version: 1, transactionId: { agentId: "agent-x", agentStartTime: 1000, sequence: i }, spanId: i + 1, parentSpanId: -1, startTime: 5000 + i, elapsed: 3, serviceType: 1400, acceptEvent: { rpc: `/r${i}` } },
      }),
    ).finish(),
  );
}

describe("HTTP/2 gRPC request decoder", () => {
  let collector: PinpointCollector;
  let proxy: Recording;
  const received: ReceivedRequest[] = [];
  const sent: Buffer[] = [];

  beforeAll(async () => {
    collector = new PinpointCollector({ agentPort: 0, statPort: 0, spanPort: 0 });
    collector.on("request", (r: ReceivedRequest) => received.push(r));
    await collector.start();
    proxy = await recordingProxy(collector.ports.span);
    const client = new grpc.Client(`127.0.0.1:${proxy.port}`, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set("agentid", "agent-x");
    md.set("applicationname", "app-x");
    md.set("starttime", "1000");
    // Two calls on one connection: the second's headers are HPACK-indexed from the first's.
    for (let call = 0; call < 2; call++) {
      await new Promise<void>((resolve, reject) => {
        const stream = client.makeClientStreamRequest("/v1.Span/SendSpan", identity, identity, md, (err) => (err ? reject(err) : resolve()));
        for (let i = 0; i < 3; i++) {
          const m = spanMessage(call * 3 + i);
          sent.push(m);
          stream.write(m);
        }
        stream.end();
      });
    }
    const api = Buffer.from(PApiMetaData.encode(PApiMetaData.fromObject({ apiId: 1, apiInfo: "Node Server Process" })).finish());
    await new Promise<void>((resolve, reject) =>
      client.makeUnaryRequest("/v1.Metadata/RequestApiMetaData", identity, identity, api, md, (err) => (err ? reject(err) : resolve())),
    );
    client.close();
  }, 30_000);

  afterAll(async () => {
    await proxy?.close();
    await collector?.stop();
  });

  it("finds every message with its method and agent headers, from the connection start", () => {
    const got: CapturedRequest[] = [];
    const d = new GrpcCaptureDecoder((r) => got.push(r));
    // Feed the recorded bytes in awkward pieces: frame headers and messages split across pushes.
    const all = Buffer.concat(proxy.chunks);
    for (let at = 0; at < all.length; at += 7) d.push({ connection: "c", fromClient: true, data: all.subarray(at, at + 7), timeUs: at });
    expect(got).toHaveLength(7);
    expect(received).toHaveLength(7);
    const spans = got.filter((r) => r.path === "/v1.Span/SendSpan");
    expect(spans.map((r) => Buffer.from(r.data))).toEqual(sent);
    for (const r of got) expect(r.header).toEqual({ agentId: "agent-x", applicationName: "app-x", agentStartTime: 1000 });
    expect(got[6].path).toBe("/v1.Metadata/RequestApiMetaData");
    expect(d.stats().unknownHeaderFields).toBe(0);
  });

  it("starting mid-connection: finds frames again and reports HPACK-indexed headers unknown, never guessed", () => {
    const got: CapturedRequest[] = [];
    const d = new GrpcCaptureDecoder((r) => got.push(r));
    const all = Buffer.concat(proxy.chunks);
    // Find the second call's HEADERS frame and start the capture a few bytes before it.
    let secondCallAt = -1;
    for (let at = 0; at < all.length && secondCallAt < 0; at++) {
      // HEADERS (type 1) on stream 3: the second call.
      if (all[at + 3] === 1 && all.readUInt32BE(at + 5) === 3 && all.readUIntBE(at, 3) < 200) secondCallAt = at;
    }
    expect(secondCallAt).toBeGreaterThan(0);
    d.push({ connection: "c", fromClient: true, data: all.subarray(secondCallAt - 5), timeUs: 0 });
    const spans = got.filter((r) => r.data.length > 0);
    expect(spans.length).toBeGreaterThanOrEqual(3);
    // The second call's agent headers were sent as dynamic-table references: unknown, not wrong.
    for (const r of spans) {
      expect(r.header.agentId === "" || r.header.agentId === "agent-x").toBe(true);
      if (r.path !== undefined) expect(r.path.startsWith("/v1.")).toBe(true);
    }
    expect(d.stats().unknownHeaderFields).toBeGreaterThan(0);
    expect(d.stats().resyncs).toBeGreaterThanOrEqual(1);
  });
});
