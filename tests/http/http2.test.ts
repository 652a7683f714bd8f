// HTTP/2 and gRPC emulation (sdk/http/http2.ts, hpack.ts), checked against the agent's
// own recorded results and then through replay:
// - DeepFlow's HTTP/2 / gRPC captures (tests/fixtures/deepflow/http and http2, from the agent's
//   agent/resources/test/flow_generator/http/): the agent's `check` and `check_grpc_unary`
//   tests in protocol_logs/http.rs run each packet through parse_payload (HTTP/1 first while
//   the protocol is unknown, then one HTTP/2 parser kept for the capture) and print one
//   HttpInfo Debug line per record (or a default one, is_http: false, per failed packet).
//   The same loop over the emulation must print the same lines, byte for byte.
// - replay: such a flow gives HTTP2 / gRPC rows and calls the plugins' HTTP hooks with l7 21 / 41;
//   a flow a plugin claims (pinpoint-grpc on pinpoint-full.pcap) never reaches the HTTP/2 parser.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DecodedPacket, decodeFrame, openCapture } from "../../capture/open.ts";
import { WasmHost, type CallCtx } from "../../sdk/host.ts";
import { httpParserConfig, type AgentHttpConfig } from "../../sdk/http/config.ts";
import { Http1Emulator } from "../../sdk/http/emulator.ts";
import { HpackDecoder } from "../../sdk/http/hpack.ts";
import type { HttpInfo, PrioField } from "../../sdk/http/info.ts";
import type { FlowLogRow } from "../../sdk/row.ts";
import { replayCapture } from "../../sdk/replay.ts";

const FIXTURES = join(import.meta.dirname, "../fixtures");
const AGENT_TEST_CONFIG: Partial<AgentHttpConfig> = { http_real_client: ["x-forwarded-for"], apm_trace_id: ["sw8"], apm_span_id: ["sw8"] };

// ---------------------------------------------------------------------------------------
// The agent's test loop and ValidateInfo's Debug format

const PROTO: Record<number, string> = { 0: "Unknown", 20: "Http1", 21: "Http2", 41: "Grpc", 49: "Triple" };
const MSG: Record<string, string> = { request: "Request", response: "Response", session: "Session", other: "Other" };
const VERSION: Record<string, string> = { "": "Unknown", "1.0": "V1_0", "1.1": "V1_1", "2": "V2" };
const STATUS: Record<string, string> = { ok: "Ok", unknown: "Unknown", client_error: "ClientError", server_error: "ServerError", timeout: "Timeout" };
const METHOD: Record<string, string> = {
  "": "None", GET: "Get", HEAD: "Head", POST: "Post", PUT: "Put", DELETE: "Delete", CONNECT: "Connect", OPTIONS: "Options", TRACE: "Trace", PATCH: "Patch",
  _REQUEST_DATA: "_RequestData", _RESPONSE_DATA: "_ResponseData", _REQUEST_HEADER: "_RequestHeader", _RESPONSE_HEADER: "_ResponseHeader",
};

const q = (s: string) => JSON.stringify(s);
const opt = <T>(v: T | null, f: (x: T) => string = String) => (v === null ? "None" : `Some(${f(v)})`);
const prio = (p: PrioField) => `PrioField { prio: ${p.prio}, field: ${q(p.value)} }`;

function debugLine(i: HttpInfo | null, proto: number, reqBytes: number, respBytes: number): string {
  const isHttp = i !== null;
  const info = i ?? ({
    headersOffset: null, proto, msgType: "other", streamId: null, version: "", traceIds: [], spanId: { prio: 255, value: "" }, method: "", path: "", host: "",
    clientIp: null, xRequestId0: { prio: 255, value: "" }, xRequestId1: { prio: 255, value: "" }, reqContentLength: null, respContentLength: null,
    statusCode: null, status: "unknown", grpcStatusCode: null, endpoint: null, bizType: 0, attributes: [], serviceName: null,
  } as unknown as HttpInfo);
  return `HttpInfo { headers_offset: ${opt(info.headersOffset)}, proto: ${PROTO[info.proto]}, msg_type: ${MSG[info.msgType]}, stream_id: ${opt(info.streamId)}, ` +
    `version: ${VERSION[info.version]}, trace_ids: PrioFields([${info.traceIds.map(prio).join(", ")}]), span_id: ${prio(info.spanId)}, method: ${METHOD[info.method]}, ` +
    `path: ${q(info.path)}, host: ${q(info.host)}, user_agent: None, referer: None, client_ip: ${opt(info.clientIp, prio)}, ` +
    `x_request_id_0: ${prio(info.xRequestId0)}, x_request_id_1: ${prio(info.xRequestId1)}, req_content_length: ${opt(info.reqContentLength)}, ` +
    `resp_content_length: ${opt(info.respContentLength)}, status_code: ${opt(info.statusCode)}, status: ${STATUS[info.status]}, grpc_status_code: ${opt(info.grpcStatusCode)}, ` +
    `endpoint: ${opt(info.endpoint, q)}, custom_result: None, custom_exception: None, captured_request_byte: ${isHttp ? reqBytes : 0}, ` +
    `captured_response_byte: ${isHttp ? respBytes : 0}, biz_type: ${info.bizType}, attributes: [${info.attributes.map((a) => `KeyVal { key: ${q(a.key)}, val: ${q(a.val)} }`).join(", ")}], ` +
    `service_name: ${opt(info.serviceName, q)} } is_http: ${isHttp}`;
}

/** http.rs tests::run: every payload of the capture through the agent's parsers, one line per record. */
async function run(file: string, grpcStreamingDataEnabled: boolean): Promise<string> {
  const host = await WasmHost.load([]);
  // The test's ParseParam has no Wasm VM: no hook, no endpoint looked up for one.
  const emulator = new Http1Emulator(host, httpParserConfig({ ...AGENT_TEST_CONFIG, grpc_streaming_data_enabled: grpcStreamingDataEnabled }), false);
  const flow = {};
  const ctx: CallCtx = { srcIp: "", dstIp: "", srcPort: 0, dstPort: 0, direction: 0, l4: 6, time: 0, flowId: 0, bufSize: 65535 };
  const r = openCapture(join(FIXTURES, file));
  const p = new DecodedPacket();
  let firstDstPort: number | null = null;
  let protocol = 0;
  let out = "";
  try {
    for (let f = r.next(); f; f = r.next()) {
      if (!decodeFrame(f, p) || p.payloadLength === 0) continue;
      firstDstPort ??= p.dstPort;
      const c2s = p.dstPort === firstDstPort;
      const payload = p.payload().slice();
      // The recorded captured bytes count the payload up to the frame's end, trailer bytes
      // past the IP length included (grpc-server-stream has 1-2 on some frames), as the agent
      // test's packet loader reads it; replay counts up to the IP length.
      const captured = f.end - p.payloadAt;
      const [reqBytes, respBytes] = c2s ? [captured, 0] : [0, captured];
      let infos: HttpInfo[] | null = null;
      if (protocol === 0 || protocol === 20) {
        const info = emulator.parse(flow, ctx, payload, c2s, f.timeUs);
        if (info) {
          protocol = 20;
          infos = [info];
        }
      }
      if (infos === null && protocol !== 20) {
        infos = emulator.parse2(flow, 21, ctx, payload, c2s, f.timeUs);
        if (infos) protocol = 21;
      }
      if (infos === null) out += debugLine(null, protocol, 0, 0) + "\n";
      else for (const i of infos) out += debugLine(i, i.proto, reqBytes, respBytes) + "\n";
    }
  } finally {
    r.close();
  }
  return out;
}

describe("DeepFlow's HTTP/2 and gRPC captures, against the agent's .result files", () => {
  // tests::check (grpc streaming_data_enabled on) and tests::check_grpc_unary (off, the default).
  it.each([
    ["http/h2c_ascii.pcap", "http/h2c_ascii.result", true],
    ["http/http2-multi.pcap", "http/http2-multi.result", true],
    ["http/grpc-server-stream.pcap", "http/grpc-server-stream.result", true],
    ["http2/grpc-unknown.pcap", "http2/grpc-unknown.result", true],
    ["http2/grpc-segmented.pcap", "http2/grpc-segmented.result", true],
    ["http2/grpc-service-name.pcap", "http2/grpc-service-name.result", true],
    ["http/grpc-unary.pcap", "http/grpc-unary.result", false],
    ["http/grpc-server-stream.pcap", "http2/grpc-server-stream-as-unary.result", false],
  ] as const)("%s → %s (streaming data %s)", async (pcap, result, streaming) => {
    const expected = readFileSync(join(FIXTURES, "deepflow", result), "utf8");
    expect(await run(join("deepflow", pcap), streaming)).toBe(expected);
  });
});

describe("HPACK as the agent's fork decodes it", () => {
  const fields = (d: HpackDecoder, block: number[]) => {
    const got: Array<[string, string]> = [];
    d.decode(Uint8Array.from(block), (n, v) => got.push([Buffer.from(n).toString(), Buffer.from(v).toString()]));
    return got;
  };
  const lit = (s: string) => [s.length, ...Buffer.from(s)];

  it("keeps only expected headers in the dynamic table; an unknown index reads as nothing", () => {
    const d = new HpackDecoder(new Set([":path", "x-trace"]));
    // 0x40: literal with incremental indexing, new name. x-trace kept, x-other an empty entry.
    expect(fields(d, [0x40, ...lit("x-trace"), ...lit("abc"), 0x40, ...lit("x-other"), ...lit("zzz")])).toEqual([["x-trace", "abc"], ["x-other", "zzz"]]);
    // 62 = newest (x-other: empty, skipped), 63 = x-trace, 64 = past the end (skipped).
    expect(fields(d, [0x80 | 62, 0x80 | 63, 0x80 | 64, 0x82])).toEqual([["x-trace", "abc"], [":method", "GET"]]);
    // Index 0 is an error.
    expect(() => fields(d, [0x80])).toThrow();
  });

  it("a capture that starts mid-connection: dynamic references give nothing, static and literal fields decode", () => {
    const d = new HpackDecoder(new Set());
    expect(fields(d, [0x80 | 70, 0x83, 0x04, ...lit("/a.B/C")])).toEqual([[":method", "POST"], [":path", "/a.B/C"]]);
  });
});

// ---------------------------------------------------------------------------------------
// Replay

interface Seen {
  req: Array<{ l7: number; direction: number; path: string; host: string }>;
  resp: Array<{ l7: number; direction: number; code: number; status: string; endpoint: string }>;
}

async function replay(capture: string, plugins: string[]): Promise<{ rows: FlowLogRow[]; seen: Seen; summary: Awaited<ReturnType<typeof replayCapture>> }> {
  const host = await WasmHost.load(plugins.map((p) => ({ name: p, bytes: readFileSync(join(import.meta.dirname, "../../build", p)) })));
  const seen: Seen = { req: [], resp: [] };
  const req = host.onHttpReq.bind(host);
  const resp = host.onHttpResp.bind(host);
  host.onHttpReq = (ctx, payload, info) => {
    seen.req.push({ l7: ctx.l7!, direction: ctx.direction, path: info.path, host: info.host });
    return req(ctx, payload, info);
  };
  host.onHttpResp = (ctx, payload, info) => {
    seen.resp.push({ l7: ctx.l7!, direction: ctx.direction, code: info.code, status: info.status, endpoint: info.endpoint });
    return resp(ctx, payload, info);
  };
  const rows: FlowLogRow[] = [];
  const summary = await replayCapture({ capture, host, onRow: (r) => rows.push(r) });
  expect(summary.capture.error).toBeNull();
  return { rows, seen, summary };
}

describe("replay of HTTP/2 and gRPC flows", () => {
  it("grpc-unary: one gRPC row with the agent's values; the hooks get l7 41", async () => {
    const { rows, seen } = await replay(join(FIXTURES, "deepflow/http/grpc-unary.pcap"), ["http-hooks.wasm"]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      type: 2, l7_protocol: 41, l7_protocol_str: "gRPC", version: "2", request_type: "POST", request_domain: "10.1.23.21:30035",
      request_resource: "agent.Synchronizer", endpoint: "/agent.Synchronizer/Sync", request_id: 1, response_status: 0, response_code: 200,
      request_length: 242, response_length: 16384, captured_request_byte: 339, captured_response_byte: 1368, direction_source: "http-request",
    });
    expect(seen.req).toEqual([{ l7: 41, direction: 0, path: "/agent.Synchronizer/Sync", host: "10.1.23.21:30035" }]);
    expect(seen.resp).toEqual([{ l7: 41, direction: 1, code: 200, status: "ok", endpoint: "/agent.Synchronizer/Sync" }]);
  });

  it("http2-multi: two streams in one packet each way pair by stream id; HTTP2 rows, hooks with l7 21", async () => {
    const { rows, seen } = await replay(join(FIXTURES, "deepflow/http/http2-multi.pcap"), ["http-hooks.wasm"]);
    expect(rows.map((r) => [r.l7_protocol_str, r.request_id, r.request_type, r.response_code, r.request_length, r.response_length])).toEqual([
      ["HTTP2", 18131983, "POST", 200, 17, 150],
      ["HTTP2", 18131981, "POST", 200, 17, 148],
    ]);
    // The second request's HEADERS frame is 123 bytes into the packet (headers_offset).
    expect(rows[0]!.req_tcp_seq - rows[1]!.req_tcp_seq).toBe(123);
    expect(seen.req.map((c) => c.l7)).toEqual([21, 21]);
    expect(seen.resp.map((c) => c.l7)).toEqual([21, 21]);
  });

  it("--no-http leaves them to the plugins", async () => {
    const host = await WasmHost.load([{ name: "http-hooks.wasm", bytes: readFileSync(join(import.meta.dirname, "../../build/http-hooks.wasm")) }]);
    const rows: FlowLogRow[] = [];
    await replayCapture({ capture: join(FIXTURES, "deepflow/http/h2c_ascii.pcap"), host, http: false, onRow: (r) => rows.push(r) });
    expect(rows).toHaveLength(0);
  });

  const PINPOINT = join(FIXTURES, "pinpoint/pinpoint-full.pcap");

  it("pinpoint-full: with pinpoint-grpc loaded, its check_payload claims the flows first — no HTTP/2 parse, no hook", async () => {
    const all = await replay(PINPOINT, ["pinpoint-grpc.wasm", "http-hooks.wasm"]);
    expect(all.summary.http).toMatchObject({ http2Flows: 0, flows: 0 });
    expect(all.seen.req).toHaveLength(0);
    expect(all.seen.resp).toHaveLength(0);
    expect(all.rows.length).toBeGreaterThan(0);
    expect(all.rows.every((r) => r.l7_protocol !== 21 && r.l7_protocol !== 41)).toBe(true);
    // The same rows as with HTTP emulation off.
    const host = await WasmHost.load(["pinpoint-grpc.wasm", "http-hooks.wasm"].map((p) => ({ name: p, bytes: readFileSync(join(import.meta.dirname, "../../build", p)) })));
    const off: FlowLogRow[] = [];
    await replayCapture({ capture: PINPOINT, host, http: false, onRow: (r) => off.push(r) });
    expect(all.rows).toEqual(off);
  });

  it("pinpoint-full without pinpoint-grpc: the agent's gRPC rows, hooks called with l7 41", async () => {
    const { rows, seen, summary } = await replay(PINPOINT, ["http-hooks.wasm"]);
    expect(summary.http!.http2Flows).toBeGreaterThan(0);
    const grpc = rows.filter((r) => r.l7_protocol === 41);
    expect(grpc.length).toBeGreaterThan(0);
    expect(grpc.every((r) => r.l7_protocol_str === "gRPC" && r.request_id !== null)).toBe(true);
    // A record cut short by another stream's frame keeps no version (and may be of type Other, 3).
    expect(new Set(grpc.map((r) => r.version))).toEqual(new Set(["2", ""]));
    expect(grpc.filter((r) => r.version === "2").map((r) => r.endpoint).sort()).toEqual(
      ["/v1.Metadata/RequestApiMetaData", "/v1.Span/SendSpan", "/v1.Span/SendSpan", "/v1.Stat/SendAgentStat", "/v1.Stat/SendAgentStat"],
    );
    // Pinpoint's collector services, as the agent names them from the path.
    expect(new Set(grpc.map((r) => r.request_resource).filter((s) => s !== ""))).toEqual(new Set(grpc.filter((r) => r.endpoint !== "").map((r) => r.endpoint.split("/")[1])));
    expect(seen.req.length).toBeGreaterThan(0);
    expect(seen.req.every((c) => c.l7 === 41 || c.l7 === 21)).toBe(true);
    expect(seen.req.some((c) => c.l7 === 41 && c.path.startsWith("/v1."))).toBe(true);
  });
});
