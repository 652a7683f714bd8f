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

/** Beyond this many µs from 1970 a double no longer holds every µs: the exact path formats them. */
const EXACT_US = 2 ** 53;

/**
 * µs since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmuuuZ", as Date#toISOString writes the
 * millisecond, then the µs digits; the date and time of day are made once per second, not
 * per row. Any finite time is written (a corrupt capture's year 586381 too, as tshark shows
 * it); NaN and infinities throw a RangeError.
 */
export function isoMicros(us: number): string {
  if (!(Math.abs(us) < EXACT_US)) return isoMicrosExact(us);
  const ms = Math.floor(us / 1000);
  const sec = Math.floor(ms / 1000);
  if (sec !== isoSecond) {
    const iso = isoMicrosExact(sec * 1_000_000);
    // A year outside 0000-9999 is written "+012345-..." or "-000001-...": keep the general form.
    if (iso.length !== 27) return isoMicrosExact(us);
    isoSecond = sec;
    isoPrefix = iso.slice(0, 20);
  }
  return isoPrefix + DIGITS3[ms - sec * 1000]! + DIGITS3[Math.floor(us) - ms * 1000]! + "Z";
}

const DAY_US = 86_400_000_000n;

/** isoMicros by integer arithmetic and the proleptic Gregorian calendar, for any year. */
function isoMicrosExact(us: number): string {
  const t = BigInt(Math.floor(us)); // a RangeError for NaN and infinities
  let days = t / DAY_US;
  let inDay = t % DAY_US;
  if (inDay < 0n) {
    inDay += DAY_US;
    days -= 1n;
  }
  const [y, m, d] = civilFromDays(Number(days));
  const r = Number(inDay);
  const year = y >= 0 && y <= 9999 ? String(y).padStart(4, "0") : (y < 0 ? "-" : "+") + String(Math.abs(y)).padStart(6, "0");
  const two = (n: number) => String(n).padStart(2, "0");
  return `${year}-${two(m)}-${two(d)}T${two(Math.floor(r / 3_600_000_000))}:${two(Math.floor(r / 60_000_000) % 60)}:` +
    `${two(Math.floor(r / 1_000_000) % 60)}.${String(r % 1_000_000).padStart(6, "0")}Z`;
}

/** Days since 1970-01-01 → [year, month, day], proleptic Gregorian (400-year eras of 146,097 days). */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719_468; // days since 0000-03-01
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  return [yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day];
}

/** [year, month, day] → days since 1970-01-01, the inverse of civilFromDays. */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719_468;
}

const ISO_MICROS = /^([+-]\d{6,}|\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{6})Z$/;

/** What isoMicros wrote, back in µs since the epoch (NaN for other text); past 2^53 µs, the nearest double. */
export function isoMicrosValue(text: string): number {
  const m = ISO_MICROS.exec(text);
  if (!m) return NaN;
  const days = daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
  return ((days * 24 + Number(m[4])) * 60 + Number(m[5])) * 60_000_000 + Number(m[6]) * 1_000_000 + Number(m[7]);
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
