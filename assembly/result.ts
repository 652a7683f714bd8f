// What a plugin hands back to the agent, and its two wire forms: the current
// protobuf record ("PB" + wasm_plugin.AppInfo) and the legacy binary record
// (agent: CustomInfo::try_from in agent/src/plugin/mod.rs).
import { DIR_C2S, MAX_RECORD_LEN, RESP_OK } from "./abi";
import { ByteWriter } from "./codec/writer";

export class Request {
  version: string | null = null;
  type: string | null = null;
  domain: string | null = null;
  resource: string | null = null;
  endpoint: string | null = null;

  reset(): void {
    this.version = null;
    this.type = null;
    this.domain = null;
    this.resource = null;
    this.endpoint = null;
  }
}

/** Response.status before a plugin sets it. */
export const STATUS_UNSET: i32 = -1;

export class Response {
  /**
   * RESP_* of abi.ts. The agent rejects a response record without a valid status:
   * left unset, it is sent as RESP_OK (in on_http_resp: the status the agent judged).
   */
  status: i32 = STATUS_UNSET;
  code: i32 = 0;
  hasCode: bool = false;
  exception: string | null = null;
  result: string | null = null;
  type: string | null = null;
  endpoint: string | null = null;

  setCode(code: i32): Response {
    this.code = code;
    this.hasCode = true;
    return this;
  }

  reset(): void {
    this.status = STATUS_UNSET;
    this.code = 0;
    this.hasCode = false;
    this.exception = null;
    this.result = null;
    this.type = null;
    this.endpoint = null;
  }
}

export class Trace {
  traceId: string | null = null;
  spanId: string | null = null;
  parentSpanId: string | null = null;
  xRequestId: string | null = null;
  httpProxyClient: string | null = null;
  /** Every distinct trace id when one message carries several. */
  traceIds: string[] = [];

  get isEmpty(): bool {
    return this.traceId === null && this.spanId === null && this.parentSpanId === null &&
      this.xRequestId === null && this.httpProxyClient === null && this.traceIds.length == 0;
  }

  // The list reset() and setTraceIds() reuse (never one a plugin assigned).
  private ownIds: string[] | null = null;

  /** trace_ids = a copy of ids, into a list this trace reuses. */
  setTraceIds(ids: string[]): void {
    let own = this.ownIds;
    if (own === null) {
      own = new Array<string>(ids.length);
      own.length = 0;
      this.ownIds = own;
    } else {
      own.length = 0;
    }
    for (let i = 0; i < ids.length; i++) own.push(unchecked(ids[i]));
    this.traceIds = own;
  }

  reset(): void {
    this.traceId = null;
    this.spanId = null;
    this.parentSpanId = null;
    this.xRequestId = null;
    this.httpProxyClient = null;
    const own = this.ownIds;
    if (own !== null) {
      own.length = 0;
      this.traceIds = own;
    } else if (this.traceIds.length > 0) {
      this.traceIds = [];
    }
  }
}

export class KeyVal {
  private text: string | null;
  /**
   * Set by L7ProtocolInfo.attrBytes: the value is the UTF-8 bytes [at, at+len) of
   * `bytes` (valid until the record is reset), written as they are; `val` decodes them.
   */
  bytes: ByteWriter | null = null;
  at: i32 = 0;
  len: i32 = 0;

  constructor(public key: string, val: string) {
    this.text = val;
  }

  get val(): string {
    const t = this.text;
    if (t !== null) return t;
    const b = this.bytes;
    const s = b !== null ? String.UTF8.decodeUnsafe(b.dataStart + <usize>this.at, <usize>this.len) : "";
    this.text = s;
    return s;
  }

  set val(v: string) {
    this.text = v;
    this.bytes = null;
  }

  /** The value as `len` UTF-8 bytes at `at` in `bytes` (L7ProtocolInfo.attrBytes). */
  setBytes(bytes: ByteWriter, at: i32, len: i32): void {
    this.text = null;
    this.bytes = bytes;
    this.at = at;
    this.len = len;
  }
}

/** Tri-state for optional bools on the wire. */
export const UNSET: i8 = -1;

export class L7ProtocolInfo {
  /** -1 = absent; otherwise a u32. */
  reqLen: i64 = -1;
  respLen: i64 = -1;
  /** -1 = absent; otherwise a u32 used to pair request and response. */
  requestId: i64 = -1;
  req: Request | null = null;
  resp: Response | null = null;
  trace: Trace | null = null;
  protocolStr: string | null = null;
  /** UNSET: no merging; 0: more records of this message follow; 1: the last one. */
  isEnd: i8 = UNSET;
  isAsync: i8 = UNSET;
  isReversed: i8 = UNSET;
  attributes: KeyVal[] = [];
  /** -1 = absent. */
  bizType: i32 = -1;
  bizCode: string | null = null;
  bizScenario: string | null = null;
  bizResponseCode: string | null = null;

  // Parts and pairs kept by reset() for reuse: only those this record made itself, so
  // that a KeyVal a plugin pushed into `attributes` (or a part it assigned) is never changed.
  private ownReq: Request | null = null;
  private ownResp: Response | null = null;
  private ownTrace: Trace | null = null;
  private ownPairs: KeyVal[] = [];
  private ownPairsUsed: i32 = 0;

  /** Attribute value bytes of attrBytes, until reset(). */
  private values: ByteWriter | null = null;

  attr(key: string, val: string): L7ProtocolInfo {
    this.pair(key).val = val;
    return this;
  }

  /**
   * attr() with the value given as UTF-8 bytes at ptr .. ptr+len (e.g. a view of the
   * payload), copied into the record and made valid on the way (`valid`: the caller
   * knows they are): no string is made.
   */
  attrBytes(key: string, ptr: usize, len: i32, valid: bool = false): L7ProtocolInfo {
    let w = this.values;
    if (w === null) {
      w = new ByteWriter(256);
      this.values = w;
    }
    const at = w.len;
    if (valid) w.raw(ptr, len);
    else w.utf8Bytes(ptr, len);
    this.pair(key).setBytes(w, at, w.len - at);
    return this;
  }

  /** A pair for `key` appended to the attributes: one of this record's own, reused, or a new one. */
  private pair(key: string): KeyVal {
    const used = this.ownPairsUsed;
    const pairs = this.ownPairs;
    let kv: KeyVal;
    if (used < pairs.length) {
      kv = unchecked(pairs[used]);
      kv.key = key;
    } else {
      kv = new KeyVal(key, "");
      pairs.push(kv);
    }
    this.ownPairsUsed = used + 1;
    this.attributes.push(kv);
    return kv;
  }

  /** The request part, created on first use. */
  request(): Request {
    let r = this.req;
    if (r === null) {
      r = this.ownReq;
      if (r === null) {
        r = new Request();
        this.ownReq = r;
      } else {
        r.reset();
      }
      this.req = r;
    }
    return r;
  }

  response(): Response {
    let r = this.resp;
    if (r === null) {
      r = this.ownResp;
      if (r === null) {
        r = new Response();
        this.ownResp = r;
      } else {
        r.reset();
      }
      this.resp = r;
    }
    return r;
  }

  traceInfo(): Trace {
    let t = this.trace;
    if (t === null) {
      t = this.ownTrace;
      if (t === null) {
        t = new Trace();
        this.ownTrace = t;
      } else {
        t.reset();
      }
      this.trace = t;
    }
    return t;
  }

  /**
   * Back to a new record's state, keeping the objects this record made (parts, attribute
   * pairs) for reuse: a plugin that reuses records (see RecordPool) allocates them once.
   * Whatever was read from this record before (its parts, its attributes' pairs) is
   * reused too: keep strings, not these objects.
   */
  reset(): void {
    this.reqLen = -1;
    this.respLen = -1;
    this.requestId = -1;
    this.req = null;
    this.resp = null;
    this.trace = null;
    this.protocolStr = null;
    this.isEnd = UNSET;
    this.isAsync = UNSET;
    this.isReversed = UNSET;
    this.attributes.length = 0;
    this.ownPairsUsed = 0;
    const values = this.values;
    if (values !== null) values.reset();
    this.bizType = -1;
    this.bizCode = null;
    this.bizScenario = null;
    this.bizResponseCode = null;
  }
}

/**
 * Records reused call after call: take() gives a record in its new state. Records
 * handed to the agent are written when the hook returns, so a pool may be reset at
 * the start of the next call. At most `keep` records are kept; more in one call are
 * made new (and left to the collector).
 */
export class RecordPool {
  private records: L7ProtocolInfo[] = [];
  private used: i32 = 0;
  /** The records taken since reset(), in order: hand it to Action.abortWith. */
  taken: L7ProtocolInfo[] = [];

  constructor(public keep: i32 = 16) {}

  /** Starts a call: every record may be reused again. */
  reset(): void {
    this.used = 0;
    this.taken.length = 0;
  }

  take(): L7ProtocolInfo {
    let info: L7ProtocolInfo;
    if (this.used < this.records.length) {
      info = unchecked(this.records[this.used]);
      info.reset();
      this.used++;
    } else {
      info = new L7ProtocolInfo();
      if (this.records.length < this.keep) {
        this.records.push(info);
        this.used++;
      }
    }
    this.taken.push(info);
    return info;
  }
}

// ---- protobuf form: "PB" + AppInfo ----

function optString(w: ByteWriter, field: u32, s: string | null): void {
  if (s !== null) w.fieldString(field, s);
}

function writeTrace(w: ByteWriter, t: Trace): void {
  const at = w.beginMessage(12);
  optString(w, 1, t.traceId);
  optString(w, 2, t.spanId);
  optString(w, 3, t.parentSpanId);
  optString(w, 4, t.xRequestId);
  optString(w, 5, t.httpProxyClient);
  for (let i = 0; i < t.traceIds.length; i++) w.fieldString(6, t.traceIds[i]);
  w.endMessage(at);
}

/** Appends the AppInfo message body (without the "PB" marker). */
export function writeAppInfo(w: ByteWriter, info: L7ProtocolInfo, attributeLimit: i32 = -1): void {
  if (info.reqLen >= 0) w.fieldUint32(1, <u32>info.reqLen);
  if (info.respLen >= 0) w.fieldUint32(2, <u32>info.respLen);
  if (info.requestId >= 0) w.fieldUint32(3, <u32>info.requestId);
  const req = info.req;
  const resp = info.resp;
  if (req !== null) {
    const at = w.beginMessage(10);
    optString(w, 1, req.version);
    optString(w, 2, req.type);
    optString(w, 3, req.domain);
    optString(w, 4, req.resource);
    optString(w, 5, req.endpoint);
    w.endMessage(at);
  } else if (resp !== null) {
    const at = w.beginMessage(11);
    w.fieldInt32(1, resp.status == STATUS_UNSET ? RESP_OK : resp.status);
    if (resp.hasCode) w.fieldInt32(2, resp.code);
    optString(w, 3, resp.exception);
    optString(w, 4, resp.result);
    optString(w, 5, resp.type);
    optString(w, 6, resp.endpoint);
    w.endMessage(at);
  }
  const trace = info.trace;
  if (trace !== null) writeTrace(w, trace);
  optString(w, 13, info.protocolStr);
  if (info.isEnd != UNSET) w.fieldBool(21, info.isEnd == 1);
  if (info.isAsync != UNSET) w.fieldBool(22, info.isAsync == 1);
  if (info.isReversed != UNSET) w.fieldBool(23, info.isReversed == 1);
  const n = attributeLimit < 0 || attributeLimit > info.attributes.length ? info.attributes.length : attributeLimit;
  for (let i = 0; i < n; i++) {
    const kv = unchecked(info.attributes[i]);
    const bytes = kv.bytes;
    if (bytes !== null) {
      w.fieldPair(31, kv.key, bytes.dataStart + <usize>kv.at, kv.len);
    } else {
      const at = w.beginMessage(31);
      w.fieldString(1, kv.key);
      w.fieldString(2, kv.val);
      w.endMessage(at);
    }
  }
  if (info.bizType >= 0) w.fieldUint32(32, <u32>info.bizType);
  optString(w, 33, info.bizCode);
  optString(w, 34, info.bizScenario);
  optString(w, 35, info.bizResponseCode);
}

/**
 * Appends one framed record (u16 length, "PB", AppInfo). A record the u16 frame
 * cannot hold loses attributes from the end until it fits; false if even that fails.
 */
export function writeRecordPB(w: ByteWriter, info: L7ProtocolInfo): bool {
  let limit = -1;
  for (;;) {
    const start = w.len;
    w.u16be(0);
    w.ascii("PB");
    writeAppInfo(w, info, limit);
    const bodyLen = w.len - start - 2;
    if (bodyLen <= MAX_RECORD_LEN) {
      w.patchU16be(start, bodyLen);
      return true;
    }
    w.len = start;
    const had = limit < 0 ? info.attributes.length : limit;
    if (had == 0) return false;
    limit = had >> 1;
  }
  return false;
}

// ---- legacy binary form ----

function optLen(w: ByteWriter, v: i64): void {
  w.u32be(v >= 0 ? (0x80000000 | (<u32>v & 0x7fffffff)) : 0);
}

function str(w: ByteWriter, s: string | null): void {
  w.str16(s !== null ? s : "");
}

/**
 * Appends one framed legacy record. The legacy form carries either the request
 * or the response part, chosen by the packet's direction, and no x_request_id,
 * trace_ids, async/reversed flags or biz strings.
 */
export function writeRecordLegacy(w: ByteWriter, info: L7ProtocolInfo, direction: u8): bool {
  const start = w.len;
  w.u16be(0);
  optLen(w, info.reqLen);
  optLen(w, info.respLen);
  if (info.requestId >= 0) {
    w.u8(1);
    w.u32be(<u32>info.requestId);
  } else {
    w.u8(0);
  }
  if (direction == DIR_C2S) {
    const req = info.req !== null ? info.req! : new Request();
    str(w, req.type);
    str(w, req.endpoint);
    str(w, req.domain);
    str(w, req.resource);
  } else {
    const resp = info.resp !== null ? info.resp! : new Response();
    w.u8(<u32>(resp.status == STATUS_UNSET ? RESP_OK : resp.status));
    if (resp.hasCode) {
      w.u8(1);
      w.u32be(<u32>resp.code);
    } else {
      w.u8(0);
    }
    str(w, resp.result);
    str(w, resp.exception);
  }
  str(w, info.protocolStr);
  w.u8(info.isEnd == UNSET ? 0 : (0x80 | (info.isEnd == 1 ? 1 : 0)));
  const trace = info.trace;
  if (trace !== null) {
    w.u8(1);
    str(w, trace.traceId);
    str(w, trace.spanId);
    str(w, trace.parentSpanId);
  } else {
    w.u8(0);
  }
  if (info.attributes.length > 0) {
    w.u8(1);
    for (let i = 0; i < info.attributes.length; i++) {
      w.str16(info.attributes[i].key);
      w.str16(info.attributes[i].val);
    }
  } else {
    w.u8(0);
  }
  // A lone trailing byte cannot decode as a key, so the agent reads it as biz_type.
  w.u8(info.bizType >= 0 ? <u32>info.bizType : 0);
  const bodyLen = w.len - start - 2;
  if (bodyLen > MAX_RECORD_LEN) {
    w.len = start;
    return false;
  }
  w.patchU16be(start, bodyLen);
  return true;
}
