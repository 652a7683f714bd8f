// Method arguments worth logging, per AMQP 0-9-1 method (argument layouts from the spec's
// class reference; RabbitMQ's extensions: exchange-to-exchange bindings).
import { ByteReader, ByteWriter, sameBytes } from "../../assembly/index";
import {
  N_CHANNEL_MAX, N_CONSUMER_COUNT, N_CONSUMER_TAG, N_DELIVERY_TAG, N_DESTINATION, N_EXCHANGE_TYPE, N_FRAME_MAX, N_HEARTBEAT,
  N_MESSAGE_COUNT, N_MULTIPLE, N_PREFETCH_COUNT, N_REASON, N_REDELIVERED, nameOf,
} from "./names";
import { amqpMethodIndex, amqpMethodName } from "../../protocols/amqp";

// Indexes (amqpMethodIndex) of the methods treated apart; ARG_AT below lists the methods in
// the same order.
const CONNECTION_CLOSE: i32 = 8;
const CHANNEL_CLOSE: i32 = 18;
const BASIC_PUBLISH: i32 = 44;
const BASIC_RETURN: i32 = 45;
const BASIC_DELIVER: i32 = 46;
const BASIC_GET_OK: i32 = 48;

// Every method's arguments, one entry each: its type (bits 7..9; a run of bit arguments
// shares one OCTET) and what MethodArgs.decode does with it (bits 0..6; none: passed over).
export const OCTET: u16 = 1 << 7;
export const SHORT: u16 = 2 << 7;
export const LONG: u16 = 3 << 7;
export const LONGLONG: u16 = 4 << 7;
export const SHORTSTR: u16 = 5 << 7;
export const LONGSTR: u16 = 6 << 7;
export const TABLE: u16 = 7 << 7;
// Names (ARG_* + 1), the vhost, Close's and Return's reply and failed method.
const EXCHANGE: u16 = 1;
const ROUTING_KEY: u16 = 2;
const QUEUE: u16 = 3;
const VHOST: u16 = 4;
const REPLY_CODE: u16 = 5;
const REPLY_TEXT: u16 = 6;
const FAILED_CLASS: u16 = 7;
const FAILED_METHOD: u16 = 8;
/** | the index of the no-wait bit in its octet. */
const NO_WAIT: u16 = 0x20;
/** | N_*: an attribute of that name (a number, a shortstr, or "true" when bit 0 of an octet is set). */
const EXTRA: u16 = 0x40;

/**
 * The arguments of every 0-9-1 method (the spec's class reference, RabbitMQ's extensions
 * included), method after method in the order of protocols/amqp.ts's method tables
 * (amqpMethodIndex); method m's are ARGS[ARG_AT[m] .. ARG_AT[m + 1]).
 */
export const ARGS: StaticArray<u16> = [
  OCTET, OCTET, TABLE, LONGSTR, LONGSTR, // Connection.Start
  TABLE, SHORTSTR, LONGSTR, SHORTSTR, // Connection.StartOk
  LONGSTR, // Connection.Secure
  LONGSTR, // Connection.SecureOk
  SHORT | EXTRA | N_CHANNEL_MAX, LONG | EXTRA | N_FRAME_MAX, SHORT | EXTRA | N_HEARTBEAT, // Connection.Tune
  SHORT | EXTRA | N_CHANNEL_MAX, LONG | EXTRA | N_FRAME_MAX, SHORT | EXTRA | N_HEARTBEAT, // Connection.TuneOk
  SHORTSTR | VHOST, SHORTSTR, OCTET, // Connection.Open
  SHORTSTR, // Connection.OpenOk
  SHORT | REPLY_CODE, SHORTSTR | REPLY_TEXT, SHORT | FAILED_CLASS, SHORT | FAILED_METHOD, // Connection.Close
  // Connection.CloseOk: none
  SHORTSTR | EXTRA | N_REASON, // Connection.Blocked
  // Connection.Unblocked: none
  LONGSTR, SHORTSTR, // Connection.UpdateSecret
  // Connection.UpdateSecretOk: none
  SHORTSTR, // Channel.Open
  LONGSTR, // Channel.OpenOk
  OCTET, // Channel.Flow
  OCTET, // Channel.FlowOk
  SHORT | REPLY_CODE, SHORTSTR | REPLY_TEXT, SHORT | FAILED_CLASS, SHORT | FAILED_METHOD, // Channel.Close
  // Channel.CloseOk: none
  SHORT, SHORTSTR | EXCHANGE, SHORTSTR | EXTRA | N_EXCHANGE_TYPE, OCTET | NO_WAIT | 4, TABLE, // Exchange.Declare
  // Exchange.DeclareOk: none
  SHORT, SHORTSTR | EXCHANGE, OCTET | NO_WAIT | 1, // Exchange.Delete
  // Exchange.DeleteOk: none
  SHORT, SHORTSTR | EXTRA | N_DESTINATION, SHORTSTR | EXCHANGE, SHORTSTR | ROUTING_KEY, OCTET | NO_WAIT | 0, TABLE, // Exchange.Bind
  // Exchange.BindOk: none
  SHORT, SHORTSTR | EXTRA | N_DESTINATION, SHORTSTR | EXCHANGE, SHORTSTR | ROUTING_KEY, OCTET | NO_WAIT | 0, TABLE, // Exchange.Unbind
  // Exchange.UnbindOk: none
  SHORT, SHORTSTR | QUEUE, OCTET | NO_WAIT | 4, TABLE, // Queue.Declare
  SHORTSTR | QUEUE, LONG | EXTRA | N_MESSAGE_COUNT, LONG | EXTRA | N_CONSUMER_COUNT, // Queue.DeclareOk
  SHORT, SHORTSTR | QUEUE, SHORTSTR | EXCHANGE, SHORTSTR | ROUTING_KEY, OCTET | NO_WAIT | 0, TABLE, // Queue.Bind
  // Queue.BindOk: none
  SHORT, SHORTSTR | QUEUE, OCTET | NO_WAIT | 0, // Queue.Purge
  LONG | EXTRA | N_MESSAGE_COUNT, // Queue.PurgeOk
  SHORT, SHORTSTR | QUEUE, OCTET | NO_WAIT | 2, // Queue.Delete
  LONG | EXTRA | N_MESSAGE_COUNT, // Queue.DeleteOk
  SHORT, SHORTSTR | QUEUE, SHORTSTR | EXCHANGE, SHORTSTR | ROUTING_KEY, TABLE, // Queue.Unbind
  // Queue.UnbindOk: none
  LONG, SHORT | EXTRA | N_PREFETCH_COUNT, OCTET, // Basic.Qos
  // Basic.QosOk: none
  SHORT, SHORTSTR | QUEUE, SHORTSTR | EXTRA | N_CONSUMER_TAG, OCTET | NO_WAIT | 3, TABLE, // Basic.Consume
  SHORTSTR | EXTRA | N_CONSUMER_TAG, // Basic.ConsumeOk
  SHORTSTR | EXTRA | N_CONSUMER_TAG, OCTET | NO_WAIT | 0, // Basic.Cancel
  SHORTSTR | EXTRA | N_CONSUMER_TAG, // Basic.CancelOk
  SHORT, SHORTSTR | EXCHANGE, SHORTSTR | ROUTING_KEY, OCTET, // Basic.Publish
  SHORT | REPLY_CODE, SHORTSTR | REPLY_TEXT, SHORTSTR | EXCHANGE, SHORTSTR | ROUTING_KEY, // Basic.Return
  SHORTSTR | EXTRA | N_CONSUMER_TAG, LONGLONG | EXTRA | N_DELIVERY_TAG, OCTET | EXTRA | N_REDELIVERED, SHORTSTR | EXCHANGE, SHORTSTR | ROUTING_KEY, // Basic.Deliver
  SHORT, SHORTSTR | QUEUE, OCTET, // Basic.Get
  LONGLONG | EXTRA | N_DELIVERY_TAG, OCTET | EXTRA | N_REDELIVERED, SHORTSTR | EXCHANGE, SHORTSTR | ROUTING_KEY, LONG | EXTRA | N_MESSAGE_COUNT, // Basic.GetOk
  SHORTSTR, // Basic.GetEmpty
  LONGLONG | EXTRA | N_DELIVERY_TAG, OCTET | EXTRA | N_MULTIPLE, // Basic.Ack
  LONGLONG | EXTRA | N_DELIVERY_TAG, OCTET, // Basic.Reject
  OCTET, // Basic.RecoverAsync
  OCTET, // Basic.Recover
  // Basic.RecoverOk: none
  LONGLONG | EXTRA | N_DELIVERY_TAG, OCTET | EXTRA | N_MULTIPLE, // Basic.Nack
  // Tx.Select: none
  // Tx.SelectOk: none
  // Tx.Commit: none
  // Tx.CommitOk: none
  // Tx.Rollback: none
  // Tx.RollbackOk: none
  OCTET | NO_WAIT | 0, // Confirm.Select
  // Confirm.SelectOk: none
];
export const ARG_AT: StaticArray<u8> = [
  0, 5, 9, 10, 11, 14, 17, 20, 21, 25, 25, 26, 26, 28, // Connection
  28, 29, 30, 31, 32, 36, // Channel
  36, 41, 41, 44, 44, 50, 50, 56, // Exchange
  56, 60, 63, 69, 69, 72, 73, 76, 77, 82, // Queue
  82, 85, 85, 90, 91, 93, 94, 98, 102, 107, 110, 115, 116, 118, 120, 121, 122, 122, // Basic
  124, 124, 124, 124, 124, 124, // Tx
  124, 125, // Confirm
  125,
];

/** Methods (amqpMethodIndex) followed by a content header and body frames. */
export function carriesContent(m: i32): bool {
  return m == BASIC_PUBLISH || m == BASIC_DELIVER || m == BASIC_GET_OK || m == BASIC_RETURN;
}

/** Connection.Close and Channel.Close (amqpMethodIndex). */
export function isClose(m: i32): bool {
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
  /** The frame ended before the arguments read: a name missing may be one cut off. */
  cut: bool = false;
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
    this.cut = false;
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

  private added(key: i32): void {
    this.extraNames.push(nameOf(key));
    this.extraEnds.push(this.extraBytes.len);
  }

  private addNumber(key: i32, v: u64): void {
    this.extraBytes.decimal(v);
    this.added(key);
  }

  private addTrue(key: i32): void {
    this.extraBytes.ascii("true");
    this.added(key);
  }

  /** A shortstr argument as an extra attribute (nothing when the frame ends first). */
  private addShortStr(key: i32, r: ByteReader): void {
    const n = <i32>r.u8();
    if (!r.short && r.has(n)) {
      this.extraBytes.utf8Bytes(r.data.dataStart + <usize>r.pos, n);
      this.added(key);
    }
    r.skip(n);
  }

  /**
   * Decodes the arguments of method `m` (amqpMethodIndex) in `r` (after the class and
   * method ids), up to the last one that matters. A cut frame leaves what could not be
   * read unset; nothing is guessed.
   */
  decode(m: i32, r: ByteReader): void {
    const from = <i32>unchecked(ARG_AT[m]);
    let to = <i32>unchecked(ARG_AT[m + 1]);
    while (to > from && (unchecked(ARGS[to - 1]) & 0x7f) == 0) to--;
    let code: u32 = 0;
    let failedClass: u32 = 0;
    for (let i = from; i < to; i++) {
      const arg = <u32>unchecked(ARGS[i]);
      const type = arg & 0x380;
      const role = arg & 0x7f;
      if (type == SHORTSTR) {
        if (role == VHOST) {
          this.vhost = shortStr(r);
        } else if (role == REPLY_TEXT) {
          const text = shortStr(r);
          if (text !== null) {
            this.replyCode = <i32>code;
            this.replyText = text;
          }
        } else if (role >= EXTRA) {
          this.addShortStr(role - EXTRA, r);
        } else if (role != 0) {
          this.name(role - EXCHANGE, r);
        } else {
          r.skip(<i32>r.u8());
        }
        continue;
      }
      let v: u64 = 0;
      if (type == OCTET) v = r.u8();
      else if (type == SHORT) v = r.u16be();
      else if (type == LONG) v = r.u32be();
      else if (type == LONGLONG) v = r.u64be();
      else r.skip(<i32>r.u32be());
      if (r.short) break;
      if (role == REPLY_CODE) {
        code = <u32>v;
      } else if (role == FAILED_CLASS) {
        failedClass = <u32>v;
      } else if (role == FAILED_METHOD) {
        if (failedClass != 0) {
          const f = amqpMethodIndex(failedClass, <u32>v);
          this.failedMethod = f >= 0 ? amqpMethodName(f) : failedClass.toString() + "/" + v.toString();
        }
      } else if (role >= EXTRA) {
        if (type != OCTET) this.addNumber(role - EXTRA, v);
        else if ((v & 1) != 0) this.addTrue(role - EXTRA);
      } else if (role >= NO_WAIT) {
        this.noWait = ((v >> (role - NO_WAIT)) & 1) != 0;
      }
    }
    this.cut = r.short;
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
