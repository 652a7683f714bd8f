// The raw contract with a DeepFlow Wasm plugin, host side: the agent's import and export
// names and signatures, the WASI subset it links, hook bits, and the byte layout of every
// context the agent serializes into plugin memory. Each piece names the agent code it
// mirrors (deepflowio/deepflow agent/src/plugin/wasm/*.rs); the reference is
// ../shared/design/deepflow-wasm-abi.md. The plugin side of this contract is assembly/abi.ts.

import { DIR_C2S, DIR_S2C, RESP_STATUS_CODE, type Direction, type RespStatus } from "./result.ts";
import { parseIp } from "../capture/address.ts";
import { ByteWriter, encodeUtf8, writeU16BE, writeU32BE, writeU64BE, type U64 } from "./wire.ts";

export { DIR_C2S, DIR_S2C, RESP_STATUS_CODE, type Direction, type RespStatus };

// ---------------------------------------------------------------------------------------
// Linking (host.rs constants, abi_import.rs get_linker/link_wasi, abi_export.rs InstanceWrap::new)

export type ValType = "i32" | "i64" | "f32" | "f64" | "v128" | "funcref" | "externref" | "ref";
export interface FuncSig {
  params: readonly ValType[];
  results: readonly ValType[];
}
const sig = (params: ValType[], results: ValType[]): FuncSig => ({ params, results });
const PTR_LEN_TO_I32 = sig(["i32", "i32"], ["i32"]);

export const DEEPFLOW_MODULE = "deepflow";
export const WASI_MODULE = "wasi_snapshot_preview1";

/** IMPORT_FUNC_* (host.rs). The agent's parameters are u32, i.e. i32 on the wire. */
export const IMPORT_WASM_LOG = "wasm_log";
export const IMPORT_VM_READ_CTX_BASE = "vm_read_ctx_base";
export const IMPORT_VM_READ_PAYLOAD = "vm_read_payload";
export const IMPORT_VM_READ_HTTP_REQ = "vm_read_http_req_info";
export const IMPORT_VM_READ_HTTP_RESP = "vm_read_http_resp_info";
export const IMPORT_VM_READ_CUSTOM_MESSAGE = "vm_read_custom_message_info";
export const IMPORT_HOST_READ_L7_PROTOCOL_INFO = "host_read_l7_protocol_info";
export const IMPORT_HOST_READ_STR_RESULT = "host_read_str_result";

export const DEEPFLOW_IMPORTS: ReadonlyMap<string, FuncSig> = new Map([
  [IMPORT_WASM_LOG, sig(["i32", "i32", "i32"], [])],
  [IMPORT_VM_READ_CTX_BASE, PTR_LEN_TO_I32],
  [IMPORT_VM_READ_PAYLOAD, PTR_LEN_TO_I32],
  [IMPORT_VM_READ_HTTP_REQ, PTR_LEN_TO_I32],
  [IMPORT_VM_READ_HTTP_RESP, PTR_LEN_TO_I32],
  [IMPORT_VM_READ_CUSTOM_MESSAGE, PTR_LEN_TO_I32],
  [IMPORT_HOST_READ_L7_PROTOCOL_INFO, PTR_LEN_TO_I32],
  [IMPORT_HOST_READ_STR_RESULT, PTR_LEN_TO_I32],
]);

/** link_wasi: the only wasi_snapshot_preview1 functions the agent offers, with their types. */
export const WASI_IMPORTS: ReadonlyMap<string, FuncSig> = new Map([
  ["clock_time_get", sig(["i32", "i64", "i32"], ["i32"])],
  ["args_sizes_get", sig(["i32", "i32"], ["i32"])],
  ["args_get", sig(["i32", "i32"], ["i32"])],
  ["environ_get", sig(["i32", "i32"], ["i32"])],
  ["environ_sizes_get", sig(["i32", "i32"], ["i32"])],
  ["fd_close", sig(["i32"], ["i32"])],
  ["fd_fdstat_get", sig(["i32", "i32"], ["i32"])],
  ["fd_filestat_get", sig(["i32", "i32"], ["i32"])],
  ["fd_pread", sig(["i32", "i32", "i32", "i64", "i32"], ["i32"])],
  ["fd_prestat_get", sig(["i32", "i32"], ["i32"])],
  ["fd_prestat_dir_name", sig(["i32", "i32", "i32"], ["i32"])],
  ["fd_read", sig(["i32", "i32", "i32", "i32"], ["i32"])],
  ["fd_seek", sig(["i32", "i64", "i32", "i32"], ["i32"])],
  ["fd_write", sig(["i32", "i32", "i32", "i32"], ["i32"])],
  ["path_open", sig(["i32", "i32", "i32", "i32", "i32", "i64", "i64", "i32", "i32"], ["i32"])],
  ["path_readlink", sig(["i32", "i32", "i32", "i32", "i32", "i32"], ["i32"])],
  ["proc_exit", sig(["i32"], [])],
  ["sched_yield", sig([], ["i32"])],
]);

/** EXPORT_FUNC_* (host.rs). */
export const EXPORT_CHECK_PAYLOAD = "check_payload";
export const EXPORT_PARSE_PAYLOAD = "parse_payload";
export const EXPORT_ON_HTTP_REQ = "on_http_req";
export const EXPORT_ON_HTTP_RESP = "on_http_resp";
export const EXPORT_ON_CUSTOM_MESSAGE = "on_custom_message";
export const EXPORT_GET_HOOK_BITMAP = "get_hook_bitmap";
export const EXPORT_GET_CUSTOM_MESSAGE_HOOK = "get_custom_message_hook";
export const EXPORT_START = "_start";
/**
 * Not the agent's: the SDK's declaration of a plugin's protocol (pointer to `u8 protocol,
 * u8 l4, u16 name length, name`). The agent ignores it; the simulator and the build read it.
 */
export const EXPORT_PROTOCOL_INFO = "protocol_info";
export const EXPORT_MEMORY = "memory";

const NO_ARGS_TO_I32 = sig([], ["i32"]);
/** Exports InstanceWrap::new requires (get_typed_func checks the exact type). */
export const REQUIRED_FUNC_EXPORTS: ReadonlyMap<string, FuncSig> = new Map([
  [EXPORT_ON_HTTP_REQ, NO_ARGS_TO_I32],
  [EXPORT_ON_HTTP_RESP, NO_ARGS_TO_I32],
  [EXPORT_CHECK_PAYLOAD, NO_ARGS_TO_I32],
  [EXPORT_PARSE_PAYLOAD, NO_ARGS_TO_I32],
  [EXPORT_GET_HOOK_BITMAP, NO_ARGS_TO_I32],
  [EXPORT_START, sig([], [])],
]);
/** Optional exports: missing or of another type, the agent treats them as absent. */
export const OPTIONAL_FUNC_EXPORTS: ReadonlyMap<string, FuncSig> = new Map([
  [EXPORT_ON_CUSTOM_MESSAGE, NO_ARGS_TO_I32],
  [EXPORT_GET_CUSTOM_MESSAGE_HOOK, NO_ARGS_TO_I32],
]);

/** WasmVm::new: StoreLimits of 10 instances and 10 memories. */
export const MAX_INSTANCES = 10;

/** LOG_LEVEL_* (host.rs) for wasm_log. */
export const LOG_LEVEL_INFO = 0;
export const LOG_LEVEL_WARN = 1;
export const LOG_LEVEL_ERR = 2;

// ---------------------------------------------------------------------------------------
// Hooks (wasm/mod.rs HOOK_POINT_*, host.rs HookPoint, on_custom_message matching)

/** get_hook_bitmap: pointer to a 16-byte big-endian u128. */
export const HOOK_BITMAP_SIZE = 16;
export const HOOK_HTTP_REQ = 1n << 127n;
export const HOOK_HTTP_RESP = 1n << 126n;
export const HOOK_CUSTOM_MESSAGE = 1n << 125n;
export const HOOK_PAYLOAD_PARSE = 1n;

/** get_custom_message_hook: pointer to 8 bytes, big-endian u64 `hook_point << 32 | type_code`. */
export const CUSTOM_MESSAGE_HOOK_SIZE = 8;
/** Any of bits 48..63 set: every message. */
export const CUSTOM_MESSAGE_HOOK_ALL = 0xffn << 48n;

/** HookPoint (host.rs). Only ProtocolParse is sent by today's agent. */
export const HOOK_POINT_PROTOCOL_PARSE = 0;
export const HOOK_POINT_SESSION_FILTER = 1;
export const HOOK_POINT_SAMPLING = 2;

/**
 * L7Protocol numbers (agent/crates/public/src/l7_protocol.rs) the agent sends as
 * custom-message type codes (WasmData::new / from_request) or as the ctx's l7 byte.
 * The agent never sets the Go SDK's "response" bit 16 in a type code.
 */
export const L7_PROTOCOL = {
  HTTP1: 20,
  HTTP2: 21,
  DUBBO: 40,
  GRPC: 41,
  NATS: 104,
  ZMTP: 106,
  ROCKETMQ: 107,
  WEBSPHERE_MQ: 108,
  CUSTOM: 127,
} as const;

/** The matching rule of WasmVm::on_custom_message. */
export function customMessageHookMatches(hook: bigint, hookPoint: number, typeCode: number): boolean {
  if (((hook >> 48n) & 0xffffn) !== 0n) return true;
  return Number((hook >> 32n) & 0xffffn) === hookPoint && Number(hook & 0xffffffffn) === typeCode;
}

// ---------------------------------------------------------------------------------------
// Export return values (abi_export.rs VmParser impl)

/** check_payload's message type (bits 8..15 of its answer); not LogMessageType (session.ts). */
export const MSG_TYPE_REQUEST = 1;
export const MSG_TYPE_RESPONSE = 2;
export type MsgType = typeof MSG_TYPE_REQUEST | typeof MSG_TYPE_RESPONSE;

/** What one instance's check_payload answer means. */
export type CheckAnswer = { proto: 0 } | { proto: number; msgType: MsgType } | { error: string };

/**
 * InstanceWrap::check_payload: 0 = not mine; 1..255 = proto, request; otherwise proto is
 * the low byte (0 = not mine) and `v >> 8` must be 1 (request) or 2 (response).
 */
const NOT_MINE: CheckAnswer = Object.freeze({ proto: 0 });

export function decodeCheckPayloadReturn(v: number): CheckAnswer {
  if (v === 0) return NOT_MINE;
  if (v >= 1 && v <= 255) return { proto: v, msgType: MSG_TYPE_REQUEST };
  const proto = v & 0xff;
  if (proto === 0) return NOT_MINE;
  const msgType = v >> 8;
  if (msgType === MSG_TYPE_REQUEST || msgType === MSG_TYPE_RESPONSE) return { proto, msgType };
  return { error: `vm call check_payload return unexpect value : ${v}` };
}

/** parse_payload / on_http_req / on_http_resp / on_custom_message: 1 abort, 0 next, else error. */
export function decodeAbortReturn(v: number): boolean | { error: string } {
  if (v === 0) return false;
  if (v === 1) return true;
  return { error: `return unexpect value : ${v}` };
}

// ---------------------------------------------------------------------------------------
// Contexts (vm.rs serialize_to_bytes of VmCtxBase, VmHttpReqCtx, VmHttpRespCtx,
// VmOnCustomMessageCtx)

/** EbpfType (agent/src/common/ebpf.rs) values a plugin sees. */
export const EBPF_TYPE = {
  TRACEPOINT: 0,
  TLS_UPROBE: 1,
  GO_HTTP2_UPROBE: 2,
  GO_HTTP2_UPROBE_DATA: 5,
  UNIX_SOCKET: 8,
  NONE: 255,
} as const;

export const L4_TCP = 6;
export const L4_UDP = 17;

/** The agent's default payload truncation (processors.request_log.tunning.payload_truncation). */
export const DEFAULT_BUF_SIZE = 1024;

/** The fields of VmCtxBase a plugin sees. IPs as text or as 4/16 raw bytes. */
export interface ParseCtx {
  srcIp: string | Uint8Array;
  dstIp: string | Uint8Array;
  srcPort: number;
  dstPort: number;
  /** 6 TCP or 17 UDP. */
  l4: number;
  /** 0 in check_payload, the claimed proto in parse_payload; the HTTP record's in HTTP hooks. */
  l7: number;
  ebpfType: number;
  /** Microseconds. */
  time: U64;
  direction: Direction;
  /** Empty for packet capture (the agent only knows it from eBPF). */
  processName: string | Uint8Array;
  flowId: U64;
  bufSize: number;
}

function ipBytes(ip: string | Uint8Array): Uint8Array {
  const b = typeof ip === "string" ? parseIp(ip) : ip;
  if (b.length !== 4 && b.length !== 16) throw new TypeError(`an IP is 4 or 16 bytes, got ${b.length}`);
  return b;
}

function nameBytes(name: string | Uint8Array): Uint8Array {
  const b = typeof name === "string" ? encodeUtf8(name) : name;
  // The agent writes the length as one byte; kernel process names are at most 16 bytes.
  if (b.length > 255) throw new RangeError(`process name of ${b.length} bytes does not fit its 1-byte length`);
  return b;
}

/** Size of the serialized base context: 8 + 28 (IPv4) or 32 + 28 (IPv6), plus the name. */
export function ctxBaseSize(ipLen: number, nameLen: number): number {
  return (ipLen === 16 ? 32 : 8) + 28 + nameLen;
}

/**
 * VmCtxBase::serialize_to_bytes into `dst` at 0, with already-converted IPs and name.
 * The caller has checked that dst holds ctxBaseSize(...) bytes. Returns bytes written.
 */
export function writeCtxBase(dst: Uint8Array, ctx: ParseCtx, src: Uint8Array, dstIp: Uint8Array, name: Uint8Array): number {
  if (src.length !== dstIp.length) throw new TypeError("source and destination IPs must both be IPv4 or both IPv6");
  if (ctx.l4 !== L4_TCP && ctx.l4 !== L4_UDP) throw new RangeError(`l4 must be 6 (TCP) or 17 (UDP), got ${ctx.l4}`);
  let off = 0;
  dst[off++] = src.length === 16 ? 6 : 4;
  dst.set(src, off);
  off += src.length;
  dst.set(dstIp, off);
  off += dstIp.length;
  writeU16BE(dst, off, ctx.srcPort);
  writeU16BE(dst, off + 2, ctx.dstPort);
  off += 4;
  dst[off++] = ctx.l4;
  dst[off++] = ctx.l7;
  dst[off++] = ctx.ebpfType;
  writeU64BE(dst, off, ctx.time);
  off += 8;
  dst[off++] = ctx.direction;
  dst[off++] = name.length;
  dst.set(name, off);
  off += name.length;
  writeU64BE(dst, off, ctx.flowId);
  off += 8;
  writeU16BE(dst, off, ctx.bufSize);
  return off + 2;
}

/** The bytes vm_read_ctx_base writes for this context. */
export function serializeCtxBase(ctx: ParseCtx): Uint8Array {
  const src = ipBytes(ctx.srcIp);
  const dst = ipBytes(ctx.dstIp);
  const name = nameBytes(ctx.processName);
  const out = new Uint8Array(ctxBaseSize(src.length, name.length));
  writeCtxBase(out, ctx, src, dst, name);
  return out;
}

/** Converts a context's IPs and name once (the host caches them between calls). */
export function ctxBytes(ctx: ParseCtx): { src: Uint8Array; dst: Uint8Array; name: Uint8Array } {
  return { src: ipBytes(ctx.srcIp), dst: ipBytes(ctx.dstIp), name: nameBytes(ctx.processName) };
}

/** VmHttpReqCtx fields (from the agent's HttpInfo). */
export interface HttpReqInfo {
  path: string;
  host: string;
  userAgent: string;
  referer: string;
}

/** VmHttpReqCtx::serialize_to_bytes: four strs. vm_read_http_req_info needs all of it. */
export function serializeHttpReqCtx(req: HttpReqInfo): Uint8Array {
  return new ByteWriter().str(req.path).str(req.host).str(req.userAgent).str(req.referer).finish();
}

/** VmHttpRespCtx fields. */
export interface HttpRespInfo {
  /** HttpInfo.status_code, 0 when unknown. */
  code: number;
  status: RespStatus;
  /** HttpInfo.endpoint (for responses, looked up from the request), "" when none. */
  endpoint: string;
}

/** VmHttpRespCtx::MIN_BUF_SIZE. */
export const HTTP_RESP_MIN_BUF = 3;

/**
 * VmHttpRespCtx::serialize_to_bytes for a plugin buffer of `bufLen` bytes: u16 code,
 * u8 status, then the endpoint str only when it fits. null when bufLen < 3.
 */
export function serializeHttpRespCtx(resp: HttpRespInfo, bufLen: number): Uint8Array | null {
  if (bufLen < HTTP_RESP_MIN_BUF) return null;
  const w = new ByteWriter().u16(resp.code).u8(RESP_STATUS_CODE[resp.status]);
  const endpoint = encodeUtf8(resp.endpoint);
  if (bufLen >= HTTP_RESP_MIN_BUF + 2 + endpoint.length) w.str(endpoint);
  return w.finish();
}

/** VmOnCustomMessageCtx fields (WasmData). */
export interface CustomMessageInfo {
  hookPoint: number;
  typeCode: number;
  /** The protobuf bytes (NatsMessage, ZmtpMessage), or empty (Dubbo, RocketMQ). */
  data: Uint8Array;
}

/** VmOnCustomMessageCtx::serialize_to_bytes: u16 hook point, u32 type code, u32 length, bytes. */
export function serializeCustomMessageCtx(msg: CustomMessageInfo): Uint8Array {
  const out = new Uint8Array(10 + msg.data.length);
  writeU16BE(out, 0, msg.hookPoint);
  writeU32BE(out, 2, msg.typeCode);
  writeU32BE(out, 6, msg.data.length);
  out.set(msg.data, 10);
  return out;
}

/** read_u128_be of the hook bitmap. */
export function readHookBitmap(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = 0; i < HOOK_BITMAP_SIZE; i++) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}
