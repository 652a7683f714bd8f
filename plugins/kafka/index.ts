// Kafka: request logs with message ids and trace context out of record headers.
//
// check_payload claims a TCP flow at its first plausible Kafka request. parse_payload
// reads every message that starts in the payload: requests give api name/version,
// correlation id, client id, topic-partition and the headers of every record that
// lies inside the payload (gzip batches decompressed); responses are paired to their
// request's api by correlation id (remembered per flow, bounded) and give error
// codes, offsets and the headers of fetched records.
export * from "../../assembly/exports";
import {
  Action, L7ProtocolInfo, ParseCtx, Parser, RecordPool, Request, Response, registerParser, MSG_REQUEST, NOT_MINE,
} from "../../assembly/index";
import {
  API_FETCH, API_PRODUCE, KafkaReader, MAX_MESSAGE_SIZE, RequestHeader, apiName, isFlexible, readRequestHeader,
  responseHeaderHasTags,
} from "../../assembly/codec/kafka";
import { TraceCollector } from "../../assembly/trace/keys";
import {
  KAFKA_NAME, KAFKA_PORTS, KAFKA_PROTO, MAX_ATTRIBUTES, MAX_TRACE_IDS, MAX_FLOWS, MAX_INFLATE, MAX_PENDING_PER_FLOW, MESSAGE_ID_ATTRIBUTE,
  REQUEST_ID_ATTRIBUTE, kafkaTraceKeys,
} from "./config";
import { Decoder, HeaderSink, exceptionOf, statusOfError } from "./messages";
import { Sessions } from "./sessions";

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
    const codecs = s.compressionNames();
    if (codecs.length > 0) info.attr("compression", codecs);
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
  if (messageEnd > have) info.attr("message_cut_off", (messageEnd - have).toString() + " bytes");
}

/** Every request starting in the payload. */
function parseRequests(ctx: ParseCtx, payload: Uint8Array): void {
  let pos = 0;
  while (pos + 4 < payload.length && readRequestHeader(payload, pos, header)) {
    const info = records.take();
    info.protocolStr = KAFKA_NAME;
    info.reqLen = header.size;
    info.requestId = <i64><u32>header.correlationId;
    const req = info.request();
    const name = apiName(header.apiKey);
    req.type = name.length > 0 ? name : "ApiKey" + header.apiKey.toString();
    // The version's digits written into the record (no string made).
    const store = info.store();
    const versionAt = store.len;
    store.decimal(<u64>header.apiVersion);
    req.setSpan(Request.VERSION, versionAt, store.len - versionAt);
    // Printable ASCII (readRequestHeader checked): copied as it is.
    if (header.clientIdLen >= 0) info.attrBytes("client_id", payload.dataStart + <usize>header.clientIdStart, header.clientIdLen, true);
    sessions.remember(ctx.flowId, header.correlationId, header.apiKey, header.apiVersion);

    decoder.reset();
    const end = header.messageEnd < payload.length ? header.messageEnd : payload.length;
    const r = reader;
    r.reset(payload, header.bodyStart, end);
    r.flexible = isFlexible(header.apiKey, header.apiVersion);
    decoder.request(r, header.apiKey, header.apiVersion, info);
    placeInto(info, true, header.apiKey);
    if (header.apiKey == API_PRODUCE || header.apiKey == API_FETCH) fillRecords(info);
    cutNote(info, header.messageEnd, payload.length);
    if (header.messageEnd <= pos) break;
    pos = header.messageEnd;
  }
}

/** Every response starting in the payload whose request this flow remembers. */
function parseResponses(ctx: ParseCtx, payload: Uint8Array): void {
  let pos = 0;
  while (pos + RESPONSE_HEADER_MIN <= payload.length) {
    const r = reader;
    r.reset(payload, pos);
    r.flexible = false;
    const size = r.i32be();
    const correlationId = r.i32be();
    if (size < 4 || size > MAX_MESSAGE_SIZE) break;
    // Without its request the body cannot be read: a response seen mid-flow, or not a message start.
    const api = sessions.take(ctx.flowId, correlationId);
    if (api < 0) break;
    const apiKey = <i32>(api >> 16);
    const version = <i32>(api & 0xffff);
    const messageEnd = pos + 4 + size;
    r.end = messageEnd < payload.length ? messageEnd : payload.length;

    const info = records.take();
    info.protocolStr = KAFKA_NAME;
    info.respLen = size;
    info.requestId = <i64><u32>correlationId;
    const resp = info.response();
    decoder.reset();
    r.flexible = responseHeaderHasTags(apiKey, version);
    r.tags();
    r.flexible = isFlexible(apiKey, version);
    decoder.response(r, apiKey, version, info);
    const code = decoder.errors.code;
    resp.status = statusOfError(code);
    if (decoder.errors.seen) resp.setCode(code);
    if (code != 0) resp.exception = exceptionOf(code, decoder.errors.message);
    placeInto(info, false, apiKey);
    if (apiKey == API_FETCH) fillRecords(info);
    cutNote(info, messageEnd, payload.length);
    pos = messageEnd;
  }
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
    const payload = ctx.payload();
    records.reset();
    if (ctx.isRequest) parseRequests(ctx, payload);
    else parseResponses(ctx, payload);
    // The flow is ours even when a payload holds no message start (the middle of a long message).
    return records.taken.length > 0 ? Action.abortWith(records.taken) : Action.abort();
  }
}

registerParser(new KafkaParser());
