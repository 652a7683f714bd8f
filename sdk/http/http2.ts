// The agent's built-in HTTP/2 (and gRPC, Triple) parser on captured TCP (h2c; not TLS, not the
// eBPF Go uprobe path), as it runs on one payload, up to the point where it calls the plugins'
// on_http_req / on_http_resp (./emulator.ts does that, per record).
//
// Mirrors agent/src/flow_generator/protocol_logs/http.rs (deepflowio/deepflow):
// - one HttpLog per flow (new_v2(false): proto HTTP2; from the inference cache it may start as
//   gRPC), with two HPACK decoders (requests, responses) made on first use and kept for the
//   flow (set_header_decoder, reset) — ./hpack.ts. The parser that check_payload ran is the one
//   kept (perf/mod.rs l7_check), so a claiming packet's header block goes through the decoder
//   twice (check, then parse): a literal with incremental indexing is added to the table twice.
// - check_payload: check_http_v2 on the truncated payload with the packet's direction;
//   claims (as a request) when it succeeds with a message type other than Other.
// - parse_payload: parse_http_v2 from offset 0, then again from the offset it returned, until
//   it fails; each success is a record (set_info_by_config, wasm_hook, perf stats run for
//   every one), kept when it is valid (a request with a method, a response with a status
//   code in 100..600) or gRPC/Triple; the call fails (no log) when none is kept.
// - check_http_v2: skips a connection preface ("PRI * HTTP" + 14 bytes); reads frame headers
//   (type 0..9, flags valid for the type, R bit clear); skips stream-0 frames; stops at the
//   first frame of another stream (returning the offset past it, without the version/stream
//   fix-up); decodes the first HEADERS frame (padding and priority removed; a frame cut by the
//   payload end is not decoded; CONTINUATION frames are never read); a DATA frame after it (or
//   any DATA frame once the flow is gRPC) gives the content length (minus padding); Content-
//   Length in the headers ends the frame walk. on_header: :method (request; one of 9
//   methods), :status (response), host / :authority, the first :path, grpc-status (only with
//   streaming_data_enabled), content-type application/grpc* (the flow becomes gRPC),
//   tri-service-version (Triple), then the tracing headers of the config as HTTP/1 and
//   custom_fields.HTTP2. modify_http2_and_grpc: version 2, the stream id; a gRPC request
//   data frame or response data frame gives no record (unless streaming_data_enabled), a gRPC
//   response HEADERS frame without :status gives none.
// - set_info_by_config (the HTTP/2 part, no l7 payload so no raw header/payload kept): the gRPC
//   service name from the path, the endpoint from the path (http_endpoint rules), a
//   response's status from grpc-status, else :status, else ok.
import { asciiEqIgnoreCase, handleEndpoint, parseUnsigned, type HttpParserConfig } from "./config.ts";
import { HpackDecoder, latin1 } from "./hpack.ts";
import { CONNECTION_PREFACE, FLAG_END_STREAM, FLAG_PADDED, FLAG_PRIORITY, FRAME_DATA, FRAME_HEADER_LENGTH, FRAME_HEADERS } from "./http2-frames.ts";
import { isAscii, onTracingHeaders, statusOf } from "./http1.ts";
import { METHODS, newHttpInfo, type HttpInfo } from "./info.ts";
import type { RespStatus } from "../result.ts";
import { decodeUtf8Lossy, decodeUtf8Strict } from "../wire.ts";

export const L7_HTTP2 = 21;
export const L7_GRPC = 41;
export const L7_TRIPLE = 49;

/** L7Protocol::as_str for the three. */
export function http2ProtoName(proto: number): string {
  return proto === L7_GRPC ? "gRPC" : proto === L7_TRIPLE ? "Triple" : "HTTP2";
}

const MAGIC_LENGTH = CONNECTION_PREFACE.length;
// The agent compares only "PRI * HTTP" (HTTPV2_MAGIC_PREFIX) and skips the whole preface.
const MAGIC_PREFIX = Buffer.from(CONNECTION_PREFACE.slice(0, 10), "latin1");

/** VALID_FLAGS_FOR_HTTP2_FRAME_TYPE (RFC 9113), types 0..9. */
const VALID_FLAGS = [0b00001001, 0b00101101, 0, 0, 0b00000001, 0b00001100, 0b00000001, 0, 0, 0b00000100];

interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

/** Httpv2Headers::parse_headers_frame: false (and `h` unchanged) for a frame header the agent refuses. */
function parseFrameHeader(p: Uint8Array, at: number, h: FrameHeader): boolean {
  const type = p[at + 3]!;
  if (type > 9) return false;
  const flags = p[at + 4]!;
  if ((~VALID_FLAGS[type]! & flags & 0xff) !== 0) return false;
  if (p[at + 5]! & 0x80) return false;
  h.length = (p[at]! << 16) | (p[at + 1]! << 8) | p[at + 2]!;
  h.type = type;
  h.flags = flags;
  h.streamId = ((p[at + 5]! << 24) | (p[at + 6]! << 16) | (p[at + 7]! << 8) | p[at + 8]!) >>> 0;
  return true;
}

function hasMagic(p: Uint8Array, at: number): boolean {
  if (p.length - at < MAGIC_LENGTH) return false;
  for (let i = 0; i < MAGIC_PREFIX.length; i++) if (p[at + i] !== MAGIC_PREFIX[i]) return false;
  return true;
}

/** Method::from_frame_type. */
function frameMethod(type: number, clientToServer: boolean): string {
  if (type === FRAME_DATA) return clientToServer ? "_REQUEST_DATA" : "_RESPONSE_DATA";
  if (type === FRAME_HEADERS) return clientToServer ? "_REQUEST_HEADER" : "_RESPONSE_HEADER";
  return "";
}


/** nom's ParseTo for a u16/u32: UTF-8, then str::parse; 0 when either fails (unwrap_or_default). */
function parseTo(val: Uint8Array, max: number): number {
  const s = decodeUtf8Strict(val);
  return (s === null ? null : parseUnsigned(s, max)) ?? 0;
}

/** set_grpc_status. */
export function grpcStatusOf(code: number): RespStatus {
  if (code === 0) return "ok";
  if (code === 1 || code === 3 || code === 9 || code === 11 || code === 16 || (code >= 5 && code <= 7)) return "client_error";
  return "server_error";
}

/** One record of a payload: the record and where its part of the payload starts (what the hook gets). */
export interface Http2Record {
  info: HttpInfo;
  offset: number;
  /** Kept as a log (valid, or gRPC/Triple); the hook runs for every record. */
  keep: boolean;
}

/** HttpLog for one HTTP/2 flow. */
export class Http2Log {
  private reqDecoder: HpackDecoder | null = null;
  private respDecoder: HpackDecoder | null = null;

  constructor(
    /** The parser's protocol: HTTP/2, or gRPC / Triple once a header said so. */
    public proto: number,
    private readonly cfg: HttpParserConfig,
  ) {}

  /** check_payload (the caller checked TCP), on the truncated payload, with the packet's direction. */
  check(payload: Uint8Array, clientToServer: boolean): boolean {
    const info = newHttpInfo(this.proto, this.cfg.copyApmTraceId);
    info.msgType = "other";
    return this.checkHttpV2(payload, clientToServer, info) !== null && info.msgType !== "other";
  }

  /** parse_payload: the records of the payload (before the hooks), or null (the call fails). */
  parse(payload: Uint8Array, clientToServer: boolean): Http2Record[] | null {
    const out: Http2Record[] = [];
    let offset = 0;
    while (offset <= payload.length) {
      const info = newHttpInfo(this.proto, this.cfg.copyApmTraceId);
      info.msgType = "other";
      const part = payload.subarray(offset);
      const n = this.checkHttpV2(part, clientToServer, info);
      if (n === null) break;
      this.setInfoByConfig(clientToServer, info);
      const keep = !isInvalid(info) || info.proto === L7_GRPC || info.proto === L7_TRIPLE;
      if (keep && info.headersOffset !== null) info.headersOffset += offset;
      out.push({ info, offset, keep });
      offset += n;
    }
    return out.some((r) => r.keep) ? out : null;
  }

  /** check_http_v2: the offset past what it read, or null (Err). */
  private checkHttpV2(payload: Uint8Array, c2s: boolean, info: HttpInfo): number | null {
    const cfg = this.cfg;
    let contentLength: number | null = null;
    let headerFrameParsed = false;
    let isHttpv2 = false;
    let fp = 0;
    const h: FrameHeader = { length: 0, type: 0, flags: 0, streamId: 0 };
    let headersOffset = 0;
    let streamId = 0;
    let offset = 0;

    while (payload.length - fp > FRAME_HEADER_LENGTH) {
      if (hasMagic(payload, fp)) {
        fp += MAGIC_LENGTH;
        headersOffset += MAGIC_LENGTH;
        offset += MAGIC_LENGTH;
        continue;
      }
      if (!parseFrameHeader(payload, fp, h)) {
        // A HEADERS frame without Content-Length was read and the rest is cut: no length.
        if (headerFrameParsed) {
          info.streamId = h.streamId;
          isHttpv2 = true;
        }
        break;
      }
      offset += h.length + FRAME_HEADER_LENGTH;
      if (h.streamId === 0) {
        if (h.length + FRAME_HEADER_LENGTH >= payload.length - fp) break;
        fp += h.length + FRAME_HEADER_LENGTH;
        headersOffset += h.length + FRAME_HEADER_LENGTH;
        continue;
      }
      if (streamId === 0) streamId = h.streamId;
      else if (streamId !== h.streamId) return offset;

      fp += FRAME_HEADER_LENGTH;
      const remaining = payload.length - fp;
      if (!headerFrameParsed && h.type === FRAME_HEADERS) {
        let l = 0;
        if (h.flags & FLAG_PADDED) {
          if (h.length <= payload[fp]!) break;
          h.length -= payload[fp]!;
          l += 1;
        }
        if (h.flags & FLAG_PRIORITY) l += 5;
        if (l >= h.length || h.length > remaining) break;
        const block = payload.subarray(fp + l, fp + h.length);
        let decoder = c2s ? this.reqDecoder : this.respDecoder;
        if (decoder === null) {
          // set_header_decoder: both at once, on first use.
          this.reqDecoder = new HpackDecoder(cfg.expectedHeaders);
          this.respDecoder = new HpackDecoder(cfg.expectedHeaders);
          decoder = c2s ? this.reqDecoder : this.respDecoder;
        }
        try {
          decoder.decode(block, (key, val) => {
            this.onHeader(key, val, c2s, info);
            if (latin1(key) === "content-length") contentLength = parseTo(val, 0xffff_ffff);
          });
        } catch {
          return null;
        }
        headerFrameParsed = true;
        if (this.proto === L7_GRPC) info.method = frameMethod(h.type, c2s);
        if (info.headersOffset === null || info.grpcStatusCode !== null) info.headersOffset = headersOffset;
        if (contentLength !== null) {
          isHttpv2 = true;
          break;
        }
      } else if ((headerFrameParsed || this.proto === L7_GRPC || this.proto === L7_TRIPLE) && h.type === FRAME_DATA) {
        // grpc-go sends no Content-Length: the DATA frame after the headers gives it.
        contentLength = h.length;
        if (h.flags & FLAG_PADDED && contentLength > payload[fp]!) contentLength -= payload[fp]!;
        isHttpv2 = true;
        if (info.method === "") info.method = frameMethod(h.type, c2s);
        if (h.flags & FLAG_END_STREAM) break;
        if (h.length >= remaining) break;
        headerFrameParsed = false;
      }
      if (h.streamId > 0) info.streamId = h.streamId;
      if (h.length >= remaining) break;
      fp += h.length;
      headersOffset += h.length + FRAME_HEADER_LENGTH;
    }
    // Only a HEADERS frame, no body: Content-Length 0.
    if (headerFrameParsed && !isHttpv2) {
      contentLength ??= 0;
      isHttpv2 = true;
    }
    if (!isHttpv2) return null;
    if (info.msgType === "other") info.msgType = c2s ? "request" : "response";
    if (!this.modifyHttp2AndGrpc(c2s, contentLength, h.streamId, info)) return null;
    return offset;
  }

  /** modify_http2_and_grpc: false for Err. */
  private modifyHttp2AndGrpc(c2s: boolean, contentLength: number | null, streamId: number, info: HttpInfo): boolean {
    const streaming = this.cfg.grpcStreamingDataEnabled;
    info.version = "2";
    info.streamId ??= streamId;
    const setLength = () => {
      if (contentLength === null) return;
      if (c2s) info.reqContentLength = contentLength;
      else info.respContentLength = contentLength;
    };
    if (info.proto === L7_GRPC || info.proto === L7_TRIPLE) {
      if ((c2s && info.method === "_REQUEST_DATA") || (!c2s && info.method === "_RESPONSE_DATA")) {
        if (!streaming) return false;
        info.msgType = "session";
      } else if (!c2s && info.method === "_RESPONSE_HEADER") {
        if (info.grpcStatusCode === null) {
          if (info.statusCode === null || info.statusCode === 0) return false;
          info.msgType = streaming ? "session" : "response";
        }
      }
    }
    setLength();
    return true;
  }

  /** HttpLog::on_header for HTTP/2 (its errors end the header, as `?` does; the decode goes on). */
  private onHeader(keyBytes: Uint8Array, valBytes: Uint8Array, c2s: boolean, info: HttpInfo): void {
    const key = decodeUtf8Strict(keyBytes);
    if (key === null) return;
    switch (key) {
      case ":method": {
        info.msgType = "request";
        const m = decodeUtf8Lossy(valBytes);
        if (!METHODS.has(m)) return;
        info.method = m;
        break;
      }
      case ":status":
        info.msgType = "response";
        info.statusCode = parseTo(valBytes, 0xffff);
        break;
      case "host":
      case ":authority":
        info.host = decodeUtf8Lossy(valBytes);
        break;
      case ":path":
        if (info.path === "") info.path = decodeUtf8Lossy(valBytes);
        break;
      case "grpc-status":
        if (this.cfg.grpcStreamingDataEnabled) {
          info.msgType = "response";
          info.grpcStatusCode = parseTo(valBytes, 0xffff);
        }
        break;
      case "tri-service-version":
        this.proto = L7_TRIPLE;
        info.proto = L7_TRIPLE;
        info.method = "POST";
        break;
      case "content-type":
        if (this.proto !== L7_TRIPLE && startsWithGrpc(valBytes)) {
          this.proto = L7_GRPC;
          info.proto = L7_GRPC;
        }
        break;
    }
    if (!isAscii(key)) return;
    const val = decodeUtf8Strict(valBytes);
    if (val === null) return;
    onTracingHeaders(this.cfg, key, val, c2s, info);
    // process_attributes: extra_log_fields.http2 for HTTP/2, gRPC and Triple records.
    for (const f of this.cfg.customFieldsHttp2) if (asciiEqIgnoreCase(f, key)) info.attributes.push({ key: key.replaceAll("-", "_"), val });
  }

  /** set_info_by_config, the HTTP/2 part up to wasm_hook (open-source build, obfuscation off). */
  private setInfoByConfig(c2s: boolean, info: HttpInfo): void {
    info.serviceName = grpcPackageServiceName(info);
    if (!this.cfg.endpointDisabled) {
      const path = info.endpoint || info.path;
      if (path) info.endpoint = handleEndpoint(this.cfg.endpointTrie, path);
    }
    if (!c2s) {
      if (info.grpcStatusCode !== null) info.status = grpcStatusOf(info.grpcStatusCode);
      else if (info.statusCode !== null) info.status = statusOf(info.statusCode);
      else info.status = "ok";
    }
  }
}

const GRPC_CONTENT_TYPE = Buffer.from("application/grpc", "latin1");

function startsWithGrpc(v: Uint8Array): boolean {
  if (v.length < GRPC_CONTENT_TYPE.length) return false;
  for (let i = 0; i < GRPC_CONTENT_TYPE.length; i++) if (v[i] !== GRPC_CONTENT_TYPE[i]) return false;
  return true;
}

/** grpc_package_service_name: "/pkg.Service/Method" → "pkg.Service" for a gRPC record. */
function grpcPackageServiceName(info: HttpInfo): string | null {
  if (info.proto !== L7_GRPC || Buffer.byteLength(info.path, "utf8") < 6) return null;
  const slashes: number[] = [];
  for (let i = 0; i < info.path.length; i++) if (info.path[i] === "/") slashes.push(i);
  if (slashes.length !== 2) return null;
  const [start, end] = slashes as [number, number];
  if (start + 1 === end) return null;
  return info.path.slice(start + 1, end);
}

/** HttpInfo::is_invalid. */
function isInvalid(info: HttpInfo): boolean {
  if (info.msgType === "request") return info.method === "";
  if (info.msgType === "response") return info.statusCode === null || info.statusCode < 100 || info.statusCode > 600;
  return info.msgType === "other";
}
