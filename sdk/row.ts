// The agent's l7_flow_log row for one log (column names as in its l7_flow_log table): what a
// replay hands its caller, one row per request/response session or unpaired log.
import { RESP_STATUS_CODE } from "./result.ts";
import { dubboAttributes, dubboSessionId, dubboTraceIds, isDubboInfo, L7_DUBBO, type DubboInfo } from "./custom/dubbo.ts";
import { isZmtpInfo, L7_ZMTP, zmtpVersion, type ZmtpInfo } from "./custom/zmtp.ts";
import { isHttpInfo, sentAttributes, traceIdStrings, type HttpInfo } from "./http/info.ts";
import type { AnyL7Log, L7Log, LogMessageType } from "./session.ts";

/** L7Protocol::Custom: every plugin log has this l7_protocol. */
export const L7_PROTOCOL_CUSTOM = 127;

export interface FlowLogRow {
  start_time: string;
  end_time: string;
  flow_id: number;
  /** LogMessageType: request, response, session (or other, for HTTP/2). */
  type: LogMessageType;
  l7_protocol: number;
  l7_protocol_str: string;
  version: string;
  /** IP protocol: 6 TCP, 17 UDP. */
  protocol: number;
  is_ipv4: number;
  ip_0: string;
  ip_1: string;
  client_port: number;
  server_port: number;
  /** Not an agent column: how the replay decided which end is the server. */
  direction_source: string;
  request_type: string;
  request_domain: string;
  request_resource: string;
  endpoint: string;
  request_id: number | null;
  response_status: number;
  response_code: number | null;
  response_exception: string;
  response_result: string;
  trace_id: string;
  trace_ids: string[];
  span_id: string;
  parent_span_id: string;
  x_request_id_0: string;
  x_request_id_1: string;
  http_proxy_client: string;
  attribute_names: string[];
  attribute_values: string[];
  request_length: number | null;
  response_length: number | null;
  captured_request_byte: number;
  captured_response_byte: number;
  /** µs between request and response once paired, else 0. */
  response_duration: number;
  req_tcp_seq: number;
  resp_tcp_seq: number;
  biz_type: number;
  biz_code: string;
  biz_scenario: string;
  biz_response_code: string;
  /** Not an agent column: records merged into this row. */
  merged_records: number;
}

/** "000" to "999". */
const DIGITS3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));

/** The last second formatted ("YYYY-MM-DDTHH:MM:SS."): rows come in time order, so most rows reuse it. */
let isoSecond = NaN;
let isoPrefix = "";

/**
 * µs since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmuuuZ": Date#toISOString's text cut to the
 * millisecond, then the µs digits; toISOString runs once per second, not per row.
 */
export function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const sec = Math.floor(ms / 1000);
  if (sec !== isoSecond) {
    const iso = new Date(sec * 1000).toISOString(); // throws for an invalid time, as per row did
    // A year outside 0000-9999 is written "+012345-..." or "-000001-...": keep the general form.
    if (iso.length !== 24) return isoMicrosSlow(us);
    isoSecond = sec;
    isoPrefix = iso.slice(0, 20);
  }
  const sub = Math.floor(us) % 1000; // negative (before 1970) as the original formula writes it
  return isoPrefix + DIGITS3[ms - sec * 1000]! + (sub >= 0 ? DIGITS3[sub]! : String(sub).padStart(3, "0")) + "Z";
}

/** The per-row formula isoMicros reproduces (and falls back to for years outside 0000-9999). */
function isoMicrosSlow(us: number): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString(); // ...SS.mmmZ
  return `${iso.slice(0, 23)}${String(Math.floor(us) % 1000).padStart(3, "0")}Z`;
}

/** L7ProtocolSendLog::from(CustomInfo or HttpInfo) plus base info, with the Timeout override of a flushed log. */
export function toRow(log: AnyL7Log, timedOut: boolean): FlowLogRow {
  if (isHttpInfo(log.info)) return httpRow(log as L7Log<HttpInfo>, timedOut);
  if (isDubboInfo(log.info)) return dubboRow(log as L7Log<DubboInfo>, timedOut);
  if (isZmtpInfo(log.info)) return zmtpRow(log as L7Log<ZmtpInfo>, timedOut);
  return customRow(log as L7Log, timedOut);
}

/**
 * A row of the agent's ZMTP parser: From<ZmtpInfo> for L7ProtocolSendLog
 * (agent/src/flow_generator/protocol_logs/mq/zmtp.rs) plus base info. request_type is the frame
 * type (Greeting, Command, Message), request_domain and request_resource the subscription, the
 * exception the ERROR text; a plugin's protocol name, when it gave one, is l7_protocol_str.
 */
function zmtpRow(log: L7Log<ZmtpInfo>, timedOut: boolean): FlowLogRow {
  const i = log.info;
  const rev = i.isReversed;
  return {
    start_time: isoMicros(log.startUs),
    end_time: isoMicros(log.endUs),
    flow_id: log.flowId,
    type: log.type,
    l7_protocol: L7_ZMTP,
    l7_protocol_str: i.protocolStr ?? "ZMTP",
    version: zmtpVersion(i),
    protocol: log.l4,
    is_ipv4: log.isV6 ? 0 : 1,
    ip_0: rev ? log.serverIp : log.clientIp,
    ip_1: rev ? log.clientIp : log.serverIp,
    client_port: rev ? log.serverPort : log.clientPort,
    server_port: rev ? log.clientPort : log.serverPort,
    direction_source: log.directionSource,
    request_type: i.frameType,
    request_domain: i.subscription ?? "",
    request_resource: i.subscription ?? "",
    endpoint: "",
    request_id: null,
    response_status: RESP_STATUS_CODE[timedOut ? "timeout" : i.status],
    response_code: null,
    response_exception: i.errMsg ?? "",
    response_result: "",
    trace_id: "",
    trace_ids: [],
    span_id: "",
    parent_span_id: "",
    x_request_id_0: "",
    x_request_id_1: "",
    http_proxy_client: "",
    attribute_names: i.attributes.map((a) => a.key),
    attribute_values: i.attributes.map((a) => a.val),
    request_length: i.reqMsgSize,
    response_length: i.resMsgSize,
    captured_request_byte: log.capturedRequestBytes,
    captured_response_byte: log.capturedResponseBytes,
    response_duration: log.rrtUs,
    req_tcp_seq: rev ? log.respTcpSeq : log.reqTcpSeq,
    resp_tcp_seq: rev ? log.reqTcpSeq : log.respTcpSeq,
    biz_type: 0,
    biz_code: "",
    biz_scenario: "",
    biz_response_code: "",
    merged_records: log.merged,
  };
}

/**
 * A row of the agent's Dubbo parser: From<DubboInfo> for L7ProtocolSendLog
 * (agent/src/flow_generator/protocol_logs/rpc/dubbo.rs) plus base info. request_type is the
 * method, request_domain and request_resource the service; the exception is sent for a status
 * that is not ok; trace_ids are the top 3; the attributes start with serialization_id.
 */
function dubboRow(log: L7Log<DubboInfo>, timedOut: boolean): FlowLogRow {
  const i = log.info;
  const rev = i.isReversed;
  const traceIds = dubboTraceIds(i);
  const attributes = dubboAttributes(i);
  return {
    start_time: isoMicros(log.startUs),
    end_time: isoMicros(log.endUs),
    flow_id: log.flowId,
    type: log.type,
    l7_protocol: L7_DUBBO,
    l7_protocol_str: "Dubbo",
    version: i.dubboVersion,
    protocol: log.l4,
    is_ipv4: log.isV6 ? 0 : 1,
    ip_0: rev ? log.serverIp : log.clientIp,
    ip_1: rev ? log.clientIp : log.serverIp,
    client_port: rev ? log.serverPort : log.clientPort,
    server_port: rev ? log.clientPort : log.serverPort,
    direction_source: log.directionSource,
    request_type: i.methodName,
    request_domain: i.serviceName,
    request_resource: i.serviceName,
    endpoint: i.endpoint ?? "",
    request_id: dubboSessionId(i),
    response_status: RESP_STATUS_CODE[timedOut ? "timeout" : i.respStatus],
    response_code: i.statusCode,
    response_exception: i.respStatus !== "ok" ? (i.customException ?? "") : "",
    response_result: i.customResult ?? "",
    trace_id: traceIds[0] ?? "",
    trace_ids: traceIds,
    span_id: i.spanId.value,
    parent_span_id: "",
    x_request_id_0: "",
    x_request_id_1: "",
    http_proxy_client: "",
    attribute_names: attributes.map((a) => a.key),
    attribute_values: attributes.map((a) => a.val),
    request_length: i.reqMsgSize,
    response_length: i.respMsgSize,
    captured_request_byte: log.capturedRequestBytes,
    captured_response_byte: log.capturedResponseBytes,
    response_duration: log.rrtUs,
    req_tcp_seq: rev ? log.respTcpSeq : log.reqTcpSeq,
    resp_tcp_seq: rev ? log.reqTcpSeq : log.respTcpSeq,
    biz_type: 0,
    biz_code: "",
    biz_scenario: "",
    biz_response_code: i.bizResponseCode,
    merged_records: log.merged,
  };
}

function customRow(log: L7Log, timedOut: boolean): FlowLogRow {
  const i = log.info;
  // is_reversed: the plugin says the packet roles are swapped (AppProtoLogsBaseInfo::reverse).
  const rev = i.is_reversed === true;
  const status = timedOut ? "timeout" : i.resp.status;
  return {
    start_time: isoMicros(log.startUs),
    end_time: isoMicros(log.endUs),
    flow_id: log.flowId,
    type: log.type,
    l7_protocol: L7_PROTOCOL_CUSTOM,
    l7_protocol_str: i.proto_str,
    version: i.req.version,
    protocol: log.l4,
    is_ipv4: log.isV6 ? 0 : 1,
    ip_0: rev ? log.serverIp : log.clientIp,
    ip_1: rev ? log.clientIp : log.serverIp,
    client_port: rev ? log.serverPort : log.clientPort,
    server_port: rev ? log.clientPort : log.serverPort,
    direction_source: log.directionSource,
    request_type: i.req.req_type || i.resp.req_type,
    request_domain: i.req.domain,
    request_resource: i.req.resource,
    endpoint: i.req.endpoint || i.resp.endpoint,
    request_id: i.request_id,
    response_status: RESP_STATUS_CODE[status],
    response_code: i.resp.code,
    response_exception: i.resp.exception,
    response_result: i.resp.result,
    trace_id: i.trace.trace_ids[0] ?? "",
    trace_ids: i.trace.trace_ids,
    span_id: i.trace.span_id ?? "",
    parent_span_id: i.trace.parent_span_id ?? "",
    x_request_id_0: i.trace.x_request_id_0 ?? "",
    x_request_id_1: i.trace.x_request_id_1 ?? "",
    http_proxy_client: i.trace.http_proxy_client ?? "",
    attribute_names: i.attributes.map((a) => a.key),
    attribute_values: i.attributes.map((a) => a.val),
    request_length: i.req_len,
    response_length: i.resp_len,
    captured_request_byte: log.capturedRequestBytes,
    captured_response_byte: log.capturedResponseBytes,
    response_duration: log.rrtUs,
    req_tcp_seq: rev ? log.respTcpSeq : log.reqTcpSeq,
    resp_tcp_seq: rev ? log.reqTcpSeq : log.respTcpSeq,
    biz_type: i.biz_type,
    biz_code: i.biz_code ?? "",
    biz_scenario: i.biz_scenario ?? "",
    biz_response_code: i.biz_response_code ?? "",
    merged_records: log.merged,
  };
}

/**
 * An HTTP row: From<HttpInfo> for L7ProtocolSendLog (agent/src/flow_generator/protocol_logs/http.rs)
 * plus base info. l7_protocol_str is the name the server gives the L7Protocol (20 HTTP, 21 HTTP2,
 * 41 gRPC, 49 Triple; the agent sends none); parent_span_id is always empty (an HTTP record has
 * none; a plugin's is dropped). A gRPC row has request_type POST (not for a streaming "session"
 * record), its service name as request_resource, its path as endpoint, and grpc-status (when
 * read) as response_code.
 */
function httpRow(log: L7Log<HttpInfo>, timedOut: boolean): FlowLogRow {
  const i = log.info;
  const grpc = i.proto === 41;
  const rev = i.isReversed;
  const traceIds = traceIdStrings(i.traceIds);
  const attributes = sentAttributes(i);
  return {
    start_time: isoMicros(log.startUs),
    end_time: isoMicros(log.endUs),
    flow_id: log.flowId,
    type: log.type,
    l7_protocol: i.proto,
    l7_protocol_str: L7_NAMES[i.proto] ?? "HTTP",
    version: i.version,
    protocol: log.l4,
    is_ipv4: log.isV6 ? 0 : 1,
    ip_0: rev ? log.serverIp : log.clientIp,
    ip_1: rev ? log.clientIp : log.serverIp,
    client_port: rev ? log.serverPort : log.clientPort,
    server_port: rev ? log.clientPort : log.serverPort,
    direction_source: log.directionSource,
    request_type: grpc && i.msgType !== "session" ? "POST" : i.method,
    request_domain: i.host,
    request_resource: grpc ? (i.serviceName ?? "") : i.path,
    endpoint: grpc ? i.path : (i.endpoint ?? ""),
    request_id: i.streamId,
    response_status: RESP_STATUS_CODE[timedOut ? "timeout" : i.status],
    response_code: grpc ? (i.grpcStatusCode ?? i.statusCode) : i.statusCode,
    // The exception is sent for a status that is not ok (decided before a timeout override).
    response_exception: i.status !== "ok" ? (i.customException ?? "") : "",
    response_result: i.customResult ?? "",
    trace_id: traceIds[0] ?? "",
    trace_ids: traceIds,
    span_id: i.spanId.value,
    parent_span_id: "",
    x_request_id_0: i.xRequestId0.value,
    x_request_id_1: i.xRequestId1.value,
    http_proxy_client: i.clientIp?.value ?? "",
    attribute_names: attributes.map((a) => a.key),
    attribute_values: attributes.map((a) => a.val),
    request_length: i.reqContentLength,
    response_length: i.respContentLength,
    captured_request_byte: log.capturedRequestBytes,
    captured_response_byte: log.capturedResponseBytes,
    response_duration: log.rrtUs,
    req_tcp_seq: rev ? log.respTcpSeq : log.reqTcpSeq,
    resp_tcp_seq: rev ? log.reqTcpSeq : log.respTcpSeq,
    biz_type: i.baseBizType,
    biz_code: i.bizCode,
    biz_scenario: i.bizScenario,
    biz_response_code: i.bizResponseCode,
    merged_records: log.merged,
  };
}

const L7_NAMES: Record<number, string> = { 20: "HTTP", 21: "HTTP2", 41: "gRPC", 49: "Triple" };
