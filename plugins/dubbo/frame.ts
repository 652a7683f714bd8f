// Dubbo 2 frames: the 16-byte header and what the body says, read from bytes that
// may be cut anywhere (agent truncation, segment boundaries).
//
// header: magic 0xdabb | flag (0x80 request, 0x40 two-way, 0x20 event, low 5 bits
// serialization id) | status | request id (u64) | body length (u32)
//
// Hessian2 request body: dubbo version, service path, service version, method name,
// parameter type descriptor, the arguments, the attachments map.
// Hessian2 response body (status 20): an int flag, then by flag the value (1, 4), an
// exception (0, 3), and the attachments map (3, 4, 5). Other statuses: an error text.
import { Hessian2Reader, HK_OBJECT, HK_STRING, HK_BOOL, HK_INT, HK_LONG, HK_DOUBLE } from "../../protocols/hessian2";
import { ByteWriter, readU32be, readU64be, readU8, TraceCollector } from "../../assembly/index";
import { ARGUMENT_ATTRIBUTES, MAX_ARGUMENT_TEXT } from "./config";

export const HEADER_LEN: i32 = 16;
export const MAGIC_HIGH: u8 = 0xda;
export const MAGIC_LOW: u8 = 0xbb;
const FLAG_REQUEST: u32 = 0x80;
const FLAG_TWO_WAY: u32 = 0x40;
const FLAG_EVENT: u32 = 0x20;

export const STATUS_OK: u8 = 20;

export const SER_HESSIAN2: u8 = 2;
export const SER_NATIVE_HESSIAN: u8 = 10;
export const SER_KRYO: u8 = 8;
export const SER_KRYO2: u8 = 25;
export const SER_FASTJSON2: u8 = 23;

/** Names as DeepFlow's built-in parser reports them (attribute serialization_id). */
export function serializationName(id: u8): string {
  switch (id) {
    case 2: return "HESSIAN2";
    case 3: return "JAVA";
    case 4: return "COMPACTED_JAVA";
    case 6: return "FASTJSON";
    case 7: return "NATIVE_JAVA";
    case 8: return "KRYO";
    case 9: return "FST";
    case 10: return "NATIVE_HESSIAN";
    case 11: return "AVRO";
    case 12: return "PROTOSTUFF";
    case 16: return "GSON";
    case 21: return "PROTOBUF_JSON";
    case 22: return "PROTOBUF";
    case 23: return "FASTJSON2";
    case 25: return "KRYO_";
    case 31: return "CUSTO";
    default: return id.toString();
  }
}

/** Response flags of DecodeableRpcResult. */
const RESPONSE_WITH_EXCEPTION: i64 = 0;
const RESPONSE_VALUE: i64 = 1;
const RESPONSE_NULL_VALUE: i64 = 2;
const RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS: i64 = 3;
const RESPONSE_VALUE_WITH_ATTACHMENTS: i64 = 4;
const RESPONSE_NULL_VALUE_WITH_ATTACHMENTS: i64 = 5;

/** How far the attachments were read. */
export const ATTACH_NONE: i32 = 0; // the message has none (or the body was not decoded)
export const ATTACH_READ: i32 = 1; // read to the end
export const ATTACH_CUT: i32 = 2; // the payload ended before they did
export const ATTACH_BROKEN: i32 = 3; // the bytes before or in them did not decode

export class DubboHeader {
  flag: u32 = 0;
  status: u8 = 0;
  requestId: u64 = 0;
  bodyLength: u32 = 0;

  @inline get isRequest(): bool {
    return (this.flag & FLAG_REQUEST) != 0;
  }

  @inline get isTwoWay(): bool {
    return (this.flag & FLAG_TWO_WAY) != 0;
  }

  @inline get isEvent(): bool {
    return (this.flag & FLAG_EVENT) != 0;
  }

  @inline get serialization(): u8 {
    return <u8>(this.flag & 0x1f);
  }

  get isHessian2(): bool {
    const s = this.serialization;
    return s == SER_HESSIAN2 || s == SER_NATIVE_HESSIAN;
  }
}

/** Reads the header at `at`; false when there are not 16 bytes or no magic. */
export function readHeader(data: Uint8Array, at: i32, h: DubboHeader): bool {
  if (at < 0 || data.length - at < HEADER_LEN) return false;
  if (readU8(data, at) != <u32>MAGIC_HIGH || readU8(data, at + 1) != <u32>MAGIC_LOW) return false;
  h.flag = readU8(data, at + 2);
  h.status = <u8>readU8(data, at + 3);
  h.requestId = readU64be(data, at + 4);
  h.bodyLength = readU32be(data, at + 12);
  return true;
}

/** Status bytes a Dubbo response can carry. */
export function isKnownStatus(status: u8): bool {
  return status == 20 || status == 30 || status == 31 || status == 40 || status == 50 || status == 60 ||
    status == 70 || status == 80 || status == 90 || status == 100;
}

/** The request head's strings, in order: HEAD_* index DubboMessage.headAt / headLen. */
export const HEAD_DUBBO_VERSION: i32 = 0;
export const HEAD_SERVICE: i32 = 1;
export const HEAD_SERVICE_VERSION: i32 = 2;
export const HEAD_METHOD: i32 = 3;

/** What one frame says, as far as the payload holds it. */
export class DubboMessage {
  header: DubboHeader = new DubboHeader();
  /** Body bytes present in the payload (less than bodyLength when cut). */
  bodyPresent: i32 = 0;
  /**
   * The request head's strings (dubbo version, service, service version, method) as
   * valid UTF-8, one after another: string i is headAt[i], headLen[i]. Bytes, not text:
   * the record takes them as they are.
   */
  headText: ByteWriter = new ByteWriter(128);
  headAt: StaticArray<i32> = new StaticArray<i32>(4);
  headLen: StaticArray<i32> = new StaticArray<i32>(4);
  /** The request's head (version, service, version, method) was read whole. */
  headRead: bool = false;
  /** Event body: true for a heartbeat (null body). */
  heartbeat: bool = false;
  /** Error text: the body of a non-20 response, or the exception a response carries. */
  exception: string | null = null;
  attachments: i32 = ATTACH_NONE;
  /** First scalar arguments (only when ARGUMENT_ATTRIBUTES > 0). */
  args: string[] = [];
  /**
   * The body decoded to its last byte and no further (Hessian2; other serializations are
   * not read far enough to tell, and count as exact). A frame put together from several
   * payloads that does not is one whose pieces do not belong together.
   */
  exact: bool = false;

  /** Pointer to head string i (HEAD_*); headLen[i] bytes. */
  @inline headPtr(i: i32): usize {
    return this.headText.dataStart + <usize>unchecked(this.headAt[i]);
  }

  @inline headLength(i: i32): i32 {
    return unchecked(this.headLen[i]);
  }

  /** Sets head string i to the valid UTF-8 bytes at ptr .. ptr+len. */
  setHeadBytes(i: i32, ptr: usize, len: i32): void {
    const w = this.headText;
    const at = w.len;
    w.raw(ptr, len);
    unchecked((this.headAt[i] = at));
    unchecked((this.headLen[i] = w.len - at));
  }

  setHead(i: i32, s: string): void {
    const w = this.headText;
    const at = w.len;
    w.utf8(s);
    unchecked((this.headAt[i] = at));
    unchecked((this.headLen[i] = w.len - at));
  }

  get complete(): bool {
    return <u32>this.bodyPresent >= this.header.bodyLength;
  }

  reset(): void {
    this.bodyPresent = 0;
    this.headText.reset();
    this.headLen.fill(0);
    this.headRead = false;
    this.heartbeat = false;
    this.exception = null;
    this.attachments = ATTACH_NONE;
    this.exact = false;
    if (this.args.length > 0) this.args = [];
  }
}

const hessian = new Hessian2Reader();

/** The body bytes [start, end) of a frame, decoded into `m`; trace keys go to `keys`. */
export function decodeBody(data: Uint8Array, start: i32, end: i32, m: DubboMessage, keys: TraceCollector): void {
  const h = m.header;
  if (h.isEvent) {
    // Heartbeats carry a null body; other events (e.g. READONLY) a string.
    m.heartbeat = end <= start || (h.isHessian2 && data[start] == 0x4e);
    m.exact = true;
    return;
  }
  const ser = h.serialization;
  if (h.isHessian2) {
    hessian.reset(data, start, end);
    if (h.isRequest) decodeHessianRequest(hessian, m, keys);
    else decodeHessianResponse(hessian, m, keys);
    m.exact = hessian.ok && hessian.pos == end;
    return;
  }
  m.exact = true;
  if (h.isRequest && (ser == SER_KRYO || ser == SER_KRYO2)) {
    decodeKryoRequest(data, start, end, m, keys);
  } else if (h.isRequest && ser == SER_FASTJSON2) {
    decodeFastjson2Head(data, start, end, m);
  }
}

/** Where the hessian reader stopped, as an ATTACH_* state. */
function stopState(r: Hessian2Reader): i32 {
  return r.truncated ? ATTACH_CUT : ATTACH_BROKEN;
}

/** Reads head string i of the request (HEAD_*); false when it is not a whole string. */
function headString(r: Hessian2Reader, m: DubboMessage, i: i32): bool {
  // Copied as bytes, no text made (unless Java wrote surrogate halves).
  if (r.readUtf8Span()) {
    m.setHeadBytes(i, r.data.dataStart + <usize>r.spanStart, r.spanLength);
    return true;
  }
  if (r.peekKind() != HK_STRING) {
    r.skipValue(); // marks the reader cut or bad
    return false;
  }
  const s = r.readString();
  if (s === null) return false;
  m.setHead(i, s);
  return true;
}

function decodeHessianRequest(r: Hessian2Reader, m: DubboMessage, keys: TraceCollector): void {
  for (let i = HEAD_DUBBO_VERSION; i <= HEAD_METHOD; i++) {
    if (!headString(r, m, i)) return stopAt(r, m);
  }
  m.headRead = true;
  let argc = 0;
  if (r.readAsciiSpan()) {
    argc = countParameterTypes(r.data, r.spanStart, r.spanStart + r.spanLength);
  } else {
    if (r.peekKind() != HK_STRING) {
      r.skipValue();
      return stopAt(r, m);
    }
    const desc = r.readString();
    if (desc === null) return stopAt(r, m);
    const bytes = Uint8Array.wrap(String.UTF8.encode(desc));
    argc = countParameterTypes(bytes, 0, bytes.length);
  }
  for (let i = 0; i < argc; i++) {
    if (ARGUMENT_ATTRIBUTES > 0 && i < ARGUMENT_ATTRIBUTES) {
      const k = r.peekKind();
      if (k == HK_STRING || k == HK_INT || k == HK_LONG || k == HK_BOOL || k == HK_DOUBLE) {
        const text = r.readScalarText();
        if (text !== null) m.args.push(text.length > MAX_ARGUMENT_TEXT ? text.substring(0, MAX_ARGUMENT_TEXT) : text);
        continue;
      }
    }
    if (!r.skipValue()) return stopAt(r, m);
  }
  readAttachments(r, m, keys);
}

function stopAt(r: Hessian2Reader, m: DubboMessage): void {
  m.attachments = stopState(r);
}

function decodeHessianResponse(r: Hessian2Reader, m: DubboMessage, keys: TraceCollector): void {
  if (m.header.status != STATUS_OK) {
    // The body is the error message.
    if (r.peekKind() == HK_STRING) m.exception = r.readString();
    return;
  }
  const flag = r.readLong();
  if (!r.ok) return;
  if (flag == RESPONSE_WITH_EXCEPTION || flag == RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS) {
    m.exception = readThrowable(r);
  } else if (flag == RESPONSE_VALUE || flag == RESPONSE_VALUE_WITH_ATTACHMENTS) {
    r.skipValue();
  } else if (flag != RESPONSE_NULL_VALUE && flag != RESPONSE_NULL_VALUE_WITH_ATTACHMENTS) {
    m.attachments = ATTACH_BROKEN;
    return;
  }
  if (flag >= RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS) {
    if (!r.ok) return stopAt(r, m);
    readAttachments(r, m, keys);
  }
}

/** The attachments map: every pair offered to the trace keys. */
function readAttachments(r: Hessian2Reader, m: DubboMessage, keys: TraceCollector): void {
  if (r.readNull()) {
    m.attachments = ATTACH_READ;
    return;
  }
  if (!r.beginMap()) return stopAt(r, m);
  const rules = keys.keys;
  while (!r.endOfContainer()) {
    let rule = -1;
    // Keys are matched in place, without a string (most are short ASCII and not ours).
    if (r.readUtf8Span()) {
      rule = rules.findBytes(r.data, r.spanStart, r.spanLength);
    } else if (r.peekKind() == HK_STRING) {
      const key = r.readString();
      if (key !== null) rule = rules.find(key);
    } else {
      r.skipValue(); // a non-string key
    }
    if (rule < 0) {
      // Values are mostly strings: passing over their bytes beats walking their characters.
      if (!r.readAsciiSpan()) r.skipValue();
      continue;
    }
    // A value is offered as its bytes: no text is made.
    if (r.readUtf8Span()) {
      if (r.spanLength > 0) keys.offerBytes(rule, r.data, r.spanStart, r.spanLength);
      continue;
    }
    const value = r.readIdText();
    // A value cut by the end of the payload is not offered: it would be a wrong id.
    if (value !== null && value.length > 0 && r.ok) keys.offerRule(rule, value);
  }
  m.attachments = r.ok ? ATTACH_READ : stopState(r);
}

/**
 * "ExceptionClass: detailMessage" from a serialized Throwable (its fields as
 * java.lang.Throwable declares them); the class name alone when there is no message.
 */
function readThrowable(r: Hessian2Reader): string | null {
  if (!r.skipClassDefs()) return null;
  if (r.peekKind() != HK_OBJECT) {
    r.skipValue();
    return null;
  }
  const cls = r.beginObject();
  if (cls < 0) return null;
  const n = r.classFields(cls);
  let message: string | null = null;
  for (let i = 0; i < n && r.ok; i++) {
    if (message === null && r.peekKind() == HK_STRING && r.classFieldIs(cls, i, "detailMessage")) {
      message = r.readString();
    } else {
      r.skipValue();
    }
  }
  const name = r.className(cls);
  if (message === null) return name;
  return name.length > 0 ? name + ": " + message : message;
}

/** Number of types in a JVM parameter descriptor such as "Ljava/lang/String;[IJ" (bytes [start, end)). */
export function countParameterTypes(data: Uint8Array, start: i32, end: i32): i32 {
  let n = 0;
  let i = start;
  while (i < end) {
    while (i + 1 < end && data[i] == 0x5b) i++; // '[' array prefixes
    if (data[i] == 0x4c) {
      // 'L' ... ';'
      while (i < end && data[i] != 0x3b) i++;
    }
    i++;
    n++;
  }
  return n;
}

// ---- kryo ----

/**
 * A kryo string at `at`: ASCII with the high bit set on the last byte, or a UTF-8
 * length varint (first byte 0x80 | 6 bits) then UTF-8. Sets kryoEnd; null when it
 * does not decode (or is null).
 */
let kryoEnd: i32 = 0;

function kryoString(data: Uint8Array, at: i32, end: i32): string | null {
  if (at >= end) return null;
  const b = <u32>data[at];
  if ((b & 0x80) == 0) {
    let i = at;
    while (i < end && (data[i] & 0x80) == 0) i++;
    if (i >= end) return null;
    const n = i - at + 1;
    const s = String.UTF8.decodeUnsafe(data.dataStart + <usize>at, <usize>n);
    kryoEnd = i + 1;
    // The last character carries the end bit.
    return s.substring(0, n - 1) + String.fromCharCode(<i32>(data[i] & 0x7f));
  }
  let length: u32 = b & 0x3f;
  let i = at + 1;
  if ((b & 0x40) != 0) {
    let shift: u32 = 6;
    for (;;) {
      if (i >= end || shift > 27) return null;
      const c = <u32>data[i++];
      length |= (c & 0x7f) << shift;
      if ((c & 0x80) == 0) break;
      shift += 7;
    }
  }
  if (length == 0) return null; // null string
  const chars = <i32>length - 1;
  // Count bytes of `chars` UTF-8 characters.
  let j = i;
  for (let k = 0; k < chars; k++) {
    if (j >= end) return null;
    const c = <u32>data[j];
    j += c < 0x80 ? 1 : c < 0xe0 ? 2 : 3;
  }
  if (j > end) return null;
  kryoEnd = j;
  return String.UTF8.decodeUnsafe(data.dataStart + <usize>i, <usize>(j - i));
}

function decodeKryoRequest(data: Uint8Array, start: i32, end: i32, m: DubboMessage, keys: TraceCollector): void {
  let at = start;
  for (let i = HEAD_DUBBO_VERSION; i <= HEAD_METHOD; i++) {
    const s = kryoString(data, at, end);
    if (s === null) return;
    m.setHead(i, s);
    at = kryoEnd;
  }
  m.headRead = true;
  scanKryoAttachments(data, kryoEnd, end, keys);
}

/**
 * Kryo attachments are String→String entries, each string written with its class
 * id (0x03 0x01). Arguments are not decoded, so this looks for such adjacent
 * key/value pairs and offers only keys it knows.
 */
function scanKryoAttachments(data: Uint8Array, start: i32, end: i32, keys: TraceCollector): void {
  let i = start;
  while (i + 2 < end) {
    if (data[i] != 0x03 || data[i + 1] != 0x01) {
      i++;
      continue;
    }
    const key = kryoString(data, i + 2, end);
    if (key === null) {
      i++;
      continue;
    }
    const valueAt = kryoEnd;
    if (valueAt + 2 < end && data[valueAt] == 0x03 && data[valueAt + 1] == 0x01) {
      const value = kryoString(data, valueAt + 2, end);
      if (value !== null && value.length > 0 && keys.keys.find(key) >= 0) {
        keys.offer(key, value);
        i = kryoEnd;
        continue;
      }
    }
    i = valueAt;
  }
}

// ---- fastjson2 ----

/** A JSONB string of exactly the bytes [at, end): ASCII with its length in the tag, or tag + int length. */
function jsonbString(data: Uint8Array, at: i32, end: i32): string | null {
  if (at >= end) return null;
  const tag = <i32>data[at];
  let from = at + 1;
  if (tag >= 0x49 && tag <= 0x78) {
    if (end - from != tag - 0x49) return null;
  } else if (tag == 0x79 || tag == 0x7a) {
    // BC_STR_ASCII / BC_STR_UTF8, then a JSONB int length.
    if (from >= end) return null;
    const t = <i32><i8>data[from];
    from += t >= -16 && t <= 47 ? 1 : t >= 0x30 && t <= 0x3f ? 2 : t >= 0x40 && t <= 0x47 ? 3 : t == 0x48 ? 5 : end;
    if (from > end) return null;
  } else {
    return null;
  }
  return String.UTF8.decodeUnsafe(data.dataStart + <usize>from, <usize>(end - from));
}

/** fastjson2 bodies start with u32-length-prefixed JSONB strings: version, service, version, method. */
function decodeFastjson2Head(data: Uint8Array, start: i32, end: i32, m: DubboMessage): void {
  let at = start;
  const fields: string[] = [];
  for (let k = 0; k < 4; k++) {
    if (end - at < 4) return;
    const n = <i32>readU32be(data, at);
    at += 4;
    if (n < 0 || n > end - at) return;
    const s = jsonbString(data, at, at + n);
    if (s === null) return;
    fields.push(s);
    at += n;
  }
  for (let i = HEAD_DUBBO_VERSION; i <= HEAD_METHOD; i++) m.setHead(i, fields[i]);
  m.headRead = true;
}
