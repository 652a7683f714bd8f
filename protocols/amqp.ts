// AMQP 0-9-1 on the wire: frames, class/method ids with the names DeepFlow's own AMQP
// parser gives them, basic content-header properties, and field tables.
//
// Field tables use RabbitMQ's type letters (its "0-9-1 errata"), which every broker and
// client in use follows, not the spec's table: 's' is a signed 16-bit int (the spec's
// short string does not exist), 'l' a signed 64-bit int, 'x' a byte array, and arrays
// ('A') carry a byte length, not a count.
//
// Nothing here traps on bad input: readers stop and set `bad` (malformed) or `cut`
// (ran past the end of the bytes at hand, e.g. a truncated payload).
import { ByteWriter, NameList, readU16be, readU32be } from "../assembly/index";

export const AMQP_FRAME_METHOD: u32 = 1;
export const AMQP_FRAME_HEADER: u32 = 2;
export const AMQP_FRAME_BODY: u32 = 3;
export const AMQP_FRAME_HEARTBEAT: u32 = 8;
export const AMQP_FRAME_END: u32 = 0xce;
/** type (1) + channel (2) + size (4). */
export const AMQP_FRAME_HEAD_LEN: i32 = 7;
/** Head + frame-end byte. */
export const AMQP_FRAME_OVERHEAD: i32 = 8;
/** "AMQP" 0 0 9 1. */
export const AMQP_PROTOCOL_HEADER_LEN: i32 = 8;

export const AMQP_CONNECTION: u32 = 10;
export const AMQP_CHANNEL: u32 = 20;
export const AMQP_EXCHANGE: u32 = 40;
export const AMQP_QUEUE: u32 = 50;
export const AMQP_BASIC: u32 = 60;
export const AMQP_CONFIRM: u32 = 85;
export const AMQP_TX: u32 = 90;

/** True when `data` holds the 0-9-1 protocol header at `at`. */
export function isAmqpProtocolHeader(data: Uint8Array, at: i32): bool {
  return readU32be(data, at) == 0x414d5150 && readU32be(data, at + 4) == 0x00000901;
}

/** True when `data` holds "AMQP" + any version at `at` (a broker answers a bad version with its own). */
export function isAnyAmqpProtocolHeader(data: Uint8Array, at: i32): bool {
  // 'A' first: no frame type starts with it, so frames cost one compare here.
  return at >= 0 && at + AMQP_PROTOCOL_HEADER_LEN <= data.length && unchecked(data[at]) == 0x41 && readU32be(data, at) == 0x414d5150;
}

export function isAmqpFrameType(type: u32): bool {
  return type == AMQP_FRAME_METHOD || type == AMQP_FRAME_HEADER || type == AMQP_FRAME_BODY || type == AMQP_FRAME_HEARTBEAT;
}

/** The class name of the agent's AMQP parser, null for an unknown class. */
export function amqpClassName(classId: u32): string | null {
  switch (classId) {
    case AMQP_CONNECTION: return "Connection";
    case AMQP_CHANNEL: return "Channel";
    case AMQP_EXCHANGE: return "Exchange";
    case AMQP_QUEUE: return "Queue";
    case AMQP_BASIC: return "Basic";
    case AMQP_CONFIRM: return "Confirm";
    case AMQP_TX: return "Tx";
  }
  return null;
}

// What a method is, as the agent's AMQP parser classifies it (get_log_message_type):
// a synchronous request, the reply to one, or a one-way message.
export const AMQP_KIND_REQUEST: u32 = 1;
export const AMQP_KIND_REPLY: u32 = 2;
export const AMQP_KIND_ONEWAY: u32 = 3;
// Who may send it (0-9-1 spec, plus RabbitMQ's extensions: server-sent Basic.Cancel,
// publisher confirms' Basic.Ack/Nack, Connection.Blocked/Update-Secret).
export const AMQP_FROM_CLIENT: u32 = 1;
export const AMQP_FROM_SERVER: u32 = 2;
export const AMQP_FROM_BOTH: u32 = 3;

const R: u8 = <u8>AMQP_KIND_REQUEST;
const A: u8 = <u8>AMQP_KIND_REPLY;
const O: u8 = <u8>AMQP_KIND_ONEWAY;
const C: u8 = <u8>(AMQP_FROM_CLIENT << 4);
const S: u8 = <u8>(AMQP_FROM_SERVER << 4);
const B: u8 = <u8>(AMQP_FROM_BOTH << 4);

// Static tables (no start-up code): every method's name, and its kind | sender << 4,
// class by class in method-id order; *_BASE is where a class starts.
const CONNECTION_BASE = 0;
const CHANNEL_BASE = 14;
const EXCHANGE_BASE = 20;
const QUEUE_BASE = 28;
const BASIC_BASE = 38;
const TX_BASE = 56;
const CONFIRM_BASE = 62;
// Every method's name as ASCII, comma-separated (a NameList: half a string literal's size).
const METHOD_NAMES = new NameList([
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 83, 116, 97, 114, 116, 44,  // Connection.Start
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 83, 116, 97, 114, 116, 79, 107, 44,  // Connection.StartOk
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 83, 101, 99, 117, 114, 101, 44,  // Connection.Secure
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 83, 101, 99, 117, 114, 101, 79, 107, 44,  // Connection.SecureOk
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 84, 117, 110, 101, 44,  // Connection.Tune
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 84, 117, 110, 101, 79, 107, 44,  // Connection.TuneOk
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 79, 112, 101, 110, 44,  // Connection.Open
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 79, 112, 101, 110, 79, 107, 44,  // Connection.OpenOk
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 67, 108, 111, 115, 101, 44,  // Connection.Close
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 67, 108, 111, 115, 101, 79, 107, 44,  // Connection.CloseOk
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 66, 108, 111, 99, 107, 101, 100, 44,  // Connection.Blocked
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 85, 110, 98, 108, 111, 99, 107, 101, 100, 44,  // Connection.Unblocked
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 85, 112, 100, 97, 116, 101, 83, 101, 99, 114, 101, 116, 44,  // Connection.UpdateSecret
  67, 111, 110, 110, 101, 99, 116, 105, 111, 110, 46, 85, 112, 100, 97, 116, 101, 83, 101, 99, 114, 101, 116, 79, 107, 44,  // Connection.UpdateSecretOk
  67, 104, 97, 110, 110, 101, 108, 46, 79, 112, 101, 110, 44,  // Channel.Open
  67, 104, 97, 110, 110, 101, 108, 46, 79, 112, 101, 110, 79, 107, 44,  // Channel.OpenOk
  67, 104, 97, 110, 110, 101, 108, 46, 70, 108, 111, 119, 44,  // Channel.Flow
  67, 104, 97, 110, 110, 101, 108, 46, 70, 108, 111, 119, 79, 107, 44,  // Channel.FlowOk
  67, 104, 97, 110, 110, 101, 108, 46, 67, 108, 111, 115, 101, 44,  // Channel.Close
  67, 104, 97, 110, 110, 101, 108, 46, 67, 108, 111, 115, 101, 79, 107, 44,  // Channel.CloseOk
  69, 120, 99, 104, 97, 110, 103, 101, 46, 68, 101, 99, 108, 97, 114, 101, 44,  // Exchange.Declare
  69, 120, 99, 104, 97, 110, 103, 101, 46, 68, 101, 99, 108, 97, 114, 101, 79, 107, 44,  // Exchange.DeclareOk
  69, 120, 99, 104, 97, 110, 103, 101, 46, 68, 101, 108, 101, 116, 101, 44,  // Exchange.Delete
  69, 120, 99, 104, 97, 110, 103, 101, 46, 68, 101, 108, 101, 116, 101, 79, 107, 44,  // Exchange.DeleteOk
  69, 120, 99, 104, 97, 110, 103, 101, 46, 66, 105, 110, 100, 44,  // Exchange.Bind
  69, 120, 99, 104, 97, 110, 103, 101, 46, 66, 105, 110, 100, 79, 107, 44,  // Exchange.BindOk
  69, 120, 99, 104, 97, 110, 103, 101, 46, 85, 110, 98, 105, 110, 100, 44,  // Exchange.Unbind
  69, 120, 99, 104, 97, 110, 103, 101, 46, 85, 110, 98, 105, 110, 100, 79, 107, 44,  // Exchange.UnbindOk
  81, 117, 101, 117, 101, 46, 68, 101, 99, 108, 97, 114, 101, 44,  // Queue.Declare
  81, 117, 101, 117, 101, 46, 68, 101, 99, 108, 97, 114, 101, 79, 107, 44,  // Queue.DeclareOk
  81, 117, 101, 117, 101, 46, 66, 105, 110, 100, 44,  // Queue.Bind
  81, 117, 101, 117, 101, 46, 66, 105, 110, 100, 79, 107, 44,  // Queue.BindOk
  81, 117, 101, 117, 101, 46, 80, 117, 114, 103, 101, 44,  // Queue.Purge
  81, 117, 101, 117, 101, 46, 80, 117, 114, 103, 101, 79, 107, 44,  // Queue.PurgeOk
  81, 117, 101, 117, 101, 46, 68, 101, 108, 101, 116, 101, 44,  // Queue.Delete
  81, 117, 101, 117, 101, 46, 68, 101, 108, 101, 116, 101, 79, 107, 44,  // Queue.DeleteOk
  81, 117, 101, 117, 101, 46, 85, 110, 98, 105, 110, 100, 44,  // Queue.Unbind
  81, 117, 101, 117, 101, 46, 85, 110, 98, 105, 110, 100, 79, 107, 44,  // Queue.UnbindOk
  66, 97, 115, 105, 99, 46, 81, 111, 115, 44,  // Basic.Qos
  66, 97, 115, 105, 99, 46, 81, 111, 115, 79, 107, 44,  // Basic.QosOk
  66, 97, 115, 105, 99, 46, 67, 111, 110, 115, 117, 109, 101, 44,  // Basic.Consume
  66, 97, 115, 105, 99, 46, 67, 111, 110, 115, 117, 109, 101, 79, 107, 44,  // Basic.ConsumeOk
  66, 97, 115, 105, 99, 46, 67, 97, 110, 99, 101, 108, 44,  // Basic.Cancel
  66, 97, 115, 105, 99, 46, 67, 97, 110, 99, 101, 108, 79, 107, 44,  // Basic.CancelOk
  66, 97, 115, 105, 99, 46, 80, 117, 98, 108, 105, 115, 104, 44,  // Basic.Publish
  66, 97, 115, 105, 99, 46, 82, 101, 116, 117, 114, 110, 44,  // Basic.Return
  66, 97, 115, 105, 99, 46, 68, 101, 108, 105, 118, 101, 114, 44,  // Basic.Deliver
  66, 97, 115, 105, 99, 46, 71, 101, 116, 44,  // Basic.Get
  66, 97, 115, 105, 99, 46, 71, 101, 116, 79, 107, 44,  // Basic.GetOk
  66, 97, 115, 105, 99, 46, 71, 101, 116, 69, 109, 112, 116, 121, 44,  // Basic.GetEmpty
  66, 97, 115, 105, 99, 46, 65, 99, 107, 44,  // Basic.Ack
  66, 97, 115, 105, 99, 46, 82, 101, 106, 101, 99, 116, 44,  // Basic.Reject
  66, 97, 115, 105, 99, 46, 82, 101, 99, 111, 118, 101, 114, 65, 115, 121, 110, 99, 44,  // Basic.RecoverAsync
  66, 97, 115, 105, 99, 46, 82, 101, 99, 111, 118, 101, 114, 44,  // Basic.Recover
  66, 97, 115, 105, 99, 46, 82, 101, 99, 111, 118, 101, 114, 79, 107, 44,  // Basic.RecoverOk
  66, 97, 115, 105, 99, 46, 78, 97, 99, 107, 44,  // Basic.Nack
  84, 120, 46, 83, 101, 108, 101, 99, 116, 44,  // Tx.Select
  84, 120, 46, 83, 101, 108, 101, 99, 116, 79, 107, 44,  // Tx.SelectOk
  84, 120, 46, 67, 111, 109, 109, 105, 116, 44,  // Tx.Commit
  84, 120, 46, 67, 111, 109, 109, 105, 116, 79, 107, 44,  // Tx.CommitOk
  84, 120, 46, 82, 111, 108, 108, 98, 97, 99, 107, 44,  // Tx.Rollback
  84, 120, 46, 82, 111, 108, 108, 98, 97, 99, 107, 79, 107, 44,  // Tx.RollbackOk
  67, 111, 110, 102, 105, 114, 109, 46, 83, 101, 108, 101, 99, 116, 44,  // Confirm.Select
  67, 111, 110, 102, 105, 114, 109, 46, 83, 101, 108, 101, 99, 116, 79, 107, 44,  // Confirm.SelectOk
], 64);
const METHOD_TRAITS: StaticArray<u8> = [
  R | S, A | C, R | S, A | C, R | S, A | C, R | C, A | S, R | B, A | B, O | S, O | S, R | S, A | C,
  R | C, A | S, R | B, A | B, R | B, A | B,
  R | C, A | S, R | C, A | S, R | C, A | S, R | C, A | S,
  R | C, A | S, R | C, A | S, R | C, A | S, R | C, A | S, R | C, A | S,
  R | C, A | S, R | C, A | S, R | B, A | B, O | C, O | S, O | S, R | C, A | S, A | S,
  O | B, O | C, O | C, R | C, A | S, O | B,
  R | C, A | S, R | C, A | S, R | C, A | S,
  R | C, A | S,
];

// Every method's id, in the order of the tables above.
const METHOD_IDS: StaticArray<u8> = [
  10, 11, 20, 21, 30, 31, 40, 41, 50, 51, 60, 61, 70, 71,
  10, 11, 20, 21, 40, 41,
  10, 11, 20, 21, 30, 31, 40, 51,
  10, 11, 20, 21, 30, 31, 40, 41, 50, 51,
  10, 11, 20, 21, 30, 31, 40, 50, 60, 70, 71, 72, 80, 90, 100, 110, 111, 120,
  10, 11, 20, 21, 30, 31,
  10, 11,
];

/**
 * A known method's index into the method tables, -1 when the class/method pair is not
 * one of 0-9-1's (RabbitMQ's extensions included).
 */
export function amqpMethodIndex(classId: u32, methodId: u32): i32 {
  let from: i32;
  let to: i32;
  switch (classId) {
    case AMQP_CONNECTION: from = CONNECTION_BASE; to = CHANNEL_BASE; break;
    case AMQP_CHANNEL: from = CHANNEL_BASE; to = EXCHANGE_BASE; break;
    case AMQP_EXCHANGE: from = EXCHANGE_BASE; to = QUEUE_BASE; break;
    case AMQP_QUEUE: from = QUEUE_BASE; to = BASIC_BASE; break;
    case AMQP_BASIC: from = BASIC_BASE; to = TX_BASE; break;
    case AMQP_TX: from = TX_BASE; to = CONFIRM_BASE; break;
    case AMQP_CONFIRM: from = CONFIRM_BASE; to = METHOD_IDS.length; break;
    default: return -1;
  }
  for (let i = from; i < to; i++) {
    if (<u32>unchecked(METHOD_IDS[i]) == methodId) return i;
  }
  return -1;
}

/** "Class.Method" as the agent's AMQP parser spells it (e.g. "Queue.DeclareOk"); "" for an invalid index. */
export function amqpMethodName(index: i32): string {
  return METHOD_NAMES.get(index);
}

/** AMQP_KIND_* of a method, 0 for an invalid index. */
export function amqpMethodKind(index: i32): u32 {
  return index >= 0 && index < METHOD_TRAITS.length ? <u32>unchecked(METHOD_TRAITS[index]) & 15 : 0;
}

/** AMQP_FROM_* of a method, 0 for an invalid index. */
export function amqpMethodFrom(index: i32): u32 {
  return index >= 0 && index < METHOD_TRAITS.length ? <u32>unchecked(METHOD_TRAITS[index]) >> 4 : 0;
}

/**
 * One frame's head at `at`: `complete` when its payload and frame-end byte are all in
 * `data` (then `endOk` says whether the end byte is right).
 */
export class AmqpFrame {
  type: u32 = 0;
  channel: u32 = 0;
  size: u32 = 0;
  /** Offset of the frame payload. */
  start: i32 = 0;
  complete: bool = false;
  endOk: bool = false;

  /** Bytes of the whole frame including head and end byte (an i64: garbage sizes exceed i32). */
  get totalLen(): i64 {
    return <i64>this.size + <i64>AMQP_FRAME_OVERHEAD;
  }

  /** Reads the head at `at`; false when fewer than 7 bytes are there. */
  read(data: Uint8Array, at: i32): bool {
    if (at < 0 || at + AMQP_FRAME_HEAD_LEN > data.length) return false;
    // Bounds checked above (here and in the readers below): unchecked loads.
    this.type = unchecked(data[at]);
    const p = data.dataStart + <usize>at;
    this.channel = <u32>bswap<u16>(load<u16>(p, 1));
    this.size = bswap<u32>(load<u32>(p, 3));
    this.start = at + AMQP_FRAME_HEAD_LEN;
    const endAt = <i64>this.start + <i64>this.size;
    this.complete = endAt < <i64>data.length;
    this.endOk = this.complete && <u32>unchecked(data[<i32>endAt]) == AMQP_FRAME_END;
    return true;
  }
}

// ---- basic content-header properties (class 60) ----

/** Property flag bits, in wire order. */
export const PROP_CONTENT_TYPE: u32 = 1 << 15;
export const PROP_CONTENT_ENCODING: u32 = 1 << 14;
export const PROP_HEADERS: u32 = 1 << 13;
export const PROP_DELIVERY_MODE: u32 = 1 << 12;
export const PROP_PRIORITY: u32 = 1 << 11;
export const PROP_CORRELATION_ID: u32 = 1 << 10;
export const PROP_REPLY_TO: u32 = 1 << 9;
export const PROP_EXPIRATION: u32 = 1 << 8;
export const PROP_MESSAGE_ID: u32 = 1 << 7;
export const PROP_TIMESTAMP: u32 = 1 << 6;
export const PROP_TYPE: u32 = 1 << 5;
export const PROP_USER_ID: u32 = 1 << 4;
export const PROP_APP_ID: u32 = 1 << 3;
/** Deprecated in 0-9-1 ("reserved"), still a shortstr when set. */
export const PROP_CLUSTER_ID: u32 = 1 << 2;

// By flag bit, 15 (content-type) down to 2 (cluster-id).
const PROPERTY_NAMES: StaticArray<string> = [
  "content_type", "content_encoding", "headers", "delivery_mode", "priority", "correlation_id", "reply_to",
  "expiration", "message_id", "timestamp", "type", "user_id", "app_id", "cluster_id",
];

/** Attribute-style name of one property flag ("message_id", ...); "" when not a property's flag. */
export function amqpPropertyName(flag: u32): string {
  const i = <i32>clz(flag) - 16;
  return popcnt(flag) == 1 && i >= 0 && i < PROPERTY_NAMES.length ? unchecked(PROPERTY_NAMES[i]) : "";
}

/**
 * A content-header frame payload: class, body size and the basic properties. Walk the
 * properties with next(); each gives its flag, and for text/number properties `text()`.
 * The headers table is handed out as a table reader (`headers()`).
 */
export class AmqpContentHeader {
  classId: u32 = 0;
  weight: u32 = 0;
  bodySize: u64 = 0;
  flags: u32 = 0;
  /** The payload ended before all properties. */
  cut: bool = false;
  /** Current property: its flag and where its value sits. */
  flag: u32 = 0;
  valueAt: i32 = 0;
  valueLen: i32 = 0;
  private pos: i32 = 0;
  private end: i32 = 0;
  private nextBit: i32 = 15;

  private table: AmqpFieldTable | null = null;

  constructor(public data: Uint8Array, start: i32, end: i32) {
    this.read(data, start, end);
  }

  /** Starts over on another content header, as a new reader would (one reader serves every frame). */
  read(data: Uint8Array, start: i32, end: i32): AmqpContentHeader {
    this.data = data;
    this.classId = 0;
    this.weight = 0;
    this.bodySize = 0;
    this.flags = 0;
    this.cut = false;
    this.flag = 0;
    this.valueAt = 0;
    this.valueLen = 0;
    this.nextBit = 15;
    this.pos = start;
    this.end = end < data.length ? end : data.length;
    if (this.pos + 14 > this.end) {
      this.stop();
    } else {
      this.classId = readU16be(data, this.pos);
      this.weight = readU16be(data, this.pos + 2);
      this.bodySize = (<u64>readU32be(data, this.pos + 4) << 32) | <u64>readU32be(data, this.pos + 8);
      this.flags = readU16be(data, this.pos + 12);
      this.pos += 14;
      // A set bit 0 means more flag words follow (none are defined for class Basic).
      let more = (this.flags & 1) != 0;
      while (more && this.nextBit >= 0) {
        if (this.pos + 2 > this.end) this.stop();
        else {
          more = (readU16be(data, this.pos) & 1) != 0;
          this.pos += 2;
        }
      }
    }
    return this;
  }

  /** Moves to the next present property; false at the end or when cut. */
  next(): bool {
    while (this.nextBit >= 2) {
      const flag = (<u32>1) << <u32>this.nextBit;
      this.nextBit--;
      if ((this.flags & flag) == 0) continue;
      let len: i32 = 0;
      let at = this.pos;
      if (flag == PROP_HEADERS) {
        if (at + 4 > this.end) return this.stop();
        len = 4 + <i32>readU32be(this.data, at);
        if (len < 4) return this.stop();
      } else if (flag == PROP_DELIVERY_MODE || flag == PROP_PRIORITY) {
        len = 1;
      } else if (flag == PROP_TIMESTAMP) {
        len = 8;
      } else {
        if (at + 1 > this.end) return this.stop();
        len = <i32>unchecked(this.data[at]);
        at++;
        this.pos++;
      }
      this.flag = flag;
      this.valueAt = at;
      // (len - not at + len: a headers length near 2^31 must not wrap past the check.)
      if (len > this.end - at) {
        // The headers table may be partly there: hand out what is.
        if (flag != PROP_HEADERS) return this.stop();
        this.valueLen = this.end - at;
        this.pos = this.end;
        this.cut = true;
        this.nextBit = -1;
        return true;
      }
      this.valueLen = len;
      this.pos = at + len;
      return true;
    }
    return false;
  }

  private stop(): bool {
    this.cut = true;
    this.nextBit = -1;
    this.pos = this.end;
    return false;
  }

  /** True when text() of the current property is its bytes as they are (the shortstr properties). */
  isRawText(): bool {
    const flag = this.flag;
    return flag != PROP_DELIVERY_MODE && flag != PROP_PRIORITY && flag != PROP_TIMESTAMP && flag != PROP_HEADERS;
  }

  /** The current property as text (shortstr as UTF-8, octets and the timestamp as decimal). */
  text(): string {
    if (this.flag == PROP_DELIVERY_MODE || this.flag == PROP_PRIORITY) return (<u32>this.data[this.valueAt]).toString();
    if (this.flag == PROP_TIMESTAMP) {
      return ((<u64>readU32be(this.data, this.valueAt) << 32) | <u64>readU32be(this.data, this.valueAt + 4)).toString();
    }
    if (this.flag == PROP_HEADERS) return "";
    return String.UTF8.decodeUnsafe(this.data.dataStart + <usize>this.valueAt, <usize>this.valueLen);
  }

  /**
   * The headers table of the current property (only when `flag == PROP_HEADERS`); one
   * reader reused by every call, valid until the next.
   */
  headers(): AmqpFieldTable {
    const declared = <i64>readU32be(this.data, this.valueAt);
    const start = this.valueAt + 4;
    const avail = <i64>(this.valueAt + this.valueLen - start);
    const end = start + <i32>(declared < avail ? declared : avail);
    let t = this.table;
    if (t === null) {
      t = new AmqpFieldTable(this.data, start, end);
      this.table = t;
    } else {
      t.read(this.data, start, end, true);
    }
    if (declared > avail) t.cut = true;
    return t;
  }
}

// ---- field values and tables ----

export const FIELD_BOOL: u32 = 0x74; // t
export const FIELD_I8: u32 = 0x62; // b
export const FIELD_U8: u32 = 0x42; // B
export const FIELD_I16: u32 = 0x73; // s (RabbitMQ; the spec's 'U')
export const FIELD_U16: u32 = 0x75; // u
export const FIELD_I32: u32 = 0x49; // I
export const FIELD_U32: u32 = 0x69; // i
export const FIELD_I64: u32 = 0x6c; // l (RabbitMQ; the spec's 'L')
export const FIELD_F32: u32 = 0x66; // f
export const FIELD_F64: u32 = 0x64; // d
export const FIELD_DECIMAL: u32 = 0x44; // D: scale octet + u32 digits
export const FIELD_LONGSTR: u32 = 0x53; // S
export const FIELD_ARRAY: u32 = 0x41; // A: u32 byte length + values
export const FIELD_TIMESTAMP: u32 = 0x54; // T: u64 seconds
export const FIELD_TABLE: u32 = 0x46; // F
export const FIELD_VOID: u32 = 0x56; // V
export const FIELD_BYTES: u32 = 0x78; // x (RabbitMQ): u32 length + bytes

/** Nested tables/arrays deeper than this render as "…" (bounds recursion on hostile input). */
export const AMQP_MAX_RENDER_DEPTH: i32 = 8;

// Value size by tag letter, for 0x40 '@' .. 0x7f: a fixed size, V = a u32 length and
// that many bytes, U = no such tag. One table lookup instead of two chains of compares.
const U: u8 = 0xff;
const V: u8 = 0xfe;
const FIELD_SIZES: StaticArray<u8> = [
  U, V, 1, U, 5, U, V, U, U, 4, U, U, U, U, U, U, // @ABCDEFGHIJKLMNO
  U, U, U, V, 8, U, 0, U, U, U, U, U, U, U, U, U, // PQRSTUVWXYZ[\]^_
  U, U, 1, U, 8, U, 4, U, U, 4, U, U, 8, U, U, U, // `abcdefghijklmno
  U, U, U, 2, 1, 2, U, U, V, U, U, U, U, U, U, U, // pqrstuvwxyz{|}~
];

// @ts-expect-error: decorator
@inline function fieldSize(tag: u32): u32 {
  return tag - 0x40 < 0x40 ? <u32>unchecked(FIELD_SIZES[tag - 0x40]) : <u32>U;
}

/**
 * Bytes a value of type `tag` takes at `at` (after the tag byte), including any length
 * prefix; -1 for an unknown tag or a length prefix that is not there.
 */
export function amqpFieldValueLen(data: Uint8Array, tag: u32, at: i32, end: i32): i64 {
  const size = fieldSize(tag);
  if (size == <u32>U) return -1;
  if (size != <u32>V) return size;
  if (at + 4 > end) return -1;
  return 4 + <i64>readU32be(data, at);
}

/**
 * A cursor over a sequence of tagged values: the entries of a table (with keys) or the
 * items of an array. After next() returns true, `tag`, `valueAt` and `valueLen` describe
 * the current value. `cut` means the bytes ended inside a value (truncated input); `bad`
 * means something that cannot be AMQP (unknown tag).
 */
export class AmqpFieldCursor {
  tag: u32 = 0;
  valueAt: i32 = 0;
  valueLen: i32 = 0;
  bad: bool = false;
  cut: bool = false;
  protected pos: i32 = 0;

  constructor(public data: Uint8Array, public start: i32, public end: i32, public keyed: bool) {
    this.read(data, start, end, keyed);
  }

  /** Starts over on other bytes, as a new cursor would. */
  read(data: Uint8Array, start: i32, end: i32, keyed: bool): void {
    this.data = data;
    this.start = start < 0 ? 0 : start;
    this.end = end > data.length ? data.length : end;
    this.keyed = keyed;
    this.pos = this.start;
    this.tag = 0;
    this.valueAt = 0;
    this.valueLen = 0;
    this.keyAt = 0;
    this.keyLen = 0;
    this.bad = false;
    this.cut = false;
  }

  /** Key of the current table entry as raw bytes position/length (no allocation). */
  keyAt: i32 = 0;
  keyLen: i32 = 0;

  /** Moves to the next whole entry; false at the end, or where the bytes stop making sense. */
  next(): bool {
    if (this.pos >= this.end || this.bad) return false;
    let at = this.pos;
    if (this.keyed) {
      const klen = <i32>unchecked(this.data[at]);
      if (at + 1 + klen > this.end) return this.stopCut();
      this.keyAt = at + 1;
      this.keyLen = klen;
      at += 1 + klen;
    }
    if (at >= this.end) return this.stopCut();
    const tag = <u32>unchecked(this.data[at]);
    at++;
    if (fieldSize(tag) == <u32>U) {
      this.bad = true;
      this.pos = this.end;
      return false;
    }
    const len = amqpFieldValueLen(this.data, tag, at, this.end);
    // A value running past the bytes at hand is not handed out: a cut id would be a wrong id.
    if (len < 0 || <i64>at + len > <i64>this.end) return this.stopCut();
    this.tag = tag;
    this.valueAt = at;
    this.valueLen = <i32>len;
    this.pos = at + <i32>len;
    return true;
  }

  private stopCut(): bool {
    this.cut = true;
    this.pos = this.end;
    return false;
  }

  /** The key of the current entry (tables only). */
  key(): string {
    return String.UTF8.decodeUnsafe(this.data.dataStart + <usize>this.keyAt, <usize>this.keyLen);
  }

  /** True when the current key equals `ascii` exactly (no allocation). */
  keyIs(ascii: string): bool {
    if (ascii.length != this.keyLen) return false;
    for (let i = 0; i < this.keyLen; i++) {
      if (<u32>this.data[this.keyAt + i] != <u32>ascii.charCodeAt(i)) return false;
    }
    return true;
  }

  /** A cursor over the current value when it is a table ('F') or an array ('A'). */
  nested(): AmqpFieldCursor {
    const isTable = this.tag == FIELD_TABLE;
    const c = new AmqpFieldCursor(this.data, this.valueAt + 4, this.valueAt + this.valueLen, isTable);
    if (this.tag != FIELD_TABLE && this.tag != FIELD_ARRAY) c.bad = true;
    return c;
  }

  /** The current value as an integer (ints, bool, timestamp); 0 for other types. */
  int(): i64 {
    const d = this.data;
    const at = this.valueAt;
    switch (this.tag) {
      case FIELD_BOOL: return d[at] != 0 ? 1 : 0;
      case FIELD_I8: return <i64><i8>d[at];
      case FIELD_U8: return <i64>d[at];
      case FIELD_I16: return <i64><i16>readU16be(d, at);
      case FIELD_U16: return <i64>readU16be(d, at);
      case FIELD_I32: return <i64><i32>readU32be(d, at);
      case FIELD_U32: return <i64>readU32be(d, at);
      case FIELD_I64:
      case FIELD_TIMESTAMP:
        return <i64>((<u64>readU32be(d, at) << 32) | <u64>readU32be(d, at + 4));
    }
    return 0;
  }

  /**
   * The current value as text: strings as UTF-8; numbers in decimal (decimals with their
   * scale, timestamps as epoch seconds); booleans true/false; void as ""; byte arrays as
   * text when printable ASCII, else hex; tables and arrays as JSON-like text.
   */
  text(): string {
    return valueText(this.data, this.tag, this.valueAt, this.valueLen);
  }

  /**
   * True when text() and idText() of the current value are its bytes as they are, after
   * the u32 length (long strings, printable byte arrays): a caller may take them from
   * valueAt + 4 .. valueAt + valueLen without making a string.
   */
  isRawText(): bool {
    const tag = this.tag;
    return tag == FIELD_LONGSTR || (tag == FIELD_BYTES && printable(this.data, this.valueAt + 4, this.valueLen - 4));
  }

  /**
   * The current value as an identifier: as text() for strings, byte arrays, integers,
   * decimals, timestamps and booleans; null for floats, void, tables and arrays, which
   * are no ids. Leaner than text(): it needs neither the float printer nor the JSON writer.
   */
  idText(): string | null {
    const tag = this.tag;
    if (tag == FIELD_LONGSTR || tag == FIELD_BYTES) return bytesText(this.data, tag, this.valueAt, this.valueLen);
    if (tag == FIELD_F32 || tag == FIELD_F64 || tag == FIELD_VOID || tag == FIELD_TABLE || tag == FIELD_ARRAY) return null;
    return scalarText(this.data, tag, this.valueAt);
  }
}

/** A field table (keys + tagged values) starting after its u32 length. */
export class AmqpFieldTable extends AmqpFieldCursor {
  constructor(data: Uint8Array, start: i32, end: i32) {
    super(data, start, end, true);
  }
}

/** Reads a table with its u32 length prefix at `at`; the table is cut when the bytes end early. */
export function amqpTableAt(data: Uint8Array, at: i32, end: i32): AmqpFieldTable {
  if (end > data.length) end = data.length;
  if (at + 4 > end) {
    const t = new AmqpFieldTable(data, end, end);
    t.cut = true;
    return t;
  }
  const declared = <i64>readU32be(data, at);
  const start = at + 4;
  const avail = <i64>(end - start);
  const t = new AmqpFieldTable(data, start, start + <i32>(declared < avail ? declared : avail));
  if (declared > avail) t.cut = true;
  return t;
}

function hexDigit(n: u32): u32 {
  return n < 10 ? 48 + n : 87 + n;
}

function printable(data: Uint8Array, at: i32, len: i32): bool {
  for (let i = 0; i < len; i++) {
    const c = <u32>data[at + i];
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

function decimalText(scale: u32, digits: u32): string {
  let s = digits.toString();
  if (scale == 0) return s;
  const sc = <i32>scale;
  if (s.length <= sc) s = "0".repeat(sc + 1 - s.length) + s;
  return s.substring(0, s.length - sc) + "." + s.substring(s.length - sc);
}

/** Raw bytes as a JSON string body: quote, backslash and control bytes escaped. */
function writeQuoted(w: ByteWriter, data: Uint8Array, at: i32, n: i32): void {
  w.u8(0x22);
  for (let i = 0; i < n; i++) {
    const c = <u32>data[at + i];
    if (c == 0x22 || c == 0x5c) {
      w.u8(0x5c);
      w.u8(c);
    } else if (c < 0x20) {
      w.ascii("\\u00");
      w.u8(hexDigit(c >> 4));
      w.u8(hexDigit(c & 15));
    } else {
      w.u8(c);
    }
  }
  w.u8(0x22);
}

function writeHex(w: ByteWriter, data: Uint8Array, at: i32, n: i32): void {
  w.ascii("0x");
  w.ensure(n * 2);
  for (let i = 0; i < n; i++) {
    const b = <u32>data[at + i];
    w.u8(hexDigit(b >> 4));
    w.u8(hexDigit(b & 15));
  }
}

/** A scalar value's text; strings and byte arrays are handled by the callers. */
function scalarText(data: Uint8Array, tag: u32, at: i32): string {
  switch (tag) {
    case FIELD_BOOL:
      return data[at] != 0 ? "true" : "false";
    case FIELD_I8: return (<i32><i8>data[at]).toString();
    case FIELD_U8: return (<u32>data[at]).toString();
    case FIELD_I16: return (<i32><i16>readU16be(data, at)).toString();
    case FIELD_U16: return readU16be(data, at).toString();
    case FIELD_I32: return (<i32>readU32be(data, at)).toString();
    case FIELD_U32: return readU32be(data, at).toString();
    case FIELD_I64:
      return (<i64>((<u64>readU32be(data, at) << 32) | <u64>readU32be(data, at + 4))).toString();
    case FIELD_TIMESTAMP:
      return ((<u64>readU32be(data, at) << 32) | <u64>readU32be(data, at + 4)).toString();
    case FIELD_DECIMAL:
      return decimalText(data[at], readU32be(data, at + 1));
  }
  return "";
}

// Apart from scalarText so that code which never renders floats does not link the float printer.
function floatText(data: Uint8Array, tag: u32, at: i32): string {
  if (tag == FIELD_F32) return (<f64>reinterpret<f32>(readU32be(data, at))).toString();
  return reinterpret<f64>((<u64>readU32be(data, at) << 32) | <u64>readU32be(data, at + 4)).toString();
}

/** A long string as UTF-8; a byte array the same when printable ASCII, else as 0x-hex. */
function bytesText(data: Uint8Array, tag: u32, at: i32, len: i32): string {
  const n = len - 4;
  if (n <= 0) return "";
  if (tag == FIELD_LONGSTR || printable(data, at + 4, n)) {
    return String.UTF8.decodeUnsafe(data.dataStart + <usize>(at + 4), <usize>n);
  }
  const hex = new ByteWriter(n * 2 + 2);
  writeHex(hex, data, at + 4, n);
  return String.UTF8.decodeUnsafe(hex.dataStart, <usize>hex.len);
}

/** Text of a top-level value: strings raw, byte arrays as text when printable else hex, containers as JSON-like text. */
function valueText(data: Uint8Array, tag: u32, at: i32, len: i32): string {
  if (tag == FIELD_LONGSTR || tag == FIELD_BYTES) return bytesText(data, tag, at, len);
  if (tag == FIELD_F32 || tag == FIELD_F64) return floatText(data, tag, at);
  if (tag != FIELD_TABLE && tag != FIELD_ARRAY) return scalarText(data, tag, at);
  const w = new ByteWriter(len * 2 + 16);
  writeValue(w, data, tag, at, len, 0);
  return String.UTF8.decodeUnsafe(w.dataStart, <usize>w.len);
}

function writeValue(w: ByteWriter, data: Uint8Array, tag: u32, at: i32, len: i32, depth: i32): void {
  if (tag == FIELD_TABLE || tag == FIELD_ARRAY) {
    if (depth >= AMQP_MAX_RENDER_DEPTH) {
      w.utf8("…");
      return;
    }
    writeEntries(w, new AmqpFieldCursor(data, at + 4, at + len, tag == FIELD_TABLE), depth);
  } else if (tag == FIELD_LONGSTR) {
    writeQuoted(w, data, at + 4, len - 4);
  } else if (tag == FIELD_BYTES) {
    if (printable(data, at + 4, len - 4)) {
      writeQuoted(w, data, at + 4, len - 4);
    } else {
      w.u8(0x22);
      writeHex(w, data, at + 4, len - 4);
      w.u8(0x22);
    }
  } else if (tag == FIELD_VOID) {
    w.ascii("null");
  } else if (tag == FIELD_F32 || tag == FIELD_F64) {
    w.ascii(floatText(data, tag, at));
  } else {
    w.ascii(scalarText(data, tag, at));
  }
}

function writeEntries(w: ByteWriter, c: AmqpFieldCursor, depth: i32): void {
  w.u8(c.keyed ? 0x7b : 0x5b);
  let first = true;
  while (c.next()) {
    if (!first) w.u8(0x2c);
    first = false;
    if (c.keyed) {
      writeQuoted(w, c.data, c.keyAt, c.keyLen);
      w.u8(0x3a);
    }
    writeValue(w, c.data, c.tag, c.valueAt, c.valueLen, depth + 1);
  }
  if (c.cut || c.bad) {
    if (!first) w.u8(0x2c);
    w.utf8("…");
  }
  w.u8(c.keyed ? 0x7d : 0x5d);
}

/**
 * A whole table (u32 length prefix at `at`) as JSON-like text: {"key":value,...}, strings
 * quoted, byte arrays as text when printable ASCII else "0x…" hex, "…" where the bytes
 * end or stop making sense, and where nesting is deeper than AMQP_MAX_RENDER_DEPTH.
 */
export function amqpTableText(data: Uint8Array, at: i32, end: i32): string {
  const t = amqpTableAt(data, at, end);
  const w = new ByteWriter(t.end - t.start + 16);
  writeEntries(w, t, 0);
  return String.UTF8.decodeUnsafe(w.dataStart, <usize>w.len);
}
