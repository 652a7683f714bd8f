// The collector stand-in: answers as Pinpoint's collector does, and with --upstream forwards every
// request byte for byte (with the agent's headers) to a real collector, relaying its answers.
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PApiMetaData, PResult, PSpanMessage } from "../../converter/schema.ts";
import { PinpointCollector, type ReceivedRequest } from "../../converter/serve.ts";

const identity = (b: Buffer): Buffer => b;

function metadata(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("agentid", "agent-u");
  md.set("applicationname", "app-u");
  md.set("starttime", "1700000000000");
  return md;
}

const span = Buffer.from(PSpanMessage.encode(PSpanMessage.fromObject({ span: { version: 1, transactionId: { agentId: "agent-u", agentStartTime: 1, sequence: 1 }, spanId: 5, parentSpanId: -1 } })).finish());
const api = Buffer.from(PApiMetaData.encode(PApiMetaData.fromObject({ apiId: 1, apiInfo: "x" })).finish());

async function exercise(port: number, spanPort: number): Promise<{ result: Buffer; pong: Buffer }> {
  const agentClient = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const spanClient = new grpc.Client(`127.0.0.1:${spanPort}`, grpc.credentials.createInsecure());
  try {
    await new Promise<void>((resolve, reject) => {
      const s = spanClient.makeClientStreamRequest("/v1.Span/SendSpan", identity, identity, metadata(), (err) => (err ? reject(err) : resolve()));
      s.write(span);
      s.end();
    });
    const result = await new Promise<Buffer>((resolve, reject) =>
      agentClient.makeUnaryRequest("/v1.Metadata/RequestApiMetaData", identity, identity, api, metadata(), (err, res) => (err ? reject(err) : resolve(res as Buffer))),
    );
    const pong = await new Promise<Buffer>((resolve, reject) => {
      const ping = agentClient.makeBidiStreamRequest("/v1.Agent/PingSession", identity, identity, metadata());
      const timer = setTimeout(() => reject(new Error("no pong")), 5000);
      ping.on("data", (d: Buffer) => {
        clearTimeout(timer);
        ping.end();
        resolve(d);
      });
      ping.on("error", reject);
      ping.write(Buffer.from([]));
    });
    return { result, pong };
  } finally {
    agentClient.close();
    spanClient.close();
  }
}

describe("pinpoint-otel serve as a collector", () => {
  let upstream: PinpointCollector;
  let relay: PinpointCollector;
  const atUpstream: ReceivedRequest[] = [];
  const atRelay: ReceivedRequest[] = [];

  beforeAll(async () => {
    upstream = new PinpointCollector({ agentPort: 0, statPort: 0, spanPort: 0 });
    upstream.on("request", (r: ReceivedRequest) => atUpstream.push(r));
    await upstream.start();
    relay = new PinpointCollector({ agentPort: 0, statPort: 0, spanPort: 0, upstream: { host: "127.0.0.1", agentPort: upstream.ports.agent, statPort: upstream.ports.stat, spanPort: upstream.ports.span } });
    relay.on("request", (r: ReceivedRequest) => atRelay.push(r));
    await relay.start();
  });

  afterAll(async () => {
    await relay?.stop();
    await upstream?.stop();
  });

  it("answers PResult{success} and pings, and forwards every request unchanged with the agent's headers", async () => {
    const { result, pong } = await exercise(relay.ports.agent, relay.ports.span);
    expect(PResult.toObject(PResult.decode(result))).toMatchObject({ success: true });
    expect(pong).toEqual(Buffer.from([]));
    // Forwarding is asynchronous for the client stream: wait (bounded) for the upstream to see it.
    for (let i = 0; i < 100 && atUpstream.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    const paths = (list: ReceivedRequest[]): string[] => list.map((r) => r.path).sort();
    expect(paths(atRelay)).toEqual(["/v1.Agent/PingSession", "/v1.Metadata/RequestApiMetaData", "/v1.Span/SendSpan"]);
    expect(paths(atUpstream)).toEqual(paths(atRelay));
    for (const r of atUpstream) {
      const mine = atRelay.find((x) => x.path === r.path) as ReceivedRequest;
      expect(r.data).toEqual(mine.data);
      expect(r.header).toEqual({ agentId: "agent-u", applicationName: "app-u", agentStartTime: 1_700_000_000_000 });
    }
    expect(relay.stats.upstreamErrors).toBe(0);
  });

  it("keeps answering the agent when the upstream is down, and counts the failures", async () => {
    const lonely = new PinpointCollector({ agentPort: 0, statPort: 0, spanPort: 0, upstream: { host: "127.0.0.1", agentPort: 1, statPort: 1, spanPort: 1 } });
    await lonely.start();
    try {
      const agentClient = new grpc.Client(`127.0.0.1:${lonely.ports.agent}`, grpc.credentials.createInsecure());
      const result = await new Promise<Buffer>((resolve, reject) =>
        agentClient.makeUnaryRequest("/v1.Metadata/RequestApiMetaData", identity, identity, api, metadata(), (err, res) => (err ? reject(err) : resolve(res as Buffer))),
      );
      agentClient.close();
      expect(PResult.toObject(PResult.decode(result))).toMatchObject({ success: true });
      expect(lonely.stats.upstreamErrors).toBe(1);
    } finally {
      await lonely.stop();
    }
  });
});
