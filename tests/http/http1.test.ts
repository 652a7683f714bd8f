// The HTTP/1 parser the replay runs for the agent (sdk/http/): what it takes from a
// payload, as agent/src/flow_generator/protocol_logs/http.rs does; the agent's own unit tests
// of handle_endpoint, HttpEndpointTrie, TraceType and header priorities, ported; and the merge
// of a plugin's hook answer (merge_custom_to_http) and of a session (HttpInfo::merge).
import { describe, expect, it } from "vitest";
import { decodeRecords, encodePbRecord, frameRecords, DIR_C2S, DIR_S2C, type AppInfo } from "../../sdk/result.ts";
import { AppRespStatus } from "../../sdk/schema.generated.ts";
import { base64Standard, decodeSpanId, decodeTraceId, handleEndpoint, HttpEndpointTrie, httpParserConfig, traceType, type AgentHttpConfig } from "../../sdk/http/config.ts";
import { http1Check, parseHttp1 } from "../../sdk/http/http1.ts";
import { HttpPerfCache, mergeCustomToHttp, mergeHttp, sentAttributes, traceIdStrings, type HttpInfo } from "../../sdk/http/info.ts";

const te = new TextEncoder();
const bytes = (s: string) => te.encode(s);
const req = (s: string, cfg: Partial<AgentHttpConfig> = {}) => parseHttp1(bytes(s), true, httpParserConfig(cfg))?.info ?? null;
const resp = (s: string, cfg: Partial<AgentHttpConfig> = {}) => parseHttp1(bytes(s), false, httpParserConfig(cfg))?.info ?? null;

describe("check_payload (HTTP/1): a request line claims the flow", () => {
  it.each([
    ["GET / HTTP/1.1\r\n\r\n", true],
    ["GET / HTTP/1.0\r\n", true], // exactly the 14 bytes it needs
    ["LINK /x HTTP/1.1\r\n", true], // one of the 15 names check accepts (parse does not)
    ["OPTIONS * HTTP/0.9\r\n", true],
    ["GET / HTTP/1.1", false], // no CRLF yet
    ["GET / HTTP/2\r\n", false],
    ["get / HTTP/1.1\r\n", false],
    ["HTTP/1.1 200 OK\r\n\r\n", false], // a response never claims
    ['POST","name":"一些中文"\r\nblablabla\r\n', false], // the agent's segmented_tcp_false_positive case
    ["\r\nGET / HTTP/1.1\r\n", false],
  ])("%j → %s", (payload, claims) => {
    expect(http1Check(bytes(payload))).toBe(claims);
  });
});

describe("parse_http_v1", () => {
  it("takes method, path, version, host and content length from a request", () => {
    const i = req("POST /query?1590632942 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 85\r\nhost: b.example\r\n\r\n{}")!;
    expect([i.msgType, i.method, i.path, i.version, i.host, i.reqContentLength, i.respContentLength]).toEqual(["request", "POST", "/query?1590632942", "1.1", "b.example", 85, null]);
    expect(i.endpoint).toBe("/query");
  });

  it("takes version, code and status from a response; 1xx other than 101 gives no log", () => {
    const r = resp("HTTP/1.0 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")!;
    expect([r.msgType, r.version, r.statusCode, r.status, r.respContentLength, r.endpoint]).toEqual(["response", "1.0", 404, "client_error", 9, null]);
    expect(resp("HTTP/1.1 100 Continue\r\n\r\n")).toBeNull();
    expect(resp("HTTP/1.1 102 Processing\r\n\r\n")).toBeNull();
    expect(resp("HTTP/1.1 103 Early Hints\r\n\r\n")).toBeNull();
    expect(resp("HTTP/1.1 101 Switching Protocols\r\n\r\n")?.status).toBe("ok");
    expect(resp("HTTP/1.1 600 x\r\n\r\n")?.status).toBe("server_error");
    expect(resp("HTTP/1.1 601 x\r\n\r\n")).toBeNull();
    expect(resp("HTTP/1.1 99 x\r\n\r\n")).toBeNull();
    expect(resp("HTTP/2 200 OK\r\n\r\n")).toBeNull();
    expect(resp("HTTP/1.1 200\r\n\r\n")).toBeNull(); // under the 13 bytes of "HTTP/1.1 200 "
  });

  it("refuses what the agent refuses", () => {
    expect(req("LINK /x HTTP/1.1\r\n\r\n")).toBeNull(); // not a Method
    expect(req("GET /x HTTP/1.2\r\n\r\n")).toBeNull();
    expect(req("GET  /x HTTP/1.1\r\n\r\n")).toBeNull(); // two spaces: the version part is "/x HTTP/1.1"
    expect(req("GET /x HTTP/1.1")).toBeNull(); // no CRLF after the first line
    expect(req("HTTP/1.1 200 OK\r\n\r\n")).toBeNull(); // a response line sent by the client
    expect(resp("GET / HTTP/1.1\r\n\r\n")).toBeNull(); // a request line sent by the server
  });

  it("reads headers up to the empty line, a line cut short, or a line that is not UTF-8", () => {
    // The second request of a pipelined pair is never read: one log per payload.
    const p = req("GET /p/1 HTTP/1.1\r\nHost: one\r\n\r\nGET /p/2 HTTP/1.1\r\nHost: two\r\nContent-Length: 5\r\n\r\n")!;
    expect([p.path, p.host, p.reqContentLength]).toEqual(["/p/1", "one", null]);
    // A header cut by the payload truncation (no CRLF) is not read.
    expect(req("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 12")!.reqContentLength).toBeNull();
    const bad = new Uint8Array([...bytes("GET / HTTP/1.1\r\nX-Bad: "), 0xff, ...bytes("\r\nHost: after\r\n\r\n")]);
    expect(parseHttp1(bad, true, httpParserConfig())!.info.host).toBe("");
    // LF-only line ends: everything to the first CRLF is one line.
    expect(req("GET / HTTP/1.1\r\nX-A: 1\nHost: lf\r\n\r\n")!.host).toBe("");
    // str::from_utf8 keeps a byte order mark: a line starting with one names no known header.
    expect(req("GET / HTTP/1.1\r\n\ufeffHost: bom\r\n\r\n")!.host).toBe("");
    expect(req("GET / HTTP/1.1\r\nHost: \ufeffbom\r\n\r\n")!.host).toBe("\ufeffbom");
  });

  it("header names are lowercased, not trimmed; values trimmed; empty values skipped", () => {
    expect(req("GET / HTTP/1.1\r\nHost : spaced\r\n\r\n")!.host).toBe("");
    expect(req("GET / HTTP/1.1\r\nHOST:   shout  \r\n\r\n")!.host).toBe("shout");
    expect(req("GET / HTTP/1.1\r\nHost:\r\nHost: second\r\n\r\n")!.host).toBe("second");
  });

  it("Content-Length: the last one; not a u32 after leading whitespace → 0", () => {
    const cl = (v: string) => req(`POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length:${v}\r\n\r\n`)!.reqContentLength;
    expect(cl(" 42")).toBe(42);
    expect(cl(" +42")).toBe(42);
    expect(cl(" 42 ")).toBe(0); // the raw value, trailing space included, is parsed
    expect(cl(" -1")).toBe(0);
    expect(cl(" 4294967296")).toBe(0);
  });

  it("keeps the raw request / error response parts as the defaults of tag_extraction.raw say", () => {
    const r = parseHttp1(bytes("POST / HTTP/1.1\r\nHost: h\r\n\r\nbody"), true, httpParserConfig())!;
    expect([r.info.requestHeader?.length, r.info.requestPayload?.length, new TextDecoder().decode(r.body)]).toEqual([0, 0, "body"]);
    const e = parseHttp1(bytes(`HTTP/1.1 500 x\r\nServer: s\r\n\r\n${"e".repeat(300)}`), false, httpParserConfig())!;
    expect([e.info.responseHeader, e.info.responsePayload?.length]).toEqual([null, 256]);
    // V1Structure looks for CRLFCRLF after the first line's CRLF: with no header, no body is found.
    expect(parseHttp1(bytes("HTTP/1.1 500 x\r\n\r\noops"), false, httpParserConfig())!.info.responsePayload).toBeNull();
    const ok = parseHttp1(bytes("HTTP/1.1 200 x\r\n\r\nfine"), false, httpParserConfig())!;
    expect(ok.info.responsePayload).toBeNull();
    const more = parseHttp1(bytes("POST / HTTP/1.1\r\nHost: h\r\n\r\nbody"), true, httpParserConfig({ raw: { error_request_header: 8, error_request_payload: 2, error_response_header: 0, error_response_payload: 0 } }))!;
    expect([new TextDecoder().decode(more.info.requestHeader!), new TextDecoder().decode(more.info.requestPayload!)]).toEqual(["POST / H", "bo"]);
  });
});

describe("trace, span, x-request-id and real-client headers", () => {
  it("with the agent's defaults: traceparent and sw8; X_Request_ID and X_Forwarded_For only as spelt", () => {
    const i = req("GET / HTTP/1.1\r\ntraceparent: 00-tid-sid-01\r\nX-Request-ID: dashed\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n")!;
    expect([traceIdStrings(i.traceIds), i.spanId.value, i.xRequestId0.value, i.clientIp]).toEqual([["tid"], "sid", "", null]);
    const u = req("GET / HTTP/1.1\r\nx_request_id: under\r\nX_FORWARDED_FOR: 10.0.0.2\r\n\r\n")!;
    expect([u.xRequestId0.value, u.clientIp?.value]).toEqual(["under", "10.0.0.2"]);
    const r = resp("HTTP/1.1 200 OK\r\nX_Request_ID: back\r\nX_Forwarded_For: 1.1.1.1\r\n\r\n")!;
    expect([r.xRequestId0.value, r.xRequestId1.value, r.clientIp]).toEqual(["", "back", null]); // real client: requests only
  });

  it("a configured name takes the value as is (e.g. Pinpoint's)", () => {
    const cfg = { apm_trace_id: ["traceparent", "sw8", "Pinpoint-TraceID"], apm_span_id: ["traceparent", "sw8", "Pinpoint-SpanID"], x_request_id: ["X-Request-ID"] };
    const i = req("GET / HTTP/1.1\r\nPinpoint-TraceID: app^1700000000000^1\r\npinpoint-spanid:  -42 \r\nX-Request-ID: r1\r\n\r\n", cfg)!;
    expect([traceIdStrings(i.traceIds), i.spanId.value, i.xRequestId0.value]).toEqual([["app^1700000000000^1"], "-42", "r1"]);
  });

  it("priorities: the agent's header_priority test", () => {
    const cfg = {
      http_real_client: ["X_Forwarded_For", "Client"],
      x_request_id: ["X_Request_ID", "x-request-id"],
      apm_trace_id: ["x-b3-traceid", "traceparent", "sw8"],
      apm_span_id: ["x-b3-spanid", "traceparent", "sw8"],
    };
    const i = req(
      "GET / HTTP/1.1\r\nClient: 172.1.23.41\r\nX_Forwarded_For: 172.1.23.42\r\nClient: 172.1.23.41\r\n" +
        "x-request-id: 123\r\nX_Request_ID: 456\r\nx-request-id: 123\r\n" +
        "traceparent: 00-trace-span-01\r\nx-b3-traceid: b3traceid\r\ntraceparent: 00-trace-span-01\r\n\r\n",
      cfg,
    )!;
    expect(i.clientIp?.value).toBe("172.1.23.42");
    expect(i.xRequestId0.value).toBe("456");
    expect(traceIdStrings(i.traceIds)).toEqual(["b3traceid", "trace"]);
    expect(i.spanId.value).toBe("span");
    // One trace id only (the first by priority) without multiple_trace_id_collection.
    const single = req("GET / HTTP/1.1\r\nx-b3-traceid: b3\r\ntraceparent: 00-tp-s-01\r\n\r\n", { ...cfg, multiple_trace_id_collection: false })!;
    expect(traceIdStrings(single.traceIds)).toEqual(["b3"]);
  });

  it("copy_apm_trace_id copies the first trace id to an attribute; custom_fields copy headers", () => {
    const i = req("GET / HTTP/1.1\r\nsw8: 1-dHJhY2VfaWQ=-c3Bhbg==-id-x-x-x-x-\r\nUser-Agent: curl/8\r\nX-Tenant: t1\r\n\r\n", { copy_apm_trace_id: true, custom_fields: ["X-Tenant", "user-agent"] })!;
    expect(i.attributes).toEqual([{ key: "apm_trace_id", val: "trace_id" }, { key: "user_agent", val: "curl/8" }, { key: "x_tenant", val: "t1" }]);
  });

  it("TraceType decoders: the agent's trace_type_id_parse cases, and more", () => {
    const cases: Array<[string, string, string | null, string | null]> = [
      ["uber-trace-id", "trace_id:xxx:span_id:xxx", "trace_id", "span_id"],
      ["sw3", "span|id|x|x|x|x|x|trace_id|x", "trace_id", "span-id"],
      ["sw6", "1-dHJhY2VfaWQ=-c3Bhbg==-id-x-x-x-x-", "trace_id", "span-id"],
      ["sw8", "1-dHJhY2VfaWQ=-c3Bhbg==-id-x-x-x-x-", "trace_id", "span-id"],
      ["traceparent", "00-trace_id-span_id-01", "trace_id", "span_id"],
      ["b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"],
      ["x-b3-traceid", " raw ", "raw", "raw"],
      ["sw8", "1-not%base64-seg-3", "not%base64", "seg-3"], // not base64: as is
      ["sw8", "1-dHJhY2VfaWQ", null, null], // too few fields for a span; the trace field is not canonical base64
      ["new_rpc_trace_context", "tcid=t1&spid=s1&", "t1", "s1"],
      ["new_rpc_trace_context", "tcid=t1&spid=s1", "t1", null], // the last pair needs its '&'
      ["x-tingyun", "anything", null, null], // Enterprise Edition only
    ];
    for (const [name, value, tid, sid] of cases) {
      const t = traceType(name);
      if (name === "sw8" && value === "1-dHJhY2VfaWQ") {
        expect(decodeTraceId(t, value)).toBe("dHJhY2VfaWQ");
        expect(decodeSpanId(t, value)).toBeNull();
        continue;
      }
      expect([name, decodeTraceId(t, value), decodeSpanId(t, value)]).toEqual([name, tid, sid]);
    }
    expect(traceType(" SW8.ignored ")).toEqual({ kind: "sw8", name: "sw8", subTag: "ignored" });
    expect(traceType("Pinpoint-TraceID")).toEqual({ kind: "customize", name: "pinpoint-traceid", subTag: "" });
  });

  it("base64 as the agent's STANDARD engine: canonical padding, no stray bits", () => {
    expect(new TextDecoder().decode(base64Standard("dHJhY2VfaWQ=")!)).toBe("trace_id");
    expect(base64Standard("dHJhY2VfaWQ")).toBeNull(); // padding required
    expect(base64Standard("dHJhY2VfaWR=")).toBeNull(); // trailing bits set
    expect(base64Standard("dHJh Y2Vf")).toBeNull();
    expect(base64Standard("")).toEqual(new Uint8Array(0));
  });
});

describe("endpoint: the agent's test_handle_endpoint and test_find_matching_rule", () => {
  it("handle_endpoint", () => {
    const none = new HttpEndpointTrie([]);
    expect(handleEndpoint(none, "")).toBe("/");
    expect(handleEndpoint(none, "api/v1/users")).toBe("/api/v1");
    expect(handleEndpoint(none, "/api/v1/users/123")).toBe("/api/v1");
    expect(handleEndpoint(none, "/api/v1/users/123?query=456")).toBe("/api/v1");
    expect(handleEndpoint(none, "///././/api/v1//.//./users/123?query=456")).toBe("///././/api/v1");
    const api1 = new HttpEndpointTrie([{ url_prefix: "/api", keep_segments: 1 }]);
    expect(handleEndpoint(api1, "/api/v1/users/123?query=456")).toBe("/api");
    expect(handleEndpoint(api1, "/app/v1/users/123?query=456")).toBe("");
    const two = new HttpEndpointTrie([{ url_prefix: "/api", keep_segments: 1 }, { url_prefix: "/api/v1/users", keep_segments: 4 }]);
    expect(handleEndpoint(two, "/api/v1/users/123?query=456")).toBe("/api/v1/users/123");
    expect(handleEndpoint(two, "/api/v1/users?query=456")).toBe("/api/v1/users");
    expect(handleEndpoint(two, "/api/v1/123?query=456")).toBe("/api");
    expect(handleEndpoint(new HttpEndpointTrie([{ url_prefix: "", keep_segments: 3 }]), "/api/v1/users/123?query=456")).toBe("/api/v1/users");
    expect(handleEndpoint(new HttpEndpointTrie([{ url_prefix: "/api/v1", keep_segments: 0 }]), "/api/v1/users/123?query=456")).toBe("/api/v1");
  });

  it("find_matching_rule", () => {
    expect(new HttpEndpointTrie([]).findMatchingRule("/x/y/z")).toBe(2);
    const rules = [
      { url_prefix: "/a/b/c", keep_segments: 1 },
      { url_prefix: "/a/b/c/d", keep_segments: 3 },
      { url_prefix: "/d/e/f", keep_segments: 3 },
    ];
    const t = new HttpEndpointTrie(rules);
    expect([t.findMatchingRule("/a/b/c"), t.findMatchingRule("/d/e/f"), t.findMatchingRule("/a/b/c/d"), t.findMatchingRule("/x/y/z")]).toEqual([1, 3, 3, 0]);
    expect(new HttpEndpointTrie([...rules, { url_prefix: "", keep_segments: 5 }]).findMatchingRule("/x/y/z")).toBe(5);
  });

  it("extraction_disabled leaves the endpoint unset", () => {
    expect(req("GET /a/b/c HTTP/1.1\r\n\r\n", { http_endpoint: { extraction_disabled: true, match_rules: [] } })!.endpoint).toBeNull();
  });
});

describe("merge_custom_to_http: a plugin's answer to on_http_req / on_http_resp", () => {
  const custom = (m: AppInfo, dir: 0 | 1) => decodeRecords(frameRecords([encodePbRecord(m)]), dir)[0]!;

  it("a request takes request fields, ids and attributes; response fields are ignored", () => {
    const i = req("GET /a/b/c HTTP/1.1\r\nHost: h\r\ntraceparent: 00-hdr-hspan-01\r\n\r\n")!;
    mergeCustomToHttp(i, custom({ req: { version: "2", type: "PUT", domain: "d", resource: "/r", endpoint: "ep" }, request_id: 9, resp: undefined, trace: { trace_id: "plug", span_id: "pspan", x_request_id: "x0", http_proxy_client: "1.2.3.4" }, attributes: [{ key: "k", val: "v" }], biz_type: 3, biz_code: "B" }, DIR_C2S), true);
    expect([i.version, i.method, i.host, i.path, i.streamId, i.endpoint]).toEqual(["2", "PUT", "d", "/r", 9, "ep"]);
    expect([traceIdStrings(i.traceIds), i.spanId.value, i.xRequestId0.value, i.clientIp?.value]).toEqual([["plug", "hdr"], "pspan", "x0", "1.2.3.4"]);
    expect(i.attributes).toEqual([{ key: "apm_span_id", val: "hspan" }, { key: "k", val: "v" }]);
    expect([i.bizType, i.bizCode]).toEqual([3, "B"]);
    // A method the agent does not know is not taken.
    mergeCustomToHttp(i, custom({ req: { type: "FETCH" } }, DIR_C2S), true);
    expect(i.method).toBe("PUT");
  });

  it("a response: the plugin's status always replaces the agent's — Unknown when its record has no response", () => {
    const r = resp("HTTP/1.1 200 OK\r\n\r\n")!;
    mergeCustomToHttp(r, custom({ resp: { status: AppRespStatus.RESP_SERVER_ERROR, code: -1, exception: "boom" } }, DIR_S2C), false);
    expect([r.status, r.statusCode, r.customException]).toEqual(["server_error", 65535, "boom"]);
    const r2 = resp("HTTP/1.1 200 OK\r\n\r\n")!;
    mergeCustomToHttp(r2, custom({ attributes: [{ key: "only", val: "attrs" }] }, DIR_S2C), false);
    expect([r2.status, r2.statusCode]).toEqual(["unknown", 200]);
  });
});

describe("HttpInfo::merge and the perf cache", () => {
  it("a session: request fields from the request, response fields from the response; raw parts only when not ok", () => {
    const a = req("GET /a HTTP/1.1\r\nHost: h\r\nx_request_id: r0\r\n\r\n")!;
    const b = resp("HTTP/1.1 500 x\r\nContent-Length: 4\r\nx_request_id: r1\r\n\r\noops")!;
    mergeHttp(a, b);
    expect([a.method, a.path, a.status, a.statusCode, a.respContentLength, a.xRequestId0.value, a.xRequestId1.value]).toEqual(["GET", "/a", "server_error", 500, 4, "r0", "r1"]);
    expect(sentAttributes(a)).toEqual([{ key: "request_header", val: "" }, { key: "request_payload", val: "" }, { key: "response_payload", val: "oops" }]);
    const c = req("GET /a HTTP/1.1\r\n\r\n")!;
    mergeHttp(c, resp("HTTP/1.1 200 x\r\n\r\n")!);
    expect(sentAttributes(c)).toEqual([]);
  });

  it("a response gets the endpoint of the flow's pending request, once", () => {
    const cache = new HttpPerfCache();
    const q = req("GET /x/y/z HTTP/1.1\r\n\r\n")!;
    cache.update(q, 100);
    const r = resp("HTTP/1.1 200 x\r\n\r\n")!;
    expect(cache.endpointFor(r, 99)).toBeNull(); // earlier than the request
    expect(cache.endpointFor(r, 150)).toBe("/x/y");
    cache.update(r, 150);
    expect(cache.endpointFor(r, 160)).toBeNull();
    // A request whose plugin set a request id is cached under that id: a response without it misses.
    const withId: HttpInfo = { ...req("GET /x HTTP/1.1\r\n\r\n")!, streamId: 5 };
    cache.update(withId, 200);
    expect(cache.endpointFor(r, 210)).toBeNull();
  });
});
