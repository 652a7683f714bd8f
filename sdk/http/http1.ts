// The agent's built-in HTTP/1.x parser, as it runs on one payload (a packet's, cut to the
// payload truncation), up to the point where it calls the plugins' on_http_req/on_http_resp.
//
// Mirrors agent/src/flow_generator/protocol_logs/http.rs (deepflowio/deepflow):
// - check_payload → http1_check_protocol: TCP only; the first CRLF-ended line must be a
//   request line (is_http_req_line: at least 14 bytes, one of 15 method names and a space,
//   ending in " HTTP/0.9", " HTTP/1.0" or " HTTP/1.1"). A response never claims a flow.
// - parse_payload → parse_http_v1: is_http_v1_payload ("HTTP/" or a method and a space), the
//   first line (V1HeaderIterator: up to the first CRLF, valid UTF-8, not empty); a response
//   (server→client) by get_http_resp_info (ASCII, ≥ 13 bytes, "HTTP/1.0"/"HTTP/1.1", the code
//   from bytes 9..12 within 100..600; 100, 102 and 103 are not logged), a request
//   (client→server) by get_http_request_info (split in three at ASCII whitespace; one of 9
//   methods; the rest exactly "HTTP/1.0" or "HTTP/1.1"); then every header line up to the
//   empty line, the first line that is not CRLF-ended (a header cut by the truncation is not
//   read) or the first that is not UTF-8. A line without ':' or with nothing after it is
//   skipped; the name is lowercased (ASCII) but not trimmed, the value trimmed; on_header
//   takes host, the trace/span/x-request-id/real-client headers of the config (by priority:
//   the first configured name that matched wins, except trace ids, which are all collected
//   with multiple_trace_id_collection) and custom fields; Content-Length (the last one;
//   a value that is not a u32 after leading whitespace counts as 0) is request_length or
//   response_length. The body (V1Structure) starts after the first CRLFCRLF. Nothing looks
//   at what follows: pipelined messages in one payload give one log (the first), a body
//   segment gives none.
// - set_info_by_config (open-source build): the endpoint from the path (handle_endpoint,
//   http_endpoint rules), a response's status from its code (4xx client error, 500..600
//   server error, else ok), and the raw request header / payload kept for error logs
//   (tag_extraction.raw); then wasm_hook (./hook.ts) and the perf cache (./info.ts).
//
// Not emulated: "content-type: application/grpc*" and "tri-service-version" headers (the agent
// then turns the flow into gRPC/Triple and hands its next payloads to its HTTP/2 parser),
// grpc-status (only read with grpc streaming_data_enabled, off by default), obfuscation
// (off for HTTP by default), blacklists, Enterprise custom field policies.
import { asciiEqIgnoreCase, asciiLower, decodeSpanId, decodeTraceId, handleEndpoint, parseUnsigned, rustTrim, rustTrimStart, traceTypeMatches, type HttpParserConfig } from "./config.ts";
import { BASE_FIELD_PRIORITY, METHODS, insertPrio, newHttpInfo, type HttpInfo } from "./info.ts";
import { decodeUtf8Strict, encodeUtf8 } from "../wire.ts";

/** L7Protocol::Http1 (agent/crates/public/src/l7_protocol.rs). */
export const L7_HTTP1 = 20;

const CR = 13;
const LF = 10;

/** HTTP_METHODS: what check_payload and is_http_v1_payload accept as a first word. */
const CHECK_METHODS = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "TRACE", "CONNECT", "PATCH", "LINK", "UNLINK", "COPY", "MOVE", "WRAPPED", "EXTENSION-METHOD"];
const CHECK_METHOD_BYTES = CHECK_METHODS.map((m) => encodeUtf8(m + " "));
const RESPONSE_PREFIX = encodeUtf8("HTTP/");

function startsWith(buf: Uint8Array, prefix: Uint8Array): boolean {
  if (buf.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[i] !== prefix[i]) return false;
  return true;
}

function indexOfCrLf(buf: Uint8Array, from: number): number {
  for (let i = from; i + 1 < buf.length; i++) if (buf[i] === CR && buf[i + 1] === LF) return i;
  return -1;
}

/** V1HeaderIterator: CRLF-ended, non-empty, UTF-8 lines; null ends the iteration. */
class V1Lines {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  next(): string | null {
    const buf = this.buf;
    if (buf.length - this.pos < 2) return null;
    const end = indexOfCrLf(buf, this.pos);
    if (end < 0) return null;
    if (end === this.pos) {
      this.pos += 2;
      return null;
    }
    const line = decodeUtf8Strict(buf, this.pos, end);
    if (line === null) return null;
    this.pos = end + 2;
    return line;
  }
}

/** V1Structure::new(payload).body: after the first CRLFCRLF that follows the first line. */
export function v1Body(payload: Uint8Array): Uint8Array {
  const first = indexOfCrLf(payload, 0);
  if (first < 0) return payload.subarray(payload.length);
  const rest = first + 2;
  for (let i = rest; i + 3 < payload.length; i++) {
    if (payload[i] === CR && payload[i + 1] === LF && payload[i + 2] === CR && payload[i + 3] === LF) return payload.subarray(i + 4);
  }
  return payload.subarray(payload.length);
}

function byteLength(s: string): number {
  return encodeUtf8(s).length;
}

/** is_http_req_line. */
export function isHttpReqLine(line: string): boolean {
  if (byteLength(line) < "GET / HTTP/1.1".length) return false;
  if (!CHECK_METHODS.some((m) => line.startsWith(m + " "))) return false;
  const sp = line.lastIndexOf(" ");
  const last = line.slice(sp + 1);
  return last === "HTTP/0.9" || last === "HTTP/1.0" || last === "HTTP/1.1";
}

/** HttpLog::check_payload for HTTP/1 (the caller checked TCP): a request line claims the flow. */
export function http1Check(payload: Uint8Array): boolean {
  // A request line starts with a method and a space: most payloads are refused here, undecoded.
  if (!CHECK_METHOD_BYTES.some((m) => startsWith(payload, m))) return false;
  const first = new V1Lines(payload).next();
  return first !== null && isHttpReqLine(first);
}

/** is_http_v1_payload. */
function isHttpV1Payload(buf: Uint8Array): boolean {
  if (startsWith(buf, RESPONSE_PREFIX)) return true;
  return CHECK_METHOD_BYTES.some((m) => startsWith(buf, m));
}

const ASCII_WS = new Set([0x20, 0x09, 0x0a, 0x0c, 0x0d]);

/** get_http_request_info: splitn(3, ASCII whitespace). */
function requestLine(line: string): { method: string; path: string; version: string } | null {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < line.length && parts.length < 2; i++) {
    if (ASCII_WS.has(line.charCodeAt(i))) {
      parts.push(line.slice(start, i));
      start = i + 1;
    }
  }
  if (parts.length < 2) return null;
  return { method: parts[0]!, path: parts[1]!, version: line.slice(start) };
}

export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** get_http_resp_info. */
function responseLine(line: string): { version: "1.0" | "1.1"; code: number } | null {
  // HTTP_RESP_MIN_LEN ("HTTP/1.1 200 ") and is_ascii.
  if (line.length < 13 || !isAscii(line)) return null;
  const v = line.slice(0, 8);
  if (v !== "HTTP/1.0" && v !== "HTTP/1.1") return null;
  const code = parseUnsigned(line.slice(9, 12), 0xffff);
  if (code === null || code < 100 || code > 600) return null;
  return { version: v === "HTTP/1.0" ? "1.0" : "1.1", code };
}

/** What parse_http_v1 gives: the record, and the body (V1Structure) set_info_by_config keeps for error logs. */
export interface Http1Parse {
  info: HttpInfo;
  body: Uint8Array;
}

/**
 * HttpLog::parse_http_v1 followed by the part of set_info_by_config that runs before the
 * wasm hook. `payload` is what the agent parses (already cut to the payload truncation);
 * null where the agent returns an error (no log).
 */
export function parseHttp1(payload: Uint8Array, clientToServer: boolean, cfg: HttpParserConfig): Http1Parse | null {
  if (!isHttpV1Payload(payload)) return null;
  const lines = new V1Lines(payload);
  const first = lines.next();
  if (first === null) return null;
  const info = newHttpInfo(L7_HTTP1, cfg.copyApmTraceId);
  if (!clientToServer) {
    const r = responseLine(first);
    // 100 Continue, 102 Processing, 103 Early Hints: the real response follows.
    if (r === null || r.code === 100 || r.code === 102 || r.code === 103) return null;
    info.version = r.version;
    info.statusCode = r.code;
    info.msgType = "response";
  } else {
    const r = requestLine(first);
    if (r === null || !METHODS.has(r.method)) return null;
    if (r.version !== "HTTP/1.0" && r.version !== "HTTP/1.1") return null;
    info.method = r.method;
    info.path = r.path;
    info.version = r.version === "HTTP/1.0" ? "1.0" : "1.1";
    info.msgType = "request";
  }

  let contentLength: number | null = null;
  for (let line = lines.next(); line !== null; line = lines.next()) {
    const col = line.indexOf(":");
    if (col < 0 || col + 1 >= line.length) continue;
    const key = line.slice(0, col);
    const value = line.slice(col + 1);
    const lowerKey = asciiLower(key);
    onHeader(cfg, lowerKey, rustTrim(value), clientToServer, info);
    if (lowerKey === "content-length") contentLength = parseUnsigned(rustTrimStart(value), 0xffff_ffff) ?? 0;
  }
  const body = v1Body(payload);
  if (clientToServer) info.reqContentLength = contentLength;
  else info.respContentLength = contentLength;

  setInfoByConfig(cfg, payload, body, clientToServer, info);
  return { info, body };
}

/** HttpLog::on_header, for a lowercased HTTP/1 header name and its trimmed value. */
function onHeader(cfg: HttpParserConfig, key: string, val: string, clientToServer: boolean, info: HttpInfo): void {
  // The HTTP/2 pseudo-headers on_header also reads (":method", ":status", ":authority",
  // ":path") cannot come from an HTTP/1 line: its name ends at the first ':'.
  if (key === "host") info.host = val;
  if (!isAscii(key)) return;
  onTracingHeaders(cfg, key, val, clientToServer, info);
  // process_attributes: extra_log_fields.http, named with '-' turned into '_'.
  for (const f of cfg.customFields) if (asciiEqIgnoreCase(f, key)) info.attributes.push({ key: key.replaceAll("-", "_"), val });
}

/**
 * The part of HttpLog::on_header shared by HTTP/1 and HTTP/2, for an ASCII name and a UTF-8
 * value: trace ids, span id, x-request-id and (requests) the real client, by the config lists.
 */
export function onTracingHeaders(cfg: HttpParserConfig, key: string, val: string, clientToServer: boolean, info: HttpInfo): void {

  if (cfg.traceSet.has(key)) {
    for (let i = 0; i < cfg.traceTypes.length; i++) {
      const prio = BASE_FIELD_PRIORITY + i;
      if ((info.traceIds[0]?.prio ?? 255) <= prio && !cfg.multipleTraceIdCollection) break;
      const t = cfg.traceTypes[i]!;
      if (!traceTypeMatches(t, key)) continue;
      const id = decodeTraceId(t, val);
      if (id === null) continue;
      if (info.copyApmTraceId) {
        info.copyApmTraceId = false;
        info.attributes.push({ key: "apm_trace_id", val: id });
      }
      insertPrio(info.traceIds, prio, id);
    }
  }
  if (cfg.spanSet.has(key)) {
    for (let i = 0; i < cfg.spanTypes.length; i++) {
      const prio = BASE_FIELD_PRIORITY + i;
      if (info.spanId.prio <= prio) break;
      const t = cfg.spanTypes[i]!;
      if (!traceTypeMatches(t, key)) continue;
      const id = decodeSpanId(t, val);
      if (id !== null) info.spanId = { prio, value: id };
    }
  }

  const target = clientToServer ? "xRequestId0" : "xRequestId1";
  for (let i = 0; i < cfg.xRequestId.length; i++) {
    const prio = BASE_FIELD_PRIORITY + i;
    if (info[target].prio <= prio) break;
    if (cfg.xRequestId[i] === key) {
      info[target] = { prio, value: val };
      break;
    }
  }

  if (clientToServer) {
    for (let i = 0; i < cfg.proxyClient.length; i++) {
      const prio = BASE_FIELD_PRIORITY + i;
      if (info.clientIp !== null && info.clientIp.prio <= prio) break;
      if (cfg.proxyClient[i] === key) {
        info.clientIp = { prio, value: val };
        break;
      }
    }
  }
}

/** set_status: 400..499 client error, 500..600 server error, anything else ok. */
export function statusOf(code: number): HttpInfo["status"] {
  if (code >= 400 && code <= 499) return "client_error";
  if (code >= 500 && code <= 600) return "server_error";
  return "ok";
}

/** set_info_by_config up to wasm_hook (open-source build, obfuscation off). */
function setInfoByConfig(cfg: HttpParserConfig, payload: Uint8Array, body: Uint8Array, clientToServer: boolean, info: HttpInfo): void {
  // set_endpoint_by_config: from the endpoint if set (it is not yet here), else the path.
  if (!cfg.endpointDisabled) {
    const path = info.endpoint || info.path;
    if (path) info.endpoint = handleEndpoint(cfg.endpointTrie, path);
  }
  const headerLen = payload.length - body.length;
  if (!clientToServer) {
    info.status = info.statusCode === null ? "ok" : statusOf(info.statusCode);
    if (info.status !== "ok") {
      if (cfg.errorResponseHeader > 0) {
        const n = Math.min(headerLen, cfg.errorResponseHeader);
        if (n > 0) info.responseHeader = payload.slice(0, n);
      }
      if (cfg.errorResponsePayload > 0) {
        const n = Math.min(body.length, cfg.errorResponsePayload);
        if (n > 0) info.responsePayload = body.slice(0, n);
      }
    }
  } else {
    if (cfg.errorRequestHeader > 0) {
      const n = Math.min(headerLen, cfg.errorRequestHeader);
      if (n > 0) info.requestHeader = payload.slice(0, n);
    } else info.requestHeader = new Uint8Array(0);
    if (cfg.errorRequestPayload > 0) {
      const n = Math.min(body.length, cfg.errorRequestPayload);
      if (n > 0) info.requestPayload = body.slice(0, n);
    } else info.requestPayload = new Uint8Array(0);
  }
}
