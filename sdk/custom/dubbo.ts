// The agent's built-in Dubbo parser (DubboLog, agent/src/flow_generator/protocol_logs/rpc/dubbo.rs
// and rpc/dubbo/{hessian2,java,consts}.rs) as far as replay needs it to hand plugins the
// agent's Dubbo custom messages (type code 40) and to write the rows the agent writes:
//
// - check_payload (dubbo.rs DubboLog::check_payload, DubboHeader::check): TCP; a 16-byte
//   header with magic 0xdabb, the request flag set, not an event, status 0; answers "request";
// - parse_payload: the header (an event frame or a short/bad header is a parse error: no log),
//   then by the packet's direction a request (event, serialization id, body length, request
//   id; the body of Hessian2 (2), Java (3), Kryo (8, 25) and fastjson2 (23) for dubbo
//   version, service, service version, method and the trace/span ids of the configured
//   types) or a response (status code and the status mapped from it); the endpoint
//   "service/method"; then wasm_hook (on_custom_message with an empty message, the plugin's
//   record merged by DubboInfo::merge_custom_info); then the perf cache that hands a
//   request's endpoint to its response;
// - the session merge (DubboInfo::merge) and the row (From<DubboInfo> for L7ProtocolSendLog).
//
// Not emulated: the enterprise custom-field policies (cfg(feature = "enterprise")), the l7
// log blacklist (empty by default).
import type { KeyVal, RespStatus } from "../result.ts";
import type { CustomInfo } from "../host.ts";
import { decodeSpanId, decodeTraceId, type TraceType } from "../http/config.ts";
import { BASE_FIELD_PRIORITY, PLUGIN_FIELD_PRIORITY, insertPrio, type PrioField } from "../http/info.ts";
import { decodeUtf8Lossy, decodeUtf8Strict, encodeUtf8 } from "../wire.ts";

export const L7_DUBBO = 40;
const HEADER_LEN = 16;
const CUSTOM_FIELD_POLICY_PRIORITY = 64; // protocol_logs.rs
const DEFAULT_PRIO = 255; // PrioField::default()

const SER_HESSIAN2 = 2;
const SER_JAVA = 3;
const SER_KRYO = 8;
const SER_FASTJSON2 = 23;
const SER_KRYO2 = 25;

/** The serialization names of From<DubboInfo> for L7ProtocolSendLog (attribute serialization_id). */
const SERIALIZATION_NAMES: Record<number, string> = {
  2: "HESSIAN2", 3: "JAVA", 4: "COMPACTED_JAVA", 6: "FASTJSON", 7: "NATIVE_JAVA", 8: "KRYO", 9: "FST",
  10: "NATIVE_HESSIAN", 12: "PROTOSTUFF", 11: "AVRO", 16: "GSON", 21: "PROTOBUF_JSON", 22: "PROTOBUF",
  23: "FASTJSON2", 25: "KRYO_", 31: "CUSTO",
};

/** Serializations whose request body the agent decodes (decode_req_body), all emulated here. */
export const DECODED_SERIALIZATIONS: ReadonlySet<number> = new Set([SER_HESSIAN2, SER_JAVA, SER_KRYO, SER_KRYO2, SER_FASTJSON2]);

/** L7LogDynamicConfig as the Dubbo parser reads it. */
export interface DubboConfig {
  traceTypes: readonly TraceType[];
  spanTypes: readonly TraceType[];
  multipleTraceIdCollection: boolean;
  copyApmTraceId: boolean;
}

/** DubboInfo: what one Dubbo frame gave. */
export interface DubboInfo {
  kind: "dubbo";
  msgType: "request" | "response";
  event: number;
  serialId: number;
  dataType: number;
  /** The header's u64 read as i64; rows and sessions take its low 32 bits (`as u32`). */
  requestId: bigint;
  dubboVersion: string;
  serviceName: string;
  serviceVersion: string;
  methodName: string;
  traceIds: PrioField[];
  spanId: PrioField;
  statusCode: number | null;
  respStatus: RespStatus;
  customResult: string | null;
  customException: string | null;
  reqMsgSize: number | null;
  respMsgSize: number | null;
  attributes: KeyVal[];
  endpoint: string | null;
  isAsync: boolean;
  isReversed: boolean;
  bizResponseCode: string;
  copyApmTraceId: boolean;
}

export function isDubboInfo(info: object): info is DubboInfo {
  return (info as { kind?: unknown }).kind === "dubbo";
}

/** The session id: `request_id as u32`. */
export function dubboSessionId(info: DubboInfo): number {
  return Number(BigInt.asUintN(32, info.requestId));
}

interface Header {
  event: number;
  serialId: number;
  dataType: number;
  statusCode: number;
  requestId: bigint;
  dataLength: number;
}

/** DubboHeader::parse_headers: null for Err (short, bad magic, or an event frame). */
function parseHeader(p: Uint8Array): Header | null {
  if (p.length < HEADER_LEN || p[0] !== 0xda || p[1] !== 0xbb) return null;
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const h: Header = {
    event: (p[2]! & 0x20) >> 5,
    serialId: p[2]! & 0x1f,
    dataType: p[2]! & 0x80,
    statusCode: p[3]!,
    requestId: dv.getBigInt64(4),
    // read_u32_be as i32, later `as u32`: the same bits.
    dataLength: dv.getUint32(12),
  };
  return h.event === 1 ? null : h;
}

/** DubboLog::check_payload on the (truncated) payload of a TCP flow. */
export function dubboCheck(payload: Uint8Array): boolean {
  const h = parseHeader(payload);
  return h !== null && h.dataType !== 0 && h.statusCode === 0;
}

function newInfo(config: DubboConfig): DubboInfo {
  return {
    kind: "dubbo", msgType: "request", event: 0, serialId: 0, dataType: 0, requestId: 0n,
    dubboVersion: "", serviceName: "", serviceVersion: "", methodName: "",
    traceIds: [], spanId: { prio: DEFAULT_PRIO, value: "" },
    statusCode: null, respStatus: "unknown", customResult: null, customException: null,
    reqMsgSize: null, respMsgSize: null, attributes: [], endpoint: null,
    isAsync: false, isReversed: false, bizResponseCode: "", copyApmTraceId: config.copyApmTraceId,
  };
}

/** DubboLog::set_status. */
function statusOf(code: number): RespStatus {
  if (code === 20) return "ok";
  if (code === 30 || code === 40 || code === 90) return "client_error";
  if (code === 31 || code === 50 || code === 60 || code === 70 || code === 80 || code === 100) return "server_error";
  return "ok";
}

/**
 * DubboLog::parse (header, then request or response by the packet's direction) and the
 * endpoint; null when the header does not parse (parse_payload's Err: no log).
 */
export function parseDubbo(payload: Uint8Array, clientToServer: boolean, config: DubboConfig): DubboInfo | null {
  const h = parseHeader(payload);
  if (h === null) return null;
  const info = newInfo(config);
  info.event = h.event;
  info.dataType = h.dataType;
  info.serialId = h.serialId;
  info.requestId = h.requestId;
  if (clientToServer) {
    info.msgType = "request";
    info.reqMsgSize = h.dataLength;
    decodeReqBody(config, payload.subarray(HEADER_LEN), info);
  } else {
    info.msgType = "response";
    info.respMsgSize = h.dataLength;
    info.statusCode = h.statusCode;
    info.respStatus = statusOf(h.statusCode);
    // decode_resp_body: only the enterprise custom-field policies read a response body.
  }
  info.endpoint = info.serviceName !== "" || info.methodName !== "" ? `${info.serviceName}/${info.methodName}` : null;
  return info;
}

// ---------------------------------------------------------------------------------------
// Request bodies (decode_req_body)


function readU32(p: Uint8Array, i: number): number {
  return ((p[i]! << 24) | (p[i + 1]! << 16) | (p[i + 2]! << 8) | p[i + 3]!) >>> 0;
}

function readU16(p: Uint8Array, i: number): number {
  return (p[i]! << 8) | p[i + 1]!;
}

/** Bytes as Rust's `byte as char` makes them (Latin-1 code points). */
function latin1(p: Uint8Array, from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) s += String.fromCharCode(p[i]!);
  return s;
}

/** nom's find_substring: the first index of `tag` (its UTF-8 bytes) in `p` from `from`, relative to `from`. */
function find(p: Uint8Array, from: number, tag: Uint8Array): number {
  const end = p.length - tag.length;
  outer: for (let i = from; i <= end; i++) {
    for (let j = 0; j < tag.length; j++) if (p[i + j] !== tag[j]) continue outer;
    return i - from;
  }
  return -1;
}

/** lookup_str's first step: only Sw3, Sw8, CloudWise and Customize types are searched, by as_str(). */
function searchedTag(t: TraceType): Uint8Array | null {
  return t.kind === "sw3" || t.kind === "sw8" || t.kind === "cloudwise" || t.kind === "customize" ? encodeUtf8(t.name) : null;
}

type Lookup = (body: Uint8Array, t: TraceType) => string | null;

/** The trace-id and span-id loops every request body decoder ends with. */
function decodeTraceAndSpan(config: DubboConfig, body: Uint8Array, info: DubboInfo, lookup: Lookup): void {
  for (const t of config.traceTypes) {
    if (encodeUtf8(t.name).length > 255) continue;
    const raw = lookup(body, t);
    if (raw !== null) addTraceId(info, raw, t);
    if (!config.multipleTraceIdCollection && info.traceIds.length > 0) break;
  }
  for (const t of config.spanTypes) {
    if (encodeUtf8(t.name).length > 255) continue;
    const raw = lookup(body, t);
    // set_span_id: PrioField::set_with(BASE_FIELD_PRIORITY), the decoded id or the raw value.
    if (raw !== null && BASE_FIELD_PRIORITY < info.spanId.prio) info.spanId = { prio: BASE_FIELD_PRIORITY, value: decodeSpanId(t, raw) ?? raw };
    if (info.spanId.value.length !== 0) break;
  }
}

/** DubboInfo::add_trace_id. */
function addTraceId(info: DubboInfo, raw: string, t: TraceType): void {
  const id = decodeTraceId(t, raw);
  if (id === null || id === "") return;
  if (info.copyApmTraceId) {
    info.copyApmTraceId = false;
    info.attributes.push({ key: "apm_trace_id", val: id });
  }
  insertPrio(info.traceIds, BASE_FIELD_PRIORITY, id);
}

function decodeReqBody(config: DubboConfig, body: Uint8Array, info: DubboInfo): void {
  switch (info.serialId) {
    case SER_HESSIAN2: return hessian2ReqBody(config, body, info);
    case SER_JAVA: return javaReqBody(config, body, info);
    case SER_KRYO:
    case SER_KRYO2: return kryoReqBody(config, body, info);
    case SER_FASTJSON2: return fastjson2ReqBody(config, body, info);
  }
}

// Hessian2 (rpc/dubbo/hessian2.rs, Hessian2Decoder::decode_string in crates/public/src/codecs/hessian2.rs)

/** get_req_param_len: [offset, length] of a string's bytes, [0, 0] when not a string. */
function hessianParamLen(p: Uint8Array, at: number): [number, number] {
  const tag = p[at]!;
  const left = p.length - at;
  if (tag <= 0x1f) return [1, tag];
  if (tag >= 0x30 && tag <= 0x33 && left > 2) return [2, ((tag - 0x30) << 8) + p[at + 1]!];
  if ((tag === 0x52 || tag === 0x53) && left > 3) return [3, (p[at + 1]! << 8) + p[at + 2]!];
  return [0, 0];
}

function hessian2ReqBody(config: DubboConfig, p: Uint8Array, info: DubboInfo): void {
  let n = 1;
  let idx = 0;
  while (n < 5 && idx < p.length) {
    const [off, len] = hessianParamLen(p, idx);
    idx += off;
    if (len === 0 || len + idx > p.length) return;
    const s = decodeUtf8Lossy(p.subarray(idx, idx + len));
    if (n === 1) info.dubboVersion = s;
    else if (n === 2) info.serviceName = s;
    else if (n === 3) info.serviceVersion = s;
    else info.methodName = s;
    idx += len;
    if (p.length <= idx) return;
    n++;
  }
  if (config.traceTypes.length === 0 || idx >= p.length) return;
  decodeTraceAndSpan(config, p.subarray(idx), info, hessianLookup);
}

/** Hessian2Decoder::decode_string; null for None. */
function hessianString(p: Uint8Array, index: number): string | null {
  // The agent indexes payload[index] unchecked: a tag at the very end panics it (replay: None).
  if (index >= p.length) return null;
  let out = "";
  let start = index;
  let tag = p[start]!;
  for (;;) {
    let len: number;
    if (tag <= 0x1f) {
      start += 1;
      len = tag;
    } else if (tag >= 0x30 && tag <= 0x33 && start + 1 < p.length) {
      start += 2;
      len = ((p[start - 2]! - 0x30) << 8) + p[start - 1]!;
    } else if ((tag === 0x52 || tag === 0x53) && start + 2 < p.length) {
      start += 3;
      len = (p[start - 2]! << 8) + p[start - 1]!;
    } else return null;
    if (start >= p.length || start + len > p.length) break;
    for (let i = start; i < start + len; i++) if (p[i]! >= 0x80) return null;
    out += latin1(p, start, start + len);
    start += len;
    if (tag !== 0x52) break;
    if (start >= p.length) break;
    tag = p[start]!;
  }
  return out;
}

/** hessian2.rs lookup_str: the tag, preceded by its length byte, then a Hessian2 string. */
function hessianLookup(p: Uint8Array, t: TraceType): string | null {
  const tag = searchedTag(t);
  if (tag === null) return null;
  let start = 0;
  while (start < p.length) {
    if (p[start]! >= 0x80) break;
    const index = find(p, start, tag);
    if (index < 0) break;
    if (index === 0 || tag.length !== p[start + index - 1]) {
      start += index + tag.length;
      continue;
    }
    const s = hessianString(p, start + index + tag.length);
    if (s !== null) return s;
    start += index + tag.length;
  }
  return null;
}

// Java serialization (rpc/dubbo/java.rs)

function javaHeaderString(p: Uint8Array, offset: number): [string, number] | null {
  if (offset + 4 >= p.length) return null;
  const q = p.subarray(offset);
  const first = readU32(q, 0);
  if (6 >= q.length) return null;
  const second = readU16(q, 4);
  if (first !== second || second === 0 || 6 + second >= q.length) return null;
  const s = decodeUtf8Strict(q, 6, 6 + second);
  return s === null ? null : [s, 6 + second];
}

function javaReqBody(config: DubboConfig, p: Uint8Array, info: DubboInfo): void {
  reqBodyFields(config, p, 6, info, javaHeaderString, javaLookup);
}

/**
 * The four header strings of a request body (dubbo version, service, its version, method),
 * each read by `read` (a string and the bytes it took), then the trace ids after them.
 */
function reqBodyFields(
  config: DubboConfig, p: Uint8Array, offset: number, info: DubboInfo,
  read: (p: Uint8Array, at: number) => [string, number] | null, lookup: Lookup,
): void {
  const fields: Array<(s: string) => void> = [
    (s) => (info.dubboVersion = s), (s) => (info.serviceName = s), (s) => (info.serviceVersion = s), (s) => (info.methodName = s),
  ];
  for (const set of fields) {
    const r = read(p, offset);
    if (r === null) return;
    set(r[0]);
    offset += r[1];
  }
  if (config.traceTypes.length === 0 || offset >= p.length) return;
  decodeTraceAndSpan(config, p.subarray(offset), info, lookup);
}

function javaTcString(p: Uint8Array, from: number): string | null {
  const q = p.subarray(from);
  if (q.length <= 3 || q[0] !== 0x74) return null;
  const len = readU16(q, 1);
  if (3 + len >= q.length) return null;
  return decodeUtf8Strict(q, 3, 3 + len);
}

function javaLookup(p: Uint8Array, t: TraceType): string | null {
  const tag = searchedTag(t);
  if (tag === null || tag.length <= 1) return null;
  let start = 0;
  while (start < p.length) {
    const index = find(p, start, tag);
    if (index < 0) break;
    start += index + tag.length;
    if (start >= p.length) break;
    const s = javaTcString(p, start);
    if (s !== null) return s;
  }
  return null;
}

// Kryo (the kryo module of dubbo.rs)

/** kryo decode_ascii_string: 7-bit chars, the last with the high bit set. */
function kryoAscii(p: Uint8Array, start: number): [string, number] | null {
  if (start >= p.length) return null;
  let s = "";
  // The agent loops `for i in start..payload[start..].len()`: up to len - start, not len.
  for (let i = start; i < p.length - start; i++) {
    s += String.fromCharCode(p[i]! & 0x7f);
    if (p[i]! >> 7 === 1) return [s, i + 1 - start];
  }
  return null;
}

function kryoReqBody(config: DubboConfig, p: Uint8Array, info: DubboInfo): void {
  reqBodyFields(config, p, 0, info, kryoAscii, kryoLookup);
}

function kryoLookup(p: Uint8Array, t: TraceType): string | null {
  const tag = searchedTag(t);
  if (tag === null || tag.length <= 1) return null;
  const tagText = t.name;
  const flag = tag.subarray(0, tag.length - 1);
  let start = 0;
  while (start < p.length) {
    const index = find(p, start, flag);
    if (index < 0) break;
    const s = kryoAscii(p, start + index);
    if (s === null) {
      start += index + tag.length;
      continue;
    }
    if (s[0] !== tagText) {
      start += index + s[1];
      continue;
    }
    const v = kryoAscii(p, start + index + tag.length);
    if (v !== null) return v[0];
    start += index + tag.length;
  }
  return null;
}

// fastjson2 (the fastjson2 module of dubbo.rs)

/** fastjson2 decode_int32 (i8/u32 arithmetic wrapping as in a release build). */
function fjInt32(p: Uint8Array, start: number): [number, number] | null {
  if (start + 5 >= p.length) return null;
  const n = (p[start]! << 24) >> 24; // as i8
  if (n >= -16 && n <= 47) return [n >>> 0, 1];
  if (n >= 48 && n <= 63) return [((((n - 56) >>> 0) << 8) + p[start + 1]!) >>> 0, 2];
  if (n >= 64 && n <= 71) return [((((n - 68) << 16) >>> 0) + (p[start + 1]! << 8) + p[start + 2]!) >>> 0, 3];
  if (n === 72) {
    const len = readU32(p, start + 1);
    return len > 1024 * 1024 * 256 ? null : [len, 5];
  }
  return null;
}

/** fastjson2 decode_object_ascii_string (reads one byte past the length, as the agent does). */
function fjObjectAscii(p: Uint8Array): string | null {
  if (1 >= p.length || p[0] !== 121) return null;
  const r = fjInt32(p, 1);
  if (r === null) return null;
  const q = p.subarray(1 + r[1]);
  const len = Math.min(r[0] + 1, q.length);
  return latin1(q, 0, len);
}

/** fastjson2 decode_ascii_string: a u32 length, then the bytes. */
function fjAscii(p: Uint8Array, start: number): [string, number] | null {
  if (start + 4 >= p.length) return null;
  const len = readU32(p, start);
  const from = start + 4;
  if (from + len >= p.length) return null;
  return [latin1(p, from, from + len), len + 4];
}

function fastjson2ReqBody(config: DubboConfig, p: Uint8Array, info: DubboInfo): void {
  reqBodyFields(config, p, 0, info, fjAscii, fjLookup);
}

function fjLookup(p: Uint8Array, t: TraceType): string | null {
  const tag = searchedTag(t);
  if (tag === null || tag.length <= 1) return null;
  let start = 0;
  while (start < p.length) {
    const index = find(p, start, tag);
    if (index < 0) break;
    start += index + tag.length;
    if (start >= p.length) break;
    const s = fjObjectAscii(p.subarray(start));
    if (s !== null) return s;
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// The plugin's answer, the session merge, the row

/** DubboInfo::merge_custom_info: what a plugin's on_custom_message record changes. */
export function mergeCustomToDubbo(info: DubboInfo, custom: CustomInfo): void {
  if (custom.req.domain !== "") info.serviceName = custom.req.domain;
  if (custom.req.req_type !== "") info.methodName = custom.req.req_type;
  if (custom.resp.code !== null) info.statusCode = custom.resp.code;
  if (custom.resp.status !== info.respStatus) info.respStatus = custom.resp.status;
  if (custom.resp.result !== "") info.customResult = custom.resp.result;
  if (custom.resp.exception !== "") info.customException = custom.resp.exception;
  for (const id of custom.trace.trace_ids) insertPrio(info.traceIds, CUSTOM_FIELD_POLICY_PRIORITY, id);
  if (custom.trace.span_id !== null) {
    const prev = info.spanId;
    info.spanId = { prio: PLUGIN_FIELD_PRIORITY, value: custom.trace.span_id };
    if (prev.value !== "") info.attributes.push({ key: "apm_span_id", val: prev.value });
  }
  if (custom.biz_response_code !== null) info.bizResponseCode = custom.biz_response_code;
  info.attributes.push(...custom.attributes);
  if (custom.is_async !== null) info.isAsync = custom.is_async;
  if (custom.is_reversed !== null) info.isReversed = custom.is_reversed;
}

/** DubboInfo::merge(self = a, other = b). */
export function mergeDubbo(a: DubboInfo, b: DubboInfo): void {
  if (b.isAsync) a.isAsync = true;
  if (b.isReversed) a.isReversed = true;
  if (b.event > 0) a.event = b.event;
  if (b.serialId > 0) a.serialId = b.serialId;
  if (a.reqMsgSize === null) a.reqMsgSize = b.reqMsgSize;
  if (a.dubboVersion === "") a.dubboVersion = b.dubboVersion;
  if (a.serviceName === "") a.serviceName = b.serviceName;
  if (a.serviceVersion === "") a.serviceVersion = b.serviceVersion;
  if (a.methodName === "") a.methodName = b.methodName;
  if (a.respMsgSize === null) a.respMsgSize = b.respMsgSize;
  if (b.respStatus !== "unknown") a.respStatus = b.respStatus;
  if (a.statusCode === null) a.statusCode = b.statusCode;
  if (a.customResult === null) a.customResult = b.customResult;
  if (a.customException === null) a.customException = b.customException;
  for (const f of b.traceIds) insertPrio(a.traceIds, f.prio, f.value);
  if (a.spanId.value === "") a.spanId = b.spanId;
  a.attributes.push(...b.attributes);
  if (a.bizResponseCode === "") a.bizResponseCode = b.bizResponseCode;
  // The endpoint is not merged: the first log's is kept (a response has its request's from the perf cache).
}

/** into_strings_top3. */
export function dubboTraceIds(info: DubboInfo): string[] {
  const out: string[] = [];
  for (const f of info.traceIds) {
    if (out.includes(f.value)) continue;
    out.push(f.value);
    if (out.length === 3) break;
  }
  return out;
}

/** The attributes From<DubboInfo> sends: serialization_id, event (when not 0), then the log's. */
export function dubboAttributes(info: DubboInfo): KeyVal[] {
  const out: KeyVal[] = [{ key: "serialization_id", val: SERIALIZATION_NAMES[info.serialId] ?? String(info.serialId) }];
  if (info.event !== 0) out.push({ key: "event", val: String(info.event) });
  out.push(...info.attributes);
  return out;
}

/** The agent's perf cache as the Dubbo log uses it: a request's endpoint for its response, per (request id, is_reversed). */
export class DubboPerfCache {
  private readonly requests = new Map<string, { timeUs: number; endpoint: string | null }>();

  private static key(info: DubboInfo): string {
    return `${dubboSessionId(info)}/${info.isReversed ? 1 : 0}`;
  }

  /** load_endpoint_from_cache, for a response without an endpoint. */
  endpointFor(info: DubboInfo, timeUs: number): string | null {
    const c = this.requests.get(DubboPerfCache.key(info));
    return c && c.endpoint !== null && timeUs >= c.timeUs ? c.endpoint : null;
  }

  /** perf_stats: a request is remembered (replacing the previous one), a response clears it. */
  update(info: DubboInfo, timeUs: number): void {
    const key = DubboPerfCache.key(info);
    if (info.msgType === "request") this.requests.set(key, { timeUs, endpoint: info.endpoint !== null && info.endpoint !== "" ? info.endpoint : null });
    else this.requests.delete(key);
  }
}
