// The plugin on frames written by amqplib's encoders, through the host simulator.
import { beforeAll, describe, expect, it } from "vitest";
import type { WasmHost, CustomInfo } from "../../../sdk/host.ts";
import { Connection, DIR_C2S, DIR_S2C, attrs, loadPlugin, typeOf } from "./session.ts";
import { HEARTBEAT, PROTOCOL_HEADER, body, contentHeader, method, publish } from "./wire.ts";

let host: WasmHost;
let nextFlow = 1;
const conn = (bufSize = 65535) => new Connection(host, nextFlow++, bufSize);

beforeAll(async () => {
  host = await loadPlugin();
}, 120_000);

const TRACE = {
  "Pinpoint-TraceID": "agent-1^1700000000000^42",
  "Pinpoint-SpanID": "-1234567890",
  "Pinpoint-pSpanID": "987654321",
  "Pinpoint-Flags": "0",
  "Pinpoint-pAppName": "order-api",
  RequestID: "req-7f3a",
};

describe("claiming a connection", () => {
  it("claims on the protocol header as the client's request", () => {
    const claim = host.checkPayload(conn().ctx(DIR_C2S), PROTOCOL_HEADER);
    expect(claim).toMatchObject({ msgType: 1, name: "AMQP" });
  });

  it("claims a connection seen from its middle by who sends the method", () => {
    const deliver = method("BasicDeliver", 1, { consumerTag: "c", deliveryTag: 1, exchange: "x", routingKey: "k" });
    expect(host.checkPayload(conn().ctx(DIR_S2C), deliver)?.msgType).toBe(2);
    expect(host.checkPayload(conn().ctx(DIR_C2S), method("BasicPublish", 1, { exchange: "x" }))?.msgType).toBe(1);
    // Either side sends Basic.Ack: the broker port decides.
    const ack = method("BasicAck", 1, { deliveryTag: 1 });
    expect(host.checkPayload(conn().ctx(DIR_C2S), ack)?.msgType).toBe(1);
    expect(host.checkPayload(conn().ctx(DIR_S2C), ack)?.msgType).toBe(2);
  });

  it("refuses what is not AMQP", () => {
    for (const text of ["GET / HTTP/1.1\r\n\r\n", "\x01\x00\x01\x00\x00\x00\x04\x00\x14\x00\x0a\x00", "AMQ"]) {
      expect(host.checkPayload(conn().ctx(DIR_C2S), Buffer.from(text, "latin1"))).toBeNull();
    }
    // A method frame without its frame-end byte, and one with an unknown method.
    const f = method("QueueDeclare", 1, { queue: "q" });
    expect(host.checkPayload(conn().ctx(DIR_C2S), f.subarray(0, f.length - 1))).toBeNull();
    const unknown = Buffer.from(f);
    unknown.writeUInt16BE(99, 9);
    expect(host.checkPayload(conn().ctx(DIR_C2S), unknown)).toBeNull();
  });
});

describe("records", () => {
  it("names every method and pairs a synchronous request with its reply by channel", () => {
    const c = conn();
    const out: CustomInfo[] = [];
    out.push(...c.send(DIR_C2S, PROTOCOL_HEADER));
    out.push(...c.send(DIR_S2C, method("ConnectionStart", 0, {
      versionMajor: 0, versionMinor: 9, serverProperties: { product: "RabbitMQ" }, mechanisms: Buffer.from("PLAIN"), locales: Buffer.from("en_US"),
    })));
    out.push(...c.send(DIR_C2S, method("ConnectionStartOk", 0, {
      clientProperties: {}, mechanism: "PLAIN", response: Buffer.from("\0guest\0guest"), locale: "en_US",
    })));
    out.push(...c.send(DIR_S2C, method("ConnectionTune", 0, { channelMax: 2047, frameMax: 131072, heartbeat: 60 })));
    out.push(...c.send(DIR_C2S, Buffer.concat([
      method("ConnectionTuneOk", 0, { channelMax: 2047, frameMax: 4096, heartbeat: 5 }),
      method("ConnectionOpen", 0, { virtualHost: "/shop" }),
    ])));
    out.push(...c.send(DIR_S2C, method("ConnectionOpenOk", 0, {})));
    out.push(...c.send(DIR_C2S, method("ChannelOpen", 3, {})));
    out.push(...c.send(DIR_S2C, method("ChannelOpenOk", 3, {})));
    out.push(...c.send(DIR_C2S, method("QueueDeclare", 3, { queue: "orders", durable: true, arguments: { "x-queue-type": "classic" } })));
    out.push(...c.send(DIR_S2C, method("QueueDeclareOk", 3, { queue: "orders", messageCount: 5, consumerCount: 1 })));
    out.push(...c.send(DIR_C2S, method("QueueBind", 3, { queue: "orders", exchange: "shop", routingKey: "order.*", arguments: {} })));
    out.push(...c.send(DIR_S2C, method("QueueBindOk", 3, {})));

    expect(out.map((r) => [typeOf(r), attrs(r).channel, r.request_id, r.is_async])).toEqual([
      ["Protocol-Header", "0", null, true],
      ["Connection.Start", "0", null, true],
      ["Connection.StartOk", "0", null, true],
      ["Connection.Tune", "0", null, true],
      ["Connection.TuneOk", "0", null, true],
      ["Connection.Open", "0", 0, null],
      ["Connection.OpenOk", "0", 0, null],
      ["Channel.Open", "3", 3, null],
      ["Channel.OpenOk", "3", 3, null],
      ["Queue.Declare", "3", 3, null],
      ["Queue.DeclareOk", "3", 3, null],
      ["Queue.Bind", "3", 3, null],
      ["Queue.BindOk", "3", 3, null],
    ]);
    const [open, declare, declareOk, bind] = [out[5], out[9], out[10], out[11]];
    expect(open.req).toMatchObject({ domain: "/shop" });
    expect(attrs(out[4])).toMatchObject({ frame_max: "4096", heartbeat: "5" });
    expect(declare.req).toMatchObject({ req_type: "Queue.Declare", domain: "orders", resource: "orders", endpoint: "orders" });
    expect(declareOk.resp).toMatchObject({ status: "ok", req_type: "Queue.DeclareOk", endpoint: "orders" });
    expect(attrs(declareOk)).toMatchObject({ message_count: "5", consumer_count: "1" });
    expect(bind.req).toMatchObject({ domain: "orders", resource: "order.*", endpoint: "shop/order.*" });
    // Nothing of the credentials in Start-Ok.
    expect(JSON.stringify(out[2])).not.toContain("guest");
  });

  it("lifts ids and trace context from a publish's properties and headers", () => {
    const c = conn();
    const props = {
      messageId: "msg-0001", correlationId: "corr-9", appId: "checkout", type: "order.created",
      contentType: "application/json", headers: { ...TRACE, attempt: 2 },
    };
    const [r, ...rest] = c.send(DIR_C2S, publish(1, "shop", "order.created", props, "{\"id\":1}"));
    expect(rest).toEqual([]);
    expect(r.req).toMatchObject({ req_type: "Basic.Publish", domain: "shop", resource: "order.created", endpoint: "shop/order.created" });
    expect(r.is_async).toBe(true);
    expect(r.request_id).toBeNull();
    expect(r.trace).toMatchObject({
      trace_ids: [TRACE["Pinpoint-TraceID"]], span_id: TRACE["Pinpoint-SpanID"], parent_span_id: TRACE["Pinpoint-pSpanID"],
      x_request_id_0: TRACE.RequestID,
    });
    expect(attrs(r)).toMatchObject({
      channel: "1", body_size: "8", message_id: "msg-0001",
      correlation_id: "corr-9", app_id: "checkout", type: "order.created",
      "Pinpoint-Flags": "0", "Pinpoint-pAppName": "order-api",
    });
    // The ids in trace fields are not repeated as attributes.
    for (const key of ["Pinpoint-TraceID", "Pinpoint-SpanID", "Pinpoint-pSpanID", "RequestID"]) expect(attrs(r)).not.toHaveProperty(key);
    expect(attrs(r)).not.toHaveProperty("content_type");
    // Already the domain and resource.
    expect(attrs(r)).not.toHaveProperty("exchange");
    expect(attrs(r)).not.toHaveProperty("routing_key");
    expect(r.req_len).toBe(publish(1, "shop", "order.created", props, "{\"id\":1}").length - 8);
  });

  it("uses the message id as x_request_id only without a RequestID header", () => {
    const [r] = conn().send(DIR_C2S, publish(1, "", "q", { messageId: "m-1" }, "x"));
    expect(r.trace.x_request_id_0).toBe("m-1");
    expect(r.req).toMatchObject({ domain: "", resource: "q", endpoint: "/q" });
  });

  it("reads traceparent and sw8 the way DeepFlow's AMQP parser does", () => {
    const tp = "00-55a4bf6fd4f855f258c2c1b3cdb28c83-a0e79d6007c4e7c2-01";
    const [a] = conn().send(DIR_C2S, publish(1, "logs", "", { headers: { traceparent: tp } }, "hello"));
    expect(a.trace).toMatchObject({ trace_ids: ["55a4bf6fd4f855f258c2c1b3cdb28c83"], span_id: "a0e79d6007c4e7c2" });
    const sw8 = `1-${Buffer.from("trace-1").toString("base64")}-${Buffer.from("segment-1").toString("base64")}-3-c2Vydg==-aW5zdA==-L2E=-bG9jYWw=`;
    const [b] = conn().send(DIR_C2S, publish(1, "logs", "", { headers: { sw8 } }, "hello"));
    expect(b.trace).toMatchObject({ trace_ids: ["trace-1"], span_id: "segment-1-3" });
  });

  it("takes ids of every scalar field type and none from tables or arrays", () => {
    const headers = {
      RequestID: { "!": "int64", value: 123456789012 },
      "Pinpoint-TraceID": Buffer.from("bytes-trace-id"),
      "Pinpoint-SpanID": { "!": "int32", value: -5 },
      "Pinpoint-pSpanID": ["not", "an", "id"],
      "Pinpoint-Flags": { nested: "table" },
      EntryID: { "!": "decimal", value: { places: 2, digits: 1050 } },
    };
    const [r] = conn().send(DIR_C2S, publish(1, "x", "k", { headers }, "b"));
    expect(r.trace).toMatchObject({ trace_ids: ["bytes-trace-id"], span_id: "-5", parent_span_id: null, x_request_id_0: "123456789012" });
    expect(attrs(r)).toMatchObject({ EntryID: "10.50" });
    expect(attrs(r)).not.toHaveProperty("Pinpoint-Flags");
  });

  it("deliver and get-ok carry the consumer side's ids; get-ok pairs with get", () => {
    const c = conn();
    const props = { messageId: "msg-2", headers: { RequestID: "r-2" } };
    const content = Buffer.from("payload");
    const deliver = Buffer.concat([
      method("BasicDeliver", 2, { consumerTag: "ctag-1", deliveryTag: 7, redelivered: true, exchange: "shop", routingKey: "k" }),
      contentHeader(2, content.length, props), body(2, content),
    ]);
    const [d] = c.send(DIR_S2C, deliver);
    expect(d.req).toMatchObject({ req_type: "Basic.Deliver", domain: "shop", resource: "k", endpoint: "shop/k" });
    expect(d.trace.x_request_id_1).toBe("r-2");
    expect(attrs(d)).toMatchObject({ consumer_tag: "ctag-1", delivery_tag: "7", redelivered: "true", message_id: "msg-2", body_size: "7" });

    const [get] = c.send(DIR_C2S, method("BasicGet", 2, { queue: "orders", noAck: false }));
    expect(get).toMatchObject({ request_id: 2, req: { req_type: "Basic.Get", endpoint: "orders" } });
    const [ok] = c.send(DIR_S2C, Buffer.concat([
      method("BasicGetOk", 2, { deliveryTag: 8, redelivered: false, exchange: "shop", routingKey: "k", messageCount: 3 }),
      contentHeader(2, content.length, props), body(2, content),
    ]));
    expect(ok).toMatchObject({ request_id: 2, resp: { status: "ok", req_type: "Basic.GetOk", endpoint: "shop/k" } });
    expect(attrs(ok)).toMatchObject({ message_id: "msg-2", delivery_tag: "8", message_count: "3" });
    const [empty] = c.send(DIR_S2C, method("BasicGetEmpty", 2, {}));
    expect(empty).toMatchObject({ request_id: 2, resp: { status: "ok", req_type: "Basic.GetEmpty" } });
  });

  it("turns the broker's Channel.Close into an error response, and reply codes into statuses", () => {
    const c = conn();
    const cases: [number, string][] = [[404, "client_error"], [406, "client_error"], [403, "client_error"], [320, "server_error"], [541, "server_error"], [200, "ok"]];
    for (const [code, status] of cases) {
      const text = `code ${code}`;
      const [close] = c.send(DIR_S2C, method("ChannelClose", 1, { replyCode: code, replyText: text, classId: 60, methodId: 40 }));
      expect(close.resp).toMatchObject({ status, code, req_type: "Channel.Close", exception: status === "ok" ? "" : text });
      // No request waits on the channel (the refused method was a Publish): it stands alone.
      expect(close).toMatchObject({ request_id: null, is_async: true });
      expect(attrs(close)).toMatchObject({ reply_code: String(code), reply_text: text, failed_method: "Basic.Publish" });
    }
    // The client's answer stands alone; its own Connection.Close is a request.
    const [closeOk] = c.send(DIR_C2S, method("ChannelCloseOk", 1, {}));
    expect(closeOk).toMatchObject({ is_async: true, request_id: null });
    const [bye] = c.send(DIR_C2S, method("ConnectionClose", 0, { replyCode: 200, replyText: "Normal shutdown", classId: 0, methodId: 0 }));
    expect(bye).toMatchObject({ request_id: 0, req: { req_type: "Connection.Close" } });
    expect(attrs(bye)).toMatchObject({ reply_code: "200", reply_text: "Normal shutdown" });
    expect(attrs(bye)).not.toHaveProperty("failed_method");
  });

  it("the broker's Close answers the request waiting on its channel", () => {
    const c = conn();
    const [declare] = c.send(DIR_C2S, method("QueueDeclare", 4, { queue: "missing", passive: true }));
    expect(declare).toMatchObject({ request_id: 4, req: { req_type: "Queue.Declare" } });
    const text = "NOT_FOUND - no queue 'missing' in vhost '/'";
    const [close] = c.send(DIR_S2C, method("ChannelClose", 4, { replyCode: 404, replyText: text, classId: 50, methodId: 10 }));
    expect(close).toMatchObject({ request_id: 4, resp: { status: "client_error", code: 404, exception: text, result: "Channel.Close" } });
    expect(attrs(close)).toMatchObject({ failed_method: "Queue.Declare" });
    // Answered: a second Close on the channel finds nothing waiting.
    const [again] = c.send(DIR_S2C, method("ChannelClose", 4, { replyCode: 404, replyText: text, classId: 50, methodId: 10 }));
    expect(again).toMatchObject({ request_id: null, is_async: true });
  });

  it("an unroutable mandatory publish comes back as Basic.Return with its ids", () => {
    const ret = Buffer.concat([
      method("BasicReturn", 1, { replyCode: 312, replyText: "NO_ROUTE", exchange: "shop", routingKey: "nowhere" }),
      contentHeader(1, 1, { messageId: "lost-1" }), body(1, "x"),
    ]);
    const [r] = conn().send(DIR_S2C, ret);
    expect(r.resp).toMatchObject({ status: "client_error", code: 312, exception: "NO_ROUTE", req_type: "Basic.Return", endpoint: "shop/nowhere" });
    expect(attrs(r)).toMatchObject({ message_id: "lost-1" });
  });

  it("no-wait requests stand alone", () => {
    const [r] = conn().send(DIR_C2S, method("QueueDeclare", 1, { queue: "q", nowait: true }));
    expect(r).toMatchObject({ is_async: true, request_id: null });
  });

  it("logs heartbeats", () => {
    const c = conn();
    expect(c.send(DIR_C2S, Buffer.concat([HEARTBEAT, HEARTBEAT])).map(typeOf)).toEqual(["Heartbeat", "Heartbeat"]);
    expect(c.send(DIR_S2C, HEARTBEAT).map((r) => [typeOf(r), r.resp_len])).toEqual([["Heartbeat", 8]]);
  });
});

describe("segments", () => {
  const props = { messageId: "split-1", correlationId: "c-1", headers: { ...TRACE, big: "z".repeat(300) } };
  const stream = Buffer.concat([
    method("BasicPublish", 1, { exchange: "shop", routingKey: "a" }),
    contentHeader(1, 2000, props), body(1, Buffer.alloc(1000, 1)), body(1, Buffer.alloc(1000, 2)),
    method("QueueDeclare", 1, { queue: "orders" }),
    publish(2, "shop", "b", { messageId: "split-2" }, "small"),
    HEARTBEAT,
  ]);
  const summary = (rs: CustomInfo[]) => rs.map((r) => [typeOf(r), attrs(r).channel, attrs(r).message_id ?? null, r.trace.trace_ids, r.req_len]);

  it("several frames in one segment", () => {
    expect(summary(conn().send(DIR_C2S, stream))).toEqual([
      ["Basic.Publish", "1", "split-1", [TRACE["Pinpoint-TraceID"]], stream.indexOf(method("QueueDeclare", 1, { queue: "orders" })) - 2 * 8],
      ["Queue.Declare", "1", null, [], method("QueueDeclare", 1, { queue: "orders" }).length],
      ["Basic.Publish", "2", "split-2", [], publish(2, "shop", "b", { messageId: "split-2" }, "small").length - 8],
      ["Heartbeat", "0", null, [], 8],
    ]);
  });

  // The connection was claimed on its protocol header; then the stream comes in pieces.
  const opened = () => {
    const c = conn();
    c.send(DIR_C2S, PROTOCOL_HEADER);
    return c;
  };

  it("the same records wherever the stream is split in two", () => {
    const whole = summary(conn().send(DIR_C2S, stream));
    for (let cut = 1; cut < stream.length; cut++) {
      const c = opened();
      const got = [...c.send(DIR_C2S, stream.subarray(0, cut)), ...c.send(DIR_C2S, stream.subarray(cut))];
      expect(summary(got), `cut at ${cut}`).toEqual(whole);
    }
  });

  it("the same records when every segment is 7 bytes", () => {
    const c = opened();
    const got: CustomInfo[] = [];
    for (let at = 0; at < stream.length; at += 7) got.push(...c.send(DIR_C2S, stream.subarray(at, at + 7)));
    expect(summary(got)).toEqual(summary(conn().send(DIR_C2S, stream)));
  });

  it("payloads cut at buf_size: partial records, no invented ids, back in step at the next frame", () => {
    const c = conn(256);
    // The header frame is cut inside its headers table: the entries before the cut are whole.
    const first = c.send(DIR_C2S, stream.subarray(0, 256));
    expect(first.map(typeOf)).toEqual(["Basic.Publish"]);
    const ids = [first[0].trace.x_request_id_0, attrs(first[0]).message_id, first[0].trace.trace_ids[0], first[0].trace.span_id];
    for (const id of ids) if (id != null) expect([props.messageId, ...Object.values(TRACE)]).toContain(id);
    // The agent dropped the rest of that segment; the next one starts inside the body.
    const declareAt = stream.indexOf(method("QueueDeclare", 1, { queue: "orders" }));
    const next = c.send(DIR_C2S, stream.subarray(declareAt - 100));
    expect(summary(next)).toEqual(summary(conn().send(DIR_C2S, stream)).slice(1));
  });
});
