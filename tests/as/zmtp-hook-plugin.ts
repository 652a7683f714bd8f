// A plugin that only hooks the agent's ZMTP custom messages (type code 106), for the replay
// tests of tests/custom/: it claims nothing, and on every ZMTP log the agent's parser hands it
// it adds what it was given — the ZmtpMessage bytes (hex), the payload length, the type code
// and hook point — and names the protocol "ZMTP-hooked" (the agent takes the attributes, the
// protocol name, async and reversed from the record, nothing else).
export * from "../../assembly/exports";
import {
  Action, CustomMessageCtx, L7ProtocolInfo, NOT_MINE, ParseCtx, Parser, customMessageHook, registerParser,
  HOOK_CUSTOM_MESSAGE, HOOK_POINT_PROTOCOL_PARSE, TYPE_CODE_ZMTP,
} from "../../assembly/index";

const HEX = "0123456789abcdef";

class ZmtpHook extends Parser {
  constructor() {
    super(97, "ZmtpHook");
  }

  hookIn(): u32 {
    return HOOK_CUSTOM_MESSAGE;
  }

  customMessageHookIn(): u64 {
    return customMessageHook(HOOK_POINT_PROTOCOL_PARSE, TYPE_CODE_ZMTP);
  }

  onCheckPayload(ctx: ParseCtx): u8 {
    return NOT_MINE;
  }

  onCustomMessage(ctx: CustomMessageCtx): Action {
    const d = ctx.data;
    let hex = "";
    for (let i = 0; i < d.length; i++) hex += HEX.charAt(d[i] >> 4) + HEX.charAt(d[i] & 15);
    const info = new L7ProtocolInfo();
    info.protocolStr = "ZMTP-hooked";
    info.attr("zmtp_message", hex);
    info.attr("hook_payload_bytes", ctx.base.payload().length.toString());
    info.attr("hook_type_code", ctx.typeCode.toString());
    info.attr("hook_point", ctx.hookPoint.toString());
    return Action.abortWithOne(info);
  }
}

registerParser(new ZmtpHook());
