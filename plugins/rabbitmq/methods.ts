// Method arguments worth logging, per AMQP 0-9-1 method (argument layouts from the spec's
// class reference; RabbitMQ's extensions: exchange-to-exchange bindings).
import { ByteReader } from "../../assembly/codec/reader";
import { ByteWriter } from "../../assembly/codec/writer";
import { sameBytes } from "../../assembly/codec/bytes";
import {
  amqpMethodIndex, amqpMethodName, AMQP_BASIC, AMQP_CHANNEL, AMQP_CONFIRM, AMQP_CONNECTION, AMQP_EXCHANGE, AMQP_QUEUE,
} from "../../assembly/codec/amqp";

/** Class and method id in one number; the constants below are the same, folded at compile time. */
function id(classId: u32, methodId: u32): u32 {
  return (classId << 16) | methodId;
}

const CONNECTION_TUNE: u32 = (AMQP_CONNECTION << 16) | 30;
const CONNECTION_TUNE_OK: u32 = (AMQP_CONNECTION << 16) | 31;
const CONNECTION_OPEN: u32 = (AMQP_CONNECTION << 16) | 40;
const CONNECTION_CLOSE: u32 = (AMQP_CONNECTION << 16) | 50;
const CONNECTION_BLOCKED: u32 = (AMQP_CONNECTION << 16) | 60;
const CHANNEL_CLOSE: u32 = (AMQP_CHANNEL << 16) | 40;
const EXCHANGE_DECLARE: u32 = (AMQP_EXCHANGE << 16) | 10;
const EXCHANGE_DELETE: u32 = (AMQP_EXCHANGE << 16) | 20;
const EXCHANGE_BIND: u32 = (AMQP_EXCHANGE << 16) | 30;
const EXCHANGE_UNBIND: u32 = (AMQP_EXCHANGE << 16) | 40;
const QUEUE_DECLARE: u32 = (AMQP_QUEUE << 16) | 10;
const QUEUE_DECLARE_OK: u32 = (AMQP_QUEUE << 16) | 11;
const QUEUE_BIND: u32 = (AMQP_QUEUE << 16) | 20;
const QUEUE_PURGE: u32 = (AMQP_QUEUE << 16) | 30;
const QUEUE_PURGE_OK: u32 = (AMQP_QUEUE << 16) | 31;
const QUEUE_DELETE: u32 = (AMQP_QUEUE << 16) | 40;
const QUEUE_DELETE_OK: u32 = (AMQP_QUEUE << 16) | 41;
const QUEUE_UNBIND: u32 = (AMQP_QUEUE << 16) | 50;
const BASIC_QOS: u32 = (AMQP_BASIC << 16) | 10;
const BASIC_CONSUME: u32 = (AMQP_BASIC << 16) | 20;
const BASIC_CONSUME_OK: u32 = (AMQP_BASIC << 16) | 21;
const BASIC_CANCEL: u32 = (AMQP_BASIC << 16) | 30;
const BASIC_CANCEL_OK: u32 = (AMQP_BASIC << 16) | 31;
const BASIC_PUBLISH: u32 = (AMQP_BASIC << 16) | 40;
const BASIC_RETURN: u32 = (AMQP_BASIC << 16) | 50;
const BASIC_DELIVER: u32 = (AMQP_BASIC << 16) | 60;
const BASIC_GET: u32 = (AMQP_BASIC << 16) | 70;
const BASIC_GET_OK: u32 = (AMQP_BASIC << 16) | 71;
const BASIC_ACK: u32 = (AMQP_BASIC << 16) | 80;
const BASIC_REJECT: u32 = (AMQP_BASIC << 16) | 90;
const BASIC_NACK: u32 = (AMQP_BASIC << 16) | 120;
const CONFIRM_SELECT: u32 = (AMQP_CONFIRM << 16) | 10;

/** Methods followed by a content header and body frames. */
export function carriesContent(classId: u32, methodId: u32): bool {
  const m = id(classId, methodId);
  return m == BASIC_PUBLISH || m == BASIC_DELIVER || m == BASIC_GET_OK || m == BASIC_RETURN;
}

export function isClose(classId: u32, methodId: u32): bool {
  const m = id(classId, methodId);
  return m == CONNECTION_CLOSE || m == CHANNEL_CLOSE;
}

/** The names a method may carry, by index into MethodArgs' name spans. */
export const ARG_EXCHANGE: i32 = 0;
export const ARG_ROUTING_KEY: i32 = 1;
export const ARG_QUEUE: i32 = 2;

/** What one method frame says, beyond its name. Strings stay null when the method has none. */
export class MethodArgs {
  /**
   * Exchange, routing key and queue (ARG_*) as valid UTF-8 in `names`: name i is
   * nameLen[i] bytes at nameAt[i], -1 when the method has none. Bytes, not text: they
   * go into the record as they are.
   */
  names: ByteWriter = new ByteWriter(128);
  nameAt: StaticArray<i32> = new StaticArray<i32>(3).fill(-1);
  nameLen: StaticArray<i32> = new StaticArray<i32>(3);
  vhost: string | null = null;
  /** Connection.Close / Channel.Close / Basic.Return; -1 when absent. */
  replyCode: i32 = -1;
  replyText: string | null = null;
  /** Close: the method that caused it ("" when none). */
  failedMethod: string | null = null;
  /** The sender asked for no reply (no-wait bit): the request stands alone. */
  noWait: bool = false;
  /**
   * Extra attributes in order: their names, and their values as valid UTF-8 one after
   * another in extraBytes (value i ends at extraEnds[i]), for L7ProtocolInfo.attrBytes.
   */
  extraNames: string[] = [];
  extraEnds: i32[] = [];
  extraBytes: ByteWriter = new ByteWriter(64);

  reset(): void {
    this.names.reset();
    this.nameAt.fill(-1);
    this.vhost = null;
    this.replyCode = -1;
    this.replyText = null;
    this.failedMethod = null;
    this.noWait = false;
    this.extraNames.length = 0;
    this.extraEnds.length = 0;
    this.extraBytes.reset();
  }

  @inline has(arg: i32): bool {
    return unchecked(this.nameAt[arg]) >= 0;
  }

  /** Where name `arg` (ARG_*) starts; nameLength(arg) bytes. */
  @inline namePtr(arg: i32): usize {
    return this.names.dataStart + <usize>unchecked(this.nameAt[arg]);
  }

  @inline nameLength(arg: i32): i32 {
    return unchecked(this.nameLen[arg]);
  }

  /** Whether names a and b are both there and the same text. */
  sameName(a: i32, b: i32): bool {
    return this.has(a) && this.has(b) && this.nameLength(a) == this.nameLength(b) &&
      sameBytes(this.namePtr(a), this.namePtr(b), this.nameLength(a));
  }

  /** A shortstr argument as name `arg` (left absent when the frame ends first). */
  private name(arg: i32, r: ByteReader): void {
    const n = <i32>r.u8();
    if (!r.short && r.has(n)) {
      const w = this.names;
      const at = w.len;
      w.utf8Bytes(r.data.dataStart + <usize>r.pos, n);
      unchecked((this.nameAt[arg] = at));
      unchecked((this.nameLen[arg] = w.len - at));
    }
    r.skip(n);
  }

  private added(name: string): void {
    this.extraNames.push(name);
    this.extraEnds.push(this.extraBytes.len);
  }

  private addNumber(name: string, v: u64): void {
    this.extraBytes.decimal(v);
    this.added(name);
  }

  private addTrue(name: string): void {
    this.extraBytes.ascii("true");
    this.added(name);
  }

  /** A shortstr argument as an extra attribute (nothing when the frame ends first). */
  private addShortStr(name: string, r: ByteReader): void {
    const n = <i32>r.u8();
    if (!r.short && r.has(n)) {
      this.extraBytes.utf8Bytes(r.data.dataStart + <usize>r.pos, n);
      this.added(name);
    }
    r.skip(n);
  }

  /**
   * Decodes the arguments in `r` (after the class and method ids). A cut frame leaves
   * what could not be read unset; nothing is guessed.
   */
  decode(classId: u32, methodId: u32, r: ByteReader): void {
    const m = id(classId, methodId);
    if (m == CONNECTION_OPEN) {
      this.vhost = shortStr(r);
    } else if (m == CONNECTION_CLOSE || m == CHANNEL_CLOSE) {
      const code = r.u16be();
      const text = shortStr(r);
      const failedClass = r.u16be();
      const failedMethod = r.u16be();
      if (text !== null) {
        this.replyCode = <i32>code;
        this.replyText = text;
      }
      if (!r.short && failedClass != 0) {
        const f = amqpMethodIndex(failedClass, failedMethod);
        this.failedMethod = f >= 0 ? amqpMethodName(f) : failedClass.toString() + "/" + failedMethod.toString();
      }
    } else if (m == CONNECTION_TUNE || m == CONNECTION_TUNE_OK) {
      const channelMax = r.u16be();
      const frameMax = r.u32be();
      const heartbeat = r.u16be();
      if (!r.short) {
        this.addNumber("channel_max", channelMax);
        this.addNumber("frame_max", frameMax);
        this.addNumber("heartbeat", heartbeat);
      }
    } else if (m == CONNECTION_BLOCKED) {
      this.addShortStr("reason", r);
    } else if (m == EXCHANGE_DECLARE) {
      r.skip(2);
      this.name(ARG_EXCHANGE, r);
      this.addShortStr("exchange_type", r);
      this.noWait = bit(r, 4);
    } else if (m == EXCHANGE_DELETE) {
      r.skip(2);
      this.name(ARG_EXCHANGE, r);
      this.noWait = bit(r, 1);
    } else if (m == EXCHANGE_BIND || m == EXCHANGE_UNBIND) {
      r.skip(2);
      this.addShortStr("destination", r);
      this.name(ARG_EXCHANGE, r);
      this.name(ARG_ROUTING_KEY, r);
      this.noWait = bit(r, 0);
    } else if (m == QUEUE_DECLARE) {
      r.skip(2);
      this.name(ARG_QUEUE, r);
      this.noWait = bit(r, 4);
    } else if (m == QUEUE_DECLARE_OK) {
      this.name(ARG_QUEUE, r);
      const messages = r.u32be();
      const consumers = r.u32be();
      if (!r.short) {
        this.addNumber("message_count", messages);
        this.addNumber("consumer_count", consumers);
      }
    } else if (m == QUEUE_BIND || m == QUEUE_UNBIND) {
      r.skip(2);
      this.name(ARG_QUEUE, r);
      this.name(ARG_EXCHANGE, r);
      this.name(ARG_ROUTING_KEY, r);
      if (m == QUEUE_BIND) this.noWait = bit(r, 0);
    } else if (m == QUEUE_PURGE) {
      r.skip(2);
      this.name(ARG_QUEUE, r);
      this.noWait = bit(r, 0);
    } else if (m == QUEUE_DELETE) {
      r.skip(2);
      this.name(ARG_QUEUE, r);
      this.noWait = bit(r, 2);
    } else if (m == QUEUE_PURGE_OK || m == QUEUE_DELETE_OK) {
      const messages = r.u32be();
      if (!r.short) this.addNumber("message_count", messages);
    } else if (m == BASIC_QOS) {
      r.skip(4);
      const prefetch = r.u16be();
      if (!r.short) this.addNumber("prefetch_count", prefetch);
    } else if (m == BASIC_CONSUME) {
      r.skip(2);
      this.name(ARG_QUEUE, r);
      this.addShortStr("consumer_tag", r);
      this.noWait = bit(r, 3);
    } else if (m == BASIC_CONSUME_OK || m == BASIC_CANCEL_OK) {
      this.addShortStr("consumer_tag", r);
    } else if (m == BASIC_CANCEL) {
      this.addShortStr("consumer_tag", r);
      this.noWait = bit(r, 0);
    } else if (m == BASIC_PUBLISH) {
      r.skip(2);
      this.name(ARG_EXCHANGE, r);
      this.name(ARG_ROUTING_KEY, r);
    } else if (m == BASIC_RETURN) {
      const code = r.u16be();
      const text = shortStr(r);
      if (text !== null) {
        this.replyCode = <i32>code;
        this.replyText = text;
      }
      this.name(ARG_EXCHANGE, r);
      this.name(ARG_ROUTING_KEY, r);
    } else if (m == BASIC_DELIVER) {
      this.addShortStr("consumer_tag", r);
      this.delivery(r);
      this.name(ARG_EXCHANGE, r);
      this.name(ARG_ROUTING_KEY, r);
    } else if (m == BASIC_GET) {
      r.skip(2);
      this.name(ARG_QUEUE, r);
    } else if (m == BASIC_GET_OK) {
      this.delivery(r);
      this.name(ARG_EXCHANGE, r);
      this.name(ARG_ROUTING_KEY, r);
      const messages = r.u32be();
      if (!r.short) this.addNumber("message_count", messages);
    } else if (m == BASIC_ACK || m == BASIC_REJECT || m == BASIC_NACK) {
      const tag = r.u64be();
      const bits = r.u8();
      if (!r.short) {
        this.addNumber("delivery_tag", tag);
        if (m != BASIC_REJECT && (bits & 1) != 0) this.addTrue("multiple");
      }
    } else if (m == CONFIRM_SELECT) {
      this.noWait = bit(r, 0);
    }
  }

  /** delivery-tag (u64) and the redelivered bit of Deliver / Get-Ok. */
  private delivery(r: ByteReader): void {
    const tag = r.u64be();
    const redelivered = r.u8();
    if (r.short) return;
    this.addNumber("delivery_tag", tag);
    if ((redelivered & 1) != 0) this.addTrue("redelivered");
  }
}

/** A shortstr, or null when the frame ends first. */
function shortStr(r: ByteReader): string | null {
  const n = <i32>r.u8();
  if (r.short || !r.has(n)) {
    r.skip(n);
    return null;
  }
  return r.utf8(n);
}

/** Bit `index` of the packed-bits octet at the reader; false when the frame ends first. */
function bit(r: ByteReader, index: u32): bool {
  const bits = r.u8();
  return !r.short && ((bits >> index) & 1) != 0;
}
