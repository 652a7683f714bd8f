// The agent's HTTP/1 and HTTP/2 parsers as replay runs them on a flow they claimed: parse
// (./http1.ts; ./http2.ts with one parser and its HPACK tables per flow, one or more records
// per payload), then the plugins' HTTP hooks with the agent's record (for HTTP/2: every record
// the parse made, each with the payload from its first frame on), their answer merged in, then
// the perf cache that hands a request's endpoint to its response, per stream id (./info.ts).
//
// Mirrors HttpLog::wasm_hook and the end of set_info_by_config
// (agent/src/flow_generator/protocol_logs/http.rs) and WasmVm::on_http_req / on_http_resp
// (agent/src/plugin/wasm/host.rs) with VmHttpReqCtx / VmHttpRespCtx (plugin/wasm/vm.rs):
// - on_http_req gets the request's path and host; user agent and referer are always empty,
//   because the open-source parser never fills HttpInfo.user_agent / referer;
// - on_http_resp gets the status code (0 if none), the status the agent derived from it,
//   and the endpoint of the flow's pending request (looked up before the hook);
// - both get the payload the parser read (cut to the payload truncation) and a context whose
//   l7 byte is the record's protocol (20; 21 HTTP/2, 41 gRPC, 49 Triple), whose direction is
//   the packet's;
// - the first plugin that hooks the direction and answers "abort" wins; its last record is
//   merged into the HTTP record (merge_custom_to_http). Plugins are asked whether or not
//   "Custom" inference is on: the hooks ride on the built-in parser.
import type { CallCtx, WasmHost } from "../host.ts";
import type { HttpParserConfig } from "./config.ts";
import { http1Check, parseHttp1 } from "./http1.ts";
import { Http2Log, L7_HTTP2 } from "./http2.ts";
import { HttpPerfCache, mergeCustomToHttp, type HttpInfo } from "./info.ts";

export interface HttpStats {
  /** Flows the HTTP/1 parser claimed (check_payload saw a request line). */
  flows: number;
  /** Flows the HTTP/2 parser claimed (h2c frames with a decodable HEADERS or DATA frame). */
  http2Flows: number;
  /** HTTP/2 flows a content-type application/grpc header turned into gRPC. */
  grpcFlows: number;
  /** Flows given HTTP/1 by the server's inference cache. */
  flowsFromCache: number;
  requests: number;
  responses: number;
  /** Payloads of HTTP flows that gave no log (body segments, 1xx, not HTTP/1). */
  notParsed: number;
  /** Records whose fields a plugin's on_http_req / on_http_resp answer rewrote. */
  rewrittenByPlugins: number;
}

export class Http1Emulator {
  readonly stats: HttpStats = { flows: 0, http2Flows: 0, grpcFlows: 0, flowsFromCache: 0, requests: 0, responses: 0, notParsed: 0, rewrittenByPlugins: 0 };
  private readonly caches = new WeakMap<object, HttpPerfCache>();
  private readonly http2 = new WeakMap<object, Http2Log>();

  constructor(
    private readonly host: WasmHost,
    readonly config: HttpParserConfig,
    /**
     * false: as an agent without a Wasm VM (the agent's own parser tests): no hook calls and no
     * endpoint looked up for them; a response still gets its request's endpoint from the perf
     * stats, but a gRPC streaming "session" record then has none.
     */
    private readonly wasmVm = true,
  ) {}

  /** HttpLog::check_payload (HTTP/1) on the truncated payload of a TCP flow. */
  check(payload: Uint8Array): boolean {
    return http1Check(payload);
  }

  /**
   * HttpLog::parse_payload on one payload of a flow it parses: the record, after the
   * plugins' hooks, or null (no log). `ctx` is the packet's context; `flow` keys the per-flow cache.
   */
  parse(flow: object, ctx: CallCtx, payload: Uint8Array, clientToServer: boolean, timeUs: number): HttpInfo | null {
    const parsed = parseHttp1(payload, clientToServer, this.config);
    if (parsed === null) {
      this.stats.notParsed++;
      return null;
    }
    this.hook(flow, ctx, payload, clientToServer, timeUs, parsed.info);
    return parsed.info;
  }

  /**
   * HttpLog::check_payload (HTTP/2) on the truncated payload of a TCP flow no plugin and not
   * the HTTP/1 parser claimed. The parser that claims is kept for the flow (its HPACK tables).
   */
  check2(flow: object, payload: Uint8Array, clientToServer: boolean): number | null {
    const parser = new Http2Log(L7_HTTP2, this.config);
    if (!parser.check(payload, clientToServer)) return null;
    this.http2.set(flow, parser);
    // l7_check takes the parser's protocol: gRPC when the check saw content-type application/grpc.
    return parser.proto;
  }

  /** The flow's HTTP/2 parser, made for a flow whose protocol came from the inference cache. */
  http2Parser(flow: object, proto: number): Http2Log {
    let p = this.http2.get(flow);
    if (!p) {
      p = new Http2Log(proto, this.config);
      this.http2.set(flow, p);
    }
    return p;
  }

  /**
   * HttpLog::parse_payload (HTTP/2) on one payload: its records, each after the plugins'
   * hooks (called for every record, kept or not), or null (no log).
   */
  parse2(flow: object, proto: number, ctx: CallCtx, payload: Uint8Array, clientToServer: boolean, timeUs: number): HttpInfo[] | null {
    const records = this.http2Parser(flow, proto).parse(payload, clientToServer);
    if (records === null) {
      this.stats.notParsed++;
      return null;
    }
    const out: HttpInfo[] = [];
    for (const r of records) {
      this.hook(flow, ctx, payload.subarray(r.offset), clientToServer, timeUs, r.info);
      if (r.keep) out.push(r.info);
    }
    return out;
  }

  /** wasm_hook and the perf stats at the end of set_info_by_config. */
  private hook(flow: object, ctx: CallCtx, payload: Uint8Array, clientToServer: boolean, timeUs: number, info: HttpInfo): void {
    let cache = this.caches.get(flow);
    if (!cache) {
      cache = new HttpPerfCache();
      this.caches.set(flow, cache);
    }
    // wasm_hook: a response has no endpoint of its own; it gets its request's first.
    if (this.wasmVm && !clientToServer && info.endpoint === null) info.endpoint = cache.endpointFor(info, timeUs);
    ctx.l7 = info.proto;
    const custom = !this.wasmVm ? null : clientToServer
      ? this.host.onHttpReq(ctx, payload, { path: info.path, host: info.host, userAgent: "", referer: "" })
      : this.host.onHttpResp(ctx, payload, { code: info.statusCode ?? 0, status: info.status, endpoint: info.endpoint ?? "" });
    if (custom) {
      mergeCustomToHttp(info, custom, clientToServer);
      this.stats.rewrittenByPlugins++;
    }
    // perf_stats (l7 metrics on, the default): the endpoint again, then the cache.
    if (info.msgType === "response" && info.endpoint === null) info.endpoint = cache.endpointFor(info, timeUs);
    cache.update(info, timeUs);
    info.baseBizType = info.bizType;
    if (info.msgType === "request") this.stats.requests++;
    else if (info.msgType === "response") this.stats.responses++;
  }
}
