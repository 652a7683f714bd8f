// The raw contract with the DeepFlow agent, plugin side. Everything else in the SDK
// calls through this file. Names and semantics mirror the agent's
// agent/src/plugin/wasm/abi_import.rs (imports) and abi_export.rs (exports); the
// reference is ../shared/design/deepflow-wasm-abi.md.
import { AppRespStatus } from "./schema.generated";

// ---- imports offered by the agent (module "deepflow") ----

/** wasm_log: level 0 info, 1 warn, 2 error. */
// @ts-expect-error: decorator
@external("deepflow", "wasm_log")
export declare function wasm_log(ptr: usize, len: i32, level: i32): void;

/** vm_read_ctx_base: agent writes the parse context; bytes written, 0 on failure. */
// @ts-expect-error: decorator
@external("deepflow", "vm_read_ctx_base")
export declare function vm_read_ctx_base(ptr: usize, len: i32): i32;

/** vm_read_payload: payload length, -1 when len is shorter than the payload. */
// @ts-expect-error: decorator
@external("deepflow", "vm_read_payload")
export declare function vm_read_payload(ptr: usize, len: i32): i32;

// @ts-expect-error: decorator
@external("deepflow", "vm_read_http_req_info")
export declare function vm_read_http_req_info(ptr: usize, len: i32): i32;

// @ts-expect-error: decorator
@external("deepflow", "vm_read_http_resp_info")
export declare function vm_read_http_resp_info(ptr: usize, len: i32): i32;

// @ts-expect-error: decorator
@external("deepflow", "vm_read_custom_message_info")
export declare function vm_read_custom_message_info(ptr: usize, len: i32): i32;

/** host_read_l7_protocol_info: 1 ok, 0 when any record fails to decode. */
// @ts-expect-error: decorator
@external("deepflow", "host_read_l7_protocol_info")
export declare function host_read_l7_protocol_info(ptr: usize, len: i32): i32;

/** host_read_str_result: hands a `u16 len + bytes` string (the protocol name). */
// @ts-expect-error: decorator
@external("deepflow", "host_read_str_result")
export declare function host_read_str_result(ptr: usize, len: i32): i32;

// ---- constants of the contract ----

export const LOG_INFO: i32 = 0;
export const LOG_WARN: i32 = 1;
export const LOG_ERROR: i32 = 2;

/** Return values of parse_payload / on_http_req / on_http_resp / on_custom_message. */
export const ACTION_NEXT: i32 = 0;
export const ACTION_ABORT: i32 = 1;

/** Direction byte of the parse context. */
export const DIR_C2S: u8 = 0;
export const DIR_S2C: u8 = 1;

/**
 * Message type in bits 8..15 of check_payload's answer (abi_export.rs check_payload), which
 * the agent turns into its LogMessageType (Request 0, Response 1): not those values.
 */
export const MSG_REQUEST: u8 = 1;
export const MSG_RESPONSE: u8 = 2;

/** AppRespStatus of WasmPluginApi.proto (schema.generated.ts). */
export const RESP_OK: i32 = AppRespStatus.RESP_OK;
export const RESP_TIMEOUT: i32 = AppRespStatus.RESP_TIMEOUT;
export const RESP_SERVER_ERROR: i32 = AppRespStatus.RESP_SERVER_ERROR;
export const RESP_CLIENT_ERROR: i32 = AppRespStatus.RESP_CLIENT_ERROR;
export const RESP_UNKNOWN: i32 = AppRespStatus.RESP_UNKNOWN;

/** eBPF type byte of the parse context. */
export const EBPF_TRACEPOINT: u8 = 0;
export const EBPF_TLS_UPROBE: u8 = 1;
export const EBPF_GO_HTTP2_UPROBE: u8 = 2;
export const EBPF_GO_HTTP2_UPROBE_DATA: u8 = 5;
export const EBPF_UNIX_SOCKET: u8 = 8;
export const EBPF_NONE: u8 = 255;

/** L4 protocol byte of the parse context. */
export const L4_TCP: u8 = 6;
export const L4_UDP: u8 = 17;

/**
 * Hook points a plugin asks for. The SDK keeps them as a small flag set and turns
 * them into the agent's 16-byte big-endian u128 bitmap in get_hook_bitmap.
 */
export const HOOK_PAYLOAD_PARSE: u32 = 1; // u128 bit 0
export const HOOK_HTTP_REQ: u32 = 2; // u128 bit 127
export const HOOK_HTTP_RESP: u32 = 4; // u128 bit 126
export const HOOK_CUSTOM_MESSAGE: u32 = 8; // u128 bit 125

/** Custom-message hook points (agent HookPoint). */
export const HOOK_POINT_PROTOCOL_PARSE: u16 = 0;
/**
 * Agent L7 protocol numbers used as custom-message type codes. The agent passes the
 * bare protocol number for requests and responses alike (WasmData::from_request)
 * and matches the hook exactly, so no response bit is ever set.
 */
export const TYPE_CODE_DUBBO: u32 = 40;
export const TYPE_CODE_NATS: u32 = 104;
export const TYPE_CODE_ZMTP: u32 = 106;
export const TYPE_CODE_ROCKETMQ: u32 = 107;
/** get_custom_message_hook value meaning "every message". */
export const CUSTOM_MESSAGE_HOOK_ALL: u64 = (<u64>0xff) << 48;

/** The agent's limit on protocol names passed from check_payload (the Go SDK cuts to 16). */
export const MAX_PROTOCOL_NAME: i32 = 16;
/** Records are framed by a u16 length. */
export const MAX_RECORD_LEN: i32 = 0xffff;

/**
 * Routed here with `--use abort=assembly/abi/pluginAbort` so that the module does not
 * import `env.abort`, which the agent does not offer. Logs, then traps: the agent
 * counts the trap as a failure of this call and carries on.
 */
export function pluginAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let text = "abort: " + (message !== null ? message : "");
  if (fileName !== null) text += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  const bytes = String.UTF8.encode(text);
  wasm_log(changetype<usize>(bytes), bytes.byteLength, LOG_ERROR);
  unreachable();
}
