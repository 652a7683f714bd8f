// The typed plugin API: a Parser subclass answers the agent's hooks with
// CheckResult and Action values; exports.ts does the wire work.
import { ACTION_ABORT, ACTION_NEXT, HOOK_PAYLOAD_PARSE, MSG_REQUEST } from "./abi";
import { CustomMessageCtx, HttpReqCtx, HttpRespCtx, ParseCtx } from "./context";
import { L7ProtocolInfo } from "./result";
import { warn } from "./log";

/** check_payload's answer: "this flow is mine", with the message type of this payload. */
export class CheckResult {
  /**
   * @param proto the plugin's own protocol number, 1..255
   * @param name the protocol name shown in logs (cut to 16 bytes by the agent's SDK rule)
   * @param msgType MSG_REQUEST or MSG_RESPONSE: decides which side is the server
   */
  constructor(public proto: u8, public name: string, public msgType: u8 = MSG_REQUEST) {}
}

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
 * Subclass and override what the plugin needs. The defaults claim nothing, so a
 * hook a plugin does not use passes the message on.
 */
export class Parser {
  /** HOOK_* flags of abi.ts. */
  hookIn(): u32 {
    return HOOK_PAYLOAD_PARSE;
  }

  /**
   * 0 = no custom-message hook; otherwise `hookPoint << 32 | typeCode`
   * (see customMessageHook) or CUSTOM_MESSAGE_HOOK_ALL.
   */
  customMessageHookIn(): u64 {
    return 0;
  }

  onCheckPayload(ctx: ParseCtx): CheckResult | null {
    return null;
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

let registered: Parser | null = null;

/** Call once from the plugin's top level (it runs in _start). */
export function registerParser(parser: Parser): void {
  registered = parser;
}

export function currentParser(): Parser | null {
  return registered;
}
