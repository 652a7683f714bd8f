// A plugin that writes back what the SDK read of each call's context and payload
// (tests/assembly/context.test.ts): one record whose attributes are the ParseCtx fields.
export * from "../../assembly/exports";
import { Action, L4_ANY, L7ProtocolInfo, MSG_REQUEST, ParseCtx, Parser, registerParser } from "../../assembly/index";

class Echo extends Parser {
  constructor() {
    super(77, "echo", L4_ANY);
  }

  onCheckPayload(ctx: ParseCtx): u8 {
    return MSG_REQUEST;
  }

  onParsePayload(ctx: ParseCtx): Action {
    const data = ctx.payload();
    let sum: u32 = 0;
    for (let i = 0; i < data.length; i++) sum += data[i];
    const info = new L7ProtocolInfo();
    info.attr("process", ctx.processName)
      .attr("src", ctx.srcIpString() + ":" + ctx.srcPort.toString())
      .attr("dst", ctx.dstIpString() + ":" + ctx.dstPort.toString())
      .attr("l4", ctx.l4Protocol.toString())
      .attr("l7", ctx.l7Protocol.toString())
      .attr("ebpf", ctx.ebpfType.toString())
      .attr("time", ctx.time.toString())
      .attr("direction", ctx.direction.toString())
      .attr("flow", ctx.flowId.toString())
      .attr("buf", ctx.bufSize.toString())
      .attr("payload", data.length.toString() + "/" + sum.toString())
      // A second read of the payload in the same call gives the same bytes.
      .attr("again", ctx.payload().length.toString());
    return Action.abortWithOne(info);
  }
}

registerParser(new Echo());
