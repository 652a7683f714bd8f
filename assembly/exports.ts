// The functions the agent calls (agent: abi_export.rs). A plugin's entry file
// re-exports this module: `export * from "../../assembly/exports";`.
import {
  host_read_l7_protocol_info, host_read_str_result, ACTION_ABORT, ACTION_NEXT,
  HOOK_CUSTOM_MESSAGE, HOOK_HTTP_REQ, HOOK_HTTP_RESP, HOOK_PAYLOAD_PARSE, MAX_PROTOCOL_NAME, MSG_RESPONSE,
} from "./abi";
import { readCustomMessageCtx, readHttpReqCtx, readHttpRespCtx, readParseCtx } from "./context";
import { ByteWriter, utf8Boundary } from "./codec/writer";
import { Action, currentParser } from "./parser";
import { STATUS_UNSET, writeRecordPB } from "./result";
import { warn } from "./log";

const hookBitmap = new Uint8Array(16);
const customHook = new Uint8Array(8);
const out = new ByteWriter(4096);

// Plugins build with the minimal runtime (about half the module size of the
// incremental one), whose collector runs only when asked. Collecting at the end of
// an exported call, when no managed value is left on the stack, bounds the garbage
// to what this many calls leave behind. A collection marks every live object (pools,
// flow tables) whatever the garbage, while calls that reuse their records leave little:
// every 256 calls costs Dubbo's request 0.17 us less than every 64.
const COLLECT_EVERY: i32 = 256;
let callsSinceCollect: i32 = 0;

function settle(code: i32): i32 {
  if (++callsSinceCollect >= COLLECT_EVERY) {
    callsSinceCollect = 0;
    __collect();
  }
  return code;
}

/** Hands the action's records to the agent; returns the action's code. */
function deliver(action: Action, maxRecords: i32): i32 {
  if (action.code != ACTION_ABORT) return ACTION_NEXT;
  const infos = action.infos;
  if (infos === null || infos.length == 0) return ACTION_ABORT;
  out.reset();
  const n = maxRecords < infos.length ? maxRecords : infos.length;
  for (let i = 0; i < n; i++) {
    if (!writeRecordPB(out, infos[i])) warn("record dropped: larger than 65535 bytes");
  }
  if (out.len > 0 && host_read_l7_protocol_info(out.dataStart, out.len) == 0) {
    warn("the agent refused the result records");
  }
  return ACTION_ABORT;
}

export function check_payload(): i32 {
  const parser = currentParser();
  if (parser === null) return 0;
  const ctx = readParseCtx();
  if (ctx === null) return 0;
  const res = parser.onCheckPayload(ctx);
  if (res === null || res.proto == 0) return settle(0);
  out.reset();
  out.u16be(0);
  out.utf8(res.name);
  let n = out.len - 2;
  if (n > MAX_PROTOCOL_NAME) n = utf8Boundary(out.buf, 2, MAX_PROTOCOL_NAME);
  out.patchU16be(0, n);
  host_read_str_result(out.dataStart, n + 2);
  const msgType: i32 = res.msgType == MSG_RESPONSE ? 2 : 1;
  return settle((msgType << 8) | <i32>res.proto);
}

export function parse_payload(): i32 {
  const parser = currentParser();
  if (parser === null) return ACTION_NEXT;
  const ctx = readParseCtx();
  if (ctx === null) return ACTION_NEXT;
  return settle(deliver(parser.onParsePayload(ctx), i32.MAX_VALUE));
}

export function on_http_req(): i32 {
  const parser = currentParser();
  if (parser === null) return ACTION_NEXT;
  const ctx = readHttpReqCtx();
  if (ctx === null) return ACTION_NEXT;
  return settle(deliver(parser.onHttpReq(ctx), 1));
}

export function on_http_resp(): i32 {
  const parser = currentParser();
  if (parser === null) return ACTION_NEXT;
  const ctx = readHttpRespCtx();
  if (ctx === null) return ACTION_NEXT;
  const action = parser.onHttpResp(ctx);
  // The agent copies a record's response status over the HTTP status, and a record
  // without one reads as "unknown": keep the agent's own judgement unless the plugin
  // chose another.
  const infos = action.infos;
  if (infos !== null && infos.length > 0) {
    const resp = infos[0].response();
    if (resp.status == STATUS_UNSET) resp.status = <i32>ctx.status;
  }
  return settle(deliver(action, 1));
}

export function on_custom_message(): i32 {
  const parser = currentParser();
  if (parser === null) return ACTION_NEXT;
  const ctx = readCustomMessageCtx();
  if (ctx === null) return ACTION_NEXT;
  return settle(deliver(parser.onCustomMessage(ctx), 1));
}

/** Pointer to the 16-byte big-endian u128 hook bitmap. */
export function get_hook_bitmap(): usize {
  const parser = currentParser();
  if (parser === null) return 0;
  const hooks = parser.hookIn();
  hookBitmap.fill(0);
  let top: u32 = 0;
  if (hooks & HOOK_HTTP_REQ) top |= 0x80;
  if (hooks & HOOK_HTTP_RESP) top |= 0x40;
  if (hooks & HOOK_CUSTOM_MESSAGE) top |= 0x20;
  hookBitmap[0] = <u8>top;
  if (hooks & HOOK_PAYLOAD_PARSE) hookBitmap[15] = 1;
  return hookBitmap.dataStart;
}

/** Pointer to the 8-byte big-endian u64 custom-message hook, 0 for none. */
export function get_custom_message_hook(): usize {
  const parser = currentParser();
  if (parser === null) return 0;
  const hook = parser.customMessageHookIn();
  if (hook == 0) return 0;
  store<u64>(customHook.dataStart, bswap<u64>(hook));
  return customHook.dataStart;
}
