// DeepFlow's own HTTP/1 captures (tests/fixtures/deepflow/http, from the agent's
// agent/resources/test/flow_generator/http/) replayed through the HTTP/1 emulation, checked
// against the agent's recorded results (*.result: one HttpInfo per payload, written by the
// agent's `check` test in protocol_logs/http.rs). That test parses whole payloads with
// proxy_client [x-forwarded-for], apm_trace_id and apm_span_id [sw8] and the other defaults,
// and no plugin; the replay here does the same (payload truncation 65535, no plugin), and
// its session rows must carry each request's and response's recorded values.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WasmHost, type CallCtx } from "../../sdk/host.ts";
import type { HttpReqInfo, HttpRespInfo } from "../../sdk/abi.ts";
import type { FlowLogRow } from "../../sdk/row.ts";
import { replayCapture, type ReplayOptions } from "../../sdk/replay.ts";

const DIR = join(import.meta.dirname, "../fixtures/deepflow/http");
const AGENT_TEST_CONFIG = { http_real_client: ["x-forwarded-for"], apm_trace_id: ["sw8"], apm_span_id: ["sw8"] };

/** The fields of one HttpInfo Debug line of a .result file. */
interface Recorded {
  isHttp: boolean;
  msgType: string;
  version: string;
  traceIds: string[];
  spanId: string;
  method: string;
  path: string;
  host: string;
  clientIp: string | null;
  xRequestId0: string;
  xRequestId1: string;
  reqContentLength: number | null;
  respContentLength: number | null;
  statusCode: number | null;
  status: string;
  endpoint: string | null;
  capturedRequestByte: number;
  capturedResponseByte: number;
}

function field(line: string, name: string): string {
  const m = new RegExp(`[{ ]${name}: `).exec(line);
  if (!m) throw new Error(`no ${name} in ${line}`);
  let i = m.index + m[0].length;
  // Up to the ", " that ends the field at nesting depth 0, outside strings.
  let depth = 0;
  let inStr = false;
  const start = i;
  for (; i < line.length; i++) {
    const c = line[i];
    if (inStr) {
      if (c === "\\") i++;
      else if (c === '"') inStr = false;
    } else if (c === '"') inStr = true;
    else if (c === "(" || c === "{" || c === "[") depth++;
    else if (c === ")" || c === "}" || c === "]") {
      if (depth === 0) break;
      depth--;
    } else if (c === "," && depth === 0) break;
  }
  return line.slice(start, i).trim();
}

const str = (v: string) => JSON.parse(v) as string;
const opt = <T>(v: string, inner: (x: string) => T): T | null => (v === "None" ? null : inner(/^Some\((.*)\)$/.exec(v)![1]!));
const prioField = (v: string) => str(/field: (".*")/.exec(v)![1]!);
const STATUS: Record<string, string> = { Ok: "ok", Unknown: "unknown", ClientError: "client_error", ServerError: "server_error", Timeout: "timeout" };
const VERSION: Record<string, string> = { V1_0: "1.0", V1_1: "1.1", V2: "2", Unknown: "" };

function readResult(file: string): Recorded[] {
  return readFileSync(join(DIR, file), "utf8").trim().split("\n").map((line) => ({
    isHttp: line.endsWith("is_http: true"),
    msgType: field(line, "msg_type"),
    version: VERSION[field(line, "version")]!,
    traceIds: [...field(line, "trace_ids").matchAll(/field: ("(?:[^"\\]|\\.)*")/g)].map((m) => str(m[1]!)),
    spanId: prioField(field(line, "span_id")),
    method: field(line, "method") === "None" ? "" : field(line, "method").toUpperCase(),
    path: str(field(line, "path")),
    host: str(field(line, "host")),
    clientIp: opt(field(line, "client_ip"), prioField),
    xRequestId0: prioField(field(line, "x_request_id_0")),
    xRequestId1: prioField(field(line, "x_request_id_1")),
    reqContentLength: opt(field(line, "req_content_length"), Number),
    respContentLength: opt(field(line, "resp_content_length"), Number),
    statusCode: opt(field(line, "status_code"), Number),
    status: STATUS[field(line, "status")]!,
    endpoint: opt(field(line, "endpoint"), str),
    capturedRequestByte: Number(field(line, "captured_request_byte")),
    capturedResponseByte: Number(field(line, "captured_response_byte")),
  }));
}

interface Seen {
  req: Array<{ ctx: CallCtx; info: HttpReqInfo; payload: number }>;
  resp: Array<{ ctx: CallCtx; info: HttpRespInfo; payload: number }>;
}

/** A host without plugins (as the agent's test) whose HTTP hook calls are recorded. */
async function spyHost(): Promise<{ host: WasmHost; seen: Seen }> {
  const host = await WasmHost.load([]);
  const seen: Seen = { req: [], resp: [] };
  const req = host.onHttpReq.bind(host);
  const resp = host.onHttpResp.bind(host);
  host.onHttpReq = (ctx, payload, info) => {
    seen.req.push({ ctx: { ...ctx }, info: { ...info }, payload: payload.length });
    return req(ctx, payload, info);
  };
  host.onHttpResp = (ctx, payload, info) => {
    seen.resp.push({ ctx: { ...ctx }, info: { ...info }, payload: payload.length });
    return resp(ctx, payload, info);
  };
  return { host, seen };
}

async function replay(file: string, opts: Partial<ReplayOptions> = {}): Promise<{ rows: FlowLogRow[]; seen: Seen }> {
  const { host, seen } = await spyHost();
  const rows: FlowLogRow[] = [];
  const s = await replayCapture({ capture: join(DIR, file), host, onRow: (r) => rows.push(r), ...opts });
  expect(s.capture.error).toBeNull();
  return { rows, seen };
}

describe("DeepFlow's HTTP/1 captures, against the agent's .result files", () => {
  it.each(["httpv1", "client-ip", "istio-tcp-frag", "sw8"])("%s", async (name) => {
    const recorded = readResult(`${name}.result`);
    const logs = recorded.filter((r) => r.isHttp);
    const requests = logs.filter((r) => r.msgType === "Request");
    const responses = logs.filter((r) => r.msgType === "Response");
    expect(requests.length).toBe(responses.length);
    const { rows, seen } = await replay(`${name}.pcap`, { payloadTruncation: 65535, httpConfig: AGENT_TEST_CONFIG });

    // Each request and its response become one session row with the recorded values.
    expect(rows.length).toBe(requests.length);
    rows.forEach((row, k) => {
      const q = requests[k]!;
      const r = responses[k]!;
      expect(row).toMatchObject({
        type: 2,
        l7_protocol: 20,
        l7_protocol_str: "HTTP",
        version: q.version,
        request_type: q.method,
        request_resource: q.path,
        request_domain: q.host,
        endpoint: q.endpoint,
        request_id: null,
        trace_ids: q.traceIds,
        trace_id: q.traceIds[0] ?? "",
        span_id: q.spanId || r.spanId,
        http_proxy_client: q.clientIp ?? "",
        x_request_id_0: q.xRequestId0,
        x_request_id_1: r.xRequestId1,
        request_length: q.reqContentLength,
        response_length: r.respContentLength,
        response_code: r.statusCode,
        response_status: { ok: 0, client_error: 4, server_error: 3 }[r.status],
        captured_request_byte: q.capturedRequestByte,
        captured_response_byte: r.capturedResponseByte,
        attribute_names: [],
      });
    });

    // What the plugins' hooks were handed: the recorded path and host of each request, and
    // each response's code, status and endpoint (the agent's cached endpoint of its request).
    expect(seen.req.map((c) => [c.info.path, c.info.host, c.info.userAgent, c.info.referer, c.ctx.l7, c.ctx.direction])).toEqual(requests.map((q) => [q.path, q.host, "", "", 20, 0]));
    expect(seen.resp.map((c) => [c.info.code, c.info.status, c.info.endpoint, c.ctx.l7, c.ctx.direction])).toEqual(responses.map((r) => [r.statusCode, r.status, r.endpoint, 20, 1]));
    // Recorded versions of each message (a session row shows the request's).
    expect(responses.map((r) => r.version).every((v) => v === "1.1" || v === "1.0")).toBe(true);
  });

  it("at the agent's default payload truncation (1024) and config, client-ip loses what lies beyond byte 1024 and its X-Forwarded-For", async () => {
    const { rows, seen } = await replay("client-ip.pcap");
    expect(rows).toHaveLength(1);
    // Content-Length is at byte 1102 of the 1410-byte request; X_Forwarded_For (the default) does not match x-forwarded-for.
    expect(rows[0]).toMatchObject({ request_length: null, http_proxy_client: "", captured_request_byte: 1410, trace_id: "6d4ae9e1fb8a4399aba252d65b5a83c9.76.17016891360410347" });
    expect(seen.req[0]!.payload).toBe(1024);
  });

  it("istio-tcp-frag: the agent's default x_request_id (X_Request_ID) does not match its x-request-id header; listing X-Request-ID does", async () => {
    const plain = await replay("istio-tcp-frag.pcap");
    expect(plain.rows[0]!.x_request_id_0).toBe("");
    const listed = await replay("istio-tcp-frag.pcap", { httpConfig: { x_request_id: ["X-Request-ID"], apm_trace_id: ["x-b3-traceid"], apm_span_id: ["x-b3-spanid"] } });
    expect(listed.rows[0]).toMatchObject({ x_request_id_0: "46364834-4fb8-9692-a5d6-ab638447a787", trace_id: "744a02a3033b7d5960cd96456ba069a0", span_id: "03df9f227df14072" });
  });

  it("sw8: body-only payloads give no log; the flow stays HTTP", async () => {
    const { host } = await spyHost();
    const s = await replayCapture({ capture: join(DIR, "sw8.pcap"), host });
    expect(s.http).toMatchObject({ flows: 1, requests: 3, responses: 3, notParsed: readResult("sw8.result").filter((r) => !r.isHttp).length });
    expect(s.flows.claimed).toBe(0);
  });
});
