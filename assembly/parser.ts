// The typed plugin API: a Parser subclass declares its protocol once (number, name, L4)
// and answers the agent's hooks; exports.ts does the wire work and keeps every call
// that is not this parser's (another plugin's protocol, another L4, a hook it did not
// ask for, a custom message it did not subscribe to) away from plugin code.
import {
  ACTION_ABORT, ACTION_NEXT, CUSTOM_MESSAGE_HOOK_ALL, HOOK_CUSTOM_MESSAGE, HOOK_PAYLOAD_PARSE,
  L4_TCP, MAX_PROTOCOL_NAME, pluginAbort,
} from "./abi";
import { ByteWriter } from "./codec/writer";
import { CustomMessageCtx, HttpReqCtx, HttpRespCtx, ParseCtx } from "./context";
import { L7ProtocolInfo } from "./result";
import { warn } from "./log";

/** onCheckPayload's answer for a payload that is not this parser's (MSG_REQUEST / MSG_RESPONSE claim it). */
export const NOT_MINE: u8 = 0;
/** A parser's L4 that takes TCP and UDP alike. */
export const L4_ANY: u8 = 0;

/**
 * What a hook tells the agent: try the next plugin, or stop (with or without results).
 * The agent reads an action as soon as the hook returns, so the factories below hand
 * out shared instances (an action per packet would only feed the collector): use one
 * as a return value, not as something to keep.
 */
export class Action {
  constructor(public code: i32, public infos: L7ProtocolInfo[] | null = null) {}

  /** Not handled here: the agent asks the next plugin. */
  static next(): Action {
    const a = NEXT;
    a.code = ACTION_NEXT;
    a.infos = null;
    return a;
  }

  /** Handled, nothing to log. */
  static abort(): Action {
    const a = ABORT;
    a.code = ACTION_ABORT;
    a.infos = null;
    return a;
  }

  /** Handled, but broken: logs why and stops without results. */
  static abortWithError(message: string): Action {
    warn(message);
    return Action.abort();
  }

  /** Handled: these records go to the agent (HTTP and custom-message hooks keep one). */
  static abortWith(infos: L7ProtocolInfo[]): Action {
    const a = ABORT;
    a.code = ACTION_ABORT;
    a.infos = infos;
    return a;
  }

  static abortWithOne(info: L7ProtocolInfo): Action {
    const one = ONE;
    one.length = 0;
    one.push(info);
    return Action.abortWith(one);
  }
}

const NEXT = new Action(ACTION_NEXT);
const ABORT = new Action(ACTION_ABORT);
const ONE: L7ProtocolInfo[] = [];

/**
 * Subclass, declare the protocol in the constructor (`super(201, "MyProto")`), and
 * override what the plugin needs. The agent asks every plugin in turn and the first
 * that claims or aborts wins, so the SDK answers "next" for everything that is not
 * this parser's before any of its code runs: onParsePayload only ever sees payloads of
 * flows claimed with `protocol` on `l4`, the HTTP hooks only run when hookIn asks for
 * them, and onCustomMessage only gets the messages customMessageHookIn subscribed to.
 */
export class Parser {
  /**
   * @param protocol this plugin's protocol number, 1..255, unique among the plugins an
   *   agent loads (the README lists the numbers the shipped plugins take); 0 only for a
   *   parser that does not hook payload parsing
   * @param protocolName protocol_str of its logs, at most 16 bytes (the agent's SDK rule)
   * @param l4 L4_TCP (default), L4_UDP or L4_ANY
   */
  constructor(public protocol: u8 = 0, public protocolName: string = "", public l4: u8 = L4_TCP) {}

  /** HOOK_* flags of abi.ts; read once, when the parser is registered. */
  hookIn(): u32 {
    return HOOK_PAYLOAD_PARSE;
  }

  /**
   * 0 = no custom-message hook; otherwise `hookPoint << 32 | typeCode`
   * (see customMessageHook) or CUSTOM_MESSAGE_HOOK_ALL. Read once, when registered.
   */
  customMessageHookIn(): u64 {
    return 0;
  }

  /** MSG_REQUEST or MSG_RESPONSE (which decides the server side) to claim the flow, else NOT_MINE. */
  onCheckPayload(ctx: ParseCtx): u8 {
    return NOT_MINE;
  }

  onParsePayload(ctx: ParseCtx): Action {
    return Action.next();
  }

  onHttpReq(ctx: HttpReqCtx): Action {
    return Action.next();
  }

  onHttpResp(ctx: HttpRespCtx): Action {
    return Action.next();
  }

  onCustomMessage(ctx: CustomMessageCtx): Action {
    return Action.next();
  }
}

export function customMessageHook(hookPoint: u16, typeCode: u32): u64 {
  return ((<u64>hookPoint) << 32) | <u64>typeCode;
}

// The registered parser and what it declared, fixed at registration.
let registered: Parser | null = null;
/** Its hookIn(). */
export let registeredHooks: u32 = 0;
/** Its customMessageHookIn(). */
export let registeredCustomHook: u64 = 0;
/**
 * Its protocol as the agent is told it: `u8 protocol, u8 l4, u16 name length, name`.
 * check_payload hands the name part to host_read_str_result; protocol_info points at all of it.
 */
export const declared = new ByteWriter(4 + MAX_PROTOCOL_NAME);

/**
 * Call once from the plugin's top level (it runs in _start). A parser that hooks
 * payload parsing without a protocol number, or with a name over 16 bytes, stops the
 * load here with a message, rather than failing quietly on every packet.
 */
export function registerParser(parser: Parser): void {
  const w = declared;
  w.reset();
  w.u8(parser.protocol);
  w.u8(parser.l4);
  w.u16be(0);
  w.utf8(parser.protocolName);
  const nameLen = w.len - 4;
  w.patchU16be(2, nameLen);
  registeredHooks = parser.hookIn();
  registeredCustomHook = parser.customMessageHookIn();
  if ((registeredHooks & HOOK_PAYLOAD_PARSE) != 0 && (parser.protocol == 0 || nameLen == 0 || nameLen > MAX_PROTOCOL_NAME)) {
    pluginAbort("bad protocol number or name", null, 0, 0);
  }
  registered = parser;
}

export function currentParser(): Parser | null {
  return registered;
}

/** on_custom_message's filter, as the agent's WasmVm::on_custom_message matches hooks. */
export function subscribedTo(hookPoint: u16, typeCode: u32): bool {
  const hook = registeredCustomHook;
  if (hook == 0 || (registeredHooks & HOOK_CUSTOM_MESSAGE) == 0) return false;
  if ((hook & CUSTOM_MESSAGE_HOOK_ALL) != 0) return true;
  return <u16>(hook >> 32) == hookPoint && <u32>hook == typeCode;
}
