// RabbitMQ / AMQP 0-9-1: one record per method frame, named "Class.Method" as DeepFlow's
// own AMQP parser names them, with the message's ids lifted from its content header:
// message-id, correlation-id, app-id, type, and trace context / RequestID from the
// headers table (keys in config.ts, shared with the other plugins via assembly/trace).
//
// Records and the agent's request log (it takes a record's message type from the
// packet's direction):
// - a client's synchronous request (Queue.Declare, Basic.Get, Channel.Close, ...) carries
//   request_id = channel, and so does the broker's reply (Declare-Ok, Get-Ok, ...) or the
//   Channel.Close / Connection.Close it answers with: AMQP allows one outstanding
//   synchronous request per channel, so the agent pairs them and measures the RRT. A
//   broker's Close with no request waiting (a refused Publish) stands alone;
// - everything else stands alone (is_async): Publish, Deliver, Ack, Return, heartbeats,
//   the broker's Start/Tune and the client's answers to them, no-wait requests;
// - Publish / Deliver / Get-Ok / Return wait for their content header, so their record
//   holds the properties and headers; body frames only count towards the length.
// Replies and the broker's Close / Return fill the response part (type and result = the
// method's name, status from the reply code); the others fill the request part: request_type = Class.Method, domain = the
// exchange (the queue for queue methods, the vhost for Connection.Open), resource = the
// routing key or queue, endpoint = exchange/routing-key or the queue. The channel and
// the other arguments are attributes.
//
// Framing (PayloadParse): a method or content-header frame cut across payloads waits in the
// SDK's FrameAssembler and is read whole (a body frame is passed over by its length); a
// payload the agent cut gives what it holds at once, and the next one is read from its
// first whole, checked frame; a frame put together from pieces that do not fill it exactly
// (fit.ts: the capture lost a segment between them) gives what its first piece held.
export * from "../../assembly/exports";
import {
  Action, ByteReader, DIR_C2S, FrameAssembler, L7ProtocolInfo, MSG_REQUEST, MSG_RESPONSE, NOT_MINE, ParseCtx, Parser, PartialFrame, readU16be, RecordPool, registerParser, Request, RESP_CLIENT_ERROR, RESP_OK, RESP_SERVER_ERROR, Response, TextFields, Trace, TraceCollector,
} from "../../assembly/index";
import {
  AmqpContentHeader, AmqpFrame, amqpMethodFrom, amqpMethodIndex, amqpMethodKind, amqpMethodName,
  amqpPropertyName, isAnyAmqpProtocolHeader,
  AMQP_CONNECTION, AMQP_FRAME_BODY, AMQP_FRAME_HEAD_LEN, AMQP_FRAME_HEADER, AMQP_FRAME_HEARTBEAT, AMQP_FRAME_METHOD,
  AMQP_FRAME_END, AMQP_FRAME_OVERHEAD, AMQP_FROM_CLIENT, AMQP_FROM_SERVER, AMQP_KIND_REPLY, AMQP_KIND_REQUEST, AMQP_PROTOCOL_HEADER_LEN,
  AMQP_BASIC, AMQP_QUEUE, PROP_HEADERS, PROP_MESSAGE_ID,
} from "../../protocols/amqp";
import {
  AMQP_NAME, AMQP_PORTS, AMQP_PROTO, ENDPOINT_SEPARATOR, LOG_HEARTBEATS, LOG_PROTOCOL_HEADER, MAX_FRAME_SIZE, MAX_PENDING,
  MAX_REASSEMBLED_FRAME, MAX_REASSEMBLY_BYTES, MAX_TRACE_ATTRIBUTES, MAX_WAITING_FRAMES, MESSAGE_ID_AS_REQUEST_ID,
  MAX_STREAMS, PROPERTY_ATTRIBUTES, REASSEMBLY_STALE_US, amqpTraceKeys,
} from "./config";
import { argsFit, headerFits } from "./fit";
import { ARG_EXCHANGE, ARG_QUEUE, ARG_ROUTING_KEY, MethodArgs, carriesContent, isClose } from "./methods";
import {
  N_BODY_SIZE, N_CHANNEL, N_CONTENT_HEADER, N_EXCHANGE, N_FAILED_METHOD, N_HEARTBEAT_FRAME, N_PROTOCOL_HEADER, N_QUEUE,
  N_REPLY_CODE, N_REPLY_TEXT, N_ROUTING_KEY, N_VERSION, N_VHOST, nameOf,
} from "./names";
import { Connections, Stream, removeAt } from "./stream";

const keys = amqpTraceKeys();
const collector = new TraceCollector(keys, MAX_TRACE_ATTRIBUTES);
// An id that lands in trace_id/span_id/parent_span_id/x_request_id is not repeated as an attribute.
collector.idsInFieldsOnly = true;
const args = new MethodArgs();
const frame = new AmqpFrame();
const flows = new Connections(MAX_STREAMS);
// Per connection and direction: a method or content-header frame cut across payloads, kept
// until its rest arrives, or the bytes of a body (or of a frame too long to wait for) still
// to pass over, so that the frames after it are found.
const partials = new FrameAssembler(MAX_REASSEMBLED_FRAME, MAX_WAITING_FRAMES, MAX_REASSEMBLY_BYTES, REASSEMBLY_STALE_US);
// Reused call after call: records go to the agent when the hook returns. A content
// method's record may wait for its content header past the call: not one of the pool's,
// it is reused from the call after the one that gave it to the agent.
const pool = new RecordPool(64);
const spareRecords: L7ProtocolInfo[] = [];

/** A record for a content method (Publish, Deliver, Get-Ok, Return). */
function contentRecord(): L7ProtocolInfo {
  if (spareRecords.length == 0) return new L7ProtocolInfo();
  const info = spareRecords.pop();
  info.reset();
  return info;
}
const reader = new ByteReader(new Uint8Array(0));
const header = new AmqpContentHeader(new Uint8Array(0), 0, 0);

/** Name `arg` (ARG_*) as attribute `key` (N_*), unless the request shows the same text already (as name `a` or `b`). */
function attrUnlessShown(info: L7ProtocolInfo, key: i32, arg: i32, a: i32, b: i32): void {
  if (!args.has(arg) || (a >= 0 && args.sameName(arg, a)) || (b >= 0 && args.sameName(arg, b))) return;
  info.attrBytes(nameOf(key), args.namePtr(arg), args.nameLength(arg), true);
}

/**
 * The endpoint, field `field` of `part`: exchange/routing-key, the exchange alone, or the
 * queue; of a cut frame only exchange/routing-key (the name after the one there may be gone).
 */
function setEndpoint(info: L7ProtocolInfo, part: TextFields, field: i32): void {
  if (args.cut && !args.has(ARG_ROUTING_KEY)) return;
  if (args.has(ARG_EXCHANGE)) {
    const store = info.store();
    const at = store.len;
    store.raw(args.namePtr(ARG_EXCHANGE), args.nameLength(ARG_EXCHANGE));
    if (args.has(ARG_ROUTING_KEY)) {
      store.utf8(ENDPOINT_SEPARATOR);
      store.raw(args.namePtr(ARG_ROUTING_KEY), args.nameLength(ARG_ROUTING_KEY));
    }
    part.setSpan(field, at, store.len - at);
  } else if (args.has(ARG_QUEUE)) {
    part.setBytes(field, args.namePtr(ARG_QUEUE), args.nameLength(ARG_QUEUE), true);
  }
}

/** Response status for a reply code (Close, Return). */
function statusOf(code: i32): i32 {
  if (code == 200) return RESP_OK;
  // Soft errors caused by the request (not-found, access-refused, precondition-failed,
  // unroutable) and the client's protocol errors; the broker's own failures and
  // connection-forced (shutdown, admin close) are server errors.
  if ((code >= 311 && code <= 313) || (code >= 402 && code <= 406) || (code >= 501 && code <= 505) || code == 530) {
    return RESP_CLIENT_ERROR;
  }
  return RESP_SERVER_ERROR;
}

function isAmqpPort(port: u16): bool {
  for (let i = 0; i < AMQP_PORTS.length; i++) if (AMQP_PORTS[i] == port) return true;
  return false;
}

/** A frame head that can be AMQP: known type, sane size, and known class/method where the bytes are there. */
function plausible(f: AmqpFrame, data: Uint8Array): bool {
  if (f.size > MAX_FRAME_SIZE) return false;
  const have = data.length - f.start;
  if (f.type == AMQP_FRAME_METHOD) {
    if (f.size < 4) return false;
    if (have < 4) return true;
    const classId = readU16be(data, f.start);
    // Connection methods travel on channel 0, all others on a channel of their own.
    if ((classId == AMQP_CONNECTION) != (f.channel == 0)) return false;
    return amqpMethodIndex(classId, readU16be(data, f.start + 2)) >= 0;
  }
  if (f.type == AMQP_FRAME_HEADER) {
    if (f.size < 14 || f.channel == 0) return false;
    if (have < 4) return true;
    // Only class Basic has content; weight is 0.
    return readU16be(data, f.start) == AMQP_BASIC && readU16be(data, f.start + 2) == 0;
  }
  if (f.type == AMQP_FRAME_BODY) return f.channel != 0;
  if (f.type == AMQP_FRAME_HEARTBEAT) return f.size == 0 && f.channel == 0;
  return false;
}

/** Whether `data` starts with a whole frame whose end byte is there (a body too), read into `frame`. */
function startsFrame(data: Uint8Array): bool {
  return frame.read(data, 0) && frame.endOk && plausible(frame, data);
}

/** Whether the whole frame in `data` (read into `frame`) is one frame: its fields fill it exactly. */
function fits(data: Uint8Array): bool {
  if (!frame.endOk || !plausible(frame, data)) return false;
  const start = frame.start;
  const end = start + <i32>frame.size;
  if (frame.type == AMQP_FRAME_METHOD) return argsFit(amqpMethodIndex(readU16be(data, start), readU16be(data, start + 2)), data, start + 4, end);
  if (frame.type == AMQP_FRAME_HEADER) return headerFits(header, data, start, end);
  return true;
}

/**
 * After garbage or a gap: the next offset holding a whole, checked frame (bodies cannot be
 * checked). Not a protocol header: it only opens a connection, and "AMQP" is also text.
 */
function resync(data: Uint8Array, from: i32): i32 {
  for (let at = from; at + AMQP_FRAME_OVERHEAD <= data.length; at++) {
    const t = <u32>data[at];
    if (t != AMQP_FRAME_METHOD && t != AMQP_FRAME_HEADER && t != AMQP_FRAME_HEARTBEAT) continue;
    frame.read(data, at);
    if (frame.endOk && plausible(frame, data)) return at;
  }
  return -1;
}

/** The work of one parse_payload call. */
class PayloadParse {
  records: L7ProtocolInfo[] = [];
  /** Content records waiting for their content header, and their channels (swapped with the stream's). */
  waiting: L7ProtocolInfo[] = [];
  channels: u32[] = [];
  fromClient: bool = true;
  /** The connection's slot in `flows`, -1 while it has none. */
  slot: i32 = -1;
  /** Its bytes in `flows` (flows.data(slot)). */
  data: usize = 0;
  flowId: u64 = 0;
  direction: u8 = 0;
  time: u64 = 0;
  /** Where this payload starts in the stream is unknown: read from its first whole, checked frame. */
  private lost: bool = false;

  run(ctx: ParseCtx): L7ProtocolInfo[] {
    const data = ctx.payload();
    // Reused call after call: the records go to the agent before this returns.
    this.records.length = 0;
    pool.reset();
    this.fromClient = ctx.direction == DIR_C2S;
    this.flowId = ctx.flowId;
    this.direction = ctx.direction;
    this.time = ctx.time;
    // The agent cuts payloads to buf_size: then the rest of the segment is lost and the
    // next payload starts at an unknown place inside the stream.
    const cut = ctx.bufSize > 0 && data.length >= <i32>ctx.bufSize;
    this.lost = false;
    const slot = flows.find(this.flowId);
    this.slot = slot;
    if (slot >= 0) {
      const data = flows.data(slot);
      this.data = data;
      const st = flows.unpark(data, this.fromClient);
      if (st !== null) this.swap(st);
      this.lost = flows.takeLost(data, this.fromClient);
    }
    let pos = 0;
    const p = partials.take(this.flowId, this.direction);
    if (p !== null) pos = this.resume(p, data, cut);
    if (pos >= 0) this.walk(data, pos, cut);
    // Out of step, or cut: the next payload is read from its first whole, checked frame.
    if (this.lost || cut) flows.setLost(this.openSlot(), this.fromClient);
    this.settle(cut);
    // The content records given to the agent now are free again from the next call on.
    const records = this.records;
    for (let i = 0; i < records.length; i++) {
      const r = unchecked(records[i]);
      if (!pool.taken.includes(r) && spareRecords.length < 64) spareRecords.push(r);
    }
    return records;
  }

  /** This call's waiting records and the stream's change places. */
  private swap(st: Stream): void {
    const waiting = this.waiting;
    const channels = this.channels;
    this.waiting = st.waiting;
    this.channels = st.channels;
    st.waiting = waiting;
    st.channels = channels;
  }

  /**
   * The next piece of a frame that waits, or bytes to pass over. Returns where this payload's
   * own frames start, or -1 when all of it belonged to the frame.
   */
  private resume(p: PartialFrame, data: Uint8Array, cut: bool): i32 {
    if (p.toSkip > 0) {
      const skip = p.toSkip;
      partials.release(p);
      return this.skip(data, 0, skip, cut);
    }
    if (p.total == 0) {
      // Only the first bytes of a head (or of the protocol header) came: read them and this payload as one.
      p.append(data, 0, data.length);
      this.walk(p.view(), 0, cut);
      partials.release(p);
      return -1;
    }
    if (startsFrame(data)) {
      // A whole frame where the rest was due: the capture lost the rest. What the first piece held.
      this.firstPiece(p);
      partials.release(p);
      return 0;
    }
    let at = min(p.total - p.length, data.length);
    p.append(data, 0, at);
    if (p.length < p.total) {
      if (!cut && partials.keep(this.flowId, this.direction, p, this.time)) return -1;
      // The agent cut this payload (what follows is unknown), or no room to wait: what it holds now.
      this.cutFrame(p.view());
      if (!cut) this.pass(<u32>(p.total - p.length));
      partials.release(p);
      return -1;
    }
    // One frame: its fields fill it exactly, and a frame (or the payload's end) follows it.
    const whole = p.view();
    const followed = !frame.read(data, at) || plausible(frame, data);
    frame.read(whole, 0);
    if (followed && fits(whole)) {
      this.frameAt(whole, false);
    } else {
      // The pieces do not make one frame (the capture lost a segment between them): only
      // what the first piece holds is sure, and this payload is read from its first whole frame.
      this.firstPiece(p);
      at = this.outOfStep();
    }
    partials.release(p);
    return at;
  }

  /** The stream is out of step: this payload is read from its first whole, checked frame. */
  private outOfStep(): i32 {
    this.lost = true;
    return 0;
  }

  /** The record of what the first piece of a frame held, when the rest is not its own. */
  private firstPiece(p: PartialFrame): void {
    this.cutFrame(p.view().subarray(0, p.firstLength));
  }

  /** The record of the frame that starts `data` and runs past it, as far as it goes. */
  private cutFrame(data: Uint8Array): void {
    if (frame.read(data, 0)) this.frameAt(data, true);
  }

  /** Passes over `n` bytes from `from` (the rest of a frame, its end byte last); where this payload's frames go on, or -1. */
  private skip(data: Uint8Array, from: i32, n: u32, cut: bool): i32 {
    const avail = <u32>(data.length - from);
    if (n > avail) {
      if (!cut) this.pass(n - avail);
      return -1;
    }
    const at = from + <i32>n;
    // The frame passed over must end with its end byte, else the stream is out of step.
    if (<u32>unchecked(data[at - 1]) != AMQP_FRAME_END) return this.outOfStep();
    return at;
  }

  /** The next `n` bytes of this direction belong to a frame read already; out of step when that cannot be remembered. */
  private pass(n: u32): void {
    partials.skip(this.flowId, this.direction, n, this.time);
    if (!partials.has(this.flowId, this.direction)) this.lost = true;
  }

  /** Frames back to back from `pos`; one that runs past the payload waits for its rest, or is passed over. */
  private walk(data: Uint8Array, pos: i32, cut: bool): void {
    const len = data.length;
    let lost = this.lost;
    this.lost = false;
    while (pos < len) {
      if (lost) {
        pos = resync(data, pos);
        if (pos < 0) {
          this.lost = true;
          return;
        }
        lost = false;
      }
      if (isAnyAmqpProtocolHeader(data, pos)) {
        this.protocolHeader(data, pos);
        pos += AMQP_PROTOCOL_HEADER_LEN;
        continue;
      }
      const have = len - pos;
      if (have < AMQP_FRAME_HEAD_LEN || (have < AMQP_PROTOCOL_HEADER_LEN && unchecked(data[pos]) == 0x41)) {
        // The head (or the protocol header) runs past the payload: it waits for the rest.
        if (!cut && partials.start(this.flowId, this.direction, data, pos, 0, this.time) === null) this.lost = true;
        return;
      }
      frame.read(data, pos);
      if (!plausible(frame, data) || (frame.complete && !frame.endOk)) {
        lost = true;
        pos++;
        continue;
      }
      if (frame.complete) {
        const next = frame.start + <i32>frame.size + 1;
        this.frameAt(data, false);
        pos = next;
        continue;
      }
      // The frame runs past this payload: it waits for its rest, unless the agent cut the
      // payload (what follows is unknown) or it is a body (only its length counts) or too long.
      if (cut) {
        this.frameAt(data, true);
        return;
      }
      if (frame.type != AMQP_FRAME_BODY && partials.start(this.flowId, this.direction, data, pos, <i32>frame.totalLen, this.time) !== null) return;
      this.frameAt(data, true);
      this.pass(<u32>(frame.totalLen - <i64>have));
      return;
    }
    // Garbage up to the end: the next payload is read from its first whole, checked frame.
    if (lost) this.lost = true;
  }

  /** The connection's bytes in `flows`, its slot opened when it has none. */
  private openSlot(): usize {
    if (this.slot < 0) {
      this.slot = flows.open(this.flowId);
      this.data = flows.data(this.slot);
    }
    return this.data;
  }

  /** Handles the frame whose head `frame` holds (read from `data`); `cut` when it runs past `data`. */
  private frameAt(data: Uint8Array, cut: bool): void {
    const start = frame.start;
    const channel = frame.channel;
    const total = frame.totalLen;
    let end64 = <i64>start + <i64>frame.size;
    if (end64 > <i64>data.length) end64 = data.length;
    const end = <i32>end64;
    const type = frame.type;
    if (type == AMQP_FRAME_METHOD) {
      if (end - start < 4) return;
      const classId = readU16be(data, start);
      const methodId = readU16be(data, start + 2);
      const m = amqpMethodIndex(classId, methodId);
      if (m < 0) return;
      this.flush(channel);
      const info = this.methodRecord(data, start + 4, end, channel, total, m, classId, methodId);
      if (carriesContent(m) && !cut) {
        this.waiting.push(info);
        this.channels.push(channel);
      } else {
        this.records.push(info);
      }
    } else if (type == AMQP_FRAME_HEADER) {
      const p = this.take(channel);
      const info = p !== null ? p : this.bareRecord(N_CONTENT_HEADER, channel, 0);
      const found = this.applyHeader(info, data, start, end, total);
      if (p !== null || found) this.records.push(info);
    } else if (type == AMQP_FRAME_HEARTBEAT) {
      if (LOG_HEARTBEATS) this.records.push(this.bareRecord(N_HEARTBEAT_FRAME, channel, total));
    }
  }

  private protocolHeader(data: Uint8Array, at: i32): void {
    if (!LOG_PROTOCOL_HEADER) return;
    const info = this.bareRecord(N_PROTOCOL_HEADER, 0, AMQP_PROTOCOL_HEADER_LEN);
    // major-minor-revision ("0-9-1"), written where the method arguments' extras go.
    const w = args.extraBytes;
    w.reset();
    for (let i = 5; i < 8; i++) {
      if (i > 5) w.u8(0x2d); // '-'
      w.decimal(<u64>data[at + i]);
    }
    info.attrBytes(nameOf(N_VERSION), w.dataStart, w.len);
    this.records.push(info);
  }

  /** A record of its own (no pairing) with only a name (N_*). */
  private bareRecord(type: i32, channel: u32, total: i64): L7ProtocolInfo {
    const info = pool.take();
    info.protocolStr = AMQP_NAME;
    info.isAsync = 1;
    if (total > 0) this.setLen(info, total);
    info.request().type = nameOf(type);
    info.attrNumber(nameOf(N_CHANNEL), channel);
    return info;
  }

  private setLen(info: L7ProtocolInfo, total: i64): void {
    if (this.fromClient) info.reqLen = total;
    else info.respLen = total;
  }

  private methodRecord(
    data: Uint8Array, argsAt: i32, end: i32, channel: u32, total: i64, m: i32, classId: u32, methodId: u32,
  ): L7ProtocolInfo {
    args.reset();
    args.decode(m, reader.reset(data, argsAt, end));
    // A content method's record may wait past this call for its content header: not one of
    // the pool's, which are reused call after call.
    const info = carriesContent(m) ? contentRecord() : pool.take();
    info.protocolStr = AMQP_NAME;
    this.setLen(info, total);

    // Domain, resource and endpoint by the names the method has (ARG_*, -1: none).
    const hasExchange = args.has(ARG_EXCHANGE);
    const hasRoutingKey = args.has(ARG_ROUTING_KEY);
    const hasQueue = args.has(ARG_QUEUE);
    let domain = hasExchange ? ARG_EXCHANGE : -1;
    if (hasQueue && (classId == AMQP_QUEUE || !hasExchange)) domain = ARG_QUEUE;
    // Of a cut frame, a missing routing key may be one cut off: no queue in its place.
    const resource = hasRoutingKey ? ARG_ROUTING_KEY : hasQueue && !args.cut ? ARG_QUEUE : -1;

    // See the top of this file for who pairs with whom.
    let asResponse = false;
    let paired = false;
    const kind = amqpMethodKind(m);
    const name = amqpMethodName(m);
    if (kind == AMQP_KIND_REPLY) {
      asResponse = true;
      if (!this.fromClient) {
        paired = true;
        if (this.slot >= 0) flows.answer(this.data, channel);
      }
    } else if (kind == AMQP_KIND_REQUEST) {
      if (isClose(m) && !this.fromClient) {
        // The broker's Close answers the request waiting on the channel, if any; alone it
        // must not wait for a request (the agent would log it as a timeout, losing its code).
        asResponse = true;
        paired = this.slot >= 0 && flows.answer(this.data, channel);
      } else if (this.fromClient && !args.noWait) {
        paired = true;
        flows.await(this.openSlot(), channel);
      }
    } else if (args.replyCode >= 0) {
      asResponse = true; // Basic.Return
    }
    if (asResponse) {
      const resp = info.response();
      resp.type = name;
      // Also the result: merged with its request in one log row, the reply's name (Get-Ok or
      // Get-Empty, Declare-Ok or Channel.Close) stays visible there.
      resp.result = name;
      setEndpoint(info, resp, Response.ENDPOINT);
      if (args.replyCode >= 0) {
        resp.setCode(args.replyCode);
        resp.status = statusOf(args.replyCode);
        if (resp.status != RESP_OK) resp.exception = args.replyText;
      }
    } else {
      const req = info.request();
      req.type = name;
      if (domain >= 0) req.setBytes(Request.DOMAIN, args.namePtr(domain), args.nameLength(domain), true);
      else if (args.vhost !== null) req.domain = args.vhost;
      if (resource >= 0) req.setBytes(Request.RESOURCE, args.namePtr(resource), args.nameLength(resource), true);
      setEndpoint(info, req, Request.ENDPOINT);
    }
    if (paired) info.requestId = channel;
    else info.isAsync = 1;

    info.attrNumber(nameOf(N_CHANNEL), channel);
    // Arguments not already in the request's domain / resource.
    const shown = !asResponse;
    attrUnlessShown(info, N_EXCHANGE, ARG_EXCHANGE, shown ? domain : -1, -1);
    attrUnlessShown(info, N_ROUTING_KEY, ARG_ROUTING_KEY, shown ? resource : -1, -1);
    attrUnlessShown(info, N_QUEUE, ARG_QUEUE, shown ? domain : -1, shown ? resource : -1);
    const vhost = args.vhost;
    if (vhost !== null) info.attr(nameOf(N_VHOST), vhost);
    if (args.replyCode >= 0) {
      info.attrNumber(nameOf(N_REPLY_CODE), <u64>args.replyCode);
      const text = args.replyText;
      if (text !== null) info.attr(nameOf(N_REPLY_TEXT), text);
    }
    const failed = args.failedMethod;
    if (failed !== null) info.attr(nameOf(N_FAILED_METHOD), failed);
    const names = args.extraNames;
    const values = args.extraBytes.dataStart;
    let from = 0;
    for (let i = 0; i < names.length; i++) {
      const to = unchecked(args.extraEnds[i]);
      info.attrBytes(unchecked(names[i]), values + <usize>from, to - from, true);
      from = to;
    }
    return info;
  }

  /**
   * Adds a content header's body size, properties and header-table ids to `info`; true
   * when it found an id (message-id, correlation-id or a trace key).
   */
  private applyHeader(info: L7ProtocolInfo, data: Uint8Array, start: i32, end: i32, total: i64): bool {
    const h = header.read(data, start, end);
    if (h.classId == 0) return false;
    const len = info.reqLen >= 0 ? info.reqLen : info.respLen >= 0 ? info.respLen : 0;
    this.setLen(info, len + total + <i64>h.bodySize);
    info.attrNumber(nameOf(N_BODY_SIZE), h.bodySize);
    collector.clear();
    // Ids go from the payload's bytes into the record: strings only for trace fields.
    let messageIdAt = 0;
    let messageIdLen = 0;
    let found = false;
    while (h.next()) {
      const flag = h.flag;
      if (flag == PROP_HEADERS) {
        const t = h.headers();
        while (t.next()) {
          const rank = keys.findBytes(data, t.keyAt, t.keyLen);
          if (rank < 0) continue;
          if (t.isRawText()) {
            if (collector.offerBytes(rank, data, t.valueAt + 4, t.valueLen - 4)) found = true;
          } else {
            const id = t.idText();
            if (id !== null && collector.offerRule(rank, id)) found = true;
          }
        }
      } else if (flag == PROP_MESSAGE_ID || (PROPERTY_ATTRIBUTES & flag) != 0) {
        if (flag == PROP_MESSAGE_ID) {
          messageIdAt = h.valueAt;
          messageIdLen = h.valueLen;
        }
        if ((PROPERTY_ATTRIBUTES & flag) != 0) {
          if (h.isRawText()) info.attrBytes(amqpPropertyName(flag), data.dataStart + <usize>h.valueAt, h.valueLen);
          else info.attr(amqpPropertyName(flag), h.text());
          found = true;
        }
      }
    }
    collector.fill(info);
    if (MESSAGE_ID_AS_REQUEST_ID && messageIdLen > 0 && !collector.hasRequestId) {
      info.traceInfo().setBytes(Trace.X_REQUEST_ID, data.dataStart + <usize>messageIdAt, messageIdLen);
      found = true;
    }
    return found;
  }

  /** A content method still waiting on `channel` gets no header after all: it goes out as is. */
  private flush(channel: u32): void {
    const p = this.take(channel);
    if (p !== null) this.records.push(p);
  }

  private take(channel: u32): L7ProtocolInfo | null {
    const i = this.channels.indexOf(channel);
    if (i < 0) return null;
    const info = unchecked(this.waiting[i]);
    removeAt(this.waiting, i);
    removeAt(this.channels, i);
    return info;
  }

  /**
   * Content records still waiting wait in the stream (MAX_PENDING at most), unless this
   * payload was cut (their headers are gone): the others go out as they are.
   */
  private settle(cut: bool): void {
    const n = this.waiting.length;
    let keep = cut ? 0 : min(n, MAX_PENDING);
    // Nowhere to wait (MAX_PENDING_STREAMS directions have records waiting): out as they are.
    const st = keep > 0 ? flows.park(this.openSlot(), this.fromClient) : null;
    if (st === null) keep = 0;
    for (let i = keep; i < n; i++) this.records.push(unchecked(this.waiting[i]));
    this.waiting.length = keep;
    this.channels.length = keep;
    if (st !== null) this.swap(st);
    if (this.slot >= 0) flows.release(this.slot, this.data);
  }
}

const call = new PayloadParse();

class AmqpParser extends Parser {
  constructor() {
    super(AMQP_PROTO, AMQP_NAME);
  }

  onCheckPayload(ctx: ParseCtx): u8 {
    const data = ctx.payload();
    // The client opens every connection with the protocol header.
    if (isAnyAmqpProtocolHeader(data, 0)) return MSG_REQUEST;
    // A connection seen from its middle: a whole, checked frame first.
    if (!frame.read(data, 0) || !frame.endOk || !plausible(frame, data)) return NOT_MINE;
    let from: u32 = 0;
    if (frame.type == AMQP_FRAME_METHOD) {
      from = amqpMethodFrom(amqpMethodIndex(readU16be(data, frame.start), readU16be(data, frame.start + 2)));
    }
    if (from == AMQP_FROM_CLIENT) return MSG_REQUEST;
    if (from == AMQP_FROM_SERVER) return MSG_RESPONSE;
    // Either side could have sent it: only the port can tell.
    if (isAmqpPort(ctx.dstPort)) return MSG_REQUEST;
    if (isAmqpPort(ctx.srcPort)) return MSG_RESPONSE;
    return NOT_MINE;
  }

  onParsePayload(ctx: ParseCtx): Action {
    const records = call.run(ctx);
    if (records.length == 0) return Action.abort();
    return Action.abortWith(records);
  }
}

registerParser(new AmqpParser());
