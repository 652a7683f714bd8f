// Example plugin using every hook, written as documentation for protocol authors.
//
// - on_http_req: lifts X-Request-ID from the HTTP request into x_request_id and an attribute.
// - on_http_resp: a 200 response carrying a non-zero X-Biz-Code becomes a server error.
// - check_payload / parse_payload: claims a toy text protocol, one message per line:
//     request  "TOY <id> <method> <resource>\n"
//     response "TOY <id> <code> <text>\n"      (code 0 = ok)
// - on_custom_message: tags the agent's own Dubbo messages with their size.
export * from "../../assembly/exports";
import {
  Action, ByteReader, CustomMessageCtx, customMessageHook, HOOK_CUSTOM_MESSAGE, HOOK_HTTP_REQ, HOOK_HTTP_RESP, HOOK_PAYLOAD_PARSE, HOOK_POINT_PROTOCOL_PARSE, httpHeader, HttpReqCtx, HttpRespCtx, L4_ANY, L7ProtocolInfo, MSG_REQUEST, MSG_RESPONSE, NOT_MINE, ParseCtx, Parser, registerParser, RESP_CLIENT_ERROR, RESP_OK, RESP_SERVER_ERROR, TYPE_CODE_DUBBO,
} from "../../assembly/index";
import { BIZ_CODE_HEADER, REQUEST_ID_HEADER, TOY_MAGIC, TOY_NAME, TOY_PROTO } from "./config";

/** Splits one toy line into its four fields; null when it is not a whole toy line. */
function toyFields(line: ByteReader): string[] | null {
  if (!line.startsWith(TOY_MAGIC)) return null;
  line.skip(TOY_MAGIC.length);
  const rest = line.utf8Upto(line.remaining);
  const nl = rest.indexOf("\n");
  if (nl < 0) return null;
  const body = rest.substring(0, nl).trimEnd();
  const firstSpace = body.indexOf(" ");
  if (firstSpace <= 0) return null;
  const secondSpace = body.indexOf(" ", firstSpace + 1);
  if (secondSpace < 0) return null;
  return [body.substring(0, firstSpace), body.substring(firstSpace + 1, secondSpace), body.substring(secondSpace + 1)];
}

function isDigits(s: string): bool {
  if (s.length == 0 || s.length > 9) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

class ExampleParser extends Parser {
  constructor() {
    // The toy protocol runs over TCP and UDP alike.
    super(TOY_PROTO, TOY_NAME, L4_ANY);
  }

  hookIn(): u32 {
    return HOOK_PAYLOAD_PARSE | HOOK_HTTP_REQ | HOOK_HTTP_RESP | HOOK_CUSTOM_MESSAGE;
  }

  customMessageHookIn(): u64 {
    return customMessageHook(HOOK_POINT_PROTOCOL_PARSE, TYPE_CODE_DUBBO);
  }

  onCheckPayload(ctx: ParseCtx): u8 {
    // Every other protocol's unclaimed payloads come here too (the agent asks each plugin
    // in turn): refuse them on their first bytes, before anything is built.
    const p = ctx.payload();
    if (p.length < TOY_MAGIC.length || p[0] != TOY_MAGIC.charCodeAt(0) || p[1] != TOY_MAGIC.charCodeAt(1)) return NOT_MINE;
    const fields = toyFields(new ByteReader(p));
    if (fields === null || !isDigits(fields[0])) return NOT_MINE;
    // A numeric second field is a response code; anything else is a method.
    return isDigits(fields[1]) ? MSG_RESPONSE : MSG_REQUEST;
  }

  onParsePayload(ctx: ParseCtx): Action {
    const payload = ctx.payload();
    const r = new ByteReader(payload);
    const infos: L7ProtocolInfo[] = [];
    // Several lines may share a segment; each yields one record.
    while (r.remaining > 0) {
      const start = r.pos;
      const fields = toyFields(new ByteReader(payload, start));
      if (fields === null || !isDigits(fields[0])) break;
      let lineEnd = start;
      while (lineEnd < payload.length && payload[lineEnd] != 10) lineEnd++;
      r.pos = lineEnd + 1;
      const info = new L7ProtocolInfo();
      info.requestId = <i64>I64.parseInt(fields[0]);
      info.protocolStr = TOY_NAME;
      if (ctx.isRequest) {
        info.reqLen = lineEnd + 1 - start;
        const req = info.request();
        req.type = fields[1];
        req.resource = fields[2];
        req.endpoint = fields[1] + " " + fields[2];
      } else {
        info.respLen = lineEnd + 1 - start;
        const code = isDigits(fields[1]) ? I32.parseInt(fields[1]) : -1;
        const resp = info.response();
        resp.setCode(code);
        resp.status = code == 0 ? RESP_OK : code >= 500 ? RESP_SERVER_ERROR : RESP_CLIENT_ERROR;
        if (code != 0) resp.exception = fields[2];
        else resp.result = fields[2];
      }
      infos.push(info);
    }
    if (infos.length == 0) return Action.abortWithError("toy: no whole message in payload");
    return Action.abortWith(infos);
  }

  onHttpReq(ctx: HttpReqCtx): Action {
    const id = httpHeader(ctx.base.payload(), REQUEST_ID_HEADER);
    if (id === null || id.length == 0) return Action.next();
    const info = new L7ProtocolInfo();
    info.traceInfo().xRequestId = id;
    info.attr("request_id", id);
    info.attr("http_path", ctx.path);
    return Action.abortWithOne(info);
  }

  onHttpResp(ctx: HttpRespCtx): Action {
    if (ctx.code != 200) return Action.next();
    const biz = httpHeader(ctx.base.payload(), BIZ_CODE_HEADER);
    if (biz === null || biz == "0" || biz.length == 0) return Action.next();
    const info = new L7ProtocolInfo();
    const resp = info.response();
    resp.status = RESP_SERVER_ERROR;
    resp.setCode(isDigits(biz) ? I32.parseInt(biz) : 200);
    resp.exception = "business error " + biz;
    info.attr("biz_code", biz);
    return Action.abortWithOne(info);
  }

  onCustomMessage(ctx: CustomMessageCtx): Action {
    const info = new L7ProtocolInfo();
    info.attr("custom_message_bytes", ctx.data.length.toString());
    info.attr("custom_message_type", ctx.typeCode.toString());
    return Action.abortWithOne(info);
  }
}

registerParser(new ExampleParser());
