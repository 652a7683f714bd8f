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
export * from "../../assembly/exports";
import {
  Action, NOT_MINE, L7ProtocolInfo, ParseCtx, Parser, RecordPool, Request, Response, TextFields, Trace, registerParser,
  DIR_C2S, L4_TCP, MSG_REQUEST, MSG_RESPONSE, RESP_CLIENT_ERROR, RESP_OK, RESP_SERVER_ERROR,
} from "../../assembly/index";
import { ByteReader, readU16be } from "../../assembly/codec/reader";
import {
  AmqpContentHeader, AmqpFrame, amqpClassName, amqpMethodFrom, amqpMethodIndex, amqpMethodKind, amqpMethodName,
  amqpPropertyName, isAnyAmqpProtocolHeader,
  AMQP_CONNECTION, AMQP_FRAME_BODY, AMQP_FRAME_HEAD_LEN, AMQP_FRAME_HEADER, AMQP_FRAME_HEARTBEAT, AMQP_FRAME_METHOD,
  AMQP_FRAME_OVERHEAD, AMQP_FROM_CLIENT, AMQP_FROM_SERVER, AMQP_KIND_REPLY, AMQP_KIND_REQUEST, AMQP_PROTOCOL_HEADER_LEN,
  AMQP_QUEUE, PROP_HEADERS, PROP_MESSAGE_ID,
} from "../../assembly/codec/amqp";
import { TraceCollector } from "../../assembly/trace/keys";
import {
  AMQP_NAME, AMQP_PORTS, AMQP_PROTO, ENDPOINT_SEPARATOR, LOG_HEARTBEATS, LOG_PROTOCOL_HEADER, MAX_CARRY,
  MAX_FRAME_SIZE, MAX_TRACE_ATTRIBUTES, MESSAGE_ID_AS_REQUEST_ID, PROPERTY_ATTRIBUTES, amqpTraceKeys,
} from "./config";
import { ARG_EXCHANGE, ARG_QUEUE, ARG_ROUTING_KEY, MethodArgs, carriesContent, isClose } from "./methods";
import { FlowState, FlowTable, Pending, Stream, removeAt } from "./stream";

const keys = amqpTraceKeys();
const collector = new TraceCollector(keys, MAX_TRACE_ATTRIBUTES);
// An id that lands in trace_id/span_id/parent_span_id/x_request_id is not repeated as an attribute.
collector.idsInFieldsOnly = true;
const args = new MethodArgs();
const frame = new AmqpFrame();
const flows = new FlowTable();
// Reused call after call: records go to the agent when the hook returns (a record held
// for a later content header is copied out of the pool, see detached()).
const pool = new RecordPool(64);
const reader = new ByteReader(new Uint8Array(0));
const header = new AmqpContentHeader(new Uint8Array(0), 0, 0);

/** Name `arg` (ARG_*) as an attribute, unless the request shows the same text already (as name `a` or `b`). */
function attrUnlessShown(info: L7ProtocolInfo, key: string, arg: i32, a: i32, b: i32): void {
  if (!args.has(arg) || (a >= 0 && args.sameName(arg, a)) || (b >= 0 && args.sameName(arg, b))) return;
  info.attrBytes(key, args.namePtr(arg), args.nameLength(arg), true);
}

/** The endpoint, field `field` of `part`: exchange/routing-key, the exchange alone, or the queue. */
function setEndpoint(info: L7ProtocolInfo, part: TextFields, field: i32): void {
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

/**
 * A record of the pool as a record of its own, to keep past this call (the pool reuses its
 * records): what a method record holds before its content header (no trace part yet).
 */
function detached(src: L7ProtocolInfo): L7ProtocolInfo {
  const info = new L7ProtocolInfo();
  info.protocolStr = src.protocolStr;
  info.reqLen = src.reqLen;
  info.respLen = src.respLen;
  info.requestId = src.requestId;
  info.isAsync = src.isAsync;
  const req = src.req;
  if (req !== null) {
    const r = info.request();
    r.type = req.type;
    r.domain = req.domain;
    r.resource = req.resource;
    r.endpoint = req.endpoint;
  }
  const resp = src.resp;
  if (resp !== null) {
    const r = info.response();
    r.status = resp.status;
    r.code = resp.code;
    r.hasCode = resp.hasCode;
    r.exception = resp.exception;
    r.result = resp.result;
    r.type = resp.type;
    r.endpoint = resp.endpoint;
  }
  const attrs = src.attributes;
  for (let i = 0; i < attrs.length; i++) info.attr(attrs[i].key, attrs[i].val);
  // No trace attributes yet: a pending record gets them with its content header.
  return info;
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
    return amqpClassName(readU16be(data, f.start)) !== null && readU16be(data, f.start + 2) == 0;
  }
  if (f.type == AMQP_FRAME_BODY) return f.channel != 0;
  if (f.type == AMQP_FRAME_HEARTBEAT) return f.size == 0 && f.channel == 0;
  return false;
}

/** After garbage or a gap: the next offset holding a whole, checked frame (bodies cannot be checked) or a protocol header. */
function resync(data: Uint8Array, from: i32): i32 {
  for (let at = from; at + AMQP_FRAME_OVERHEAD <= data.length; at++) {
    if (isAnyAmqpProtocolHeader(data, at)) return at;
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
  pending: Pending[] = [];
  fromClient: bool = true;
  flow: FlowState | null = null;
  stream: Stream | null = null;
  flowId: u64 = 0;

  run(ctx: ParseCtx): L7ProtocolInfo[] {
    const data = ctx.payload();
    // Reused call after call: the records go to the agent before this returns.
    this.records.length = 0;
    this.pending.length = 0;
    pool.reset();
    this.slotsUsed = 0;
    this.fromClient = ctx.direction == DIR_C2S;
    this.flowId = ctx.flowId;
    // The agent cuts payloads to buf_size: then the rest of the segment is lost and the
    // next payload starts at an unknown place inside the stream.
    const truncated = ctx.bufSize > 0 && data.length >= <i32>ctx.bufSize;
    this.lost = false;
    let pos = 0;
    const flow = flows.find(this.flowId);
    this.flow = flow;
    const st = flow !== null ? flow.stream(this.fromClient) : null;
    this.stream = st;
    if (st !== null) {
      for (let i = 0; i < st.pending.length; i++) this.pending.push(st.pending[i]);
      st.pending.length = 0;
      pos = this.resume(st, data, truncated);
    }
    this.walk(data, pos, truncated, this.lost);
    this.settle(truncated);
    return this.records;
  }

  // Pending entries of this call's own records, reused call after call.
  private slots: Pending[] = [];
  private slotsUsed: i32 = 0;

  private pendingSlot(channel: u32, info: L7ProtocolInfo): Pending {
    let p: Pending;
    if (this.slotsUsed < this.slots.length) {
      p = unchecked(this.slots[this.slotsUsed]);
      p.channel = channel;
      p.info = info;
    } else {
      p = new Pending(channel, info);
      this.slots.push(p);
    }
    this.slotsUsed++;
    return p;
  }

  /** Set by resume(): the stream position was lost, find the next frame. */
  private lost: bool = false;

  /** Continues a frame begun in an earlier payload; returns the offset after it. */
  private resume(st: Stream, data: Uint8Array, truncated: bool): i32 {
    if (st.skip > 0) return this.skipFrom(st, data, 0, truncated);
    if (st.carryLen == 0) return 0;
    let pos = 0;
    for (;;) {
      let need: i64;
      if (st.carryLen < AMQP_FRAME_HEAD_LEN) need = AMQP_FRAME_HEAD_LEN - st.carryLen;
      else {
        const head = st.carry.subarray(0, st.carryLen);
        frame.read(head, 0);
        if (!plausible(frame, head)) {
          st.lose();
          this.lost = true;
          return pos;
        }
        need = frame.totalLen - <i64>st.carryLen;
        if (frame.totalLen > <i64>MAX_CARRY) {
          // Too large to keep: read what is there, skip the rest.
          this.frameAt(head, true);
          st.carryLen = 0;
          st.skip = need;
          return this.skipFrom(st, data, pos, truncated);
        }
      }
      if (need <= 0) break;
      const avail = data.length - pos;
      const take = <i32>(need < <i64>avail ? need : <i64>avail);
      st.append(data, pos, take);
      pos += take;
      if (<i64>take < need) {
        // Still short. A cut payload will not be continued by the next one.
        if (truncated) {
          if (st.carryLen >= AMQP_FRAME_HEAD_LEN) {
            const head = st.carry.subarray(0, st.carryLen);
            frame.read(head, 0);
            this.frameAt(head, true);
          }
          st.lose();
        }
        return data.length;
      }
    }
    const whole = st.carry.subarray(0, st.carryLen);
    st.carryLen = 0;
    frame.read(whole, 0);
    if (frame.endOk) this.frameAt(whole, false);
    else this.lost = true;
    return pos;
  }

  /** Skips the rest of a frame begun earlier, from `from`; checks its end byte when it ends here. */
  private skipFrom(st: Stream, data: Uint8Array, from: i32, truncated: bool): i32 {
    const avail = <i64>(data.length - from);
    if (st.skip <= avail) {
      const at = from + <i32>st.skip;
      st.skip = 0;
      if (<u32>data[at - 1] != 0xce) this.lost = true;
      return at;
    }
    // A cut payload hides how much of the frame it held.
    if (truncated) st.lose();
    else st.skip -= avail;
    return data.length;
  }

  /** Frames back to back from `pos`; what runs past the payload is carried or skipped. */
  private walk(data: Uint8Array, pos: i32, truncated: bool, lost: bool = false): void {
    const len = data.length;
    while (pos < len) {
      if (lost) {
        pos = resync(data, pos);
        lost = false;
        if (pos < 0) return;
      }
      if (isAnyAmqpProtocolHeader(data, pos)) {
        this.protocolHeader(data, pos);
        pos += AMQP_PROTOCOL_HEADER_LEN;
        continue;
      }
      if (!frame.read(data, pos)) {
        if (!truncated) this.carryFrom(data, pos);
        return;
      }
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
      // The frame runs past this payload.
      const have = len - pos;
      if (truncated) {
        this.frameAt(data, true);
      } else if (frame.type == AMQP_FRAME_BODY || frame.totalLen > <i64>MAX_CARRY) {
        const rest = frame.totalLen - <i64>have;
        this.frameAt(data, true);
        this.open().skip = rest;
      } else {
        this.carryFrom(data, pos);
      }
      return;
    }
  }

  private carryFrom(data: Uint8Array, pos: i32): void {
    const st = this.open();
    st.lose();
    st.append(data, pos, data.length - pos);
  }

  private openFlow(): FlowState {
    let flow = this.flow;
    if (flow === null) {
      flow = flows.open(this.flowId);
      this.flow = flow;
    }
    return flow;
  }

  private open(): Stream {
    let st = this.stream;
    if (st === null) {
      st = this.openFlow().openStream(this.fromClient);
      this.stream = st;
    }
    return st;
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
      if (carriesContent(classId, methodId) && !cut) this.pending.push(this.pendingSlot(channel, info));
      else this.records.push(info);
    } else if (type == AMQP_FRAME_HEADER) {
      const p = this.take(channel);
      const info = p !== null ? p.info : this.bareRecord("Content-Header", channel, 0);
      const found = this.applyHeader(info, data, start, end, total);
      if (p !== null || found) this.records.push(info);
    } else if (type == AMQP_FRAME_HEARTBEAT) {
      if (LOG_HEARTBEATS) this.records.push(this.bareRecord("Heartbeat", channel, total));
    }
  }

  private protocolHeader(data: Uint8Array, at: i32): void {
    if (!LOG_PROTOCOL_HEADER) return;
    const info = this.bareRecord("Protocol-Header", 0, AMQP_PROTOCOL_HEADER_LEN);
    info.attr("version", (<u32>data[at + 5]).toString() + "-" + (<u32>data[at + 6]).toString() + "-" + (<u32>data[at + 7]).toString());
    this.records.push(info);
  }

  /** A record of its own (no pairing) with only a name. */
  private bareRecord(name: string, channel: u32, total: i64): L7ProtocolInfo {
    const info = pool.take();
    info.protocolStr = AMQP_NAME;
    info.isAsync = 1;
    if (total > 0) this.setLen(info, total);
    info.request().type = name;
    info.attrNumber("channel", channel);
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
    args.decode(classId, methodId, reader.reset(data, argsAt, end));
    const info = pool.take();
    info.protocolStr = AMQP_NAME;
    this.setLen(info, total);

    // Domain, resource and endpoint by the names the method has (ARG_*, -1: none).
    const hasExchange = args.has(ARG_EXCHANGE);
    const hasRoutingKey = args.has(ARG_ROUTING_KEY);
    const hasQueue = args.has(ARG_QUEUE);
    let domain = hasExchange ? ARG_EXCHANGE : -1;
    if (hasQueue && (classId == AMQP_QUEUE || !hasExchange)) domain = ARG_QUEUE;
    const resource = hasRoutingKey ? ARG_ROUTING_KEY : hasQueue ? ARG_QUEUE : -1;

    // See the top of this file for who pairs with whom.
    let asResponse = false;
    let paired = false;
    const kind = amqpMethodKind(m);
    const name = amqpMethodName(m);
    if (kind == AMQP_KIND_REPLY) {
      asResponse = true;
      if (!this.fromClient) {
        paired = true;
        const flow = this.flow;
        if (flow !== null) flow.answer(channel);
      }
    } else if (kind == AMQP_KIND_REQUEST) {
      if (isClose(classId, methodId) && !this.fromClient) {
        // The broker's Close answers the request waiting on the channel, if any; alone it
        // must not wait for a request (the agent would log it as a timeout, losing its code).
        asResponse = true;
        const flow = this.flow;
        paired = flow !== null && flow.answer(channel);
      } else if (this.fromClient && !args.noWait) {
        paired = true;
        this.openFlow().await(channel);
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

    info.attrNumber("channel", channel);
    // Arguments not already in the request's domain / resource.
    const shown = !asResponse;
    attrUnlessShown(info, "exchange", ARG_EXCHANGE, shown ? domain : -1, -1);
    attrUnlessShown(info, "routing_key", ARG_ROUTING_KEY, shown ? resource : -1, -1);
    attrUnlessShown(info, "queue", ARG_QUEUE, shown ? domain : -1, shown ? resource : -1);
    const vhost = args.vhost;
    if (vhost !== null) info.attr("vhost", vhost);
    if (args.replyCode >= 0) {
      info.attrNumber("reply_code", <u64>args.replyCode);
      const text = args.replyText;
      if (text !== null) info.attr("reply_text", text);
    }
    const failed = args.failedMethod;
    if (failed !== null) info.attr("failed_method", failed);
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
    info.attrNumber("body_size", h.bodySize);
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
    if (p !== null) this.records.push(p.info);
  }

  private take(channel: u32): Pending | null {
    for (let i = 0; i < this.pending.length; i++) {
      const p = this.pending[i];
      if (p.channel == channel) {
        removeAt(this.pending, i);
        return p;
      }
    }
    return null;
  }

  /** Content records still waiting wait in the stream, unless this payload was cut (their headers are gone). */
  private settle(truncated: bool): void {
    for (let i = 0; i < this.pending.length; i++) {
      const p = this.pending[i];
      if (truncated) {
        this.records.push(p.info);
        continue;
      }
      // Kept past this call: out of the pools (held ones from earlier calls are out already).
      const held = this.slots.includes(p) ? new Pending(p.channel, detached(p.info)) : p;
      if (!this.open().hold(held)) this.records.push(held.info);
    }
    this.pending.length = 0;
    const flow = this.flow;
    if (flow !== null) flows.release(this.flowId, flow);
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
