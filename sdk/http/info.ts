// The agent's HTTP record (HttpInfo) and what happens to it after the parse: the plugin's
// answer to on_http_req/on_http_resp merged in, the request's endpoint handed to the
// response, two records of one call merged into a session, and the fields it sends.
//
// Mirrors (deepflowio/deepflow, agent/src):
// - flow_generator/protocol_logs/http.rs: HttpInfo, merge_custom_to_http (the plugin's
//   rewrite: request fields only on requests, response fields only on responses, trace ids at
//   PLUGIN_FIELD_PRIORITY ahead of the headers', its span id replacing the header's (kept as
//   attribute apm_span_id), x_request_id / http_proxy_client / biz fields / is_async /
//   is_reversed when given, attributes appended — and its response status always replacing
//   the agent's, even when the record has no response and so says Unknown), HttpInfo::merge
//   (session merge), From<HttpInfo> for L7ProtocolSendLog (what is sent, including the raw
//   request/response header and payload attributes of a log whose status is not ok);
// - flow_generator/protocol_logs.rs: PrioFields (insert_sorted, to_strings), the priorities
//   BASE_FIELD_PRIORITY 128 (headers, in config order) and PLUGIN_FIELD_PRIORITY 32;
// - common/l7_protocol_info.rs: load_endpoint_from_cache and perf_stats (the per-flow rrt
//   cache: a request is remembered, the next response of the flow takes its endpoint and
//   clears it; keyed by flow, session id and is_reversed).
import type { CustomInfo, KeyVal, RespStatus } from "../result.ts";
import { decodeUtf8Lossy } from "../wire.ts";

/** Method::try_from: the methods the agent knows (parse_payload, and a plugin's req_type). */
export const METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);

export const BASE_FIELD_PRIORITY = 128;
export const PLUGIN_FIELD_PRIORITY = 32;
/** PrioField::default(): u8::MAX, empty. */
const DEFAULT_PRIO = 255;

export interface PrioField {
  prio: number;
  value: string;
}

export interface HttpInfo {
  /** Tells an HTTP record from a plugin's CustomInfo in the session queue and the output. */
  kind: "http";
  /** L7Protocol: 20 for HTTP/1, 21 HTTP/2, 41 gRPC, 49 Triple. */
  proto: number;
  /** LogMessageType: HTTP/2 records can also be "session" (gRPC streaming data) or "other". */
  msgType: "request" | "response" | "session" | "other";
  /** Version::as_str: "1.0", "1.1", "2" or "" (unknown). */
  version: string;
  /** stream_id: HTTP/1 has none; a plugin's request_id on a request sets it (the session key). */
  streamId: number | null;
  /** PrioFields, kept sorted by priority (a lower number first), empty values never stored. */
  traceIds: PrioField[];
  copyApmTraceId: boolean;
  spanId: PrioField;
  /** Method::as_str, "" for none. */
  method: string;
  path: string;
  host: string;
  clientIp: PrioField | null;
  xRequestId0: PrioField;
  xRequestId1: PrioField;
  reqContentLength: number | null;
  respContentLength: number | null;
  statusCode: number | null;
  /** HTTP/2: grpc-status (read only with grpc streaming_data_enabled). */
  grpcStatusCode: number | null;
  /** HTTP/2: offset of the record's HEADERS frame in the packet (tcp_seq_offset). */
  headersOffset: number | null;
  /** gRPC: the package.Service of the path (grpc_package_service_name). */
  serviceName: string | null;
  status: RespStatus;
  endpoint: string | null;
  customResult: string | null;
  customException: string | null;
  requestHeader: Uint8Array | null;
  requestPayload: Uint8Array | null;
  responseHeader: Uint8Array | null;
  responsePayload: Uint8Array | null;
  bizType: number;
  bizCode: string;
  bizScenario: string;
  bizResponseCode: string;
  /** AppProtoLogsBaseInfo.biz_type: the record's biz_type when the log was made; the row's column. */
  baseBizType: number;
  attributes: KeyVal[];
  isAsync: boolean;
  isReversed: boolean;
}

export function newHttpInfo(proto: number, copyApmTraceId: boolean): HttpInfo {
  return {
    kind: "http",
    proto,
    msgType: "request",
    version: "",
    streamId: null,
    traceIds: [],
    copyApmTraceId,
    spanId: { prio: DEFAULT_PRIO, value: "" },
    method: "",
    path: "",
    host: "",
    clientIp: null,
    xRequestId0: { prio: DEFAULT_PRIO, value: "" },
    xRequestId1: { prio: DEFAULT_PRIO, value: "" },
    reqContentLength: null,
    respContentLength: null,
    statusCode: null,
    grpcStatusCode: null,
    headersOffset: null,
    serviceName: null,
    status: "unknown",
    endpoint: null,
    customResult: null,
    customException: null,
    requestHeader: null,
    requestPayload: null,
    responseHeader: null,
    responsePayload: null,
    bizType: 0,
    bizCode: "",
    bizScenario: "",
    bizResponseCode: "",
    baseBizType: 0,
    attributes: [],
    isAsync: false,
    isReversed: false,
  };
}

export function isHttpInfo(info: object): info is HttpInfo {
  return (info as { kind?: unknown }).kind === "http";
}

/** PrioFields::insert_sorted: after every field of the same or a higher priority; empty values dropped. */
export function insertPrio(fields: PrioField[], prio: number, value: string): void {
  if (value === "") return;
  let i = 0;
  while (i < fields.length && fields[i]!.prio <= prio) i++;
  fields.splice(i, 0, { prio, value });
}

/** PrioFields::to_strings: in priority order, duplicates dropped. */
export function traceIdStrings(fields: readonly PrioField[]): string[] {
  const out: string[] = [];
  for (const f of fields) if (!out.includes(f.value)) out.push(f.value);
  return out;
}

/** Version::try_from for a plugin's version. */
function version(v: string): string | null {
  return v === "1.0" || v === "1.1" || v === "2" ? v : null;
}

/** HttpInfo::merge_custom_to_http: what a plugin's on_http_req/on_http_resp answer changes. */
export function mergeCustomToHttp(info: HttpInfo, custom: CustomInfo, clientToServer: boolean): void {
  if (clientToServer) {
    const v = version(custom.req.version);
    if (v !== null) info.version = v;
    if (METHODS.has(custom.req.req_type)) info.method = custom.req.req_type;
    if (custom.req.domain !== "") info.host = custom.req.domain;
    if (custom.req.resource !== "") info.path = custom.req.resource;
    if (custom.request_id !== null) info.streamId = custom.request_id;
    if (custom.req.endpoint !== "") info.endpoint = custom.req.endpoint;
  } else {
    // `code as u16`
    if (custom.resp.code !== null) info.statusCode = custom.resp.code & 0xffff;
    if (custom.resp.status !== info.status) info.status = custom.resp.status;
    if (custom.resp.result !== "") info.customResult = custom.resp.result;
    if (custom.resp.exception !== "") info.customException = custom.resp.exception;
  }
  for (const id of custom.trace.trace_ids) insertPrio(info.traceIds, PLUGIN_FIELD_PRIORITY, id);
  if (custom.trace.span_id !== null) {
    const prev = info.spanId;
    info.spanId = { prio: PLUGIN_FIELD_PRIORITY, value: custom.trace.span_id };
    if (prev.value !== "") info.attributes.push({ key: "apm_span_id", val: prev.value });
  }
  if (custom.trace.x_request_id_0 !== null) info.xRequestId0 = { prio: PLUGIN_FIELD_PRIORITY, value: custom.trace.x_request_id_0 };
  if (custom.trace.x_request_id_1 !== null) info.xRequestId1 = { prio: PLUGIN_FIELD_PRIORITY, value: custom.trace.x_request_id_1 };
  if (custom.trace.http_proxy_client !== null) info.clientIp = { prio: PLUGIN_FIELD_PRIORITY, value: custom.trace.http_proxy_client };
  info.attributes.push(...custom.attributes);
  if (custom.biz_type > 0) info.bizType = custom.biz_type;
  if (custom.biz_code !== null) info.bizCode = custom.biz_code;
  if (custom.biz_scenario !== null) info.bizScenario = custom.biz_scenario;
  if (custom.biz_response_code !== null) info.bizResponseCode = custom.biz_response_code;
  if (custom.is_async !== null) info.isAsync = custom.is_async;
  if (custom.is_reversed !== null) info.isReversed = custom.is_reversed;
}

/** HttpInfo::merge(self = a, other = b): b's message folded into a (a session). */
export function mergeHttp(a: HttpInfo, b: HttpInfo): void {
  if (b.msgType === "request") {
    if (a.path === "") a.path = b.path;
    if (a.host === "") a.host = b.host;
    if (a.method === "") a.method = b.method;
    if (a.endpoint === null) a.endpoint = b.endpoint;
    if (a.serviceName === null) a.serviceName = b.serviceName;
    if (a.reqContentLength === null) a.reqContentLength = b.reqContentLength;
    if (a.status !== "ok") {
      a.requestHeader = b.requestHeader;
      a.requestPayload = b.requestPayload;
    } else {
      a.responseHeader = null;
      a.responsePayload = null;
    }
  } else if (b.msgType === "response") {
    if (b.status !== "unknown") a.status = b.status;
    if (a.statusCode === null) a.statusCode = b.statusCode;
    if (a.grpcStatusCode === null) a.grpcStatusCode = b.grpcStatusCode;
    if (a.customException === null) a.customException = b.customException;
    if (a.customResult === null) a.customResult = b.customResult;
    if (a.respContentLength === null) a.respContentLength = b.respContentLength;
    if (b.status !== "ok") {
      a.responseHeader = b.responseHeader;
      a.responsePayload = b.responsePayload;
    } else {
      a.requestHeader = null;
      a.requestPayload = null;
    }
  }
  // gRPC / Triple (HTTP/2 records): the other's protocol wins.
  if (b.proto === 41 || b.proto === 49) a.proto = b.proto;
  if (b.isReversed) a.isReversed = true;
  if (b.bizType > 0) a.bizType = b.bizType;
  if (a.bizCode === "") a.bizCode = b.bizCode;
  if (a.bizScenario === "") a.bizScenario = b.bizScenario;
  if (a.bizResponseCode === "") a.bizResponseCode = b.bizResponseCode;
  for (const f of b.traceIds) insertPrio(a.traceIds, f.prio, f.value);
  if (a.spanId.value === "") a.spanId = b.spanId;
  if (a.xRequestId0.value === "") a.xRequestId0 = b.xRequestId0;
  if (a.xRequestId1.value === "") a.xRequestId1 = b.xRequestId1;
  a.attributes.push(...b.attributes);
  // AppProtoLogsBaseInfo::merge
  if (a.baseBizType === 0) a.baseBizType = b.baseBizType;
}

/** LogInfoInterface::get_endpoint for HTTP/1: the endpoint when not empty. */
function cachedEndpoint(info: HttpInfo): string | null {
  return info.endpoint !== null && info.endpoint !== "" ? info.endpoint : null;
}

/**
 * The agent's per-flow rrt cache as far as HTTP/1 records use it: the last request (time,
 * endpoint) per key (session id, is_reversed). A response takes the endpoint of a cached
 * request no later than itself, before the plugins' on_http_resp sees it, and clears it.
 */
export class HttpPerfCache {
  private readonly requests = new Map<string, { timeUs: number; endpoint: string | null }>();

  private static key(info: HttpInfo): string {
    return `${info.streamId ?? "-"}/${info.isReversed ? 1 : 0}`;
  }

  /** load_endpoint_from_cache, for a response without an endpoint. */
  endpointFor(info: HttpInfo, timeUs: number): string | null {
    const c = this.requests.get(HttpPerfCache.key(info));
    return c && c.endpoint !== null && timeUs >= c.timeUs ? c.endpoint : null;
  }

  /** perf_stats: a request is remembered (replacing the previous one), a response clears it. */
  update(info: HttpInfo, timeUs: number): void {
    const key = HttpPerfCache.key(info);
    if (info.msgType === "request") this.requests.set(key, { timeUs, endpoint: cachedEndpoint(info) });
    else if (info.msgType === "response") this.requests.delete(key);
  }
}


/** From<HttpInfo> for L7ProtocolSendLog: the attributes, with the raw ones of a log that is not ok. */
export function sentAttributes(info: HttpInfo): KeyVal[] {
  const out = [...info.attributes];
  if (info.status !== "ok") {
    if (info.requestHeader) out.push({ key: "request_header", val: decodeUtf8Lossy(info.requestHeader) });
    if (info.requestPayload) out.push({ key: "request_payload", val: decodeUtf8Lossy(info.requestPayload) });
    if (info.responseHeader) out.push({ key: "response_header", val: decodeUtf8Lossy(info.responseHeader) });
    if (info.responsePayload) out.push({ key: "response_payload", val: decodeUtf8Lossy(info.responsePayload) });
  }
  return out;
}
