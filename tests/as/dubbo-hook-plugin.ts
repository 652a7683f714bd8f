// A plugin that only hooks the agent's Dubbo custom messages (type code 40), for the replay
// tests of tests/custom/: it claims nothing (check_payload says "not mine"), and on each
// Dubbo request the agent's parser hands it, it adds a trace id and a span id made from the
// frame's request id, and attributes saying what it was given (payload length, message
// length, type code, hook point). Responses: "next", so the agent's own status stays.
export * from "../../assembly/exports";
import {
  Action, CustomMessageCtx, L7ProtocolInfo, NOT_MINE, ParseCtx, Parser, customMessageHook, registerParser,
  HOOK_CUSTOM_MESSAGE, HOOK_POINT_PROTOCOL_PARSE, TYPE_CODE_DUBBO,
} from "../../assembly/index";

class DubboHook extends Parser {
  constructor() {
    super(98, "DubboHook");
  }

  hookIn(): u32 {
    return HOOK_CUSTOM_MESSAGE;
  }

  customMessageHookIn(): u64 {
    return customMessageHook(HOOK_POINT_PROTOCOL_PARSE, TYPE_CODE_DUBBO);
  }

  onCheckPayload(ctx: ParseCtx): u8 {
    return NOT_MINE;
  }

  onCustomMessage(ctx: CustomMessageCtx): Action {
    if (ctx.isResponse) return Action.next();
    const p = ctx.base.payload();
    if (p.length < 16) return Action.next();
    // The request id: header bytes 4..12, big-endian.
    let id: u64 = 0;
    for (let i = 4; i < 12; i++) id = (id << 8) | <u64>p[i];
    const info = new L7ProtocolInfo();
    const trace = info.traceInfo();
    trace.traceId = "hook-trace-" + id.toString();
    trace.spanId = "hook-span-" + id.toString();
    info.attr("hook_payload_bytes", p.length.toString());
    info.attr("hook_message_bytes", ctx.data.length.toString());
    info.attr("hook_type_code", ctx.typeCode.toString());
    info.attr("hook_point", ctx.hookPoint.toString());
    return Action.abortWithOne(info);
  }
}

registerParser(new DubboHook());
