// The parse result a plugin hands to the agent through host_read_l7_protocol_info, and
// how the agent reads it: record framing (host_read_l7_protocol_info in
// agent/src/plugin/wasm/abi_import.rs) and each record's two encodings
// (CustomInfo::try_from, from_protobuf and from_legacy_protocol in agent/src/plugin/mod.rs).
// Decoded records carry the agent's CustomInfo field names. Encoders for both forms are
// here too, for test vectors and replay tests.

import { PbDecodeError, PbReader, PbWriter } from "./protobuf.ts";
import { AppInfoField, AppRequestField, AppRespStatus, AppResponseField, AppTraceField, KeyValField } from "./schema.generated.ts";
import { ByteWriter, readU16BE, readU32BE, readWasmStr } from "./wire.ts";

// ---------------------------------------------------------------------------------------
// Wire constants

/** PacketDirection: 0 client→server, 1 server→client (the ctx's direction byte). */
export const DIR_C2S = 0;
export const DIR_S2C = 1;
export type Direction = typeof DIR_C2S | typeof DIR_S2C;

/** L7ResponseStatus (agent/crates/public-derive-internals/src/enums.rs), serde names. */
export type RespStatus = "ok" | "timeout" | "server_error" | "client_error" | "unknown" | "parse_failed";
export const RESP_STATUS_CODE: Readonly<Record<RespStatus, number>> = {
  ok: 0,
  timeout: 2,
  server_error: 3,
  client_error: 4,
  unknown: 5,
  parse_failed: 6,
};
/**
 * Statuses a plugin may send: AppRespStatus of WasmPluginApi.proto, and the values
 * from_legacy_protocol accepts. Anything else (1, 6, ...) rejects the record.
 */
const PLUGIN_STATUS: ReadonlyMap<number, RespStatus> = new Map<AppRespStatus, RespStatus>([
  [AppRespStatus.RESP_OK, "ok"],
  [AppRespStatus.RESP_TIMEOUT, "timeout"],
  [AppRespStatus.RESP_SERVER_ERROR, "server_error"],
  [AppRespStatus.RESP_CLIENT_ERROR, "client_error"],
  [AppRespStatus.RESP_UNKNOWN, "unknown"],
]);

/** The magic that marks a protobuf record (a legacy record cannot start with it). */
export const PB_MAGIC = new Uint8Array([0x50, 0x42]); // "PB"

// ---------------------------------------------------------------------------------------
// Decoded form: the agent's CustomInfo (fields a plugin can set)

export interface KeyVal {
  key: string;
  val: string;
}

export interface CustomInfo {
  /** Not an agent field: which encoding the record used. */
  encoding: "pb" | "legacy";
  /** Replaced by check_payload's name for parse_payload results (WasmLog::parse_payload). */
  proto_str: string;
  req_len: number | null;
  resp_len: number | null;
  request_id: number | null;
  req: { version: string; req_type: string; domain: string; resource: string; endpoint: string };
  resp: {
    status: RespStatus;
    code: number | null;
    exception: string;
    result: string;
    req_type: string;
    endpoint: string;
  };
  trace: {
    trace_ids: string[];
    span_id: string | null;
    parent_span_id: string | null;
    x_request_id_0: string | null;
    x_request_id_1: string | null;
    http_proxy_client: string | null;
  };
  need_protocol_merge: boolean;
  is_req_end: boolean;
  is_resp_end: boolean;
  attributes: KeyVal[];
  biz_type: number;
  biz_code: string | null;
  biz_scenario: string | null;
  biz_response_code: string | null;
  is_async: boolean | null;
  is_reversed: boolean | null;
}

/** A record the agent refuses. `agentPanics`: the agent itself would panic on it (a bug). */
export class RecordDecodeError extends Error {
  constructor(
    message: string,
    readonly agentPanics = false,
  ) {
    super(message);
    this.name = "RecordDecodeError";
  }
}

const emptyRequest = (): CustomInfo["req"] => ({ version: "", req_type: "", domain: "", resource: "", endpoint: "" });
// CustomInfoResp::default(): L7ResponseStatus::default() is Unknown.
const emptyResponse = (): CustomInfo["resp"] => ({ status: "unknown", code: null, exception: "", result: "", req_type: "", endpoint: "" });

function emptyInfo(encoding: CustomInfo["encoding"]): CustomInfo {
  return {
    encoding,
    proto_str: "",
    req_len: null,
    resp_len: null,
    request_id: null,
    req: emptyRequest(),
    resp: emptyResponse(),
    trace: {
      trace_ids: [],
      span_id: null,
      parent_span_id: null,
      x_request_id_0: null,
      x_request_id_1: null,
      http_proxy_client: null,
    },
    need_protocol_merge: false,
    is_req_end: false,
    is_resp_end: false,
    attributes: [],
    biz_type: 0,
    biz_code: null,
    biz_scenario: null,
    biz_response_code: null,
    is_async: null,
    is_reversed: null,
  };
}

// ---------------------------------------------------------------------------------------
// Protobuf form: "PB" + AppInfo (agent/src/plugin/WasmPluginApi.proto, package wasm_plugin;
// checked in as schema/WasmPluginApi.proto, its field numbers in ./schema.generated.ts)

export interface AppRequest {
  version?: string;
  type?: string;
  domain?: string;
  resource?: string;
  endpoint?: string;
}

export interface AppResponse {
  /** An AppRespStatus when valid; as sent, so any int32 (the decoder rejects the others). */
  status?: AppRespStatus | number;
  code?: number;
  exception?: string;
  result?: string;
  type?: string;
  endpoint?: string;
}

export interface AppTrace {
  trace_id?: string;
  span_id?: string;
  parent_span_id?: string;
  x_request_id?: string;
  http_proxy_client?: string;
  trace_ids?: string[];
}

/** The AppInfo message as sent on the wire; an absent optional field is undefined. */
export interface AppInfo {
  req_len?: number;
  resp_len?: number;
  request_id?: number;
  /** oneof info: at most one of req/resp survives decoding (the last one on the wire). */
  req?: AppRequest;
  resp?: AppResponse;
  trace?: AppTrace;
  protocol_str?: string;
  is_end?: boolean;
  is_async?: boolean;
  is_reversed?: boolean;
  attributes?: KeyVal[];
  biz_type?: number;
  biz_code?: string;
  biz_scenario?: string;
  biz_response_code?: string;
}

// Decoding goes straight into CustomInfo, one pass and no AppInfo objects in between, with
// prost's rules for AppInfo::decode: repeated occurrences of an embedded message merge, scalars
// take the last value, the oneof `info` switches to the last variant seen (and a switch starts
// that variant afresh). Then CustomInfo::from_protobuf's mapping.

function mergeAppRequest(r: PbReader, m: CustomInfo["req"]): void {
  while (r.key()) {
    switch (r.field) {
      case AppRequestField.VERSION: m.version = r.string(); break;
      case AppRequestField.TYPE: m.req_type = r.string(); break;
      case AppRequestField.DOMAIN: m.domain = r.string(); break;
      case AppRequestField.RESOURCE: m.resource = r.string(); break;
      case AppRequestField.ENDPOINT: m.endpoint = r.string(); break;
      default: r.skip();
    }
  }
}

/** The response fields, and its status as sent (any int32; checked once decoding is over). */
interface ResponseDraft {
  resp: CustomInfo["resp"];
  status: number | undefined;
}

function mergeAppResponse(r: PbReader, m: ResponseDraft): void {
  while (r.key()) {
    switch (r.field) {
      case AppResponseField.STATUS: m.status = r.int32(); break;
      case AppResponseField.CODE: m.resp.code = r.int32(); break;
      case AppResponseField.EXCEPTION: m.resp.exception = r.string(); break;
      case AppResponseField.RESULT: m.resp.result = r.string(); break;
      case AppResponseField.TYPE: m.resp.req_type = r.string(); break;
      case AppResponseField.ENDPOINT: m.resp.endpoint = r.string(); break;
      default: r.skip();
    }
  }
}

/** The trace fields; trace_id, as sent, is joined to trace_ids once decoding is over. */
interface TraceDraft {
  trace: CustomInfo["trace"];
  traceId: string | undefined;
  xRequestId: string | null;
}

function mergeAppTrace(r: PbReader, m: TraceDraft): void {
  while (r.key()) {
    switch (r.field) {
      case AppTraceField.TRACE_ID: m.traceId = r.string(); break;
      case AppTraceField.SPAN_ID: m.trace.span_id = r.string(); break;
      case AppTraceField.PARENT_SPAN_ID: m.trace.parent_span_id = r.string(); break;
      case AppTraceField.X_REQUEST_ID: m.xRequestId = r.string(); break;
      case AppTraceField.HTTP_PROXY_CLIENT: m.trace.http_proxy_client = r.string(); break;
      case AppTraceField.TRACE_IDS: m.trace.trace_ids.push(r.string()); break;
      default: r.skip();
    }
  }
}

function decodeKeyVal(r: PbReader): KeyVal {
  const kv: KeyVal = { key: "", val: "" };
  while (r.key()) {
    switch (r.field) {
      case KeyValField.KEY: kv.key = r.string(); break;
      case KeyValField.VAL: kv.val = r.string(); break;
      default: r.skip();
    }
  }
  return kv;
}

/** The oneof `info` switching to its other variant: the fields set so far are dropped. */
function switchVariant(info: CustomInfo, response: ResponseDraft): void {
  info.req = emptyRequest();
  info.resp = response.resp = emptyResponse();
  response.status = undefined;
}

const NO_VARIANT = 0;
const REQ_VARIANT = 1;
const RESP_VARIANT = 2;

/** CustomInfo::from_protobuf of an AppInfo. Throws PbDecodeError or RecordDecodeError. */
function decodeAppInfo(buf: Uint8Array, dir: Direction): CustomInfo {
  const r = new PbReader(buf);
  const info = emptyInfo("pb");
  const response: ResponseDraft = { resp: info.resp, status: undefined };
  const trace: TraceDraft = { trace: info.trace, traceId: undefined, xRequestId: null };
  let variant = NO_VARIANT;
  let hasTrace = false;
  let isEnd: boolean | undefined;
  while (r.key()) {
    switch (r.field) {
      case AppInfoField.REQ_LEN: info.req_len = r.uint32(); break;
      case AppInfoField.RESP_LEN: info.resp_len = r.uint32(); break;
      case AppInfoField.REQUEST_ID: info.request_id = r.uint32(); break;
      case AppInfoField.REQ: {
        const m = r.message();
        if (variant !== REQ_VARIANT) {
          if (variant !== NO_VARIANT) switchVariant(info, response);
          variant = REQ_VARIANT;
        }
        mergeAppRequest(m, info.req);
        break;
      }
      case AppInfoField.RESP: {
        const m = r.message();
        if (variant !== RESP_VARIANT) {
          if (variant !== NO_VARIANT) switchVariant(info, response);
          variant = RESP_VARIANT;
        }
        mergeAppResponse(m, response);
        break;
      }
      case AppInfoField.TRACE: mergeAppTrace(r.message(), trace); hasTrace = true; break;
      case AppInfoField.PROTOCOL_STR: info.proto_str = r.string(); break;
      case AppInfoField.IS_END: isEnd = r.bool(); break;
      case AppInfoField.IS_ASYNC: info.is_async = r.bool(); break;
      case AppInfoField.IS_REVERSED: info.is_reversed = r.bool(); break;
      case AppInfoField.ATTRIBUTES: info.attributes.push(decodeKeyVal(r.message())); break;
      case AppInfoField.BIZ_TYPE: info.biz_type = r.uint32() & 0xff; break;
      case AppInfoField.BIZ_CODE: info.biz_code = r.string(); break;
      case AppInfoField.BIZ_SCENARIO: info.biz_scenario = r.string(); break;
      case AppInfoField.BIZ_RESPONSE_CODE: info.biz_response_code = r.string(); break;
      default: r.skip();
    }
  }
  info.need_protocol_merge = isEnd !== undefined;
  info.is_req_end = isEnd === true && dir === DIR_C2S;
  info.is_resp_end = isEnd === true && dir === DIR_S2C;
  if (variant === RESP_VARIANT) {
    const status = response.status === undefined ? undefined : PLUGIN_STATUS.get(response.status);
    if (status === undefined) throw new RecordDecodeError(`unexpected resp status ${response.status ?? "(missing)"}`);
    info.resp.status = status;
  }
  if (hasTrace) {
    const t = info.trace;
    if (trace.traceId !== undefined && !t.trace_ids.includes(trace.traceId)) t.trace_ids.push(trace.traceId);
    if (dir === DIR_C2S) t.x_request_id_0 = trace.xRequestId;
    else t.x_request_id_1 = trace.xRequestId;
  }
  return info;
}

/** CustomInfo::from_protobuf. */
function fromProtobuf(buf: Uint8Array, dir: Direction): CustomInfo {
  try {
    return decodeAppInfo(buf, dir);
  } catch (e) {
    if (e instanceof PbDecodeError) throw new RecordDecodeError(`decode protobuf failed: ${e.message}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------
// Legacy binary form (CustomInfo::from_legacy_protocol)

function legacyFail(what: string): never {
  throw new RecordDecodeError(`legacy record: ${what}`);
}

function fromLegacy(buf: Uint8Array, dir: Direction): CustomInfo {
  const len = buf.length;
  if (len < 9) legacyFail("buf len too short");
  const info = emptyInfo("legacy");
  // Top bit set = present; the low 31 bits are the value.
  if (buf[0] >> 7 !== 0) info.req_len = readU32BE(buf, 0) & 0x7fffffff;
  if (buf[4] >> 7 !== 0) info.resp_len = readU32BE(buf, 4) & 0x7fffffff;
  const pos = { off: 8 };
  switch (buf[8]) {
    case 0:
      pos.off = 9;
      break;
    case 1:
      pos.off = 9;
      if (pos.off + 4 > len) legacyFail("buf len too short when parse request id");
      info.request_id = readU32BE(buf, pos.off);
      pos.off += 4;
      break;
    default:
      legacyFail("has request_id must 0 or 1");
  }

  if (dir === DIR_C2S) {
    const reqType = readWasmStr(buf, pos);
    const endpoint = reqType === null ? null : readWasmStr(buf, pos);
    const domain = endpoint === null ? null : readWasmStr(buf, pos);
    const resource = domain === null ? null : readWasmStr(buf, pos);
    if (resource === null) legacyFail("buf len too short when parse request");
    info.req.req_type = reqType!;
    info.req.endpoint = endpoint!;
    info.req.domain = domain!;
    info.req.resource = resource;
  } else {
    // The agent indexes these two bytes without a bounds check: a short record panics it.
    if (pos.off >= len) throw new RecordDecodeError("legacy record ends before the response status: the agent panics (index out of bounds)", true);
    const status = PLUGIN_STATUS.get(buf[pos.off]);
    if (status === undefined) legacyFail(`recv unexpected status ${buf[pos.off]}`);
    info.resp.status = status;
    pos.off++;
    if (pos.off >= len) throw new RecordDecodeError("legacy record ends before has_code: the agent panics (index out of bounds)", true);
    switch (buf[pos.off]) {
      case 0:
        pos.off++;
        break;
      case 1:
        pos.off++;
        if (pos.off + 4 > len) legacyFail("buf len too short when parse response code");
        info.resp.code = readU32BE(buf, pos.off) | 0;
        pos.off += 4;
        break;
      default:
        legacyFail("recv unexpected has_code");
    }
    const result = readWasmStr(buf, pos);
    const exception = result === null ? null : readWasmStr(buf, pos);
    if (exception === null) legacyFail("buf len too short when parse exception and result");
    info.resp.result = result!;
    info.resp.exception = exception;
  }

  const protoStr = readWasmStr(buf, pos);
  if (protoStr === null) legacyFail("buf len too short when parse l7_protocol_str");
  info.proto_str = protoStr;

  if (pos.off + 1 > len) legacyFail("buf len too short when parse need protocol merge");
  const merge = buf[pos.off];
  info.need_protocol_merge = (merge & 0x80) !== 0;
  if (info.need_protocol_merge) {
    if (dir === DIR_C2S) info.is_req_end = (merge & 1) !== 0;
    else info.is_resp_end = (merge & 1) !== 0;
  }
  pos.off++;

  if (pos.off + 1 > len) legacyFail("buf len too short when parse has trace info");
  const hasTrace = buf[pos.off++];
  if (hasTrace === 1) {
    const traceId = readWasmStr(buf, pos);
    const spanId = traceId === null ? null : readWasmStr(buf, pos);
    const parentSpanId = spanId === null ? null : readWasmStr(buf, pos);
    if (parentSpanId === null) legacyFail("buf len too short when parse trace info");
    // merge_trace_ids into an empty list: the id is kept even when empty.
    info.trace.trace_ids = [traceId!];
    info.trace.span_id = spanId;
    info.trace.parent_span_id = parentSpanId;
  } else if (hasTrace !== 0) {
    legacyFail("has trace return unexpected value");
  }

  if (pos.off + 1 > len) legacyFail("buf len too short when parse key val");
  const hasKv = buf[pos.off++];
  if (hasKv === 1) {
    // Both strings are read before checking either (a Rust tuple), so a key without a
    // value still moves the offset past the key.
    for (;;) {
      const key = readWasmStr(buf, pos);
      const val = readWasmStr(buf, pos);
      if (key === null || val === null) break;
      info.attributes.push({ key, val });
    }
  } else if (hasKv !== 0) {
    legacyFail("has kv return unexpected value");
  }

  if (pos.off + 1 > len) legacyFail("buf len too short when parse biz_type");
  info.biz_type = buf[pos.off];
  return info;
}

// ---------------------------------------------------------------------------------------
// Decoding entry points

/** CustomInfo::try_from((record, direction)). Throws RecordDecodeError. */
export function decodeRecord(record: Uint8Array, dir: Direction): CustomInfo {
  if (record.length >= 2 && record[0] === PB_MAGIC[0] && record[1] === PB_MAGIC[1]) {
    return fromProtobuf(record.subarray(2), dir);
  }
  return fromLegacy(record, dir);
}

/**
 * The body of host_read_l7_protocol_info: `u16 length + record` repeated, filling the
 * buffer exactly (an empty buffer is refused). Any bad record refuses the whole buffer.
 * Throws RecordDecodeError.
 */
export function decodeRecords(data: Uint8Array, dir: Direction): CustomInfo[] {
  const infos: CustomInfo[] = [];
  let off = 0;
  for (;;) {
    if (off + 2 > data.length) throw new RecordDecodeError("CustomInfo deserialize fail, length too short");
    const infoLen = readU16BE(data, off);
    off += 2;
    if (off + infoLen > data.length) throw new RecordDecodeError("CustomInfo deserialize fail, info length incorrect");
    infos.push(decodeRecord(data.subarray(off, off + infoLen), dir));
    off += infoLen;
    if (off === data.length) return infos;
  }
}

// ---------------------------------------------------------------------------------------
// Encoders

function encodeAppRequest(r: AppRequest): Uint8Array {
  const w = new PbWriter();
  if (r.version !== undefined) w.string(AppRequestField.VERSION, r.version);
  if (r.type !== undefined) w.string(AppRequestField.TYPE, r.type);
  if (r.domain !== undefined) w.string(AppRequestField.DOMAIN, r.domain);
  if (r.resource !== undefined) w.string(AppRequestField.RESOURCE, r.resource);
  if (r.endpoint !== undefined) w.string(AppRequestField.ENDPOINT, r.endpoint);
  return w.finish();
}

function encodeAppResponse(r: AppResponse): Uint8Array {
  const w = new PbWriter();
  if (r.status !== undefined) w.int32(AppResponseField.STATUS, r.status);
  if (r.code !== undefined) w.int32(AppResponseField.CODE, r.code);
  if (r.exception !== undefined) w.string(AppResponseField.EXCEPTION, r.exception);
  if (r.result !== undefined) w.string(AppResponseField.RESULT, r.result);
  if (r.type !== undefined) w.string(AppResponseField.TYPE, r.type);
  if (r.endpoint !== undefined) w.string(AppResponseField.ENDPOINT, r.endpoint);
  return w.finish();
}

function encodeAppTrace(t: AppTrace): Uint8Array {
  const w = new PbWriter();
  if (t.trace_id !== undefined) w.string(AppTraceField.TRACE_ID, t.trace_id);
  if (t.span_id !== undefined) w.string(AppTraceField.SPAN_ID, t.span_id);
  if (t.parent_span_id !== undefined) w.string(AppTraceField.PARENT_SPAN_ID, t.parent_span_id);
  if (t.x_request_id !== undefined) w.string(AppTraceField.X_REQUEST_ID, t.x_request_id);
  if (t.http_proxy_client !== undefined) w.string(AppTraceField.HTTP_PROXY_CLIENT, t.http_proxy_client);
  for (const id of t.trace_ids ?? []) w.string(AppTraceField.TRACE_IDS, id);
  return w.finish();
}

/**
 * AppInfo in field-number order, present fields only. Giving both req and resp writes
 * both (a test of the oneof's last-one-wins rule).
 */
export function encodeAppInfo(m: AppInfo): Uint8Array {
  const w = new PbWriter();
  if (m.req_len !== undefined) w.uint32(AppInfoField.REQ_LEN, m.req_len);
  if (m.resp_len !== undefined) w.uint32(AppInfoField.RESP_LEN, m.resp_len);
  if (m.request_id !== undefined) w.uint32(AppInfoField.REQUEST_ID, m.request_id);
  if (m.req !== undefined) w.message(AppInfoField.REQ, encodeAppRequest(m.req));
  if (m.resp !== undefined) w.message(AppInfoField.RESP, encodeAppResponse(m.resp));
  if (m.trace !== undefined) w.message(AppInfoField.TRACE, encodeAppTrace(m.trace));
  if (m.protocol_str !== undefined) w.string(AppInfoField.PROTOCOL_STR, m.protocol_str);
  if (m.is_end !== undefined) w.bool(AppInfoField.IS_END, m.is_end);
  if (m.is_async !== undefined) w.bool(AppInfoField.IS_ASYNC, m.is_async);
  if (m.is_reversed !== undefined) w.bool(AppInfoField.IS_REVERSED, m.is_reversed);
  for (const kv of m.attributes ?? []) {
    const kw = new PbWriter();
    if (kv.key !== "") kw.string(KeyValField.KEY, kv.key);
    if (kv.val !== "") kw.string(KeyValField.VAL, kv.val);
    w.message(AppInfoField.ATTRIBUTES, kw.finish());
  }
  if (m.biz_type !== undefined) w.uint32(AppInfoField.BIZ_TYPE, m.biz_type);
  if (m.biz_code !== undefined) w.string(AppInfoField.BIZ_CODE, m.biz_code);
  if (m.biz_scenario !== undefined) w.string(AppInfoField.BIZ_SCENARIO, m.biz_scenario);
  if (m.biz_response_code !== undefined) w.string(AppInfoField.BIZ_RESPONSE_CODE, m.biz_response_code);
  return w.finish();
}

/** A protobuf record: "PB" + AppInfo. */
export function encodePbRecord(m: AppInfo): Uint8Array {
  return new ByteWriter().bytes(PB_MAGIC).bytes(encodeAppInfo(m)).finish();
}

/** What a legacy record can carry; which of req/resp is written depends on the direction. */
export interface LegacyRecord {
  req_len?: number;
  resp_len?: number;
  request_id?: number;
  /** Written for client→server. */
  req?: { req_type?: string; endpoint?: string; domain?: string; resource?: string };
  /** Written for server→client; status is the raw byte (0, 2, 3, 4, 5 are accepted). */
  resp?: { status: number; code?: number; result?: string; exception?: string };
  protocol_str?: string;
  /** The merge byte: bit 7 = needs merge, bit 0 = is end. */
  need_merge?: boolean;
  is_end?: boolean;
  trace?: { trace_id?: string; span_id?: string; parent_span_id?: string };
  /** Present (even empty) → has_kv = 1. */
  attributes?: KeyVal[];
  biz_type?: number;
}

/** A legacy binary record, laid out as from_legacy_protocol reads it. */
export function encodeLegacyRecord(rec: LegacyRecord, dir: Direction): Uint8Array {
  const w = new ByteWriter();
  const optLen = (v: number | undefined) => (v === undefined ? 0 : (0x80000000 | (v & 0x7fffffff)) >>> 0);
  w.u32(optLen(rec.req_len)).u32(optLen(rec.resp_len));
  if (rec.request_id === undefined) w.u8(0);
  else w.u8(1).u32(rec.request_id);
  if (dir === DIR_C2S) {
    const r = rec.req ?? {};
    w.str(r.req_type ?? "").str(r.endpoint ?? "").str(r.domain ?? "").str(r.resource ?? "");
  } else {
    const r = rec.resp ?? { status: RESP_STATUS_CODE.unknown };
    w.u8(r.status);
    if (r.code === undefined) w.u8(0);
    else w.u8(1).u32(r.code >>> 0);
    w.str(r.result ?? "").str(r.exception ?? "");
  }
  w.str(rec.protocol_str ?? "");
  w.u8((rec.need_merge ? 0x80 : 0) | (rec.is_end ? 1 : 0));
  if (rec.trace === undefined) w.u8(0);
  else w.u8(1).str(rec.trace.trace_id ?? "").str(rec.trace.span_id ?? "").str(rec.trace.parent_span_id ?? "");
  if (rec.attributes === undefined) w.u8(0);
  else {
    w.u8(1);
    for (const kv of rec.attributes) w.str(kv.key).str(kv.val);
  }
  w.u8(rec.biz_type ?? 0);
  return w.finish();
}

/** Frames records for host_read_l7_protocol_info: `u16 length + record` each. */
export function frameRecords(records: Uint8Array[]): Uint8Array {
  const w = new ByteWriter();
  for (const r of records) {
    if (r.length > 0xffff) throw new RangeError(`record of ${r.length} bytes does not fit the u16 frame`);
    w.u16(r.length).bytes(r);
  }
  return w.finish();
}
