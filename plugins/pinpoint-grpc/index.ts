// Pinpoint agent → collector gRPC traffic as request logs: one record per gRPC message
// the agent sends (spans, span chunks, stats, agent info, metadata, pings) carrying the
// Pinpoint application, agent and transaction ids, and one per call status the
// collector returns. HTTP/2, HPACK and gRPC framing come from the SDK codecs; see
// ../shared/design/pinpoint-to-otel.md for the data model.
export * from "../../assembly/exports";
import {
  Action, DIR_C2S, KeyVal, L7ProtocolInfo, MSG_REQUEST, MSG_RESPONSE, NOT_MINE, ParseCtx, Parser, PbReader, RecordPool, registerParser,
  Request, RESP_CLIENT_ERROR, RESP_OK, RESP_SERVER_ERROR, RESP_UNKNOWN, Response, TextFields, Trace, writeDecimal,
} from "../../assembly/index";
import { H2Direction, H2Sink, plausibleFrames, prefaceMatch, DEFAULT_MAX_FRAME_SIZE, PREFACE_LEN } from "../../protocols/http2";
import { HPACK_OK, HeaderBlock } from "../../protocols/hpack";
import { GrpcMessageSink, grpcStatusName } from "../../protocols/grpc";
import {
  KIND_SPAN, PinpointAgentInfo, PinpointMetaData, PinpointResult, PinpointSpan, TextRef,
  readAgentInfo, readMetaData, readResult, readSpanMessage,
} from "../../protocols/pinpoint-span";
import {
  COLLECTOR_PORTS, HPACK_TABLE_LIMIT, MAX_HEADER_BLOCK, PINPOINT_NAME, PINPOINT_PROTO, PINPOINT_SERVICES, RECORDS_KEPT, SPAN_PORTS,
} from "./config";
import {
  FlowState, FlowTable, HEADER_ATTRS, StreamState, StreamTexts,
  TEXT_AGENT_ID, TEXT_APPLICATION_NAME, TEXT_ATTRS, TEXT_ENDPOINT, TEXT_PATH, TEXT_TRACE_AGENT, TEXT_TYPE,
  METHOD_AGENT_INFO, METHOD_API_META, METHOD_COMMAND, METHOD_OTHER_META, METHOD_OTHER_PINPOINT, METHOD_PING,
  METHOD_SEND_SPAN, METHOD_SEND_STAT, METHOD_SQL_META, METHOD_STRING_META, METHOD_UNKNOWN,
} from "./flows";

function portIn(ports: StaticArray<u16>, port: u16): bool {
  for (let i = 0; i < ports.length; i++) if (unchecked(ports[i]) == port) return true;
  return false;
}

function isPinpointPath(path: string): bool {
  for (let i = 0; i < PINPOINT_SERVICES.length; i++) if (path.startsWith(unchecked(PINPOINT_SERVICES[i]))) return true;
  return false;
}

// The known Pinpoint paths with their endpoint and method names, as static strings: a
// stream's texts are made of them without allocating.
const KNOWN_PATHS: StaticArray<string> = [
  "/v1.Span/SendSpan", "/v1.Stat/SendAgentStat", "/v1.Agent/RequestAgentInfo", "/v1.Agent/PingSession",
  "/v1.Metadata/RequestApiMetaData", "/v1.Metadata/RequestSqlMetaData", "/v1.Metadata/RequestStringMetaData",
];
const KNOWN_ENDPOINTS: StaticArray<string> = [
  "v1.Span/SendSpan", "v1.Stat/SendAgentStat", "v1.Agent/RequestAgentInfo", "v1.Agent/PingSession",
  "v1.Metadata/RequestApiMetaData", "v1.Metadata/RequestSqlMetaData", "v1.Metadata/RequestStringMetaData",
];
const KNOWN_TYPES: StaticArray<string> = [
  "SendSpan", "SendAgentStat", "RequestAgentInfo", "PingSession", "RequestApiMetaData", "RequestSqlMetaData", "RequestStringMetaData",
];

function knownPathIndex(path: string): i32 {
  for (let i = 0; i < KNOWN_PATHS.length; i++) if (unchecked(KNOWN_PATHS[i]) == path) return i;
  return -1;
}

// The request headers every record of a stream takes as attributes, and their keys, in
// record order (HEADER_ATTRS of them; the last four from Pinpoint's Header class, which
// agents send some of).
const ATTR_HEADERS: StaticArray<string> = ["agentid", "applicationname", "starttime", "agentname", "servicename", "servicetype", "socketid"];
const ATTR_KEYS: StaticArray<string> = [
  "agent_id", "application_name", "agent_start_time", "agent_name", "service_name", "agent_service_type", "socket_id",
];

// Attributes every record of a kind shares: made once.
const KV_SPAN = new KeyVal("message_kind", "span");
const KV_SPAN_CHUNK = new KeyVal("message_kind", "spanChunk");
const KV_INCOMPLETE = new KeyVal("hpack_state", "incomplete");
const KV_PARTIAL = new KeyVal("message_state", "partial");

// Decimal digits of an attribute value, copied into the record: no string made.
const digits = new Uint8Array(24);

function attrInt(info: L7ProtocolInfo, key: string, v: i64): void {
  const base = digits.dataStart;
  info.attrBytes(key, base, writeDecimal(base, 0, v), true);
}

/** A text field of a record part = the stream's text t, when it has one (its texts copied into the record at `from`). */
function setText(part: TextFields, field: i32, s: StreamState, t: i32, from: i32): void {
  const n = s.textLen(t);
  if (n >= 0) part.setSpan(field, from + s.textOffset(t), n);
}

/** A trace field holding v in decimal, its digits written into the record: no string made. */
function traceDecimal(info: L7ProtocolInfo, field: i32, v: i64): void {
  const w = info.store();
  const at = w.len;
  w.ensure(20);
  w.len = writeDecimal(w.dataStart, at, v);
  info.traceInfo().setSpan(field, at, w.len - at);
}

/** A text field of the span as an attribute, when present. */
function attrText(info: L7ProtocolInfo, key: string, span: PinpointSpan, t: TextRef): void {
  if (t.present) info.attrBytes(key, span.data.dataStart + <usize>t.at, t.len);
}

function methodOf(path: string): i32 {
  if (path == "/v1.Span/SendSpan") return METHOD_SEND_SPAN;
  if (path == "/v1.Stat/SendAgentStat") return METHOD_SEND_STAT;
  if (path == "/v1.Agent/RequestAgentInfo") return METHOD_AGENT_INFO;
  if (path == "/v1.Agent/PingSession") return METHOD_PING;
  if (path == "/v1.Metadata/RequestApiMetaData") return METHOD_API_META;
  if (path == "/v1.Metadata/RequestSqlMetaData") return METHOD_SQL_META;
  if (path == "/v1.Metadata/RequestStringMetaData") return METHOD_STRING_META;
  if (path.startsWith("/v1.Metadata/")) return METHOD_OTHER_META;
  if (path.startsWith("/v1.ProfilerCommandService/")) return METHOD_COMMAND;
  if (isPinpointPath(path)) return METHOD_OTHER_PINPOINT;
  return METHOD_UNKNOWN;
}

/** Unary methods pair one request with one response; the rest stream. */
function isUnary(method: i32, path: string): bool {
  if (method == METHOD_AGENT_INFO || method == METHOD_API_META || method == METHOD_SQL_META ||
    method == METHOD_STRING_META || method == METHOD_OTHER_META) return true;
  return path == "/v1.ProfilerCommandService/CommandEcho" || path == "/v1.ProfilerCommandService/CommandActiveThreadDump" ||
    path == "/v1.ProfilerCommandService/CommandActiveThreadLightDump";
}

function kindOf(method: i32): string {
  switch (method) {
    case METHOD_SEND_SPAN:
      return "spanMessage";
    case METHOD_SEND_STAT:
      return "agentStat";
    case METHOD_AGENT_INFO:
      return "agentInfo";
    case METHOD_PING:
      return "ping";
    case METHOD_API_META:
      return "apiMetaData";
    case METHOD_SQL_META:
      return "sqlMetaData";
    case METHOD_STRING_META:
      return "stringMetaData";
    case METHOD_OTHER_META:
      return "metaData";
    case METHOD_COMMAND:
      return "command";
    default:
      return "unknown";
  }
}

/** Whether data[start, end) reads as protobuf fields to its end. */
function wellFormed(data: Uint8Array, start: i32, end: i32): bool {
  const pb = new PbReader(data, start, end);
  while (pb.next()) pb.skip();
  return !pb.bad;
}

/** gRPC status → the agent's response status (as its built-in gRPC parser maps them). */
function statusOfGrpc(code: i32): i32 {
  if (code == 0) return RESP_OK;
  if (code == 1 || code == 3 || code == 5 || code == 6 || code == 7 || code == 9 || code == 11 || code == 16) return RESP_CLIENT_ERROR;
  return RESP_SERVER_ERROR;
}

function parseSmallInt(s: string | null): i32 {
  if (s === null || s.length == 0 || s.length > 9) return -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  return I32.parseInt(s);
}

// ---- check_payload: is this Pinpoint agent traffic? ----

class Evidence extends H2Sink {
  pinpoint: bool = false;
  other: bool = false;
  request: bool = false;
  response: bool = false;

  reset(): void {
    this.pinpoint = false;
    this.other = false;
    this.request = false;
    this.response = false;
  }

  onHeaders(streamId: u32, endStream: bool, block: HeaderBlock): void {
    const path = block.get(":path");
    if (path !== null) {
      this.request = true;
      if (isPinpointPath(path)) this.pinpoint = true;
      else this.other = true;
    }
    if (block.get(":status") !== null) this.response = true;
    if (block.find("agentid") >= 0 && (block.find("applicationname") >= 0 || block.find("starttime") >= 0)) this.pinpoint = true;
  }
}

const evidence = new Evidence();

// ---- parse_payload: records ----

class MessageRouter extends GrpcMessageSink {
  onMessage(tag: u32, data: Uint8Array, start: i32, end: i32, length: u32, whole: bool, compressed: bool): void {
    recorder.message(tag, data, start, end, length, whole, compressed);
  }
}

const router = new MessageRouter();

// Records are reused call after call.
const records = new RecordPool(RECORDS_KEPT);

class Recorder extends H2Sink {
  flow: FlowState | null = null;
  c2s: bool = true;
  /** What a loss ends (a message prefix, a cut header block) holds bytes not known to belong to it: no record of it. */
  discard: bool = false;
  /** The bytes being fed. */
  payload: Uint8Array | null = null;
  /** The next header block ending began in an earlier payload. */
  carried: bool = false;
  /** Inside a loss: a header block ends cut, as far as it is sure. */
  losing: bool = false;

  begin(flow: FlowState, c2s: bool): void {
    this.flow = flow;
    this.c2s = c2s;
    records.reset();
  }

  onHeaders(streamId: u32, endStream: bool, block: HeaderBlock): void {
    const flow = this.flow!;
    const carried = this.carried;
    this.carried = false;
    if (this.discard) return;
    // A block put together from several payloads, or read from one not yet known to go on from
    // the last, that does not decode cleanly may hold bytes of another place: none of it is believed.
    if (!this.losing && (carried || flow.unsure(this.c2s ? 0 : 1)) && block.status != HPACK_OK) return;
    let s = flow.stream(streamId);
    if (this.c2s) {
      if (s !== null && s.headersSeen) return; // client trailers: nothing we log
      if (s === null) s = flow.openStream(streamId, true);
      s.headersSeen = true;
      s.up.synced = true;
      s.incomplete = !block.complete;
      // The texts its records take, kept as their bytes (the records copy them).
      const t = streamTexts;
      t.begin();
      const path = block.get(":path");
      if (path !== null) {
        t.put(TEXT_PATH, path);
        const k = knownPathIndex(path);
        if (k >= 0) {
          t.put(TEXT_ENDPOINT, unchecked(KNOWN_ENDPOINTS[k]));
          t.put(TEXT_TYPE, unchecked(KNOWN_TYPES[k]));
        } else {
          t.put(TEXT_ENDPOINT, path.substring(1));
          t.put(TEXT_TYPE, path.substring(path.lastIndexOf("/") + 1));
        }
      }
      s.method = path !== null ? methodOf(path) : METHOD_UNKNOWN;
      s.streaming = path === null || !isUnary(s.method, path);
      // The agent id twice (the trace id's form, then the attribute's: the same bytes but for
      // a lone surrogate), then the other attributes.
      const agentId = block.get("agentid");
      t.putUtf8Std(TEXT_TRACE_AGENT, agentId);
      t.put(TEXT_AGENT_ID, agentId);
      for (let i = 1; i < HEADER_ATTRS; i++) t.put(TEXT_ATTRS + i, block.get(unchecked(ATTR_HEADERS[i])));
      s.keepTexts(t);
      return;
    }
    if (s === null) s = flow.openStream(streamId, false);
    if (!endStream) {
      s.down.synced = true;
      return;
    }
    // The call's status, for streams that are ours: a Pinpoint :path, or messages we logged.
    if ((s.headersSeen && !(s.hasPath && s.method == METHOD_UNKNOWN)) || s.logged > 0) this.response(s, block);
    flow.closeStream(streamId);
  }

  onData(streamId: u32, data: Uint8Array, start: i32, end: i32, frameStart: bool): void {
    const flow = this.flow!;
    let s = flow.stream(streamId);
    if (s === null) s = flow.openStream(streamId, false);
    const m = this.c2s ? s.up : s.down;
    // A DATA frame that begins with less than a message prefix in this payload: a message
    // starts there if what is here of the prefix can begin one (flag 0 or 1, length under 4 MB).
    if (!m.synced && frameStart && end - start < 5 && data[start] <= 1 && (end - start < 2 || data[start + 1] == 0) && (end - start < 3 || data[start + 2] < 0x40)) m.synced = true;
    m.push(data, start, end, frameStart, router, streamId);
  }

  onEndStream(streamId: u32): void {
    if (!this.c2s) this.flow!.closeStream(streamId);
  }

  onRstStream(streamId: u32, errorCode: u32): void {
    const flow = this.flow!;
    const s = flow.stream(streamId);
    if (s === null) return;
    if (!this.c2s && s.headersSeen && !s.streaming) {
      const info = this.base(s);
      const resp = info.response();
      resp.status = RESP_SERVER_ERROR;
      resp.exception = "RST_STREAM " + errorCode.toString();
    }
    flow.closeStream(streamId);
  }

  onDataLost(streamId: u32): void {
    const s = this.flow!.stream(streamId);
    if (s === null) return;
    if (this.c2s) s.up.lose(router, streamId);
    else s.down.lose(router, streamId);
  }

  onBytesLost(): void {
    const flow = this.flow!;
    // lose() may log a message prefix, which opens and closes no stream.
    for (let i = 0; i < flow.streamCount; i++) this.onDataLost(flow.streamAt(i).id);
  }

  /** Where base() copied the stream's texts into the record's store (its fields point there). */
  private textsFrom: i32 = 0;

  /** A new record of this call with what the stream's request headers say. */
  private base(s: StreamState): L7ProtocolInfo {
    const info = records.take();
    if (!s.streaming && s.headersSeen && s.hasPath) info.requestId = <i64>s.id;
    else info.isAsync = 1; // a message of a stream: logged on its own, not paired with a response
    if (!s.headersSeen) {
      info.attributes.push(KV_INCOMPLETE); // the stream's HEADERS were never seen
      return info;
    }
    // The stream's texts in one copy; attributes and fields point into it.
    const store = info.store();
    const from = store.len;
    store.raw(s.textBytes, s.textBytesLen);
    this.textsFrom = from;
    for (let i = 0; i < HEADER_ATTRS; i++) {
      const t = TEXT_ATTRS + i;
      const n = s.textLen(t);
      if (n >= 0) info.attrSpan(unchecked(ATTR_KEYS[i]), from + s.textOffset(t), n);
    }
    if (s.incomplete) info.attributes.push(KV_INCOMPLETE);
    return info;
  }

  private request(s: StreamState, info: L7ProtocolInfo, length: u32): void {
    info.reqLen = <i64>length + 5;
    const req = info.request();
    const from = this.textsFrom;
    setText(req, Request.RESOURCE, s, TEXT_PATH, from);
    setText(req, Request.ENDPOINT, s, TEXT_ENDPOINT, from);
    setText(req, Request.TYPE, s, TEXT_TYPE, from);
    setText(req, Request.DOMAIN, s, TEXT_APPLICATION_NAME, from);
  }

  private response(s: StreamState, block: HeaderBlock): void {
    const info = this.base(s);
    const resp = info.response();
    setText(resp, Response.ENDPOINT, s, TEXT_ENDPOINT, this.textsFrom);
    const grpcStatus = parseSmallInt(block.get("grpc-status"));
    const httpStatus = parseSmallInt(block.get(":status"));
    if (grpcStatus >= 0) {
      resp.setCode(grpcStatus);
      resp.status = statusOfGrpc(grpcStatus);
      if (grpcStatus != 0) {
        const msg = block.get("grpc-message");
        resp.exception = msg !== null && msg.length > 0 ? msg : grpcStatusName(grpcStatus);
      }
    } else if (httpStatus >= 0 && httpStatus != 200) {
      resp.setCode(httpStatus);
      resp.status = httpStatus >= 500 ? RESP_SERVER_ERROR : httpStatus >= 400 ? RESP_CLIENT_ERROR : RESP_UNKNOWN;
    } else {
      resp.status = RESP_UNKNOWN;
    }
    if (s.resultSeen && !s.resultSuccess && resp.status == RESP_OK) {
      resp.status = RESP_SERVER_ERROR;
      resp.setBytes(Response.EXCEPTION, s.resultAt, s.resultLen, true);
    }
    if (!block.complete && !(s.incomplete || !s.headersSeen)) info.attributes.push(KV_INCOMPLETE);
  }

  message(streamId: u32, data: Uint8Array, start: i32, end: i32, length: u32, whole: bool, compressed: bool): void {
    const flow = this.flow!;
    const s = flow.stream(streamId);
    if (s === null || this.discard) return;
    // A message put together from several payloads, or read from one not yet known to go on
    // from the last, may hold bytes of another place (some were lost in between): it is
    // believed only when it reads as protobuf to its end, as a whole message must.
    const check = whole && (data !== this.payload || flow.unsure(this.c2s ? 0 : 1));
    s.messages++;
    if (!this.c2s) {
      if (!s.streaming && !compressed) {
        const r = new PinpointResult();
        if (readResult(data, start, end, r)) {
          s.resultSeen = true;
          s.resultSuccess = r.success;
          s.keepResult(r.message);
        }
      }
      return;
    }
    const method = s.method;
    // A stream whose :path names another service is none of ours.
    if (method == METHOD_UNKNOWN && s.hasPath) return;
    if (method == METHOD_SEND_SPAN || (method == METHOD_UNKNOWN && flow.spanPort)) {
      const span = spanScratch;
      const ok = !compressed && readSpanMessage(data, start, end, whole, span);
      // Without a :path the bytes must speak for themselves.
      if ((method == METHOD_UNKNOWN || check) && (!ok || !span.plausible)) return;
      const info = this.base(s);
      this.request(s, info, length);
      if (ok) this.spanFields(info, span, s);
      else info.attr("message_kind", compressed ? "compressed" : kindOf(method));
      if (!whole) info.attributes.push(KV_PARTIAL);
      s.logged++;
      return;
    }
    // Headerless streams elsewhere: nothing says what they carry.
    if ((method == METHOD_UNKNOWN && !s.headersSeen) || (check && compressed) || (whole && !compressed && !wellFormed(data, start, end))) return;
    const info = this.base(s);
    this.request(s, info, length);
    info.attr("message_kind", compressed ? "compressed" : kindOf(method));
    if (!compressed) this.methodFields(info, method, data, start, end);
    if (!whole) info.attributes.push(KV_PARTIAL);
    s.logged++;
  }

  private spanFields(info: L7ProtocolInfo, span: PinpointSpan, s: StreamState): void {
    const attrs = info.attributes;
    attrs.push(span.kind == KIND_SPAN ? KV_SPAN : KV_SPAN_CHUNK);
    // The ids written into the record as they are sent: no string made of them.
    const trace = info.traceInfo();
    const w = info.store();
    const at = w.len;
    const agentLen = s.textLen(TEXT_TRACE_AGENT);
    if (span.writeTransactionId(w, agentLen > 0 ? s.textAt(TEXT_TRACE_AGENT) : 0, agentLen)) trace.setSpan(Trace.TRACE_ID, at, w.len - at);
    if (span.hasSpanId) traceDecimal(info, Trace.SPAN_ID, span.spanId);
    if (span.kind == KIND_SPAN) {
      if (span.hasParentSpanId && span.parentSpanId != -1) traceDecimal(info, Trace.PARENT_SPAN_ID, span.parentSpanId);
      if (span.known(8)) attrInt(info, "service_type", span.serviceType);
      if (span.known(7)) attrInt(info, "api_id", span.apiId);
      if (span.known(12) && span.err != 0) attrInt(info, "span_error", span.err);
      attrText(info, "rpc", span, span.rpc);
      attrText(info, "accept_endpoint", span, span.endPoint);
      attrText(info, "parent_application_name", span, span.parentApplicationName);
    } else {
      if (span.known(6)) attrInt(info, "service_type", span.applicationServiceType);
      attrText(info, "accept_endpoint", span, span.endPoint);
      if (span.hasLocalAsyncId) attrInt(info, "async_id", span.asyncId);
    }
  }

  private methodFields(info: L7ProtocolInfo, method: i32, data: Uint8Array, start: i32, end: i32): void {
    if (method == METHOD_API_META || method == METHOD_SQL_META || method == METHOD_STRING_META) {
      const m = new PinpointMetaData();
      if (!readMetaData(data, start, end, m)) return;
      const prefix = method == METHOD_API_META ? "api" : method == METHOD_SQL_META ? "sql" : "string";
      info.attr(prefix + "_id", m.id.toString());
      if (m.text !== null) info.attr(method == METHOD_API_META ? "api_info" : method == METHOD_SQL_META ? "sql" : "string_value", m.text!);
    } else if (method == METHOD_AGENT_INFO) {
      const a = new PinpointAgentInfo();
      if (!readAgentInfo(data, start, end, a)) return;
      if (a.hostname !== null) info.attr("hostname", a.hostname!);
      if (a.ip !== null) info.attr("ip", a.ip!);
      if (a.pid != 0) info.attr("pid", a.pid.toString());
      if (a.serviceType != 0) info.attr("service_type", a.serviceType.toString());
      if (a.agentVersion !== null) info.attr("agent_version", a.agentVersion!);
    }
  }
}

const recorder = new Recorder();
const streamTexts = new StreamTexts();
const spanScratch = new PinpointSpan();
const checker = new H2Direction(HPACK_TABLE_LIMIT);
checker.maxHeaderBlock = MAX_HEADER_BLOCK;
const flows = new FlowTable();

class PinpointGrpcParser extends Parser {
  constructor() {
    super(PINPOINT_PROTO, PINPOINT_NAME);
  }

  onCheckPayload(ctx: ParseCtx): u8 {
    if (flows.rejected(ctx.flowId)) return NOT_MINE;
    const p = ctx.payload();
    if (p.length < 9) return NOT_MINE;
    if (prefaceMatch(p, 0, p.length) != PREFACE_LEN && !plausibleFrames(p, 0, p.length, DEFAULT_MAX_FRAME_SIZE)) return NOT_MINE;
    const toCollector = portIn(COLLECTOR_PORTS, ctx.dstPort);
    const fromCollector = portIn(COLLECTOR_PORTS, ctx.srcPort);
    // A fresh decoder each time: parse_payload sees this payload again and keeps the state.
    const d = checker;
    d.reset();
    evidence.reset();
    d.feed(p, false, evidence);
    if (evidence.other) {
      flows.reject(ctx.flowId);
      return NOT_MINE;
    }
    if (!evidence.pinpoint && !toCollector && !fromCollector) return NOT_MINE;
    let msgType = MSG_REQUEST;
    if (toCollector) msgType = MSG_REQUEST;
    else if (fromCollector) msgType = MSG_RESPONSE;
    else if (evidence.response && !evidence.request) msgType = MSG_RESPONSE;
    return msgType;
  }

  onParsePayload(ctx: ParseCtx): Action {
    const p = ctx.payload();
    const flow = flows.use(ctx.flowId);
    const c2s = ctx.direction == DIR_C2S;
    if (flow.serverPort == 0) {
      flow.serverPort = c2s ? ctx.dstPort : ctx.srcPort;
      flow.spanPort = portIn(SPAN_PORTS, flow.serverPort);
    }
    if (flow.repeated(c2s, p)) {
      flows.account(flow);
      return Action.abort();
    }
    const dir = c2s ? flow.c2s : flow.s2c;
    // The agent cut this payload: what follows it is unknown.
    const cut = ctx.bufSize > 0 && p.length >= <i32>ctx.bufSize;
    recorder.begin(flow, c2s);
    const bytes = flow.join(c2s, p, dir, cut);
    if (bytes !== null) {
      const d = c2s ? 0 : 1;
      // A frame read across payloads is read on only where this one goes on with frames;
      // otherwise bytes were lost in between: the frame ends with what came before.
      const goesOn = dir.continues(bytes);
      if (goesOn < 0) this.lose(dir, flow, d);
      flow.setUnsure(d, goesOn == 0);
      recorder.payload = bytes;
      recorder.carried = dir.inHeaderBlock;
      dir.feed(bytes, cut, recorder);
      // What it holds, now: the message or header block it cut, as far as it goes.
      if (cut) this.lose(dir, flow, d);
    }
    // Each side's SETTINGS bound the frames the other side sends.
    if (dir.announcedMaxFrameSize > 0) (c2s ? flow.s2c : flow.c2s).maxFrameSize = dir.announcedMaxFrameSize;
    flows.account(flow);
    recorder.flow = null;
    recorder.payload = null;
    const infos = records.taken;
    return infos.length > 0 ? Action.abortWith(infos) : Action.abort();
  }

  /** Bytes of this direction were lost: the frame in progress as far as it is sure, and the rest forgotten. */
  private lose(dir: H2Direction, flow: FlowState, d: i32): void {
    recorder.discard = flow.unsure(d);
    recorder.losing = true;
    dir.markLost(recorder);
    recorder.discard = false;
    recorder.losing = false;
    flow.setUnsure(d, false);
  }
}

registerParser(new PinpointGrpcParser());
