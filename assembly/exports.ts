// The functions the agent calls (agent: abi_export.rs). A plugin's entry file
// re-exports this module: `export * from "../../assembly/exports";`.
import {
  host_read_l7_protocol_info, host_read_str_result, ACTION_ABORT, ACTION_NEXT,
  HOOK_CUSTOM_MESSAGE, HOOK_HTTP_REQ, HOOK_HTTP_RESP, HOOK_PAYLOAD_PARSE, MSG_REQUEST, MSG_RESPONSE,
} from "./abi";
import { ParseCtx, readCustomMessageCtx, readHttpReqCtx, readHttpRespCtx, readParseCtx } from "./context";
import { ByteWriter } from "./codec/writer";
import { Action, L4_ANY, Parser, currentParser, declared, registeredCustomHook, registeredHooks, subscribedTo } from "./parser";
import { STATUS_UNSET } from "./result";
import { writeRecordPB } from "./codec/records";
import { warn } from "./log";
import { collectEvery } from "./collect";

const hookBitmap = new Uint8Array(16);
const customHook = new Uint8Array(8);
const out = new ByteWriter(4096);

// Plugins build with the minimal runtime (about half the module size of the
// incremental one), whose collector runs only when asked. Collecting at the end of
// an exported call, when no managed value is left on the stack, bounds the garbage
// to what this many calls leave behind. A collection marks every live object (pools,
// flow tables) whatever the garbage, while calls that reuse their records leave little:
// every 256 calls costs Dubbo's request 0.17 us less than every 64. A plugin that keeps
// managed state per flow may ask for more calls between collections (./collect.ts).
let callsSinceCollect: i32 = 0;

function settle(code: i32): i32 {
  if (++callsSinceCollect >= collectEvery) {
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

/** True when a payload hook call is this parser's: its L4, and in parse_payload its protocol. */
function ownsPayload(parser: Parser, ctx: ParseCtx, l7: u8): bool {
  const l4 = parser.l4;
  return (registeredHooks & HOOK_PAYLOAD_PARSE) != 0 && ctx.l7Protocol == l7 && (l4 == L4_ANY || ctx.l4Protocol == l4);
}

export function check_payload(): i32 {
  const parser = currentParser();
  if (parser === null) return 0;
  const ctx = readParseCtx();
  if (ctx === null || !ownsPayload(parser, ctx, 0)) return 0;
  const msgType = parser.onCheckPayload(ctx);
  if (msgType != MSG_REQUEST && msgType != MSG_RESPONSE) return settle(0);
  host_read_str_result(declared.dataStart + 2, declared.len - 2);
  return settle((<i32>msgType << 8) | <i32>parser.protocol);
}

export function parse_payload(): i32 {
  const parser = currentParser();
  if (parser === null) return ACTION_NEXT;
  const ctx = readParseCtx();
  // Another plugin's protocol: the agent asks every plugin in turn, and an abort here
  // would take that plugin's messages away from it.
  if (ctx === null || !ownsPayload(parser, ctx, parser.protocol)) return ACTION_NEXT;
  return settle(deliver(parser.onParsePayload(ctx), i32.MAX_VALUE));
}

export function on_http_req(): i32 {
  const parser = currentParser();
  if (parser === null || (registeredHooks & HOOK_HTTP_REQ) == 0) return ACTION_NEXT;
  const ctx = readHttpReqCtx();
  if (ctx === null) return ACTION_NEXT;
  return settle(deliver(parser.onHttpReq(ctx), 1));
}

export function on_http_resp(): i32 {
  const parser = currentParser();
  if (parser === null || (registeredHooks & HOOK_HTTP_RESP) == 0) return ACTION_NEXT;
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
  if (parser === null || registeredCustomHook == 0) return ACTION_NEXT;
  const ctx = readCustomMessageCtx();
  if (ctx === null || !subscribedTo(ctx.hookPoint, ctx.typeCode)) return ACTION_NEXT;
  return settle(deliver(parser.onCustomMessage(ctx), 1));
}

/**
 * Not part of the agent's ABI (the agent ignores it): a pointer to the declared
 * protocol, `u8 protocol, u8 l4, u16 name length, name` (protocol 0 when no parser is
 * registered). `host-sim` reports it and `npm run build` refuses two plugins that
 * declare one number.
 */
export function protocol_info(): usize {
  return declared.dataStart;
}

/** Pointer to the 16-byte big-endian u128 hook bitmap. */
export function get_hook_bitmap(): usize {
  if (currentParser() === null) return 0;
  const hooks = registeredHooks;
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
  if (currentParser() === null) return 0;
  const hook = registeredCustomHook;
  if (hook == 0) return 0;
  store<u64>(customHook.dataStart, bswap<u64>(hook));
  return customHook.dataStart;
}
