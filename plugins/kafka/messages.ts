// Kafka request and response bodies → request-log fields. Produce and Fetch are read
// in full (topics, partitions, record sets with their headers); group and
// coordination apis give their group id and error code; the rest is logged by name.
import {
  ByteWriter, L7ProtocolInfo, RESP_CLIENT_ERROR, RESP_OK, RESP_SERVER_ERROR, Response, ROLE_REQUEST_ID, ROLE_SW8, ROLE_TRACE_ID, ROLE_TRACEPARENT, sameBytes, TraceCollector, writeDecimal,
} from "../../assembly/index";
import {
  API_ADD_OFFSETS_TO_TXN, API_API_VERSIONS, API_CONSUMER_GROUP_HEARTBEAT, API_CONTROLLED_SHUTDOWN, API_DESCRIBE_CLUSTER,
  API_END_TXN, API_FETCH, API_FIND_COORDINATOR, API_HEARTBEAT, API_INIT_PRODUCER_ID, API_JOIN_GROUP, API_LEAVE_GROUP,
  API_LIST_GROUPS, API_LIST_OFFSETS, API_METADATA, API_OFFSET_COMMIT, API_OFFSET_FETCH, API_PRODUCE,
  API_SASL_AUTHENTICATE, API_SASL_HANDSHAKE, API_SYNC_GROUP, KafkaReader, RecordSetReader, RecordSetSummary,
  RecordVisitor, errorName, errorRetriable,
} from "../../protocols/kafka";
import { MAX_HEADER_VALUE, MAX_ID_LIST, MESSAGE_ID_ATTRIBUTE, RECORD_KEY_AS_MESSAGE_ID } from "./config";

/** A topic as read: its name as UTF-8 bytes in the message, or a topic id (Fetch v13+) as its 16 bytes there (no text made). */
export class TopicName {
  at: usize = 0;
  /** -1: a null name, or one not all there. */
  len: i32 = -1;
  /** The bytes are a topic id, written as a UUID. */
  isId: bool = false;

  read(r: KafkaReader): TopicName {
    this.len = r.stringBytes();
    this.at = r.spanAt;
    this.isId = false;
    return this;
  }

  readId(r: KafkaReader): TopicName {
    this.isId = true;
    this.at = r.data.dataStart + <usize>r.pos;
    this.len = r.has(16) ? 16 : -1;
    r.skip(16);
    return this;
  }
}

/** Where the first topic/partition of a message was found. */
export class Place {
  topic: TopicName = new TopicName();
  partition: i32 = -1;
  offset: i64 = -1;
  hasOffset: bool = false;
  topics: i32 = 0;
  partitions: i32 = 0;

  reset(): void {
    this.topic.len = -1;
    this.partition = -1;
    this.offset = -1;
    this.hasOffset = false;
    this.topics = 0;
    this.partitions = 0;
  }

  see(topic: TopicName, partition: i32): bool {
    this.partitions++;
    if (this.partitions > 1) return false;
    const first = this.topic;
    first.at = topic.at;
    first.len = topic.len;
    first.isId = topic.isId;
    this.partition = partition;
    return true;
  }

  /**
   * The first topic's name written into `w` (repaired where not UTF-8), or its id as the
   * agent prints them (hyphenated lower-case hex); false when it has none or an empty one.
   */
  writeTopic(w: ByteWriter): bool {
    const topic = this.topic;
    if (topic.len <= 0) return false;
    if (!topic.isId) {
      w.utf8Bytes(topic.at, topic.len);
      return true;
    }
    for (let i = 0; i < 32; i++) {
      if (i == 8 || i == 12 || i == 16 || i == 20) w.u8(0x2d); // '-'
      const d = (<u32>load<u8>(topic.at + <usize>(i >> 1)) >> (i & 1 ? 0 : 4)) & 15;
      w.u8(<u8>(d < 10 ? 0x30 + d : 0x57 + d));
    }
    return true;
  }
}

/** The first non-zero error code of a response, and its message when the response has one (its bytes in the message). */
export class ErrorPick {
  code: i32 = 0;
  messageAt: usize = 0;
  /** -1: none. */
  messageLen: i32 = -1;
  seen: bool = false;

  reset(): void {
    this.code = 0;
    this.messageLen = -1;
    this.seen = false;
  }

  offer(code: i32): void {
    this.seen = true;
    if (this.code == 0 && code != 0) this.code = code;
  }
}

/** Ids of one kind (message ids, RequestIDs) listed in one attribute, joined by ",": bounded, the rest counted. */
export class IdList {
  bytes: ByteWriter = new ByteWriter(256);
  /** Ids offered; those past the bound are not listed. */
  count: i32 = 0;
  listed: i32 = 0;

  reset(): void {
    this.bytes.reset();
    this.count = 0;
    this.listed = 0;
  }

  add(ptr: usize, len: i32): void {
    this.count++;
    // The list is the first ids in order: none after one that did not fit.
    if (this.listed + 1 < this.count) return;
    const w = this.bytes;
    const mark = w.len;
    if (this.listed > 0) w.u8(0x2c); // ','
    // Ids are mostly ASCII, copied as they are (UTF-8 checked, repaired).
    w.utf8Bytes(ptr, len);
    if (w.len > MAX_ID_LIST) {
      w.len = mark;
      return;
    }
    this.listed++;
  }

  /** The list as attribute `name` (UTF-8 made valid when added). */
  fill(info: L7ProtocolInfo, name: string): void {
    if (this.listed > 0) info.attrBytes(name, this.bytes.dataStart, this.bytes.len, true);
  }
}

/** Header keys remembered by their index in the record. */
const KEY_MEMO: i32 = 16;
// A memo slot (32 bytes): the key's length (-1: none; longer keys are not remembered), its
// rule rank and kind (i32 each), then a copy of the key, which outlives the message it was in.
const MEMO_SLOT_SHIFT: usize = 5;
const MEMO_KEY_MAX: i32 = 20;

// What a header rule means to a batch (by rule rank).
const KIND_FIRST_ONLY: i32 = 0;
const KIND_MESSAGE_ID: i32 = 1;
const KIND_REQUEST_ID: i32 = 2;
const KIND_TRACE: i32 = 3;
/** A key no rule has. */
const KIND_NONE: i32 = 4;

/** Whether the n bytes of two header keys are equal: keys are short, compared inline in one or two loads. */
// @ts-expect-error: decorator
@inline function sameKey(a: usize, b: usize, n: i32): bool {
  if (n >= 8 && n <= 16) {
    return load<u64>(a) == load<u64>(b) && load<u64>(a + <usize>(n - 8)) == load<u64>(b + <usize>(n - 8));
  }
  if (n >= 4 && n < 8) {
    return load<u32>(a) == load<u32>(b) && load<u32>(a + <usize>(n - 4)) == load<u32>(b + <usize>(n - 4));
  }
  return sameBytes(a, b, n);
}

/**
 * Feeds record keys and headers to the trace collector, as bytes (no text is made of
 * a header unless it becomes a trace field). The first record of a message gives every
 * field and attribute; later records add what differs record by record — new trace ids
 * (to trace_ids) — while message ids and RequestIDs of every record go to one list each,
 * so that a batch lists every id without repeating the other headers (a Produce may
 * carry hundreds).
 */
export class HeaderSink extends RecordVisitor {
  records: i32 = 0;
  messageIds: IdList = new IdList();
  requestIds: IdList = new IdList();
  private kinds: StaticArray<u8>;
  // By rule rank: the value last offered in this batch (address, length), to pass over
  // the same trace context repeated record after record without decoding it again.
  private lastAt: StaticArray<usize>;
  private lastLen: StaticArray<i32>;
  // By header index in its record: the key last seen there, with its rule rank and kind, as
  // records of one producer repeat their header layout message after message.
  private memo: StaticArray<u8> = new StaticArray<u8>(KEY_MEMO << <i32>MEMO_SLOT_SHIFT);
  private header: i32 = 0;
  /** Rank of the RequestID rule that gave x_request_id (an earlier rule would replace it). */
  private requestRank: i32 = i32.MAX_VALUE;

  constructor(public collector: TraceCollector) {
    super();
    const rules = collector.keys.rules;
    const n = rules.length;
    const kinds = new StaticArray<u8>(n);
    for (let i = 0; i < n; i++) {
      const role = rules[i].role;
      kinds[i] = <u8>(rules[i].attribute == MESSAGE_ID_ATTRIBUTE ? KIND_MESSAGE_ID
        : role == ROLE_REQUEST_ID ? KIND_REQUEST_ID
        : role == ROLE_TRACE_ID || role == ROLE_TRACEPARENT || role == ROLE_SW8 ? KIND_TRACE : KIND_FIRST_ONLY);
    }
    this.kinds = kinds;
    this.lastAt = new StaticArray<usize>(n);
    this.lastLen = new StaticArray<i32>(n);
    memory.fill(changetype<usize>(this.memo), 0xff, <usize>KEY_MEMO << MEMO_SLOT_SHIFT); // key lengths -1
  }

  reset(): void {
    this.collector.clear();
    this.records = 0;
    this.requestRank = i32.MAX_VALUE;
    this.messageIds.reset();
    this.requestIds.reset();
  }

  onBatch(): void {
    // The batch's records may lie in the inflater's output, which the next batch overwrites.
    memory.fill(changetype<usize>(this.lastLen), 0xff, <usize>this.lastLen.length << 2); // all -1
  }

  onRecord(data: Uint8Array, keyStart: i32, keyLen: i32): void {
    this.records++;
    this.header = 0;
    if (!RECORD_KEY_AS_MESSAGE_ID || keyLen <= 0) return;
    this.messageIds.add(data.dataStart + <usize>keyStart, capped(keyLen));
  }

  onHeader(data: Uint8Array, keyStart: i32, keyLen: i32, valueStart: i32, valueLen: i32): void {
    const h = this.header++;
    const key = data.dataStart + <usize>keyStart;
    const slot = h < KEY_MEMO ? changetype<usize>(this.memo) + (<usize>h << MEMO_SLOT_SHIFT) : 0;
    let rank: i32;
    let kind: i32;
    if (slot != 0 && load<i32>(slot) == keyLen && sameKey(slot + 12, key, keyLen)) {
      rank = load<i32>(slot, 4);
      kind = load<i32>(slot, 8);
    } else {
      rank = this.collector.keys.findBytes(data, keyStart, keyLen);
      kind = rank >= 0 && rank < this.kinds.length ? <i32>unchecked(this.kinds[rank]) : KIND_NONE;
      if (slot != 0) {
        store<i32>(slot, keyLen <= MEMO_KEY_MAX ? keyLen : -1);
        store<i32>(slot, rank, 4);
        store<i32>(slot, kind, 8);
        if (keyLen <= MEMO_KEY_MAX) memory.copy(slot + 12, key, <usize>keyLen);
      }
    }
    // Span and parent span ids, and plain attributes: the first record's stand.
    if (kind == KIND_NONE || (kind == KIND_FIRST_ONLY && this.records > 1)) return;
    this.take(data, rank, kind, valueStart, valueLen);
  }

  /** A header value for the rule at `rank` (of `kind`): out of onHeader, which then stays small enough to inline. */
  private take(data: Uint8Array, rank: i32, kind: i32, valueStart: i32, valueLen: i32): void {
    const n = capped(valueLen);
    const at = data.dataStart + <usize>valueStart;
    if (kind == KIND_MESSAGE_ID) {
      this.messageIds.add(at, n);
    } else if (kind == KIND_REQUEST_ID) {
      this.requestIds.add(at, n);
      if (rank < this.requestRank) {
        this.requestRank = rank;
        this.collector.offerBytes(rank, data, valueStart, n, false);
      }
    } else if (this.records <= 1) {
      this.collector.offerBytes(rank, data, valueStart, n);
      this.remember(rank, at, n);
    } else {
      // A trace kind: only a trace id not seen yet adds something (to trace_ids).
      if (unchecked(this.lastLen[rank]) == n && sameBytes(unchecked(this.lastAt[rank]), at, n)) return;
      this.collector.offerTraceIdBytes(rank, data, valueStart, n);
      this.remember(rank, at, n);
    }
  }

  private remember(rank: i32, at: usize, n: i32): void {
    store<usize>(changetype<usize>(this.lastAt) + (<usize>rank << alignof<usize>()), at);
    store<i32>(changetype<usize>(this.lastLen) + (<usize>rank << 2), n);
  }
}

/** A header value's length as taken: a null value (-1) as empty, longer ones cut. */
function capped(len: i32): i32 {
  return len <= 0 ? 0 : len < MAX_HEADER_VALUE ? len : MAX_HEADER_VALUE;
}

/** Shared scratch state of one decode call. */
export class Decoder {
  place: Place = new Place();
  errors: ErrorPick = new ErrorPick();
  summary: RecordSetSummary = new RecordSetSummary();
  records: RecordSetReader;
  /** The topic being read. */
  private name: TopicName = new TopicName();

  constructor(public sink: HeaderSink, maxInflate: i32) {
    this.records = new RecordSetReader(maxInflate);
  }

  reset(): void {
    this.place.reset();
    this.errors.reset();
    this.summary.reset();
    this.sink.reset();
  }

  private recordSet(r: KafkaReader): void {
    const size = r.bytesLength();
    if (size <= 0 || r.short) return;
    this.records.read(r.data, r.pos, size, this.sink, this.summary);
    r.skip(size);
  }

  // ---- requests ----

  /** Decodes a request body; fills the request's domain/resource/endpoint and attributes. */
  request(r: KafkaReader, apiKey: i32, v: i32, info: L7ProtocolInfo): void {
    if (apiKey == API_PRODUCE) this.produceRequest(r, v, info);
    else if (apiKey == API_FETCH) this.fetchRequest(r, v, info);
    else if (apiKey == API_METADATA) this.metadataRequest(r, v);
    else if (apiKey == API_LIST_OFFSETS) this.listOffsetsRequest(r, v);
    else if (apiKey == API_OFFSET_FETCH && v >= 8) {
      if (r.arrayLength() > 0) groupId(r, info);
    } else if (apiKey == API_OFFSET_COMMIT || apiKey == API_OFFSET_FETCH || apiKey == API_JOIN_GROUP ||
      apiKey == API_HEARTBEAT || apiKey == API_LEAVE_GROUP || apiKey == API_SYNC_GROUP) {
      groupId(r, info);
    } else if (apiKey == API_FIND_COORDINATOR) {
      if (v >= 4) {
        r.skip(1);
        if (r.arrayLength() <= 0) return;
      }
      attrString(r, info, "coordinator_key", 0);
    }
  }

  private produceRequest(r: KafkaReader, v: i32, info: L7ProtocolInfo): void {
    if (v >= 3) {
      attrString(r, info, "transactional_id", 0);
    }
    r.skip(2 + 4); // acks, timeout
    this.topics(r, v, PRODUCE_REQUEST);
  }

  private fetchRequest(r: KafkaReader, v: i32, info: L7ProtocolInfo): void {
    if (v <= 14) r.skip(4); // replica id (a tagged field from v15)
    r.skip(4 + 4); // max wait, min bytes
    if (v >= 3) r.skip(4); // max bytes
    if (v >= 4) r.skip(1); // isolation level
    if (v >= 7) r.skip(4 + 4); // session id, epoch
    this.topics(r, v, FETCH_REQUEST);
    if (this.place.hasOffset) attrDecimal(info, "fetch_offset", this.place.offset);
  }

  /**
   * The topics array of Produce and Fetch requests and of Produce, Fetch and OffsetCommit
   * responses (`kind`): each topic's name (a topic id in Fetch v13+), each partition's index,
   * error code, offset and record set.
   */
  private topics(r: KafkaReader, v: i32, kind: i32): void {
    const place = this.place;
    const topics = r.arrayLength();
    for (let t = 0; t < topics && !r.short; t++) {
      const name = (kind == FETCH_REQUEST || kind == FETCH_RESPONSE) && v >= 13 ? this.name.readId(r) : this.name.read(r);
      place.topics++;
      const partitions = r.arrayLength();
      for (let p = 0; p < partitions && !r.short; p++) {
        const index = r.i32be();
        let offset: i64 = 0;
        let code = 0;
        if (kind == PRODUCE_REQUEST) {
          if (r.short) break;
          place.see(name, index);
          this.recordSet(r);
          r.tags();
          continue;
        }
        if (kind == FETCH_REQUEST) {
          if (v >= 9) r.skip(4); // current leader epoch
          offset = r.i64be();
          if (v >= 12) r.skip(4); // last fetched epoch
          if (v >= 5) r.skip(8); // log start offset
          r.skip(4); // partition max bytes
          r.tags();
          if (r.short) break;
          if (place.see(name, index)) {
            place.offset = offset;
            place.hasOffset = true;
          }
          continue;
        }
        code = r.i16be();
        if (kind == COMMIT_RESPONSE) {
          r.tags();
          if (r.short) break;
          this.errors.offer(code);
          place.see(name, index);
          continue;
        }
        // Produce: base offset; Fetch: high watermark.
        offset = r.i64be();
        if (r.short) break;
        this.errors.offer(code);
        if (place.see(name, index)) {
          place.offset = offset;
          place.hasOffset = kind == PRODUCE_RESPONSE;
        }
        if (kind == PRODUCE_RESPONSE) {
          if (v >= 2) r.skip(8); // log append time
          if (v >= 5) r.skip(8); // log start offset
          if (v >= 8) {
            const recordErrors = r.arrayLength();
            for (let e = 0; e < recordErrors && !r.short; e++) {
              r.skip(4);
              r.skipString();
              r.tags();
            }
            const n = r.stringBytes();
            if (n >= 0 && code != 0 && this.errors.code == code && this.errors.messageLen < 0) {
              this.errors.messageAt = r.spanAt;
              this.errors.messageLen = n;
            }
          }
        } else {
          if (v >= 4) r.skip(8); // last stable offset
          if (v >= 5) r.skip(8); // log start offset
          if (v >= 4) {
            const aborted = r.arrayLength();
            for (let a = 0; a < aborted && !r.short; a++) {
              r.skip(16);
              r.tags();
            }
          }
          if (v >= 11) r.skip(4); // preferred read replica
          this.recordSet(r);
        }
        r.tags();
      }
      r.tags();
    }
  }

  private metadataRequest(r: KafkaReader, v: i32): void {
    const topics = r.arrayLength();
    if (topics <= 0) return;
    if (v >= 10) r.skip(16); // topic id
    this.place.topics = topics;
    this.place.see(this.name.read(r), -1);
  }

  private listOffsetsRequest(r: KafkaReader, v: i32): void {
    r.skip(4); // replica id
    if (v >= 2) r.skip(1); // isolation level
    const topics = r.arrayLength();
    if (topics <= 0) return;
    this.place.topics = topics;
    const name = this.name.read(r);
    if (r.arrayLength() <= 0) return;
    const index = r.i32be();
    if (!r.short) this.place.see(name, index);
  }

  // ---- responses ----

  /** Decodes a response body: errors, offsets, fetched records. */
  response(r: KafkaReader, apiKey: i32, v: i32, info: L7ProtocolInfo): void {
    if (apiKey == API_PRODUCE) this.produceResponse(r, v, info);
    else if (apiKey == API_FETCH) this.fetchResponse(r, v);
    else if (apiKey == API_OFFSET_COMMIT) this.offsetCommitResponse(r, v);
    else {
      const at = topLevelError(apiKey, v);
      if (at == ERROR_FIRST) this.errors.offer(r.i16be());
      else if (at == ERROR_AFTER_THROTTLE) {
        r.skip(4);
        this.errors.offer(r.i16be());
      }
      if (r.short) this.errors.seen = false;
    }
  }

  private produceResponse(r: KafkaReader, v: i32, info: L7ProtocolInfo): void {
    this.topics(r, v, PRODUCE_RESPONSE);
    if (this.place.hasOffset) attrDecimal(info, "offset", this.place.offset);
  }

  private fetchResponse(r: KafkaReader, v: i32): void {
    if (v >= 1) r.skip(4); // throttle time
    if (v >= 7) {
      const code = r.i16be();
      if (!r.short) this.errors.offer(code);
      r.skip(4); // session id
    }
    this.topics(r, v, FETCH_RESPONSE);
  }

  private offsetCommitResponse(r: KafkaReader, v: i32): void {
    if (v >= 3) r.skip(4);
    this.topics(r, v, COMMIT_RESPONSE);
  }
}

// Decoder.topics: which message's topics array.
const PRODUCE_REQUEST: i32 = 0;
const FETCH_REQUEST: i32 = 1;
const PRODUCE_RESPONSE: i32 = 2;
const FETCH_RESPONSE: i32 = 3;
const COMMIT_RESPONSE: i32 = 4;

function groupId(r: KafkaReader, info: L7ProtocolInfo): void {
  attrString(r, info, "group_id", 1);
}

/** A string field as attribute `key` (its UTF-8 made valid, cut to 256 bytes), when at least `least` bytes long. */
function attrString(r: KafkaReader, info: L7ProtocolInfo, key: string, least: i32): void {
  const n = r.stringBytes();
  if (n >= least) info.attrBytes(key, r.spanAt, n);
}

const ERROR_NONE: i32 = 0;
const ERROR_FIRST: i32 = 1;
const ERROR_AFTER_THROTTLE: i32 = 2;

/** Where a response's top-level error code sits, for apis that have one up front. */
function topLevelError(apiKey: i32, v: i32): i32 {
  if (apiKey == API_API_VERSIONS || apiKey == API_SASL_HANDSHAKE || apiKey == API_SASL_AUTHENTICATE ||
    apiKey == API_CONTROLLED_SHUTDOWN) return ERROR_FIRST;
  if (apiKey == API_JOIN_GROUP) return v >= 2 ? ERROR_AFTER_THROTTLE : ERROR_FIRST;
  if (apiKey == API_HEARTBEAT || apiKey == API_LEAVE_GROUP || apiKey == API_SYNC_GROUP || apiKey == API_LIST_GROUPS) {
    return v >= 1 ? ERROR_AFTER_THROTTLE : ERROR_FIRST;
  }
  if (apiKey == API_FIND_COORDINATOR) {
    if (v >= 4) return ERROR_NONE; // one error per coordinator key
    return v >= 1 ? ERROR_AFTER_THROTTLE : ERROR_FIRST;
  }
  if (apiKey == API_INIT_PRODUCER_ID || apiKey == API_ADD_OFFSETS_TO_TXN || apiKey == API_END_TXN ||
    apiKey == API_DESCRIBE_CLUSTER || apiKey == API_CONSUMER_GROUP_HEARTBEAT) return ERROR_AFTER_THROTTLE;
  return ERROR_NONE;
}

/**
 * Response status of a Kafka error code: retriable errors (leader moves, timeouts,
 * coordinators loading, ...) and UNKNOWN_SERVER_ERROR are the broker's; the
 * non-retriable rest (authorization, invalid requests, sizes, group membership)
 * answer something the client asked. Codes Kafka does not assign count as the
 * broker's, as the agent's parser counts every error.
 */
export function statusOfError(code: i32): i32 {
  if (code == 0) return RESP_OK;
  if (code == -1 || errorRetriable(code) || errorName(code).length == 0) return RESP_SERVER_ERROR;
  return RESP_CLIENT_ERROR;
}

/**
 * The exception text of an error code, written into the record's store: its name
 * ("NOT_LEADER_OR_FOLLOWER", or "error 1234" for unassigned codes) + ": " + the broker's
 * message when there is one (written as bytes: no string is made).
 */
export function writeException(info: L7ProtocolInfo, code: i32, errors: ErrorPick): void {
  const w = info.store();
  const at = w.len;
  const name = errorName(code);
  if (name.length > 0) {
    w.utf8(name);
  } else {
    w.utf8("error ");
    w.ensure(21);
    w.len = writeDecimal(w.dataStart, w.len, code);
  }
  if (errors.messageLen > 0) {
    w.utf8(": ");
    w.utf8Bytes(errors.messageAt, errors.messageLen);
  }
  info.response().setSpan(Response.EXCEPTION, at, w.len - at);
}

/** Scratch for attribute values written as bytes (no string made). */
export const digits = new ByteWriter(32);

/** An attribute holding v in decimal (and `unit` after it, when given). */
export function attrDecimal(info: L7ProtocolInfo, key: string, v: i64, unit: string | null = null): void {
  const w = digits;
  w.reset();
  w.ensure(21);
  w.len = writeDecimal(w.dataStart, 0, v);
  if (unit !== null) w.utf8(unit);
  info.attrBytes(key, w.dataStart, w.len, true);
}
