// Just enough of Pinpoint's agent→collector protobuf messages (v1 package: Span.proto,
// Service.proto, Stat.proto of pinpoint-apm/pinpoint) to tell what a message is and to
// name the transaction and span it belongs to. Field numbers: see
// ../shared/design/pinpoint-to-otel.md. Messages may be prefixes (a cut payload): fields
// that are wholly present are read, the rest is ignored. Known fields with the wrong
// wire type make the message "not this type" rather than misread.
import {
  ByteWriter, PbReader, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, writeDecimal,
} from "../assembly/index";

export const KIND_UNKNOWN: i32 = 0;
export const KIND_SPAN: i32 = 1;
export const KIND_SPAN_CHUNK: i32 = 2;

/** Epoch milliseconds an agent start time must fall in (2000-01-01 .. 2100-01-01) to be believed. */
const MIN_PLAUSIBLE_MS: i64 = 946684800000;
const MAX_PLAUSIBLE_MS: i64 = 4102444800000;

/** Set by enter(): the nested field runs past the end of the data (a cut message). */
let enteredCut = false;

/**
 * Enters a LEN field in place: the reader's end becomes the field's end (or the data's
 * end when the field is cut). Returns the end to restore with leave(), or -1 when the
 * field is not LEN or its length is cut off. One reader serves the whole message.
 */
function enter(pb: PbReader): i32 {
  if (pb.wire != WIRE_LEN) return -1;
  const n = length(pb);
  const r = pb.r;
  if (r.short) return -1;
  const outer = r.end;
  const avail = outer - r.pos;
  enteredCut = n > <u32>avail;
  r.end = enteredCut ? outer : r.pos + <i32>n;
  return outer;
}

/** Back to the enclosing message, past whatever of the nested one was not read. */
function leave(pb: PbReader, outer: i32): void {
  pb.r.pos = pb.r.end;
  pb.r.end = outer;
}

function wireIs(pb: PbReader, wire: u32): bool {
  return pb.wire == wire;
}

// The walk over span fields reads one-byte keys, lengths and varints (most of a span's)
// inline on pb's reader; anything else goes through PbReader, which also flags errors.
const KEY_WIRES: u32 = (1 << WIRE_VARINT) | (1 << WIRE_I64) | (1 << WIRE_LEN) | (1 << WIRE_I32);

/** pb.next(). */
function nextKey(pb: PbReader): bool {
  const r = pb.r;
  const at = r.pos;
  if (at < r.end && !pb.bad) {
    const key = <u32>load<u8>(r.data.dataStart + <usize>at);
    if (key >= 8 && key < 0x80 && ((1 << (key & 7)) & KEY_WIRES) != 0) {
      r.pos = at + 1;
      pb.field = key >> 3;
      pb.wire = key & 7;
      return true;
    }
  }
  return pb.next();
}

/** A LEN field's length (r.uvarint32()). */
function length(pb: PbReader): u32 {
  const r = pb.r;
  const at = r.pos;
  if (at < r.end) {
    const b = <u32>load<u8>(r.data.dataStart + <usize>at);
    if (b < 0x80) {
      r.pos = at + 1;
      return b;
    }
  }
  return r.uvarint32();
}

/** pb.skip(), short fields inline. */
function skipField(pb: PbReader): void {
  const r = pb.r;
  const at = r.pos;
  const end = r.end;
  const wire = pb.wire;
  if (at < end) {
    const b = <i32>load<u8>(r.data.dataStart + <usize>at);
    if (wire == WIRE_VARINT && b < 0x80) {
      r.pos = at + 1;
      return;
    }
    if (wire == WIRE_LEN && b < 0x80 && b < end - at) {
      r.pos = at + 1 + b;
      return;
    }
  }
  pb.skip();
}

/** pb.fixed64() of a field whose wire type was checked to be I64. */
function fixed64(pb: PbReader): u64 {
  const r = pb.r;
  const at = r.pos;
  if (at + 8 <= r.end) {
    r.pos = at + 8;
    return load<u64>(r.data.dataStart + <usize>at);
  }
  return pb.fixed64();
}

/** pb.varint() of a field whose wire type was checked to be VARINT. */
function varint(pb: PbReader): u64 {
  const r = pb.r;
  const at = r.pos;
  if (at < r.end) {
    const b = load<u8>(r.data.dataStart + <usize>at);
    if (b < 0x80) {
      r.pos = at + 1;
      return <u64>b;
    }
  }
  return pb.varint();
}

/** A string field, null when it is cut off. */
function str(pb: PbReader): string | null {
  const s = pb.string();
  return pb.bad ? null : s;
}

/** Set by textField(): where the field's bytes start. */
let fieldAt: i32 = 0;

/**
 * A LEN field's bytes left in place (no string made): their length, with the start in
 * `fieldAt`; -1 (and `bad`) when they are cut off.
 */
function textField(pb: PbReader): i32 {
  const r = pb.r;
  const n = length(pb);
  const at = r.pos;
  if (r.short || n > 0x7fffffff || !r.skip(<i32>n)) {
    pb.bad = true;
    return -1;
  }
  fieldAt = at;
  return <i32>n;
}

/** A span's text field: `len` bytes at `at` of the span's data; len -1 when absent. */
@final export class TextRef {
  at: i32 = 0;
  len: i32 = -1;

  @inline set(len: i32): void {
    this.at = fieldAt;
    this.len = len;
  }

  @inline get present(): bool {
    return this.len >= 0;
  }
}

/**
 * PSpan or PSpanChunk, as far as the request log needs it. Text fields stay bytes of
 * `data` (valid while the message's bytes are): the log copies them without strings.
 */
export class PinpointSpan {
  data: Uint8Array = new Uint8Array(0);
  kind: i32 = KIND_UNKNOWN;
  hasTransactionId: bool = false;
  /** Empty means "the sending agent" (take it from the agentid header). */
  agentId: TextRef = new TextRef();
  agentStartTime: i64 = 0;
  sequence: i64 = 0;
  hasSpanId: bool = false;
  spanId: i64 = 0;
  hasParentSpanId: bool = false;
  parentSpanId: i64 = 0;
  apiId: i32 = 0;
  serviceType: i32 = 0;
  applicationServiceType: i32 = 0;
  err: i32 = 0;
  rpc: TextRef = new TextRef();
  endPoint: TextRef = new TextRef();
  parentApplicationName: TextRef = new TextRef();
  hasLocalAsyncId: bool = false;
  asyncId: i32 = 0;
  /** The message was read to its end (not a prefix). */
  complete: bool = false;
  /** Bit n set: field n of the PSpan / PSpanChunk was read (absent fields of a prefix are unknown, not 0). */
  seen: u32 = 0;

  /** Whether field `n` has a known value: read, or absent from a complete message (protobuf default). */
  known(n: i32): bool {
    return this.complete || (this.seen & (1 << n)) != 0;
  }

  /** Back to "nothing read", for reuse. */
  reset(data: Uint8Array): void {
    this.data = data;
    this.kind = KIND_UNKNOWN;
    this.hasTransactionId = false;
    this.agentId.len = 0;
    this.agentStartTime = 0;
    this.sequence = 0;
    this.hasSpanId = false;
    this.spanId = 0;
    this.hasParentSpanId = false;
    this.parentSpanId = 0;
    this.apiId = 0;
    this.serviceType = 0;
    this.applicationServiceType = 0;
    this.err = 0;
    this.rpc.len = -1;
    this.endPoint.len = -1;
    this.parentApplicationName.len = -1;
    this.hasLocalAsyncId = false;
    this.asyncId = 0;
    this.complete = false;
    this.seen = 0;
  }

  /**
   * Writes `agentId^agentStartTime^sequence` to `w` as valid UTF-8 (invalid bytes of the
   * agent id replaced); the agent id is the header's (`headerAgentLen` bytes at
   * `headerAgent`; -1: no header) when the message leaves it empty. False, and nothing
   * written, when unknown.
   */
  writeTransactionId(w: ByteWriter, headerAgent: usize, headerAgentLen: i32): bool {
    if (!this.hasTransactionId) return false;
    const own = this.agentId.len;
    if (own > 0) w.utf8Bytes(this.data.dataStart + <usize>this.agentId.at, own);
    else if (headerAgentLen > 0) w.utf8Bytes(headerAgent, headerAgentLen);
    else return false;
    w.ensure(2 + 2 * 20);
    const base = w.dataStart;
    store<u8>(base + <usize>w.len, 0x5e);
    const at = writeDecimal(base, w.len + 1, this.agentStartTime);
    store<u8>(base + <usize>at, 0x5e);
    w.len = writeDecimal(base, at + 1, this.sequence);
    return true;
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
function readTransactionId(pb: PbReader, out: PinpointSpan): bool {
  const outer = enter(pb);
  if (outer < 0) return false;
  const cut = enteredCut;
  let haveStart = false;
  while (nextKey(pb)) {
    const f = pb.field;
    if (f == 1) {
      if (!wireIs(pb, WIRE_LEN)) return false;
      const n = textField(pb);
      if (n >= 0) out.agentId.set(n);
    } else if (f == 2) {
      if (!wireIs(pb, WIRE_VARINT)) return false;
      out.agentStartTime = <i64>varint(pb);
      haveStart = !pb.bad;
    } else if (f == 3) {
      if (!wireIs(pb, WIRE_VARINT)) return false;
      out.sequence = <i64>varint(pb);
    } else {
      skipField(pb);
    }
  }
  // A cut transaction id may lack its sequence: not known then.
  out.hasTransactionId = haveStart && !pb.bad && !cut;
  leave(pb, outer);
  return true;
}

/** PAcceptEvent { rpc = 1; endPoint = 2; remoteAddr = 3; PParentInfo parentInfo = 4 } */
function readAcceptEvent(pb: PbReader, out: PinpointSpan): bool {
  const outer = enter(pb);
  if (outer < 0) return false;
  while (nextKey(pb)) {
    const f = pb.field;
    if (f >= 1 && f <= 4 && !wireIs(pb, WIRE_LEN)) return false;
    if (f == 1) out.rpc.set(textField(pb));
    else if (f == 2) out.endPoint.set(textField(pb));
    else if (f == 4) {
      const inner = enter(pb);
      if (inner < 0) return false;
      while (nextKey(pb)) {
        if (pb.field == 1 && pb.wire == WIRE_LEN) out.parentApplicationName.set(textField(pb));
        else skipField(pb);
      }
      leave(pb, inner);
    } else skipField(pb);
  }
  leave(pb, outer);
  return true;
}

// The wire type each field of PSpan / PSpanChunk must have (index: field number; ANY: not checked).
const ANY: u8 = 255;
const V: u8 = <u8>WIRE_VARINT;
const L: u8 = <u8>WIRE_LEN;
const F64: u8 = <u8>WIRE_I64;
const SPAN_WIRES: StaticArray<u8> = [ANY, V, L, F64, F64, V, V, V, V, L, L, V, V, L, L, V, V];
const CHUNK_WIRES: StaticArray<u8> = [ANY, V, L, F64, L, L, V, V, L];

/** PSpan (chunk = false) or PSpanChunk fields; false when a known field has the wrong wire type. */
function readSpanFields(pb: PbReader, out: PinpointSpan, chunk: bool): bool {
  out.kind = chunk ? KIND_SPAN_CHUNK : KIND_SPAN;
  const wires = chunk ? CHUNK_WIRES : SPAN_WIRES;
  while (nextKey(pb)) {
    const f = pb.field;
    if (f < <u32>wires.length && unchecked(wires[f]) != ANY && pb.wire != <u32>unchecked(wires[f])) return false;
    // Fields 1-3 mean the same in both messages (1, the version, is not logged).
    if (f == 2) {
      if (!readTransactionId(pb, out)) return false;
    } else if (f == 3) {
      out.spanId = <i64>fixed64(pb);
      out.hasSpanId = !pb.bad;
    } else if (!chunk) {
      if (!readSpanField(pb, f, out)) return false;
    } else if (!readChunkField(pb, f, out)) return false;
    if (!pb.bad && f < 32) out.seen |= 1 << f;
  }
  return true;
}

function readSpanField(pb: PbReader, f: u32, out: PinpointSpan): bool {
  switch (f) {
    case 4:
      out.parentSpanId = <i64>fixed64(pb);
      out.hasParentSpanId = !pb.bad;
      break;
    case 7:
      out.apiId = <i32>varint(pb);
      break;
    case 8:
      out.serviceType = <i32>varint(pb);
      break;
    case 9:
      return readAcceptEvent(pb, out);
    case 12:
      out.err = pb.sint32();
      break;
    case 15:
      out.applicationServiceType = <i32>varint(pb);
      break;
    default:
      skipField(pb);
  }
  return true;
}

function readChunkField(pb: PbReader, f: u32, out: PinpointSpan): bool {
  switch (f) {
    case 4:
      out.endPoint.set(textField(pb));
      break;
    case 6:
      out.applicationServiceType = <i32>varint(pb);
      break;
    case 8: {
      const outer = enter(pb);
      if (outer < 0) return false;
      const cut = enteredCut;
      while (nextKey(pb)) {
        if (pb.field == 1 && pb.wire == WIRE_VARINT) out.asyncId = pb.int32();
        else skipField(pb);
      }
      out.hasLocalAsyncId = !cut && !pb.bad;
      leave(pb, outer);
      break;
    }
    default:
      skipField(pb);
  }
  return true;
}

// One reader serves every span message.
const spanReader = new PbReader(new Uint8Array(0));

/**
 * PSpanMessage { oneof { PSpan span = 1; PSpanChunk spanChunk = 2; } } from data[start, end)
 * (`whole`: all of the message is there). False when the bytes are not a span message.
 */
export function readSpanMessage(data: Uint8Array, start: i32, end: i32, whole: bool, out: PinpointSpan): bool {
  out.reset(data);
  const pb = spanReader;
  pb.r.reset(data, start, end);
  pb.bad = false;
  if (!pb.next()) return false;
  const f = pb.field;
  if (f != 1 && f != 2) return false;
  const outer = enter(pb);
  if (outer < 0) return false;
  const cut = enteredCut;
  const ok = readSpanFields(pb, out, f == 2);
  if (!ok) return false;
  const bad = pb.bad;
  leave(pb, outer);
  const cleanEnd = !cut && !bad && pb.r.remaining == 0;
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
