// build/pinpoint-grpc.wasm driven call by call through the host simulator, on HTTP/2
// built here (hpack.js for header blocks, the Pinpoint agent's generated protobuf classes
// for messages): streaming vs unary records, statuses, the agentid fallback, compressed
// and cut messages, other services on a collector connection, and forgetting flows.
import { createRequire } from "node:module";
import { beforeAll, describe, expect, it } from "vitest";
import type { CallCtx, CustomInfo, WasmHost } from "../../../sdk/host.ts";
import { PINPOINT_PROTO, loadPlugin } from "./support.ts";
import { PREFACE, frame, grpcMessage } from "./frames.ts";

const require = createRequire(import.meta.url);
const hpack = require("hpack.js") as {
  compressor: { create(o: { table: { maxSize: number } }): { write(h: { name: string; value: string }[]): void; read(): Buffer | null } };
};
// The agent's own generated message classes (google-protobuf).
interface Msg { serializeBinary(): Uint8Array }
type Ctor = new () => Msg & Record<string, (v: unknown) => unknown>;
const pb = require("pinpoint-node-agent/lib/data/grpc/Span_pb.js") as Record<string, Ctor>;

function spanMessage(o: { agentId: string; start: number; seq: number; spanId: string; parent: string; rpc?: string; err?: number }): Uint8Array {
  const tx = new pb.PTransactionId();
  tx.setAgentid(o.agentId);
  // int64 fields of the generated classes take decimal strings (jstype JS_STRING).
  tx.setAgentstarttime(String(o.start));
  tx.setSequence(String(o.seq));
  const span = new pb.PSpan();
  span.setVersion(1);
  span.setTransactionid(tx);
  span.setSpanid(o.spanId);
  span.setParentspanid(o.parent);
  span.setServicetype(1010);
  span.setApiid(7);
  if (o.err) span.setErr(o.err);
  const accept = new pb.PAcceptEvent();
  accept.setRpc(o.rpc ?? "/orders");
  accept.setEndpoint("10.0.0.2:8080");
  span.setAcceptevent(accept);
  const msg = new pb.PSpanMessage();
  msg.setSpan(span);
  return msg.serializeBinary();
}

const AGENT = [["agentid", "order-1"], ["applicationname", "orders"], ["starttime", "1700000000000"]] as const;

class Conn {
  proto = 0;
  private enc = [hpack.compressor.create({ table: { maxSize: 4096 } }), hpack.compressor.create({ table: { maxSize: 4096 } })];
  started = false;

  constructor(readonly host: WasmHost, readonly flowId: number, readonly serverPort = 9993, readonly bufSize = 65535) {}

  ctx(dir: 0 | 1): CallCtx {
    const client = { ip: "10.0.0.1", port: 40000 };
    const server = { ip: "10.0.0.9", port: this.serverPort };
    const [src, dst] = dir === 0 ? [client, server] : [server, client];
    return { srcIp: src.ip, dstIp: dst.ip, srcPort: src.port, dstPort: dst.port, direction: dir, flowId: BigInt(this.flowId), bufSize: this.bufSize };
  }

  headers(dir: 0 | 1, stream: number, fields: readonly (readonly [string, string])[], endStream = false): Buffer {
    const enc = this.enc[dir];
    enc.write(fields.map(([name, value]) => ({ name, value })));
    return frame(1, 4 | (endStream ? 1 : 0), stream, enc.read() ?? Buffer.alloc(0));
  }

  request(stream: number, path: string, extra: readonly (readonly [string, string])[] = AGENT): Buffer {
    return this.headers(0, stream, [[":method", "POST"], [":scheme", "http"], [":path", path], [":authority", "collector:9993"],
      ["content-type", "application/grpc"], ["te", "trailers"], ...extra]);
  }

  trailers(stream: number, status: number, message = ""): Buffer {
    return Buffer.concat([
      this.headers(1, stream, [[":status", "200"], ["content-type", "application/grpc"]]),
      this.headers(1, stream, [["grpc-status", String(status)], ["grpc-message", message]], true),
    ]);
  }

  /** The records of one payload: check_payload first (as the agent does until a claim), then parse_payload. */
  send(dir: 0 | 1, bytes: Uint8Array): CustomInfo[] {
    if (!this.started && dir === 0) {
      bytes = Buffer.concat([PREFACE, frame(4, 0, 0, new Uint8Array(0)), bytes]);
      this.started = true;
    }
    if (this.proto === 0) {
      const claim = this.host.checkPayload(this.ctx(dir), bytes);
      if (!claim) return [];
      this.proto = claim.proto;
    }
    return this.host.parsePayload(this.ctx(dir), bytes, this.proto) ?? [];
  }
}

const attr = (i: CustomInfo, k: string) => i.attributes.find((a) => a.key === k)?.val;

let host: WasmHost;
let nextFlow = 1000;
const conn = (port = 9993, bufSize = 65535) => new Conn(host, nextFlow++, port, bufSize);

beforeAll(async () => {
  host = await loadPlugin();
}, 120_000);

describe("SendSpan (client streaming)", () => {
  it("one record per message, each logged on its own (is_async), then the stream's status", () => {
    const c = conn();
    const msgs = [0, 1, 2].map((i) => grpcMessage(spanMessage({ agentId: "order-1", start: 1700000000000, seq: i, spanId: String(1000 + i), parent: "-1" })));
    const recs = c.send(0, Buffer.concat([c.request(1, "/v1.Span/SendSpan"), frame(0, 0, 1, Buffer.concat(msgs))]));
    expect(recs.map((r) => r.trace.trace_ids[0])).toEqual(["order-1^1700000000000^0", "order-1^1700000000000^1", "order-1^1700000000000^2"]);
    for (const r of recs) {
      expect(r.is_async).toBe(true);
      expect(r.request_id).toBeNull();
      expect(r.req).toMatchObject({ req_type: "SendSpan", domain: "orders", resource: "/v1.Span/SendSpan", endpoint: "v1.Span/SendSpan" });
      expect(r.trace.parent_span_id).toBeNull(); // -1: the root
      expect(attr(r, "service_type")).toBe("1010");
      expect(attr(r, "api_id")).toBe("7");
      expect(attr(r, "rpc")).toBe("/orders");
      expect(attr(r, "agent_start_time")).toBe("1700000000000");
    }
    expect(recs.map((r) => r.trace.span_id)).toEqual(["1000", "1001", "1002"]);
    const end = c.send(1, c.trailers(1, 0));
    expect(end.length).toBe(1);
    expect(end[0].is_async).toBe(true);
    expect(end[0].resp).toMatchObject({ status: "ok", code: 0 });
  });

  it("a message split over DATA frames and payloads is one record; 64-bit span ids keep every digit", () => {
    const c = conn();
    const body = grpcMessage(spanMessage({ agentId: "order-1", start: 1700000000000, seq: 9, spanId: "-7345820418870711235", parent: "9223372036854775807" }));
    const all = Buffer.concat([c.request(1, "/v1.Span/SendSpan"), frame(0, 0, 1, body.subarray(0, 30)), frame(0, 0, 1, body.subarray(30))]);
    const first = c.send(0, all.subarray(0, all.length - 20));
    expect(first).toEqual([]);
    const recs = c.send(0, all.subarray(all.length - 20));
    expect(recs.length).toBe(1);
    expect(recs[0].trace.span_id).toBe("-7345820418870711235");
    expect(recs[0].trace.parent_span_id).toBe("9223372036854775807");
  });

  it("an empty transaction agent id means the sending agent: taken from the agentid header", () => {
    const c = conn();
    const recs = c.send(0, Buffer.concat([c.request(1, "/v1.Span/SendSpan"),
      frame(0, 0, 1, grpcMessage(spanMessage({ agentId: "", start: 1700000000001, seq: 5, spanId: "1", parent: "2", err: 1 })))]));
    expect(recs[0].trace.trace_ids).toEqual(["order-1^1700000000001^5"]);
    expect(recs[0].trace.parent_span_id).toBe("2");
    expect(attr(recs[0], "span_error")).toBe("1");
  });

  it("no agentid header and an empty transaction agent id: no trace id rather than a wrong one", () => {
    const c = conn();
    const recs = c.send(0, Buffer.concat([c.request(1, "/v1.Span/SendSpan", [["applicationname", "orders"]]),
      frame(0, 0, 1, grpcMessage(spanMessage({ agentId: "", start: 1700000000001, seq: 5, spanId: "1", parent: "2" })))]));
    expect(recs.length).toBe(1);
    expect(recs[0].trace.trace_ids).toEqual([]);
    expect(recs[0].trace.span_id).toBe("1");
  });

  it("a compressed message is logged without reading it", () => {
    const c = conn();
    const recs = c.send(0, Buffer.concat([c.request(1, "/v1.Span/SendSpan", [...AGENT, ["grpc-encoding", "gzip"]]),
      frame(0, 0, 1, grpcMessage(Uint8Array.from([0x1f, 0x8b, 8, 0]), true))]));
    expect(recs.length).toBe(1);
    expect(attr(recs[0], "message_kind")).toBe("compressed");
    expect(recs[0].trace.trace_ids).toEqual([]);
  });

  it("cut by the agent's payload truncation: the span's leading ids, marked partial, never invented ones", () => {
    const c = conn(9993, 300);
    const body = grpcMessage(spanMessage({ agentId: "order-1", start: 1700000000000, seq: 3, spanId: "77", parent: "66", rpc: "/" + "x".repeat(400) }));
    // The host cuts this payload to 300 bytes, inside the span's accept event: what it holds
    // of the message is handed over at once (what followed the cut is unknown).
    const recs = c.send(0, Buffer.concat([c.request(1, "/v1.Span/SendSpan"), frame(0, 0, 1, body)]));
    // The next payload starts with a new frame: nothing more of the cut message.
    expect(c.send(0, frame(8, 0, 0, Buffer.from([0, 0, 1, 0])))).toEqual([]);
    const spans = recs.filter((r) => r.trace.span_id);
    expect(spans.length).toBe(1);
    expect(spans[0].trace.trace_ids).toEqual(["order-1^1700000000000^3"]);
    expect(spans[0].trace.span_id).toBe("77");
    expect(attr(spans[0], "message_state")).toBe("partial");
    expect(attr(spans[0], "rpc")).toBeUndefined(); // cut inside it
  });
});

describe("unary calls", () => {
  it("request and response share the stream id as request_id; grpc-status and PResult set the status", () => {
    const c = conn(9991);
    const api = new pb.PApiMetaData();
    api.setApiid(12);
    api.setApiinfo("com.example.Orders.place(java.lang.String)");
    const req = c.send(0, Buffer.concat([c.request(3, "/v1.Metadata/RequestApiMetaData"), frame(0, 1, 3, grpcMessage(api.serializeBinary()))]));
    expect(req.length).toBe(1);
    expect(req[0].request_id).toBe(3);
    expect(req[0].is_async).toBeNull();
    expect(attr(req[0], "api_id")).toBe("12");
    expect(attr(req[0], "api_info")).toBe("com.example.Orders.place(java.lang.String)");
    const result = new pb.PResult();
    result.setSuccess(false);
    result.setMessage("metadata store full");
    const resp = c.send(1, Buffer.concat([c.headers(1, 3, [[":status", "200"], ["content-type", "application/grpc"]]),
      frame(0, 0, 3, grpcMessage(result.serializeBinary())), c.headers(1, 3, [["grpc-status", "0"]], true)]));
    expect(resp.length).toBe(1);
    expect(resp[0].request_id).toBe(3);
    expect(resp[0].resp).toMatchObject({ status: "server_error", code: 0, exception: "metadata store full" });
  });

  for (const [code, status] of [[3, "client_error"], [14, "server_error"], [16, "client_error"], [13, "server_error"]] as const) {
    it(`grpc-status ${code} → ${status}, grpc-message as the exception`, () => {
      const c = conn(9991);
      c.send(0, Buffer.concat([c.request(1, "/v1.Agent/RequestAgentInfo"), frame(0, 1, 1, grpcMessage(new Uint8Array(0)))]));
      const resp = c.send(1, c.trailers(1, code, "went wrong"));
      expect(resp[0].resp).toMatchObject({ status, code, exception: "went wrong" });
    });
  }

  it("a server RST_STREAM ends a unary call with an error record", () => {
    const c = conn(9991);
    c.send(0, Buffer.concat([c.request(1, "/v1.Agent/RequestAgentInfo"), frame(0, 1, 1, grpcMessage(new Uint8Array(0)))]));
    const resp = c.send(1, frame(3, 0, 1, Buffer.from([0, 0, 0, 2])));
    expect(resp.length).toBe(1);
    expect(resp[0].request_id).toBe(1);
    expect(resp[0].resp).toMatchObject({ status: "server_error", exception: "RST_STREAM 2" });
  });
});

describe("what is not ours", () => {
  it("another service on a claimed collector connection is not logged", () => {
    const c = conn(9991);
    expect(c.send(0, Buffer.concat([c.request(1, "/v1.Agent/RequestAgentInfo"), frame(0, 1, 1, grpcMessage(new Uint8Array(0)))])).length).toBe(1);
    const health = c.send(0, Buffer.concat([c.request(3, "/grpc.health.v1.Health/Check", []), frame(0, 1, 3, grpcMessage(new Uint8Array(0)))]));
    expect(health).toEqual([]);
    expect(c.send(1, c.trailers(3, 0))).toEqual([]);
  });

  it("a Pinpoint path on any port is claimed; other gRPC on other ports is not", () => {
    const pinpoint = conn(15000);
    expect(pinpoint.send(0, pinpoint.request(1, "/v1.Span/SendSpan")).length).toBe(0);
    expect(pinpoint.proto).toBe(PINPOINT_PROTO);
    const other = conn(15001);
    other.send(0, other.request(1, "/orders.Orders/Place", []));
    expect(other.proto).toBe(0);
  });

  it("HTTP/1 and TLS on a collector port are not claimed", () => {
    expect(host.checkPayload(conn(9993).ctx(0), Buffer.from("POST /v1.Span/SendSpan HTTP/1.1\r\nHost: x\r\n\r\n"))).toBeNull();
    expect(host.checkPayload(conn(9993).ctx(0), Uint8Array.from([0x16, 3, 1, 0, 0xa5, 1, 0, 0, 0xa1, 3, 3]))).toBeNull();
  });
});

describe("per-flow state", () => {
  it("a TCP retransmission fed again (as the agent does) is not decoded twice: later HPACK indices stay right", () => {
    const c = conn();
    const as = (app: string) => [["agentid", "order-1"], ["applicationname", app], ["starttime", "1700000000000"]] as const;
    c.send(0, c.request(1, "/v1.Span/SendSpan"));
    const a = c.request(3, "/v1.Span/SendSpan", as("app-a"));
    c.send(0, a);
    c.send(0, c.request(5, "/v1.Span/SendSpan", as("app-b")));
    // Segment `a` retransmitted: decoded again, "applicationname: app-a" would become the newest entry.
    expect(c.send(0, a)).toEqual([]);
    const msg = grpcMessage(spanMessage({ agentId: "order-1", start: 1700000000000, seq: 4, spanId: "9", parent: "-1" }));
    // hpack.js refers to "applicationname: app-b" by its index now.
    const recs = c.send(0, Buffer.concat([c.request(7, "/v1.Span/SendSpan", as("app-b")), frame(0, 0, 7, msg)]));
    expect(recs.length).toBe(1);
    expect(recs[0].req.domain).toBe("app-b");
    expect(attr(recs[0], "hpack_state")).toBeUndefined();
  });

  it("a flow forgotten for others (LRU) comes back with unknown HPACK entries, reported, never guessed", () => {
    const c = conn();
    c.send(0, c.request(1, "/v1.Span/SendSpan"));
    // More flows than the plugin keeps (config MAX_FLOWS = 131,072), each opening a stream
    // (the same bytes: each flow's HPACK table starts empty).
    const o = conn();
    const opening = Buffer.concat([PREFACE, frame(4, 0, 0, new Uint8Array(0)), o.request(1, "/v1.Span/SendSpan")]);
    const first = nextFlow;
    nextFlow += 131_100;
    for (let i = 0; i < 131_100; i++) host.parsePayload({ ...o.ctx(0), flowId: BigInt(first + i) }, opening, PINPOINT_PROTO);
    // The same headers again: now all references to the table the plugin forgot.
    const recs = c.send(0, Buffer.concat([c.request(3, "/v1.Span/SendSpan"),
      frame(0, 0, 3, grpcMessage(spanMessage({ agentId: "order-1", start: 1700000000000, seq: 1, spanId: "5", parent: "-1" })))]));
    expect(recs.length).toBe(1);
    expect(attr(recs[0], "hpack_state")).toBe("incomplete");
    expect(attr(recs[0], "agent_id")).toBeUndefined();
    expect(recs[0].trace.trace_ids).toEqual(["order-1^1700000000000^1"]);
    const c0 = host.counters()[0];
    expect(c0.hooks.parse_payload.failures).toBe(0);
  });
});
