// Just enough of Pinpoint's agent→collector protobuf messages (v1 package: Span.proto,
// Service.proto, Stat.proto of pinpoint-apm/pinpoint) to tell what a message is and to
// name the transaction and span it belongs to. Field numbers: see
// ../shared/design/pinpoint-to-otel.md. Messages may be prefixes (a cut payload): fields
// that are wholly present are read, the rest is ignored. Known fields with the wrong
// wire type make the message "not this type" rather than misread.
import { PbReader } from "../codec/protobuf";
import { WIRE_I64, WIRE_LEN, WIRE_VARINT } from "../codec/writer";

export const KIND_UNKNOWN: i32 = 0;
export const KIND_SPAN: i32 = 1;
export const KIND_SPAN_CHUNK: i32 = 2;

/** Epoch milliseconds an agent start time must fall in (2000-01-01 .. 2100-01-01) to be believed. */
const MIN_PLAUSIBLE_MS: i64 = 946684800000;
const MAX_PLAUSIBLE_MS: i64 = 4102444800000;

/** A nested length-delimited field as a reader over what is present of it. */
class Nested {
  reader: PbReader;
  /** The field ran past the end of the data (a cut message). */
  cut: bool;

  constructor(reader: PbReader, cut: bool) {
    this.reader = reader;
    this.cut = cut;
  }
}

/** Enters a LEN field even when only part of it is there. null when it is not a LEN field. */
function enter(pb: PbReader): Nested | null {
  if (pb.wire != WIRE_LEN) return null;
  const r = pb.r;
  const n = r.uvarint32();
  if (r.short) return null;
  const start = r.pos;
  const avail = r.end - start;
  const cut = n > <u32>avail;
  const stop = cut ? r.end : start + <i32>n;
  r.pos = stop;
  return new Nested(new PbReader(r.data, start, stop), cut);
}

function wireIs(pb: PbReader, wire: u32): bool {
  return pb.wire == wire;
}

/** A string field, null when it is cut off. */
function str(pb: PbReader): string | null {
  const s = pb.string();
  return pb.bad ? null : s;
}

/** PSpan or PSpanChunk, as far as the request log needs it. */
export class PinpointSpan {
  kind: i32 = KIND_UNKNOWN;
  version: i32 = 0;
  hasTransactionId: bool = false;
  /** Empty means "the sending agent" (take it from the agentid header). */
  agentId: string = "";
  agentStartTime: i64 = 0;
  sequence: i64 = 0;
  hasSpanId: bool = false;
  spanId: i64 = 0;
  hasParentSpanId: bool = false;
  parentSpanId: i64 = 0;
  startTime: i64 = 0;
  elapsed: i32 = 0;
  apiId: i32 = 0;
  serviceType: i32 = 0;
  applicationServiceType: i32 = 0;
  flag: i32 = 0;
  err: i32 = 0;
  rpc: string | null = null;
  endPoint: string | null = null;
  remoteAddr: string | null = null;
  parentApplicationName: string | null = null;
  keyTime: i64 = 0;
  hasLocalAsyncId: bool = false;
  asyncId: i32 = 0;
  asyncSequence: i32 = 0;
  spanEvents: i32 = 0;
  annotations: i32 = 0;
  /** The message was read to its end (not a prefix). */
  complete: bool = false;
  /** Bit n set: field n of the PSpan / PSpanChunk was read (absent fields of a prefix are unknown, not 0). */
  seen: u32 = 0;

  /** Whether field `n` has a known value: read, or absent from a complete message (protobuf default). */
  known(n: i32): bool {
    return this.complete || (this.seen & (1 << n)) != 0;
  }

  /** `agentId^agentStartTime^sequence`; the header's agent id when the message leaves it empty; null when unknown. */
  transactionId(headerAgentId: string | null): string | null {
    if (!this.hasTransactionId) return null;
    let agent = this.agentId;
    if (agent.length == 0) {
      if (headerAgentId === null || headerAgentId.length == 0) return null;
      agent = headerAgentId;
    }
    return agent + "^" + this.agentStartTime.toString() + "^" + this.sequence.toString();
  }

  /**
   * Whether this reads as a real span message by its content alone (used when the
   * stream's :path was never seen): a kind, a transaction id with a believable agent
   * start time, and a span id.
   */
  get plausible(): bool {
    return this.kind != KIND_UNKNOWN && this.hasTransactionId && this.hasSpanId &&
      this.agentStartTime >= MIN_PLAUSIBLE_MS && this.agentStartTime < MAX_PLAUSIBLE_MS && this.sequence >= 0;
  }
}

/** PTransactionId { string agentId = 1; int64 agentStartTime = 2; int64 sequence = 3; } */
function readTransactionId(n: Nested, out: PinpointSpan): bool {
  const pb = n.reader;
  let haveStart = false;
  while (pb.next()) {
    const f = pb.field;
    if (f == 1) {
      if (!wireIs(pb, WIRE_LEN)) return false;
      out.agentId = pb.string();
    } else if (f == 2) {
      if (!wireIs(pb, WIRE_VARINT)) return false;
      out.agentStartTime = pb.int64();
      haveStart = !pb.bad;
    } else if (f == 3) {
      if (!wireIs(pb, WIRE_VARINT)) return false;
      out.sequence = pb.int64();
    } else {
      pb.skip();
    }
  }
  // A cut transaction id may lack its sequence: not known then.
  out.hasTransactionId = haveStart && !pb.bad && !n.cut;
  return true;
}

/** PAcceptEvent { rpc = 1; endPoint = 2; remoteAddr = 3; PParentInfo parentInfo = 4 } */
function readAcceptEvent(pb: PbReader, out: PinpointSpan): bool {
  while (pb.next()) {
    const f = pb.field;
    if (f >= 1 && f <= 4 && !wireIs(pb, WIRE_LEN)) return false;
    if (f == 1) out.rpc = str(pb);
    else if (f == 2) out.endPoint = str(pb);
    else if (f == 3) out.remoteAddr = str(pb);
    else if (f == 4) {
      const parent = enter(pb);
      if (parent === null) return false;
      const p = parent.reader;
      while (p.next()) {
        if (p.field == 1 && p.wire == WIRE_LEN) out.parentApplicationName = str(p);
        else p.skip();
      }
    } else pb.skip();
  }
  return true;
}

function readSpan(pb: PbReader, out: PinpointSpan): bool {
  out.kind = KIND_SPAN;
  while (pb.next()) {
    const f = pb.field;
    switch (f) {
      case 1:
        if (!wireIs(pb, WIRE_VARINT)) return false;
        out.version = pb.int32();
        break;
      case 2: {
        const n = enter(pb);
        if (n === null || !readTransactionId(n, out)) return false;
        break;
      }
      case 3:
        if (!wireIs(pb, WIRE_I64)) return false;
        out.spanId = <i64>pb.fixed64();
        out.hasSpanId = !pb.bad;
        break;
      case 4:
        if (!wireIs(pb, WIRE_I64)) return false;
        out.parentSpanId = <i64>pb.fixed64();
        out.hasParentSpanId = !pb.bad;
        break;
      case 5:
        if (!wireIs(pb, WIRE_VARINT)) return false;
        out.startTime = pb.int64();
        break;
      case 6:
        if (!wireIs(pb, WIRE_VARINT)) return false;
        out.elapsed = pb.int32();
        break;
      case 7:
        if (!wireIs(pb, WIRE_VARINT)) return false;
        out.apiId = pb.int32();
        break;
      case 8:
        if (!wireIs(pb, WIRE_VARINT)) return false;
        out.serviceType = pb.int32();
        break;
      case 9: {
        const n = enter(pb);
        if (n === null || !readAcceptEvent(n.reader, out)) return false;
        break;
      }
      case 10:
        if (!wireIs(pb, WIRE_LEN)) return false;
        out.annotations++;
        pb.skip();
        break;
      case 11:
        if (!wireIs(pb, WIRE_VARINT)) return false;
        out.flag = pb.int32();
        break;
      case 12:
        if (!wireIs(pb, WIRE_VARINT)) return false;
        out.err = pb.sint32();
        break;
      case 13:
        if (!wireIs(pb, WIRE_LEN)) return false;
        out.spanEvents++;
        pb.skip();
        break;
      case 15:
        if (!wireIs(pb, WIRE_VARINT)) return false;
        out.applicationServiceType = pb.int32();
        break;
      default:
        pb.skip();
    }
    if (!pb.bad && f < 32) out.seen |= 1 << f;
  }
  return true;
}

function readSpanChunk(pb: PbReader, out: PinpointSpan): bool {
  out.kind = KIND_SPAN_CHUNK;
  while (pb.next()) {
    const f = pb.field;
    switch (f) {
      case 1:
        if (!wireIs(pb, WIRE_VARINT)) return false;
        out.version = pb.int32();
        break;
      case 2: {
        const n = enter(pb);
        if (n === null || !readTransactionId(n, out)) return false;
        break;
      }
      case 3:
        if (!wireIs(pb, WIRE_I64)) return false;
        out.spanId = <i64>pb.fixed64();
        out.hasSpanId = !pb.bad;
        break;
      case 4:
        if (!wireIs(pb, WIRE_LEN)) return false;
        out.endPoint = str(pb);
        break;
      case 5:
        if (!wireIs(pb, WIRE_LEN)) return false;
        out.spanEvents++;
        pb.skip();
        break;
      case 6:
        if (!wireIs(pb, WIRE_VARINT)) return false;
        out.applicationServiceType = pb.int32();
        break;
      case 7:
        if (!wireIs(pb, WIRE_VARINT)) return false;
        out.keyTime = pb.int64();
        break;
      case 8: {
        const n = enter(pb);
        if (n === null) return false;
        const p = n.reader;
        while (p.next()) {
          if (p.field == 1 && p.wire == WIRE_VARINT) out.asyncId = p.int32();
          else if (p.field == 2 && p.wire == WIRE_VARINT) out.asyncSequence = p.int32();
          else p.skip();
        }
        out.hasLocalAsyncId = !n.cut;
        break;
      }
      default:
        pb.skip();
    }
    if (!pb.bad && f < 32) out.seen |= 1 << f;
  }
  return true;
}

/**
 * PSpanMessage { oneof { PSpan span = 1; PSpanChunk spanChunk = 2; } } from data[start, end)
 * (`whole`: all of the message is there). False when the bytes are not a span message.
 */
export function readSpanMessage(data: Uint8Array, start: i32, end: i32, whole: bool, out: PinpointSpan): bool {
  const pb = new PbReader(data, start, end);
  if (!pb.next()) return false;
  const f = pb.field;
  if (f != 1 && f != 2) return false;
  const n = enter(pb);
  if (n === null) return false;
  const ok = f == 1 ? readSpan(n.reader, out) : readSpanChunk(n.reader, out);
  if (!ok) return false;
  const cleanEnd = !n.cut && !n.reader.bad && pb.r.remaining == 0;
  // A whole message must parse to its end; a prefix keeps what it read.
  if (whole && !cleanEnd) return false;
  out.complete = whole && cleanEnd;
  return true;
}

/** The id/text pair of PApiMetaData (apiId, apiInfo), PSqlMetaData (sqlId, sql), PStringMetaData (stringId, stringValue). */
export class PinpointMetaData {
  id: i32 = 0;
  hasId: bool = false;
  text: string | null = null;
}

export function readMetaData(data: Uint8Array, start: i32, end: i32, out: PinpointMetaData): bool {
  const pb = new PbReader(data, start, end);
  while (pb.next()) {
    if (pb.field == 1) {
      if (!wireIs(pb, WIRE_VARINT)) return false;
      out.id = pb.int32();
      out.hasId = !pb.bad;
    } else if (pb.field == 2) {
      if (!wireIs(pb, WIRE_LEN)) return false;
      out.text = str(pb);
    } else pb.skip();
  }
  return out.hasId;
}

/** PResult { bool success = 1; string message = 2; } */
export class PinpointResult {
  success: bool = false;
  message: string = "";
}

export function readResult(data: Uint8Array, start: i32, end: i32, out: PinpointResult): bool {
  const pb = new PbReader(data, start, end);
  while (pb.next()) {
    if (pb.field == 1 && pb.wire == WIRE_VARINT) out.success = pb.bool();
    else if (pb.field == 2 && pb.wire == WIRE_LEN) out.message = pb.string();
    else pb.skip();
  }
  return !pb.bad;
}

/** PAgentInfo { string hostname = 1; string ip = 2; string ports = 3; int32 serviceType = 4; int32 pid = 5; string agentVersion = 6; ... } */
export class PinpointAgentInfo {
  hostname: string | null = null;
  ip: string | null = null;
  serviceType: i32 = 0;
  pid: i32 = 0;
  agentVersion: string | null = null;
}

export function readAgentInfo(data: Uint8Array, start: i32, end: i32, out: PinpointAgentInfo): bool {
  const pb = new PbReader(data, start, end);
  while (pb.next()) {
    const f = pb.field;
    if (f == 1 && pb.wire == WIRE_LEN) out.hostname = str(pb);
    else if (f == 2 && pb.wire == WIRE_LEN) out.ip = str(pb);
    else if (f == 4 && pb.wire == WIRE_VARINT) out.serviceType = pb.int32();
    else if (f == 5 && pb.wire == WIRE_VARINT) out.pid = pb.int32();
    else if (f == 6 && pb.wire == WIRE_LEN) out.agentVersion = str(pb);
    else pb.skip();
  }
  return !pb.bad;
}
