// {{label}}: a DeepFlow agent Wasm plugin. As made by deepflow-wasm-create it parses the
// small text protocol of tests/fixtures/sample.pcap (assembly/lines.ts): replace the wire
// format with yours and keep the shape.
export * from "deepflow-wasm-sdk/assembly/exports"; // the functions the agent calls
import {
  Action, L7ProtocolInfo, MSG_REQUEST, MSG_RESPONSE, NOT_MINE, ParseCtx, Parser, RecordPool, Request, Response, registerParser,
  RESP_OK, RESP_SERVER_ERROR,
} from "deepflow-wasm-sdk";
import { Line, readLine } from "./lines";

/**
 * This plugin's protocol number: 1..255, and not one another plugin of the same agent
 * takes (the agent hands parse_payload of a number to the first plugin that declares it).
 */
const PROTOCOL: u8 = {{proto}};
/** l7_protocol_str of its logs (at most 16 bytes). */
const NAME = "{{label}}";

const line = new Line();
// Records are reused call after call (the agent reads them when the hook returns).
const records = new RecordPool();

class {{className}} extends Parser {
  constructor() {
    super(PROTOCOL, NAME); // TCP; a third argument (L4_UDP, L4_ANY) says otherwise
  }

  /** Is this payload the start of a flow of ours? The agent asks every plugin in turn. */
  onCheckPayload(ctx: ParseCtx): u8 {
    // Every other protocol's unclaimed payloads come here too: refuse them cheaply.
    if (!readLine(ctx.payload(), 0, line)) return NOT_MINE;
    // Which side is the server follows from this: a request goes to it.
    return line.isResponse ? MSG_RESPONSE : MSG_REQUEST;
  }

  /** Only ever called for flows claimed with PROTOCOL: the SDK answers the others. */
  onParsePayload(ctx: ParseCtx): Action {
    const p = ctx.payload();
    records.reset();
    // Several messages may share a segment; each gives one record.
    for (let at = 0; readLine(p, at, line); at = line.end) {
      const info = records.take();
      info.requestId = line.id; // pairs a response with its request
      if (ctx.isRequest) {
        info.reqLen = line.end - at;
        info.request().setBytes(Request.TYPE, p.dataStart + <usize>line.verbAt, line.verbEnd - line.verbAt);
        info.request().setBytes(Request.RESOURCE, p.dataStart + <usize>line.restAt, line.restEnd - line.restAt);
      } else {
        info.respLen = line.end - at;
        const resp = info.response();
        resp.setCode(line.code);
        resp.status = line.code == 0 ? RESP_OK : RESP_SERVER_ERROR;
        resp.setBytes(line.code == 0 ? Response.RESULT : Response.EXCEPTION, p.dataStart + <usize>line.restAt, line.restEnd - line.restAt);
      }
    }
    // The flow is ours even when a payload holds no whole message (the middle of one).
    return records.taken.length > 0 ? Action.abortWith(records.taken) : Action.abort();
  }
}

registerParser(new {{className}}());
