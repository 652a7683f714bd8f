// A deliberately careless plugin (tests/coexist/greedy.test.ts): it claims only payloads
// that start with "GREEDY", but every hook body aborts with a record whatever it is given,
// as a protocol author who forgets to check the context's protocol would write it. The
// SDK must keep everything that is not its own away from these bodies.
export * from "../../assembly/exports";
import {
  Action, L7ProtocolInfo, MSG_REQUEST, NOT_MINE, ParseCtx, Parser, customMessageHook, registerParser,
  CustomMessageCtx, HttpReqCtx, HttpRespCtx, HOOK_CUSTOM_MESSAGE, HOOK_PAYLOAD_PARSE, HOOK_POINT_PROTOCOL_PARSE, TYPE_CODE_NATS,
} from "../../assembly/index";

function mark(hook: string): Action {
  const info = new L7ProtocolInfo();
  info.attr("greedy", hook);
  return Action.abortWithOne(info);
}

class Greedy extends Parser {
  constructor() {
    super(99, "Greedy");
  }

  // No HTTP hooks, yet onHttpReq / onHttpResp below abort.
  hookIn(): u32 {
    return HOOK_PAYLOAD_PARSE | HOOK_CUSTOM_MESSAGE;
  }

  customMessageHookIn(): u64 {
    return customMessageHook(HOOK_POINT_PROTOCOL_PARSE, TYPE_CODE_NATS);
  }

  onCheckPayload(ctx: ParseCtx): u8 {
    const p = ctx.payload();
    return p.length >= 6 && p[0] == 0x47 && p[1] == 0x52 && p[2] == 0x45 && p[3] == 0x45 && p[4] == 0x44 && p[5] == 0x59 ? MSG_REQUEST : NOT_MINE;
  }

  onParsePayload(ctx: ParseCtx): Action {
    return mark("parse_payload");
  }

  onHttpReq(ctx: HttpReqCtx): Action {
    return mark("on_http_req");
  }

  onHttpResp(ctx: HttpRespCtx): Action {
    return mark("on_http_resp");
  }

  onCustomMessage(ctx: CustomMessageCtx): Action {
    return mark("on_custom_message");
  }
}

registerParser(new Greedy());
