// Kafka: request logs with message ids and trace context out of record headers.
//
// check_payload claims a TCP flow at its first plausible Kafka request. parse_payload
// reads every message of the payload: requests give api name/version, correlation id,
// client id, topic-partition and the headers of every record (gzip batches
// decompressed); responses are paired to their request's api by correlation id
// (remembered per flow, bounded) and give error codes, offsets and the headers of
// fetched records.
//
// A message cut across payloads (longer than a segment, or written in pieces) waits for
// its rest, per flow and direction, in the SDK's FrameAssembler (bounded: config.ts),
// and is read whole with its last piece. A payload the agent cut (as long as its payload
// size) gives what it holds at once: the bytes after it are unknown. A piece the capture
// lost or saw twice shows as a new message where the rest was due, as a message that
// does not decode consistently, or as bytes after its end that start no message: then
// only the first piece's record is given, never one made of other bytes.
import {
  Action, ACTION_NEXT, FrameAssembler, L7ProtocolInfo, MSG_REQUEST, NOT_MINE, ParseCtx, Parser, PartialFrame, readU16be, readU32be, readU8, RecordPool, registerParser, Request, Response, TraceCollector,
} from "../../assembly/index";
import {
  API_FETCH, API_PRODUCE, CODEC_GZIP, KafkaReader, MAX_MESSAGE_SIZE, REQUEST_HEADER_MIN, RequestHeader, apiName,
  codecName, isFlexible, plausibleApi, readRequestHeader, responseHeaderHasTags,
} from "../../protocols/kafka";
import {
  KAFKA_NAME, KAFKA_PORTS, KAFKA_PROTO, MAX_ATTRIBUTES, MAX_TRACE_IDS, MAX_FLOWS, MAX_INFLATE, MAX_PENDING_PER_FLOW, MAX_REASSEMBLED_MESSAGE,
  MAX_REASSEMBLING, MAX_REASSEMBLY_BYTES, MESSAGE_ID_ATTRIBUTE, REASSEMBLY_STALE_US, REQUEST_ID_ATTRIBUTE, kafkaTraceKeys,
} from "./config";
import { Decoder, HeaderSink, attrDecimal, digits, statusOfError, writeException } from "./messages";
import { Sessions } from "./sessions";

// The agent's exports. Kafka hooks check_payload/parse_payload only (Parser's default
// hookIn): its hook bitmap says so, and its HTTP and custom-message hooks answer "next"
// at once, as the SDK's do for a hook not registered, without the SDK's context readers
// (about 900 bytes less of module, which reassembly needs: tests/release/module-size.test.ts).
export { check_payload, get_custom_message_hook, parse_payload, protocol_info } from "../../assembly/exports";
// The agent's u128 hook bitmap, big-endian: bit 0 (payload parse) alone.
const hookBitmap = memory.data<u8>([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
export function get_hook_bitmap(): usize {
  return hookBitmap;
}
export function on_http_req(): i32 {
  return ACTION_NEXT;
}
export function on_http_resp(): i32 {
  return ACTION_NEXT;
}
export function on_custom_message(): i32 {
  return ACTION_NEXT;
}

/** Response header: size, correlation id. */
const RESPONSE_HEADER_MIN: i32 = 8;

const collector = new TraceCollector(kafkaTraceKeys(), MAX_ATTRIBUTES);
collector.maxTraceIds = MAX_TRACE_IDS;
// An id that lands in trace_id/span_id/parent_span_id/x_request_id is not repeated as an attribute.
collector.idsInFieldsOnly = true;
const decoder = new Decoder(new HeaderSink(collector), MAX_INFLATE);
const sessions = new Sessions(MAX_FLOWS, MAX_PENDING_PER_FLOW);
const header = new RequestHeader();
// Records are reused call after call (they are written when the hook returns).
const records = new RecordPool();
// The message being read (reset for each).
const reader = new KafkaReader(new Uint8Array(0));
function portAllowed(port: u16): bool {
  if (KAFKA_PORTS.length == 0) return true;
  for (let i = 0; i < KAFKA_PORTS.length; i++) if (unchecked(KAFKA_PORTS[i]) == port) return true;
  return false;
}

/** Record-set and trace findings of the message just decoded → the record. */
function fillRecords(info: L7ProtocolInfo): void {
  const s = decoder.summary;
  if (s.batches > 0 || s.legacy) {
    info.attrNumber("record_count", <u64>s.declared);
    // The codecs' names, e.g. "gzip" or "gzip,lz4" (written as bytes: no string made).
    const w = digits;
    w.reset();
    for (let c = CODEC_GZIP; c <= 7; c++) {
      if ((s.codecs & (1 << <u32>c)) == 0) continue;
      if (w.len > 0) w.u8(0x2c); // ','
      w.utf8(codecName(c));
    }
    if (w.len > 0) info.attrBytes("compression", w.dataStart, w.len, true);
    if (s.notDecoded > 0) info.attrNumber("records_not_decoded", <u64>s.notDecoded);
    if (s.cutOff) {
      const missing = s.declared - s.decoded - s.notDecoded;
      info.attrNumber("records_cut_off", <u64>(missing > 0 ? missing : 0));
    }
    if (s.bad) info.attr("records_malformed", "true");
    if (s.transactional) info.attr("transactional", "true");
  }
  const sink = decoder.sink;
  collector.fill(info);
  sink.messageIds.fill(info, MESSAGE_ID_ATTRIBUTE);
  sink.requestIds.fill(info, REQUEST_ID_ATTRIBUTE);
  const messageIds = sink.messageIds.count;
  if (messageIds > 0) info.attrNumber("message_id_count", <u64>messageIds);
  const notListed = messageIds - sink.messageIds.listed + sink.requestIds.count - sink.requestIds.listed;
  if (notListed > 0) info.attrNumber("ids_not_listed", <u64>notListed);
  if (collector.attributesDropped > 0) info.attrNumber("attributes_dropped", <u64>collector.attributesDropped);
  if (collector.traceIdsDropped > 0) info.attrNumber("trace_ids_dropped", <u64>collector.traceIdsDropped);
}

function placeInto(info: L7ProtocolInfo, isRequest: bool, apiKey: i32): void {
  const place = decoder.place;
  // The topic and "topic-partition" (the agent's endpoint) written once, in the record's store.
  const store = info.store();
  const at = store.len;
  if (place.writeTopic(store)) {
    const topicLen = store.len - at;
    if (place.partition >= 0) {
      store.u8(0x2d); // '-'
      store.decimal(<u64>place.partition);
    }
    const endpointLen = store.len - at;
    if (isRequest) {
      const req = info.request();
      req.setSpan(Request.DOMAIN, at, topicLen);
      req.setSpan(Request.RESOURCE, at, endpointLen);
      req.setSpan(Request.ENDPOINT, at, endpointLen);
    } else if (apiKey == API_PRODUCE || apiKey == API_FETCH) {
      // Only where the request names the same topic-partition (the session's endpoint).
      info.response().setSpan(Response.ENDPOINT, at, endpointLen);
    }
  }
  if (place.partitions > 1) info.attrNumber("partition_count", <u64>place.partitions);
  if (place.topics > 1) info.attrNumber("topic_count", <u64>place.topics);
}

function cutNote(info: L7ProtocolInfo, messageEnd: i32, have: i32): void {
  if (messageEnd > have) attrDecimal(info, "message_cut_off", messageEnd - have, " bytes");
}

/**
 * Set by requestAt and responseAt: the message decoded consistently. A request read to
 * its end, its record sets whole and well formed; a Fetch response read to its end, its
 * record sets well formed (it may end in part of a batch: the broker's limit). Other
 * responses are not held to their layout: brokers answer in older layouts than the version
 * asked (the mock's Produce v5 answers in tests/fixtures/kafka/v5.pcap). Only a message put
 * together from pieces is checked: a segment the capture lost or saw twice makes pieces
 * that do not fit, and record sets, where the ids are, show it.
 */
let consistent = false;

// @ts-expect-error: decorator
@inline function i32At(data: Uint8Array, at: i32): i32 {
  return <i32>readU32be(data, at);
}

/** The record of the request at `at` (whole or cut), when a request header is there. */
function requestAt(ctx: ParseCtx, data: Uint8Array, at: i32): void {
  if (!readRequestHeader(data, at, header)) return;
  const info = records.take();
  info.protocolStr = KAFKA_NAME;
  info.reqLen = header.size;
  info.requestId = <i64><u32>header.correlationId;
  const req = info.request();
  // The name, or "ApiKey" and the key's digits; the version's digits: written into the record (no string made).
  const store = info.store();
  let from = store.len;
  const name = apiName(header.apiKey);
  if (name.length > 0) {
    req.type = name;
  } else {
    store.utf8("ApiKey");
    store.decimal(<u64>header.apiKey);
    req.setSpan(Request.TYPE, from, store.len - from);
    from = store.len;
  }
  store.decimal(<u64>header.apiVersion);
  req.setSpan(Request.VERSION, from, store.len - from);
  // Printable ASCII (readRequestHeader checked): copied as it is.
  if (header.clientIdLen >= 0) info.attrBytes("client_id", data.dataStart + <usize>header.clientIdStart, header.clientIdLen, true);
  sessions.remember(ctx.flowId, header.correlationId, header.apiKey, header.apiVersion);

  decoder.reset();
  const end = header.messageEnd < data.length ? header.messageEnd : data.length;
  const r = reader;
  r.reset(data, header.bodyStart, end);
  r.flexible = isFlexible(header.apiKey, header.apiVersion);
  decoder.request(r, header.apiKey, header.apiVersion, info);
  placeInto(info, true, header.apiKey);
  if (header.apiKey == API_PRODUCE || header.apiKey == API_FETCH) fillRecords(info);
  cutNote(info, header.messageEnd, data.length);
  consistent = !r.short && !decoder.summary.bad && !decoder.summary.cutOff;
}

/** The record of the response at `at` (whole or cut) to a request of `api` (apiKey << 16 | version). */
function responseAt(data: Uint8Array, at: i32, api: i64): void {
  if (data.length - at < RESPONSE_HEADER_MIN) return;
  const size = i32At(data, at);
  const apiKey = <i32>(api >> 16);
  const version = <i32>(api & 0xffff);
  const messageEnd = at + 4 + size;
  const r = reader;
  r.reset(data, at + RESPONSE_HEADER_MIN, messageEnd < data.length ? messageEnd : data.length);

  const info = records.take();
  info.protocolStr = KAFKA_NAME;
  info.respLen = size;
  info.requestId = <i64><u32>i32At(data, at + 4);
  const resp = info.response();
  decoder.reset();
  r.flexible = responseHeaderHasTags(apiKey, version);
  r.tags();
  r.flexible = isFlexible(apiKey, version);
  decoder.response(r, apiKey, version, info);
  const code = decoder.errors.code;
  resp.status = statusOfError(code);
  if (decoder.errors.seen) resp.setCode(code);
  if (code != 0) writeException(info, code, decoder.errors);
  placeInto(info, false, apiKey);
  if (apiKey == API_FETCH) fillRecords(info);
  cutNote(info, messageEnd, data.length);
  consistent = !decoder.summary.bad && !(r.short && apiKey == API_FETCH);
}

/** The api of the request a response at `at` answers (forgotten once taken); 0 for a request; -1 when none. */
function requestApi(ctx: ParseCtx, data: Uint8Array, at: i32): i64 {
  if (ctx.isRequest) return 0;
  return data.length - at >= RESPONSE_HEADER_MIN ? sessions.take(ctx.flowId, i32At(data, at + 4)) : -1;
}

/** The record of the message at `at` (whole or cut), a response to a request of `api` (-1: none, no record). */
function recordAt(ctx: ParseCtx, data: Uint8Array, at: i32, api: i64): void {
  if (ctx.isRequest) requestAt(ctx, data, at);
  else if (api >= 0) responseAt(data, at, api);
}

/** Set by headerAt: the whole length of the message it found (size field + 4). */
let messageLength: i32 = 0;
const HEADER_WHOLE: i32 = 1;
const HEADER_CUT: i32 = 0;
const NO_HEADER: i32 = -1;
// headerAt's `exclude` when it is no correlation id: NOTHING, or ANY_CLIENT, which also
// takes a request without a client id.
const NOTHING: i64 = 1 << 40;
const ANY_CLIENT: i64 = 1 << 41;

/**
 * Whether a message starts at `at`: HEADER_WHOLE (its length in messageLength), HEADER_CUT
 * when the payload ends in what may be its header, NO_HEADER. A response must answer a
 * request the flow remembers (other than `exclude`, when a correlation id), a request name
 * its client (unless `exclude` is ANY_CLIENT).
 */
function headerAt(ctx: ParseCtx, data: Uint8Array, at: i32, exclude: i64): i32 {
  const n = data.length - at;
  // Sizes are at most MAX_MESSAGE_SIZE (100 MiB): a first byte of 0..6.
  if (n <= 0 || readU8(data, at) > <u32>(MAX_MESSAGE_SIZE >>> 24)) return NO_HEADER;
  if (n < 4) return HEADER_CUT;
  const size = i32At(data, at);
  messageLength = size + 4;
  if (ctx.isRequest) {
    // As check_payload: a client id is always sent (but by ControlledShutdown v0).
    if (readRequestHeader(data, at, header)) return header.clientIdLen > 0 || exclude == ANY_CLIENT ? HEADER_WHOLE : NO_HEADER;
    // Refused: a header that is all there (the message's end is) is not a request's. A
    // header cut short waits when what it holds is plausible (its rest is checked with it).
    if (size < REQUEST_HEADER_MIN - 4 || size > MAX_MESSAGE_SIZE || n >= messageLength) return NO_HEADER;
    return n < 8 || plausibleApi(<i32>readU16be(data, at + 4), <i32>readU16be(data, at + 6))
      ? HEADER_CUT : NO_HEADER;
  }
  if (size < 4 || size > MAX_MESSAGE_SIZE) return NO_HEADER;
  if (n < RESPONSE_HEADER_MIN) return HEADER_CUT;
  const correlationId = i32At(data, at + 4);
  return <i64>correlationId == exclude || sessions.peek(ctx.flowId, correlationId) < 0 ? NO_HEADER : HEADER_WHOLE;
}

// Per flow and direction: a message cut across payloads, kept until its rest arrives.
// Only payloads the agent did not cut can be continued. (A message too long to wait for
// gives what its first payload holds; the payloads after it are read as they come, as
// every payload was before: their bytes do not start a message.)
const frames = new FrameAssembler(MAX_REASSEMBLED_MESSAGE, MAX_REASSEMBLING, MAX_REASSEMBLY_BYTES, REASSEMBLY_STALE_US);

/** Messages from `at` on; one that runs past the payload waits for the rest when it may. */
function readMessages(ctx: ParseCtx, data: Uint8Array, at: i32, cut: bool): void {
  while (at < data.length) {
    const h = headerAt(ctx, data, at, ANY_CLIENT);
    if (h == NO_HEADER) return;
    const end = <i64>at + <i64>messageLength;
    if (h == HEADER_CUT || end > <i64>data.length) {
      // Waits for its rest (its header's, when the payload ends in it).
      if (!cut && frames.start(ctx.flowId, ctx.direction, data, at, h == HEADER_CUT ? 0 : messageLength, ctx.time) !== null) return;
      // The agent cut the payload, or the message is too long to wait for, or no room is
      // left: what this payload holds.
      if (h == HEADER_WHOLE) recordAt(ctx, data, at, requestApi(ctx, data, at));
      return;
    }
    recordAt(ctx, data, at, requestApi(ctx, data, at));
    at = <i32>end;
  }
}

/**
 * The next piece of a message that waits. Returns where this payload's own messages
 * start, or -1 when the whole payload belonged to the message.
 */
function continueMessage(ctx: ParseCtx, p: PartialFrame, data: Uint8Array, cut: bool): i32 {
  let view = p.view();
  // A new message where the rest was due: the capture lost the rest, and only what the
  // first piece holds is sure. (Asked once the piece holds a header: the bytes of one cut
  // early make poor evidence. A response must answer another request than this one.)
  if (p.length >= RESPONSE_HEADER_MIN && headerAt(ctx, data, 0, ctx.isRequest ? NOTHING : <i64>i32At(view, 4)) == HEADER_WHOLE) {
    const first = view.subarray(0, p.firstLength);
    recordAt(ctx, first, 0, requestApi(ctx, first, 0));
    frames.release(p);
    return 0;
  }
  let at = 0;
  // A cut header: its size first.
  if (p.length < 4) {
    at = min(4 - p.length, data.length);
    p.append(data, 0, at);
    view = p.view();
  }
  let h = headerAt(ctx, view, 0, ANY_CLIENT);
  if (h != NO_HEADER && p.length >= 4) {
    p.total = messageLength;
    const n = min(p.total - p.length, data.length - at);
    p.append(data, at, n);
    at += n;
    view = p.view();
    h = headerAt(ctx, view, 0, ANY_CLIENT);
  }
  const done = p.length == p.total;
  if (h == NO_HEADER || (h == HEADER_CUT && done)) {
    // Not a message after all: this payload is read on its own.
    frames.release(p);
    return 0;
  }
  // Waits for its rest, when it may.
  if (!done && !cut && frames.keep(ctx.flowId, ctx.direction, p, ctx.time)) return -1;
  // Whole, or as far as it goes (the agent cut the payload, or it is too long to wait
  // for, or no room is left).
  const api = requestApi(ctx, view, 0);
  consistent = true;
  recordAt(ctx, view, 0, api);
  // Whole, it decodes consistently and what follows it in the payload starts a message.
  if (done && api >= 0 && (!consistent || (at < data.length && headerAt(ctx, data, at, ANY_CLIENT) == NO_HEADER))) {
    // The pieces do not make one message (the capture lost a segment between them, or
    // saw one twice): only what the first piece holds is sure.
    records.taken.pop();
    recordAt(ctx, view.subarray(0, p.firstLength), 0, api);
    at = 0;
  }
  frames.release(p);
  return at < data.length ? at : -1;
}

class KafkaParser extends Parser {
  constructor() {
    super(KAFKA_PROTO, KAFKA_NAME);
  }

  onCheckPayload(ctx: ParseCtx): u8 {
    // Claimed by content: before the claim the agent may not know which end is the server.
    if (!(portAllowed(ctx.dstPort) || portAllowed(ctx.srcPort))) return NOT_MINE;
    const payload = ctx.payload();
    if (!readRequestHeader(payload, 0, header)) return NOT_MINE;
    // As the agent's own check: a client id is always sent, in ASCII.
    if (header.clientIdLen <= 0) return NOT_MINE;
    // One whole request, a request cut by the capture, or several whole requests.
    let end = header.messageEnd;
    while (end < payload.length) {
      if (!readRequestHeader(payload, end, header)) return NOT_MINE;
      end = header.messageEnd;
    }
    return MSG_REQUEST;
  }

  onParsePayload(ctx: ParseCtx): Action {
    const data = ctx.payload();
    // The agent cut this payload: what follows it in the stream is unknown.
    const cut = ctx.bufSize > 0 && data.length >= <i32>ctx.bufSize;
    records.reset();
    let at = 0;
    const partial = frames.take(ctx.flowId, ctx.direction);
    if (partial !== null) at = continueMessage(ctx, partial, data, cut);
    if (at >= 0) readMessages(ctx, data, at, cut);
    // The flow is ours even when a payload holds no message start (the middle of a long message).
    return records.taken.length > 0 ? Action.abortWith(records.taken) : Action.abort();
  }
}

registerParser(new KafkaParser());
