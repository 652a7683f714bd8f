// Dubbo (2.x wire protocol) for DeepFlow: service, method, status, and the trace
// context and company ids (Pinpoint TraceID/SpanID/pSpanID, RequestID, EntryID, sw8,
// traceparent, ...) carried in Dubbo attachments. Two ways in (see README.md):
//  - check_payload / parse_payload: the plugin owns the flow as a custom protocol;
//  - on_custom_message (type code 40): enriches the agent's built-in Dubbo log.
export * from "../../assembly/exports";
import {
  Action, CustomMessageCtx, customMessageHook, DIR_S2C, FrameAssembler, HOOK_CUSTOM_MESSAGE, HOOK_PAYLOAD_PARSE, HOOK_POINT_PROTOCOL_PARSE, L7ProtocolInfo, MSG_REQUEST, MSG_RESPONSE, NOT_MINE, ParseCtx, Parser, PartialFrame, RecordPool, registerParser, Request, RESP_CLIENT_ERROR, RESP_OK, RESP_SERVER_ERROR, RESP_TIMEOUT, TraceCollector, TYPE_CODE_DUBBO,
} from "../../assembly/index";
import {
  ATTACH_BROKEN, ATTACH_CUT, DubboHeader, DubboMessage, HEADER_LEN, HEAD_DUBBO_VERSION, HEAD_METHOD, HEAD_SERVICE,
  HEAD_SERVICE_VERSION, MAGIC_HIGH, MAGIC_LOW, STATUS_OK, decodeBody, isKnownStatus, readHeader,
  serializationName,
} from "./frame";
import {
  DUBBO_NAME, DUBBO_PROTO, ENABLE_CUSTOM_MESSAGE_HOOK, EXCEPTION_IS_SERVER_ERROR, ENABLE_PAYLOAD_PARSE, MAX_BODY_LENGTH, MAX_TRACE_ATTRIBUTES,
  MAX_REASSEMBLED_FRAME, MAX_REASSEMBLY_BYTES, MAX_TRACKED_STREAMS, REASSEMBLY_STALE_US, RESOURCE_WITH_VERSION_AND_METHOD,
  TIMEOUTS_AS_TIMEOUT, dubboTraceKeys,
} from "./config";

const keys = new TraceCollector(dubboTraceKeys(), MAX_TRACE_ATTRIBUTES);
// Ids that land in their trace field are not repeated as attributes (the custom-message
// hook adds them back: the agent drops some of its fields).
keys.idsInFieldsOnly = true;
const message = new DubboMessage();
const probe = new DubboHeader();
// Records are reused call after call (they are written when the hook returns).
const records = new RecordPool();

/** response_status from the status byte, as the agent's built-in parser maps it. */
function statusOf(status: u8, threw: bool): i32 {
  if (status == STATUS_OK) return threw && EXCEPTION_IS_SERVER_ERROR ? RESP_SERVER_ERROR : RESP_OK;
  if (TIMEOUTS_AS_TIMEOUT && (status == 30 || status == 31)) return RESP_TIMEOUT;
  if (status == 30 || status == 40 || status == 90) return RESP_CLIENT_ERROR;
  if (status == 31 || status == 50 || status == 60 || status == 70 || status == 80 || status == 100) return RESP_SERVER_ERROR;
  return RESP_OK;
}

/** A header that can start a Dubbo frame of this direction. */
function plausible(h: DubboHeader): bool {
  if (h.serialization == 0 || h.bodyLength > MAX_BODY_LENGTH) return false;
  if (h.isRequest) return h.status == 0;
  return !h.isTwoWay && isKnownStatus(h.status);
}

/** Reads the frame at `at` (header already in message.header) and decodes what the payload holds of it. */
function decodeFrame(data: Uint8Array, at: i32): void {
  message.reset();
  keys.clear();
  const bodyStart = at + HEADER_LEN;
  const available = data.length - bodyStart;
  const len = <i64>message.header.bodyLength;
  const bodyEnd = len <= <i64>available ? bodyStart + <i32>len : data.length;
  message.bodyPresent = bodyEnd - bodyStart;
  decodeBody(data, bodyStart, bodyEnd, message, keys);
}

function truncationNote(m: DubboMessage): string | null {
  if (m.header.isEvent) return null;
  if (m.header.isRequest && !m.headRead) return m.complete ? null : "body";
  if (m.attachments == ATTACH_CUT) return "attachments";
  return null;
}

/** The record of the frame in `message` for the custom protocol (full log). */
function fullRecord(): L7ProtocolInfo {
  const m = message;
  const h = m.header;
  const info = records.take();
  // The agent's Dubbo log keeps the low 32 bits (dubbo.rs: `request_id as u32`), and pairs by
  // them; the whole id is an attribute, for ids past 2^32 of long-lived consumers.
  info.requestId = <i64>(h.requestId & 0xffffffff);
  info.attr("dubbo_request_id", h.requestId.toString());
  info.protocolStr = DUBBO_NAME;
  if (h.isRequest) {
    // Once per session, as the agent's own Dubbo log has it.
    info.attr("serialization_id", serializationName(h.serialization));
    info.reqLen = <i64>h.bodyLength;
    const req = info.request();
    if (h.isEvent) {
      req.type = m.heartbeat ? "heartbeat" : "event";
    } else {
      const service = m.headLength(HEAD_SERVICE);
      const method = m.headLength(HEAD_METHOD);
      const serviceVersion = m.headLength(HEAD_SERVICE_VERSION);
      if (m.headLength(HEAD_DUBBO_VERSION) > 0) req.setBytes(Request.VERSION, m.headPtr(HEAD_DUBBO_VERSION), m.headLength(HEAD_DUBBO_VERSION), true);
      if (method > 0) req.setBytes(Request.TYPE, m.headPtr(HEAD_METHOD), method, true);
      // Joined in the record's byte store: service:version/method and service/method.
      const store = info.store();
      if (service > 0) {
        req.setBytes(Request.DOMAIN, m.headPtr(HEAD_SERVICE), service, true);
        const at = store.len;
        store.raw(m.headPtr(HEAD_SERVICE), service);
        if (RESOURCE_WITH_VERSION_AND_METHOD) {
          store.u8(0x3a); // ':'
          store.raw(m.headPtr(HEAD_SERVICE_VERSION), serviceVersion);
          store.u8(0x2f); // '/'
          store.raw(m.headPtr(HEAD_METHOD), method);
        }
        req.setSpan(Request.RESOURCE, at, store.len - at);
      }
      if (service > 0 || method > 0) {
        const at = store.len;
        store.raw(m.headPtr(HEAD_SERVICE), service);
        store.u8(0x2f); // '/'
        store.raw(m.headPtr(HEAD_METHOD), method);
        req.setSpan(Request.ENDPOINT, at, store.len - at);
      }
      if (serviceVersion > 0) info.attrBytes("service_version", m.headPtr(HEAD_SERVICE_VERSION), serviceVersion, true);
      if (!h.isTwoWay) info.attr("oneway", "true");
      for (let i = 0; i < m.args.length; i++) info.attr("arg" + i.toString(), m.args[i]);
    }
  } else {
    info.respLen = <i64>h.bodyLength;
    const resp = info.response();
    const exception = m.exception;
    resp.status = statusOf(h.status, exception !== null);
    resp.setCode(<i32>h.status);
    if (h.isEvent) resp.type = m.heartbeat ? "heartbeat" : "event";
    if (exception !== null && exception.length > 0) resp.exception = exception;
  }
  if (h.isEvent) info.attr("event", "1");
  const note = truncationNote(m);
  if (note !== null) info.attr("truncated", note);
  else if (m.attachments == ATTACH_BROKEN) info.attr("undecoded", "attachments");
  keys.fill(info);
  return info;
}

// Per connection and direction: a frame cut across payloads, kept until its rest arrives, or
// the bytes of one too long to wait for, passed over so that the frames after it are found.
// Only payloads the agent did not cut can be continued.
const frames = new FrameAssembler(MAX_REASSEMBLED_FRAME, MAX_TRACKED_STREAMS, MAX_REASSEMBLY_BYTES, REASSEMBLY_STALE_US);

/** The record of the frame at `at` of `data` (whole or cut); false when no frame starts there. */
function recordFrom(data: Uint8Array, at: i32): bool {
  if (!readHeader(data, at, message.header) || !plausible(message.header)) return false;
  decodeFrame(data, at);
  fullRecord();
  return true;
}

/** Whether a frame starts at `at` (its header in `probe`): a plausible header, and a body that starts the way Dubbo bodies do. */
function startsFrame(data: Uint8Array, at: i32): bool {
  if (!readHeader(data, at, probe) || !plausible(probe)) return false;
  if (probe.isHessian2 && !probe.isEvent && probe.bodyLength > 0 && data.length > at + HEADER_LEN) {
    const first = <u32>data[at + HEADER_LEN];
    return probe.isRequest || probe.status != STATUS_OK
      ? first <= 0x1f || (first >= 0x30 && first <= 0x33) || first == 0x52 || first == 0x53 // a string
      : first >= 0x80 && first <= 0xbf; // the response flag, a small int
  }
  return true;
}

/** Whether the payload ends in the first bytes of a frame header. */
function endsInHeader(data: Uint8Array, at: i32): bool {
  const n = data.length - at;
  return n > 0 && n < HEADER_LEN && data[at] == MAGIC_HIGH && (n < 2 || data[at + 1] == MAGIC_LOW);
}

class DubboParser extends Parser {
  constructor() {
    super(DUBBO_PROTO, DUBBO_NAME);
  }

  hookIn(): u32 {
    let hooks: u32 = 0;
    if (ENABLE_PAYLOAD_PARSE) hooks |= HOOK_PAYLOAD_PARSE;
    if (ENABLE_CUSTOM_MESSAGE_HOOK) hooks |= HOOK_CUSTOM_MESSAGE;
    return hooks;
  }

  customMessageHookIn(): u64 {
    return ENABLE_CUSTOM_MESSAGE_HOOK ? customMessageHook(HOOK_POINT_PROTOCOL_PARSE, TYPE_CODE_DUBBO) : 0;
  }

  onCheckPayload(ctx: ParseCtx): u8 {
    if (!startsFrame(ctx.payload(), 0)) return NOT_MINE;
    return probe.isRequest ? MSG_REQUEST : MSG_RESPONSE;
  }

  onParsePayload(ctx: ParseCtx): Action {
    const data = ctx.payload();
    // The agent cut this payload: what follows it in the stream is unknown.
    const cut = ctx.bufSize > 0 && data.length >= <i32>ctx.bufSize;
    records.reset();
    let at = 0;
    const partial = frames.take(ctx.flowId, ctx.direction);
    if (partial !== null) {
      if (partial.toSkip > 0) {
        const skip = partial.toSkip;
        frames.release(partial);
        if (<i64>skip > <i64>data.length) {
          if (!cut) frames.skip(ctx.flowId, ctx.direction, skip - <u32>data.length, ctx.time);
          return Action.abort();
        }
        at = <i32>skip;
      } else {
        at = this.continueFrame(ctx, partial, data, cut);
      }
    }
    if (at >= 0) this.readFrames(ctx, data, at, cut);
    if (records.taken.length == 0) return Action.abort();
    return Action.abortWith(records.taken);
  }

  /** Frames from `at` on; one that runs past the payload waits for the rest when it may. */
  private readFrames(ctx: ParseCtx, data: Uint8Array, at: i32, cut: bool): void {
    const h = message.header;
    while (data.length - at >= HEADER_LEN && readHeader(data, at, h)) {
      if (!plausible(h)) return;
      const frameEnd = <i64>at + HEADER_LEN + <i64>h.bodyLength;
      if (frameEnd > <i64>data.length && !cut) {
        if (frames.start(ctx.flowId, ctx.direction, data, at, <i32>(frameEnd - at), ctx.time) !== null) return;
        // Too long to wait for: what this payload holds, and the rest skipped.
        recordFrom(data, at);
        frames.skip(ctx.flowId, ctx.direction, <u32>(frameEnd - <i64>data.length), ctx.time);
        return;
      }
      recordFrom(data, at);
      if (frameEnd > <i64>data.length) return;
      at = <i32>frameEnd;
    }
    if (!cut && endsInHeader(data, at)) frames.start(ctx.flowId, ctx.direction, data, at, 0, ctx.time);
  }

  /**
   * The next piece of a frame that waits. Returns where this payload's own frames start, or
   * -1 when the whole payload belonged to the frame.
   */
  private continueFrame(ctx: ParseCtx, p: PartialFrame, data: Uint8Array, cut: bool): i32 {
    if (p.total > 0 && startsFrame(data, 0)) {
      // A new frame where the rest was due: the capture lost the rest. What the first piece held.
      recordFrom(p.view().subarray(0, p.firstLength), 0);
      frames.release(p);
      return 0;
    }
    let at = 0;
    if (p.total == 0) {
      // The header itself was cut.
      const n = min(HEADER_LEN - p.length, data.length);
      p.append(data, 0, n);
      at = n;
      if (p.length < HEADER_LEN) {
        if (cut || !frames.keep(ctx.flowId, ctx.direction, p, ctx.time)) frames.release(p);
        return -1;
      }
      const h = message.header;
      if (!readHeader(p.view(), 0, h) || !plausible(h)) {
        // Not a frame after all: this payload is read on its own.
        frames.release(p);
        return 0;
      }
      p.total = HEADER_LEN + <i32>h.bodyLength;
    }
    const n = min(p.total - p.length, data.length - at);
    p.append(data, at, n);
    at += n;
    if (p.length < p.total && !cut) {
      if (frames.keep(ctx.flowId, ctx.direction, p, ctx.time)) return -1;
      // Too long, or no room left: what it holds now, and the rest skipped.
      recordFrom(p.view(), 0);
      const rest = <u32>(p.total - p.length);
      frames.release(p);
      frames.skip(ctx.flowId, ctx.direction, rest, ctx.time);
      return -1;
    }
    const whole = p.view();
    if (p.length == p.total) {
      readHeader(whole, 0, message.header);
      decodeFrame(whole, 0);
      if (message.exact) {
        fullRecord();
      } else {
        // The pieces do not make one frame (the capture lost a segment between them):
        // only what the first piece holds is sure.
        recordFrom(whole.subarray(0, p.firstLength), 0);
        at = 0;
      }
    } else {
      // The agent cut this payload: the frame as far as it goes.
      recordFrom(whole, 0);
    }
    frames.release(p);
    return at < data.length ? at : -1;
  }

  /**
   * The agent's own Dubbo log is kept; this adds what it cannot see. The agent
   * merges from this record only trace_id/trace_ids, span_id, the response
   * status/code/exception/result, request type/domain and attributes (see README):
   * parent span id and x_request_id reach the log as attributes only.
   */
  onCustomMessage(ctx: CustomMessageCtx): Action {
    // The SDK passes only the messages of customMessageHookIn (type code 40).
    const data = ctx.base.payload();
    const h = message.header;
    if (!readHeader(data, 0, h) || h.isEvent) return Action.next();
    // The agent logs this frame as a request or a response by the packet direction.
    if (h.isRequest != (ctx.base.direction != DIR_S2C)) return Action.next();
    decodeFrame(data, 0);
    records.reset();
    const info = records.take();
    if (!h.isRequest) {
      // The agent replaces its status with the record's: it must be the same mapping.
      const resp = info.response();
      const exception = message.exception;
      resp.status = statusOf(h.status, exception !== null);
      if (exception !== null && exception.length > 0) {
        resp.exception = exception;
        // The agent shows the exception only on an error status: keep it visible.
        if (resp.status == RESP_OK) info.attr("exception", exception);
      }
    }
    const note = truncationNote(message);
    if (note !== null) info.attr("truncated", note);
    keys.fill(info, true);
    const exception = info.resp !== null ? info.resp!.exception : null;
    if (!keys.found && exception === null && note === null) return Action.next();
    return Action.abortWith(records.taken);
  }
}

registerParser(new DubboParser());
