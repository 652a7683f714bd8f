// The collector stand-in against broken peers: bytes that are not HTTP/2, HTTP/2 that breaks the
// protocol, gRPC framing that lies, protobuf that does not decode, and a peer that stops answering
// pings. Each gets a GOAWAY, a gRPC error or a closed connection; the server stays up and serves the
// next agent.
import http2 from "node:http2";
import { within } from "../support/within.ts";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pipeline } from "../../converter/pipeline.ts";
import { PApiMetaData, PResult } from "../../converter/schema.ts";
import { PinpointCollector, type ReceivedRequest } from "../../converter/serve.ts";
import { frame } from "./support/h2-frame.ts";

const identity = (b: Buffer): Buffer => b;
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const SETTINGS = 4;
const PING = 6;
const GOAWAY = 7;
const COMPRESSION_ERROR = 9;

interface RawPeer {
  /** Frames received from the server, in order. */
  frames: { type: number; payload: Buffer }[];
  /** Resolves with the first frame of this type. */
  frameOf(type: number): Promise<{ type: number; payload: Buffer }>;
  closed: Promise<void>;
  socket: net.Socket;
}

/** A TCP peer that writes `bytes` and records the server's frames; it never answers anything. */
function rawPeer(port: number, bytes: Buffer): RawPeer {
  const socket = net.connect(port, "127.0.0.1");
  const frames: RawPeer["frames"] = [];
  let buf = Buffer.alloc(0);
  socket.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      frames.push({ type: buf[3], payload: buf.subarray(9, 9 + len) });
      buf = buf.subarray(9 + len);
      socket.emit("frame");
    }
  });
  socket.on("error", () => undefined); // a reset is one of the expected endings
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const frameOf = (type: number): Promise<{ type: number; payload: Buffer }> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const f = frames.find((x) => x.type === type);
        if (!f) return;
        socket.off("frame", check);
        resolve(f);
      };
      socket.on("frame", check);
      socket.once("close", () => reject(new Error(`closed without a frame of type ${type}`)));
      check();
    });
  socket.write(bytes);
  return { frames, frameOf, closed, socket };
}


function metadata(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("agentid", "agent-r");
  md.set("applicationname", "app-r");
  md.set("starttime", "1700000000000");
  return md;
}

describe("serve against malformed peers", () => {
  let collector: PinpointCollector;
  let pipeline: Pipeline;
  let client: grpc.Client;
  const peers: net.Socket[] = [];
  const sessions: http2.ClientHttp2Session[] = [];

  beforeAll(async () => {
    pipeline = new Pipeline([], undefined, undefined, undefined, { sweepMs: 0 });
    collector = new PinpointCollector({ agentPort: 0, statPort: 0, spanPort: 0, keepaliveMs: 200, keepaliveTimeoutMs: 200 });
    collector.on("request", (r: ReceivedRequest) => pipeline.request(r.path, r.header, r.data));
    await collector.start();
    client = new grpc.Client(`127.0.0.1:${collector.ports.agent}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    for (const s of peers) s.destroy();
    for (const s of sessions) s.destroy();
    client?.close();
    await collector?.stop();
    await pipeline?.close();
  });

  /** A well-formed agent call still gets the collector's answer. */
  async function stillServes(): Promise<void> {
    const api = Buffer.from(PApiMetaData.encode(PApiMetaData.fromObject({ apiId: 1, apiInfo: "x" })).finish());
    const res = await within("a well-formed call", 6000, new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest("/v1.Metadata/RequestApiMetaData", identity, identity, api, metadata(), { deadline: Date.now() + 5000 }, (err, r) => (err ? reject(err) : resolve(r as Buffer))),
      ));
    expect(PResult.toObject(PResult.decode(res))).toMatchObject({ success: true });
  }

  it("closes on bytes that are not HTTP/2, on every port", async () => {
    for (const port of Object.values(collector.ports)) {
      const peer = rawPeer(port, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(4)));
      peers.push(peer.socket);
      await within(`port ${port} to close the connection`, 5000, peer.closed);
      // It may say nothing, or SETTINGS and GOAWAY; never anything else.
      for (const f of peer.frames) expect([GOAWAY, SETTINGS]).toContain(f.type);
    }
    await stillServes();
  });

  it("answers HTTP/2 that breaks the protocol (undecodable HPACK) with GOAWAY COMPRESSION_ERROR", async () => {
    const badHeaders = frame(1, 0x4 | 0x1, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])); // an index that overflows
    const peer = rawPeer(collector.ports.span, Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0)), badHeaders]));
    peers.push(peer.socket);
    const goaway = await within("a GOAWAY", 5000, peer.frameOf(GOAWAY));
    expect(goaway.payload.readUInt32BE(4)).toBe(COMPRESSION_ERROR);
    await stillServes();
    // Node's HTTP/2 server then waits for the peer to close; keepalive closes it if it does not.
    await within("keepalive to close the connection left open after the GOAWAY", 5000, peer.closed);
  });

  it("answers gRPC framing that lies about its length with a gRPC error, and undecodable protobuf with the usual answer", async () => {
    const session = http2.connect(`http://127.0.0.1:${collector.ports.agent}`);
    sessions.push(session);
    session.on("error", () => undefined);
    const call = (body: Buffer): Promise<{ status: string | undefined; data: Buffer }> =>
      within("a gRPC answer", 5000, new Promise((resolve, reject) => {
          const req = session.request({ ":method": "POST", ":path": "/v1.Agent/RequestAgentInfo", "content-type": "application/grpc", te: "trailers", agentid: "agent-junk", applicationname: "app-r", starttime: "1700000000000" });
          const chunks: Buffer[] = [];
          let status: string | undefined;
          // grpc-status comes in the trailers, or in the headers of a trailers-only answer.
          const read = (h: http2.IncomingHttpHeaders): void => {
            const v = h["grpc-status"];
            if (typeof v === "string") status = v;
          };
          req.on("response", read);
          req.on("trailers", read);
          req.on("data", (d: Buffer) => chunks.push(d));
          req.on("end", () => resolve({ status, data: Buffer.concat(chunks) }));
          req.on("error", reject);
          req.end(body);
        }));
    // Message header claims 100 bytes; 3 follow, then the stream ends.
    const lying = await call(Buffer.from([0, 0, 0, 0, 100, 1, 2, 3]));
    expect(lying.status).toBeDefined();
    expect(lying.status).not.toBe("0");
    // Well framed, but not a PAgentInfo: answered as the collector answers, counted as malformed.
    const before = pipeline.ingestStats.malformed;
    const agents = pipeline.stats().agents;
    const junk = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const prefix = Buffer.from([0, 0, 0, 0, junk.length]);
    const ok = await call(Buffer.concat([prefix, junk]));
    expect(ok.status).toBe("0");
    expect(pipeline.ingestStats.malformed).toBe(before + 1);
    expect(pipeline.stats().agents).toBe(agents); // nothing half-made for agent-junk
    await stillServes();
  });

  it("closes a connection whose peer stops answering keepalive pings; live clients stay connected", async () => {
    const peer = rawPeer(collector.ports.stat, Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, Buffer.alloc(0))]));
    peers.push(peer.socket);
    await within("the silent peer's connection to be closed by keepalive", 5000, peer.closed);
    expect(peer.frames.map((f) => f.type)).toContain(PING);
    // The grpc-js client answered the same pings across these keepalive periods: same channel, still READY.
    await stillServes();
    expect(client.getChannel().getConnectivityState(false)).toBe(grpc.connectivityState.READY);
  });
});
