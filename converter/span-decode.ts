// PSpanMessage (Span/SendSpan, the bulk of agent traffic) decoded straight into the plain objects of
// messages.ts: no protobufjs message instances, Longs or reader objects per message, which with the
// garbage they made were most of the cost of a span before the assembler saw it.
//
// It accepts and refuses exactly what protobufjs' decoder for converter/proto does (the converter's
// decoder for every other message, and the meaning of "malformed" in ingest stats and the fuzz test):
// the same varint, tag and length limits (tag at most 5 bytes, its 5th ≤ 0x0f; length at most 5 bytes,
// its 5th ≤ 7; a varint at most 10 bytes, 4 within the last 4 bytes of a message), a known field with
// another wire type skipped as unknown, groups skipped with protobufjs' checks, strict UTF-8 with a BOM
// kept, the last oneof member winning, and a message field that occurs twice merged. sdk/protobuf.ts's
// PbReader follows prost instead, which draws those lines elsewhere.
//
// Values match what protobufjs' objects give the assembler: absent fields read as their proto3 defaults,
// oneof members absent as undefined/null; int64 fields are numbers (what int64Number made of the Long),
// sfixed64 ids numbers when exact, else their 32-bit halves.
import { decodeUtf8Strict } from "../sdk/wire.ts";
import { Int64Bits } from "./messages.ts";
import type {
  PAcceptEventMsg,
  PAnnotationMsg,
  PAnnotationValueMsg,
  PIntStringValueMsg,
  PMessageEventMsg,
  PSpanChunkMsg,
  PSpanEventMsg,
  PSpanMessageMsg,
  PSpanMsg,
  PTransactionIdMsg,
  StringValueMsg,
} from "./messages.ts";

const EMPTY = Buffer.alloc(0);
// One message at a time, synchronously: the reader's state lives here rather than in an object per call.
let buf: Buffer = EMPTY;
let pos = 0;
/** End of the message being read (protobufjs' reader.len). */
let len = 0;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const f64 = new DataView(new ArrayBuffer(8));
/**
 * Absent repeated fields: shared, never written. A field that occurs gets an array of its own, made
 * with its first element (a push onto [] reserves 17 slots; most spans have one or two).
 */
const NONE: never[] = [];
const RECURSION_LIMIT = 100;

class DecodeError extends RangeError {}

function outOfRange(): never {
  throw new DecodeError("index out of range");
}

/** A varint starting within 4 bytes of the end: at most 4 bytes. */
function varint32NearEnd(): number {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    if (pos >= len) outOfRange();
    const b = buf[pos++];
    value = (value | ((b & 127) << (i * 7))) >>> 0;
    if (b < 128) return value;
  }
  outOfRange();
}

function uint32(): number {
  if (len - pos < 5) {
    if (pos >= len) outOfRange();
    if (buf[pos] >= 128) return varint32NearEnd();
  }
  let b = buf[pos++];
  let v = b & 127;
  if (b < 128) return v;
  b = buf[pos++];
  v |= (b & 127) << 7;
  if (b < 128) return v;
  b = buf[pos++];
  v |= (b & 127) << 14;
  if (b < 128) return v;
  b = buf[pos++];
  v |= (b & 127) << 21;
  if (b < 128) return v >>> 0;
  b = buf[pos++];
  v |= (b & 15) << 28;
  if (b < 128) return v >>> 0;
  for (let i = 0; i < 5; i++) {
    if (pos >= len) outOfRange();
    if (buf[pos++] < 128) return v >>> 0;
  }
  throw new DecodeError("invalid varint encoding");
}

function int32(): number {
  return uint32() | 0;
}

function sint32(): number {
  const v = uint32();
  return ((v >>> 1) ^ -(v & 1)) | 0;
}

function tag(): number {
  if (len - pos < 5) {
    if (pos >= len) outOfRange();
    if (buf[pos] >= 128) return varint32NearEnd();
  }
  let b = buf[pos++];
  let v = b & 127;
  if (b < 128) return v;
  b = buf[pos++];
  v |= (b & 127) << 7;
  if (b < 128) return v;
  b = buf[pos++];
  v |= (b & 127) << 14;
  if (b < 128) return v;
  b = buf[pos++];
  v |= (b & 127) << 21;
  if (b < 128) return v >>> 0;
  b = buf[pos++];
  if (b > 15) throw new DecodeError("invalid tag encoding");
  return (v | (b << 28)) >>> 0;
}

/** A length prefix. */
function size(): number {
  if (len - pos < 5) {
    if (pos >= len) outOfRange();
    if (buf[pos] >= 128) return varint32NearEnd();
  }
  let b = buf[pos++];
  let v = b & 127;
  if (b < 128) return v;
  b = buf[pos++];
  v |= (b & 127) << 7;
  if (b < 128) return v;
  b = buf[pos++];
  v |= (b & 127) << 14;
  if (b < 128) return v;
  b = buf[pos++];
  v |= (b & 127) << 21;
  if (b < 128) return v >>> 0;
  b = buf[pos++];
  if (b > 7) throw new DecodeError("invalid length encoding");
  return (v | (b << 28)) >>> 0;
}

/** int64 varint as the number Long.toNumber gives: high (signed) × 2^32 + low (unsigned). */
function int64(): number {
  let lo = 0;
  let hi = 0;
  let b = 0;
  let i = 0;
  if (len - pos > 4) {
    for (; i < 4; i++) {
      b = buf[pos++];
      lo |= (b & 127) << (i * 7);
      if (b < 128) return lo >>> 0;
    }
    b = buf[pos++];
    lo |= (b & 127) << 28;
    hi = (b & 127) >> 4;
    if (b < 128) return hi * 4294967296 + (lo >>> 0);
  } else {
    for (; i < 4; i++) {
      if (pos >= len) outOfRange();
      b = buf[pos++];
      lo |= (b & 127) << (i * 7);
      if (b < 128) return lo >>> 0;
    }
    outOfRange();
  }
  for (i = 0; i < 5; i++) {
    if (pos >= len) outOfRange();
    b = buf[pos++];
    hi |= (b & 127) << (i * 7 + 3);
    if (b < 128) return (hi | 0) * 4294967296 + (lo >>> 0);
  }
  throw new DecodeError("invalid varint encoding");
}

function bool(): boolean {
  let value = false;
  for (let i = 0; i < 10; i++) {
    if (pos >= len) outOfRange();
    const b = buf[pos++];
    if (b & 127) value = true;
    if (b < 128) return value;
  }
  throw new DecodeError("invalid varint encoding");
}

function fixed32(): number {
  const p = pos;
  return (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24)) >>> 0;
}

/** sfixed64: a number when exact (|v| < 2^53), else its halves. */
function sfixed64(): number | Int64Bits {
  if (pos + 8 > len) outOfRange();
  const lo = fixed32();
  pos += 4;
  const hi = fixed32() | 0;
  pos += 4;
  return hi >= -0x200000 && hi < 0x200000 ? hi * 4294967296 + lo : new Int64Bits(lo | 0, hi);
}

function double(): number {
  if (pos + 8 > len) outOfRange();
  for (let i = 0; i < 8; i++) f64.setUint8(i, buf[pos + i]);
  pos += 8;
  return f64.getFloat64(0, true);
}

function string(): string {
  const n = size();
  const start = pos;
  const end = start + n;
  if (end > len) outOfRange();
  pos = end;
  // Agent ids, application names, end points and most annotation strings repeat: the shared cache of
  // recent short strings. Invalid UTF-8 is refused (thrown) as before.
  return decodeUtf8Strict(buf, start, end) ?? strictUtf8.decode(buf.subarray(start, end));
}

function bytes(): Uint8Array {
  const n = size();
  const start = pos;
  const end = start + n;
  if (end > len) outOfRange();
  pos = end;
  return buf.subarray(start, end);
}

function skip(n: number): void {
  if (pos + n > len) outOfRange();
  pos += n;
}

/** An unknown field, or a known one with another wire type (protobufjs' Reader.skipType). */
function skipType(wireType: number, depth: number, field: number): void {
  if (depth > RECURSION_LIMIT) throw new DecodeError("max depth exceeded");
  if (field === 0) throw new DecodeError("illegal tag: field number 0");
  switch (wireType) {
    case 0:
      do if (pos >= len) outOfRange();
      while (buf[pos++] & 128);
      return;
    case 1:
      return skip(8);
    case 2:
      return skip(size());
    case 3:
      for (;;) {
        const t = tag();
        const nested = t >>> 3;
        const wt = t & 7;
        if (nested === 0) throw new DecodeError("illegal tag: field number 0");
        if (wt === 4) {
          if (nested !== field) throw new DecodeError("invalid end group tag");
          return;
        }
        skipType(wt, depth + 1, nested);
      }
    case 5:
      return skip(4);
    default:
      throw new DecodeError(`invalid wire type ${wireType}`);
  }
}

/** Enters an embedded message: returns the enclosing end, to be given back to leave(). */
function enter(): number {
  const n = size();
  const end = pos + n;
  if (end > len) outOfRange();
  const outer = len;
  len = end;
  return outer;
}

function leave(outer: number): void {
  if (pos !== len) outOfRange();
  len = outer;
}

/** The whole message, or throws (what ingest counts as malformed). */
export function decodeSpanMessage(data: Uint8Array): PSpanMessageMsg {
  buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  pos = 0;
  len = buf.length;
  const m: PSpanMessageMsg = { span: null, spanChunk: null };
  try {
    while (pos < len) {
      const t = tag();
      const u = t & 7;
      const f = t >>> 3;
      if (f === 1 && u === 2) {
        m.span = span(m.span, 1);
        m.spanChunk = null;
      } else if (f === 2 && u === 2) {
        m.spanChunk = spanChunk(m.spanChunk, 1);
        m.span = null;
      } else skipType(u, 0, f);
    }
  } finally {
    // Holds no capture data between messages.
    buf = EMPTY;
  }
  return m;
}

function span(into: PSpanMsg | null | undefined, q: number): PSpanMsg {
  const outer = enter();
  const m: PSpanMsg = into ?? {
    version: 0,
    transactionId: null,
    spanId: 0,
    parentSpanId: 0,
    startTime: 0,
    elapsed: 0,
    apiId: 0,
    serviceType: 0,
    acceptEvent: null,
    annotation: NONE,
    flag: 0,
    err: 0,
    spanEvent: NONE,
    exceptionInfo: null,
    applicationServiceType: 0,
    loggingTransactionInfo: 0,
  };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    switch (f) {
      case 1:
        if (u !== 0) break;
        m.version = int32();
        continue;
      case 2:
        if (u !== 2) break;
        m.transactionId = transactionId(m.transactionId, q + 1);
        continue;
      case 3:
        if (u !== 1) break;
        m.spanId = sfixed64();
        continue;
      case 4:
        if (u !== 1) break;
        m.parentSpanId = sfixed64();
        continue;
      case 5:
        if (u !== 0) break;
        m.startTime = int64();
        continue;
      case 6:
        if (u !== 0) break;
        m.elapsed = int32();
        continue;
      case 7:
        if (u !== 0) break;
        m.apiId = int32();
        continue;
      case 8:
        if (u !== 0) break;
        m.serviceType = int32();
        continue;
      case 9:
        if (u !== 2) break;
        m.acceptEvent = acceptEvent(m.acceptEvent, q + 1);
        continue;
      case 10:
        if (u !== 2) break;
        if (m.annotation?.length) m.annotation.push(annotation(q + 1));
        else m.annotation = [annotation(q + 1)];
        continue;
      case 11:
        if (u !== 0) break;
        m.flag = int32();
        continue;
      case 12:
        if (u !== 0) break;
        m.err = sint32();
        continue;
      case 13:
        if (u !== 2) break;
        if (m.spanEvent?.length) m.spanEvent.push(spanEvent(q + 1));
        else m.spanEvent = [spanEvent(q + 1)];
        continue;
      case 14:
        if (u !== 2) break;
        m.exceptionInfo = intStringValue(m.exceptionInfo, q + 1);
        continue;
      case 15:
        if (u !== 0) break;
        m.applicationServiceType = int32();
        continue;
      case 16:
        if (u !== 0) break;
        m.loggingTransactionInfo = int32();
        continue;
    }
    skipType(u, q, f);
  }
  leave(outer);
  return m;
}

function spanChunk(into: PSpanChunkMsg | null | undefined, q: number): PSpanChunkMsg {
  const outer = enter();
  const m: PSpanChunkMsg = into ?? {
    version: 0,
    transactionId: null,
    spanId: 0,
    endPoint: "",
    spanEvent: NONE,
    applicationServiceType: 0,
    keyTime: 0,
    localAsyncId: null,
  };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    switch (f) {
      case 1:
        if (u !== 0) break;
        m.version = int32();
        continue;
      case 2:
        if (u !== 2) break;
        m.transactionId = transactionId(m.transactionId, q + 1);
        continue;
      case 3:
        if (u !== 1) break;
        m.spanId = sfixed64();
        continue;
      case 4:
        if (u !== 2) break;
        m.endPoint = string();
        continue;
      case 5:
        if (u !== 2) break;
        if (m.spanEvent?.length) m.spanEvent.push(spanEvent(q + 1));
        else m.spanEvent = [spanEvent(q + 1)];
        continue;
      case 6:
        if (u !== 0) break;
        m.applicationServiceType = int32();
        continue;
      case 7:
        if (u !== 0) break;
        m.keyTime = int64();
        continue;
      case 8: {
        if (u !== 2) break;
        const outer2 = enter();
        const a = m.localAsyncId ?? { asyncId: 0, sequence: 0 };
        while (pos < len) {
          const t2 = tag();
          const u2 = t2 & 7;
          const f2 = t2 >>> 3;
          if (f2 === 1 && u2 === 0) a.asyncId = int32();
          else if (f2 === 2 && u2 === 0) a.sequence = int32();
          else skipType(u2, q + 1, f2);
        }
        leave(outer2);
        m.localAsyncId = a;
        continue;
      }
    }
    skipType(u, q, f);
  }
  leave(outer);
  return m;
}

function transactionId(into: PTransactionIdMsg | null | undefined, q: number): PTransactionIdMsg {
  const outer = enter();
  const m: PTransactionIdMsg = into ?? { agentId: "", agentStartTime: 0, sequence: 0 };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 2) m.agentId = string();
    else if (f === 2 && u === 0) m.agentStartTime = int64();
    else if (f === 3 && u === 0) m.sequence = int64();
    else skipType(u, q, f);
  }
  leave(outer);
  return m;
}

function acceptEvent(into: PAcceptEventMsg | null | undefined, q: number): PAcceptEventMsg {
  const outer = enter();
  const m: PAcceptEventMsg = into ?? { rpc: "", endPoint: "", remoteAddr: "", parentInfo: null };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 2) m.rpc = string();
    else if (f === 2 && u === 2) m.endPoint = string();
    else if (f === 3 && u === 2) m.remoteAddr = string();
    else if (f === 4 && u === 2) {
      const outer2 = enter();
      const p = m.parentInfo ?? { parentApplicationName: "", parentApplicationType: 0, acceptorHost: "" };
      while (pos < len) {
        const t2 = tag();
        const u2 = t2 & 7;
        const f2 = t2 >>> 3;
        if (f2 === 1 && u2 === 2) p.parentApplicationName = string();
        else if (f2 === 2 && u2 === 0) p.parentApplicationType = int32();
        else if (f2 === 3 && u2 === 2) p.acceptorHost = string();
        else skipType(u2, q + 1, f2);
      }
      leave(outer2);
      m.parentInfo = p;
    } else skipType(u, q, f);
  }
  leave(outer);
  return m;
}

function spanEvent(q: number): PSpanEventMsg {
  const outer = enter();
  const m: PSpanEventMsg = {
    sequence: 0,
    depth: 0,
    startElapsed: 0,
    endElapsed: 0,
    serviceType: 0,
    annotation: NONE,
    apiId: 0,
    exceptionInfo: null,
    nextEvent: null,
    asyncEvent: 0,
  };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    switch (f) {
      case 1:
        if (u !== 0) break;
        m.sequence = int32();
        continue;
      case 2:
        if (u !== 0) break;
        m.depth = int32();
        continue;
      case 3:
        if (u !== 0) break;
        m.startElapsed = int32();
        continue;
      case 4:
        if (u !== 0) break;
        m.endElapsed = int32();
        continue;
      case 5:
        if (u !== 0) break;
        m.serviceType = sint32();
        continue;
      case 6:
        if (u !== 2) break;
        if (m.annotation?.length) m.annotation.push(annotation(q + 1));
        else m.annotation = [annotation(q + 1)];
        continue;
      case 10:
        if (u !== 0) break;
        m.apiId = sint32();
        continue;
      case 11:
        if (u !== 2) break;
        m.exceptionInfo = intStringValue(m.exceptionInfo, q + 1);
        continue;
      case 12: {
        if (u !== 2) break;
        const outer2 = enter();
        const n = m.nextEvent ?? { messageEvent: null };
        while (pos < len) {
          const t2 = tag();
          const u2 = t2 & 7;
          const f2 = t2 >>> 3;
          if (f2 === 1 && u2 === 2) n.messageEvent = messageEvent(n.messageEvent, q + 2);
          else skipType(u2, q + 1, f2);
        }
        leave(outer2);
        m.nextEvent = n;
        continue;
      }
      case 13:
        if (u !== 0) break;
        m.asyncEvent = int32();
        continue;
    }
    skipType(u, q, f);
  }
  leave(outer);
  return m;
}

function messageEvent(into: PMessageEventMsg | null | undefined, q: number): PMessageEventMsg {
  const outer = enter();
  const m: PMessageEventMsg = into ?? { nextSpanId: 0, endPoint: "", destinationId: "" };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 1) m.nextSpanId = sfixed64();
    else if (f === 2 && u === 2) m.endPoint = string();
    else if (f === 3 && u === 2) m.destinationId = string();
    else skipType(u, q, f);
  }
  leave(outer);
  return m;
}

function annotation(q: number): PAnnotationMsg {
  const outer = enter();
  const m: PAnnotationMsg = { key: 0, value: null };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 0) m.key = int32();
    else if (f === 2 && u === 2) m.value = annotationValue(m.value, q + 1);
    else skipType(u, q, f);
  }
  leave(outer);
  return m;
}

/** The oneof: each member set clears the others (protobufjs' oneof setter deletes them). */
function annotationValue(into: PAnnotationValueMsg | null | undefined, q: number): PAnnotationValueMsg {
  const outer = enter();
  const m: PAnnotationValueMsg = into ?? {};
  let member = into ? currentMember(into) : "";
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    let set: keyof PAnnotationValueMsg | undefined;
    switch (f) {
      case 1:
        if (u !== 2) break;
        m.stringValue = string();
        set = "stringValue";
        break;
      case 2:
        if (u !== 0) break;
        m.boolValue = bool();
        set = "boolValue";
        break;
      case 3:
        if (u !== 0) break;
        m.intValue = int32();
        set = "intValue";
        break;
      case 4:
        if (u !== 0) break;
        m.longValue = int64();
        set = "longValue";
        break;
      case 5:
        if (u !== 0) break;
        m.shortValue = sint32();
        set = "shortValue";
        break;
      case 6:
        if (u !== 1) break;
        m.doubleValue = double();
        set = "doubleValue";
        break;
      case 7:
        if (u !== 2) break;
        m.binaryValue = bytes();
        set = "binaryValue";
        break;
      case 8:
        if (u !== 0) break;
        m.byteValue = sint32();
        set = "byteValue";
        break;
      case 9:
        if (u !== 2) break;
        m.intStringValue = intStringValue(m.intStringValue, q + 1);
        set = "intStringValue";
        break;
      case 10:
        if (u !== 2) break;
        m.stringStringValue = stringStringValue(m.stringStringValue, q + 1);
        set = "stringStringValue";
        break;
      case 11:
        if (u !== 2) break;
        m.intStringStringValue = intStringStringValue(m.intStringStringValue, q + 1);
        set = "intStringStringValue";
        break;
      case 12:
        if (u !== 2) break;
        m.longIntIntByteByteStringValue = longIntIntByteByteStringValue(m.longIntIntByteByteStringValue, q + 1);
        set = "longIntIntByteByteStringValue";
        break;
      case 13:
        if (u !== 2) break;
        m.intBooleanIntBooleanValue = intBooleanIntBooleanValue(m.intBooleanIntBooleanValue, q + 1);
        set = "intBooleanIntBooleanValue";
        break;
    }
    if (set === undefined) {
      skipType(u, q, f);
      continue;
    }
    if (member !== "" && member !== set) (m as Record<string, unknown>)[member] = undefined;
    member = set;
  }
  leave(outer);
  return m;
}

function currentMember(v: PAnnotationValueMsg): string {
  for (const k in v) if ((v as Record<string, unknown>)[k] != null) return k;
  return "";
}

/** google.protobuf.StringValue. */
function stringValue(into: StringValueMsg | null | undefined, q: number): StringValueMsg {
  const outer = enter();
  const m: StringValueMsg = into ?? { value: "" };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 2) m.value = string();
    else skipType(u, q, f);
  }
  leave(outer);
  return m;
}

function intStringValue(into: PIntStringValueMsg | null | undefined, q: number): PIntStringValueMsg {
  const outer = enter();
  const m: PIntStringValueMsg = into ?? { intValue: 0, stringValue: null };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 0) m.intValue = int32();
    else if (f === 2 && u === 2) m.stringValue = stringValue(m.stringValue, q + 1);
    else skipType(u, q, f);
  }
  leave(outer);
  return m;
}

type StringString = NonNullable<PAnnotationValueMsg["stringStringValue"]>;
type IntStringString = NonNullable<PAnnotationValueMsg["intStringStringValue"]>;
type LongIntIntByteByteString = NonNullable<PAnnotationValueMsg["longIntIntByteByteStringValue"]>;
type IntBooleanIntBoolean = NonNullable<PAnnotationValueMsg["intBooleanIntBooleanValue"]>;

function stringStringValue(into: StringString | null | undefined, q: number): StringString {
  const outer = enter();
  const m: StringString = into ?? { stringValue1: null, stringValue2: null };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 2) m.stringValue1 = stringValue(m.stringValue1, q + 1);
    else if (f === 2 && u === 2) m.stringValue2 = stringValue(m.stringValue2, q + 1);
    else skipType(u, q, f);
  }
  leave(outer);
  return m;
}

function intStringStringValue(into: IntStringString | null | undefined, q: number): IntStringString {
  const outer = enter();
  const m: IntStringString = into ?? { intValue: 0, stringValue1: null, stringValue2: null };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 0) m.intValue = int32();
    else if (f === 2 && u === 2) m.stringValue1 = stringValue(m.stringValue1, q + 1);
    else if (f === 3 && u === 2) m.stringValue2 = stringValue(m.stringValue2, q + 1);
    else skipType(u, q, f);
  }
  leave(outer);
  return m;
}

function longIntIntByteByteStringValue(into: LongIntIntByteByteString | null | undefined, q: number): LongIntIntByteByteString {
  const outer = enter();
  const m: LongIntIntByteByteString = into ?? { longValue: 0, intValue1: 0, intValue2: 0, byteValue1: 0, byteValue2: 0, stringValue: null };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 0) m.longValue = int64();
    else if (f === 2 && u === 0) m.intValue1 = int32();
    else if (f === 3 && u === 0) m.intValue2 = int32();
    else if (f === 4 && u === 0) m.byteValue1 = sint32();
    else if (f === 5 && u === 0) m.byteValue2 = sint32();
    else if (f === 6 && u === 2) m.stringValue = stringValue(m.stringValue, q + 1);
    else skipType(u, q, f);
  }
  leave(outer);
  return m;
}

function intBooleanIntBooleanValue(into: IntBooleanIntBoolean | null | undefined, q: number): IntBooleanIntBoolean {
  const outer = enter();
  const m: IntBooleanIntBoolean = into ?? { intValue1: 0, boolValue1: false, intValue2: 0, boolValue2: false };
  while (pos < len) {
    const t = tag();
    const u = t & 7;
    const f = t >>> 3;
    if (f === 1 && u === 0) m.intValue1 = int32();
    else if (f === 2 && u === 0) m.boolValue1 = bool();
    else if (f === 3 && u === 0) m.intValue2 = int32();
    else if (f === 4 && u === 0) m.boolValue2 = bool();
    else skipType(u, q, f);
  }
  leave(outer);
  return m;
}
