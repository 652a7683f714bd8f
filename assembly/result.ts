// What a plugin hands back to the agent: the records and their authoring API. How they
// are written for the agent (the protobuf and the legacy form) is codec/records.ts; members
// named _x are the stored form it reads, not for plugins.
import { ByteWriter } from "./codec/writer";
import { PbReader } from "./codec/protobuf";
import { AppTraceField, KeyValField } from "./schema.generated";

/**
 * A record part's text fields: each a string, or UTF-8 bytes kept in the record's byte
 * store (setBytes / setSpan), which are written to the agent as they are, so that a
 * plugin that reads names and ids out of the payload need not make strings of them.
 * Reading a field set as bytes decodes it (once).
 */
export class TextFields {
  _texts: StaticArray<string | null>;
  // Where each field's bytes are in the store; -1: the field is its string (or null).
  _spanAt: StaticArray<i32>;
  _spanLen: StaticArray<i32>;
  // Bit i: field i was set since the last clear (a reset then touches only those).
  _touched: u32 = 0;
  /** The record's byte store (L7ProtocolInfo.store()), set when the record makes the part. */
  store: ByteWriter | null = null;

  constructor(count: i32) {
    this._texts = new StaticArray<string | null>(count);
    this._spanAt = new StaticArray<i32>(count).fill(-1);
    this._spanLen = new StaticArray<i32>(count);
  }

  getText(field: i32): string | null {
    if ((this._touched & (1 << field)) == 0) return null;
    const at = unchecked(this._spanAt[field]);
    if (at < 0) return unchecked(this._texts[field]);
    const s = String.UTF8.decodeUnsafe(this._bytesStore().dataStart + <usize>at, <usize>unchecked(this._spanLen[field]));
    unchecked((this._texts[field] = s));
    unchecked((this._spanAt[field] = -1));
    return s;
  }

  setText(field: i32, s: string | null): void {
    this._touched |= 1 << field;
    unchecked((this._texts[field] = s));
    unchecked((this._spanAt[field] = -1));
  }

  /** The field = the UTF-8 bytes at ptr .. ptr+len, copied into the store (made valid unless `valid`). */
  setBytes(field: i32, ptr: usize, len: i32, valid: bool = false): void {
    const w = this._bytesStore();
    const at = w.len;
    w.utf8Bytes(ptr, len, valid);
    this.setSpan(field, at, w.len - at);
  }

  /** The field = bytes [at, at+len) of the store, written there (valid UTF-8) by the caller. */
  setSpan(field: i32, at: i32, len: i32): void {
    this._touched |= 1 << field;
    unchecked((this._spanAt[field] = at));
    unchecked((this._spanLen[field] = len));
  }

  /** Whether the field has a value (text or bytes). */
  has(field: i32): bool {
    if ((this._touched & (1 << field)) == 0) return false;
    return unchecked(this._spanAt[field]) >= 0 || unchecked(this._texts[field]) !== null;
  }

  protected clearTexts(): void {
    let touched = this._touched;
    while (touched != 0) {
      const i = <i32>ctz(touched);
      touched &= touched - 1;
      unchecked((this._texts[i] = null));
      unchecked((this._spanAt[i] = -1));
    }
    this._touched = 0;
  }

  /** The store, made for a part made outside a record. */
  _bytesStore(): ByteWriter {
    let w = this.store;
    if (w === null) {
      // A part made outside a record (new Request()): its own store.
      w = new ByteWriter(64);
      this.store = w;
    }
    return w;
  }
}

export class Request extends TextFields {
  static readonly VERSION: i32 = 0;
  static readonly TYPE: i32 = 1;
  static readonly DOMAIN: i32 = 2;
  static readonly RESOURCE: i32 = 3;
  static readonly ENDPOINT: i32 = 4;

  constructor() {
    super(5);
  }

  get version(): string | null { return this.getText(Request.VERSION); }
  set version(s: string | null) { this.setText(Request.VERSION, s); }
  get type(): string | null { return this.getText(Request.TYPE); }
  set type(s: string | null) { this.setText(Request.TYPE, s); }
  get domain(): string | null { return this.getText(Request.DOMAIN); }
  set domain(s: string | null) { this.setText(Request.DOMAIN, s); }
  get resource(): string | null { return this.getText(Request.RESOURCE); }
  set resource(s: string | null) { this.setText(Request.RESOURCE, s); }
  get endpoint(): string | null { return this.getText(Request.ENDPOINT); }
  set endpoint(s: string | null) { this.setText(Request.ENDPOINT, s); }

  reset(): void {
    this.clearTexts();
  }
}

/** Response.status before a plugin sets it. */
export const STATUS_UNSET: i32 = -1;

export class Response extends TextFields {
  static readonly EXCEPTION: i32 = 0;
  static readonly RESULT: i32 = 1;
  static readonly TYPE: i32 = 2;
  static readonly ENDPOINT: i32 = 3;

  /**
   * RESP_* of abi.ts. The agent rejects a response record without a valid status:
   * left unset, it is sent as RESP_OK (in on_http_resp: the status the agent judged).
   */
  status: i32 = STATUS_UNSET;
  code: i32 = 0;
  hasCode: bool = false;

  constructor() {
    super(4);
  }

  get exception(): string | null { return this.getText(Response.EXCEPTION); }
  set exception(s: string | null) { this.setText(Response.EXCEPTION, s); }
  get result(): string | null { return this.getText(Response.RESULT); }
  set result(s: string | null) { this.setText(Response.RESULT, s); }
  get type(): string | null { return this.getText(Response.TYPE); }
  set type(s: string | null) { this.setText(Response.TYPE, s); }
  get endpoint(): string | null { return this.getText(Response.ENDPOINT); }
  set endpoint(s: string | null) { this.setText(Response.ENDPOINT, s); }

  setCode(code: i32): Response {
    this.code = code;
    this.hasCode = true;
    return this;
  }

  reset(): void {
    this.status = STATUS_UNSET;
    this.code = 0;
    this.hasCode = false;
    this.clearTexts();
  }
}

export class Trace extends TextFields {
  static readonly TRACE_ID: i32 = 0;
  static readonly SPAN_ID: i32 = 1;
  static readonly PARENT_SPAN_ID: i32 = 2;
  static readonly X_REQUEST_ID: i32 = 3;
  static readonly HTTP_PROXY_CLIENT: i32 = 4;

  /** Every distinct trace id when one message carries several (then those added as bytes). */
  traceIds: string[] = [];
  // Trace ids added as bytes, already in their wire form: trace_ids entries one after another.
  _idEntries: ByteWriter | null = null;

  constructor() {
    super(5);
  }

  get traceId(): string | null { return this.getText(Trace.TRACE_ID); }
  set traceId(s: string | null) { this.setText(Trace.TRACE_ID, s); }
  get spanId(): string | null { return this.getText(Trace.SPAN_ID); }
  set spanId(s: string | null) { this.setText(Trace.SPAN_ID, s); }
  get parentSpanId(): string | null { return this.getText(Trace.PARENT_SPAN_ID); }
  set parentSpanId(s: string | null) { this.setText(Trace.PARENT_SPAN_ID, s); }
  get xRequestId(): string | null { return this.getText(Trace.X_REQUEST_ID); }
  set xRequestId(s: string | null) { this.setText(Trace.X_REQUEST_ID, s); }
  get httpProxyClient(): string | null { return this.getText(Trace.HTTP_PROXY_CLIENT); }
  set httpProxyClient(s: string | null) { this.setText(Trace.HTTP_PROXY_CLIENT, s); }

  get isEmpty(): bool {
    return !this.has(Trace.TRACE_ID) && !this.has(Trace.SPAN_ID) && !this.has(Trace.PARENT_SPAN_ID) &&
      !this.has(Trace.X_REQUEST_ID) && !this.has(Trace.HTTP_PROXY_CLIENT) && this.traceIds.length == 0 &&
      this.idEntryBytes == 0;
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

  /** Adds to trace_ids the valid UTF-8 bytes at ptr .. ptr+len (copied). */
  addTraceIdBytes(ptr: usize, len: i32): void {
    this.entries().fieldRaw(AppTraceField.TRACE_IDS, ptr, len);
  }

  /**
   * Adds trace ids given in their wire form at ptr .. ptr+len: trace_ids entries
   * (AppTrace.trace_ids, each holding valid UTF-8) one after another. TraceCollector keeps a
   * batch's ids this way, so that dozens of them are copied in one go.
   */
  addTraceIdEntries(ptr: usize, len: i32): void {
    this.entries().raw(ptr, len);
  }

  private entries(): ByteWriter {
    let w = this._idEntries;
    if (w === null) {
      w = new ByteWriter(256);
      this._idEntries = w;
    }
    return w;
  }

  private get idEntryBytes(): i32 {
    const w = this._idEntries;
    return w === null ? 0 : w.len;
  }

  reset(): void {
    this.clearTexts();
    const entries = this._idEntries;
    if (entries !== null) entries.reset();
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

  /** Bytes of the fields and attribute values set from bytes, until reset(). */
  private values: ByteWriter | null = null;
  // Attribute pairs handed over already in their protobuf form (addEncodedAttributes):
  // written after `attributes`; pair i ends at encodedEnds[i].
  _encoded: ByteWriter | null = null;
  _encodedEnds: i32[] = [];

  /** Number of attribute pairs: `attributes` and those added encoded (TraceCollector.fill). */
  get attributeCount(): i32 {
    return this.attributes.length + this._encodedEnds.length;
  }

  /**
   * Appends attribute pairs given in their protobuf form (each an AppInfo.attributes
   * KeyVal holding key and value as valid UTF-8) at ptr .. ptr+len; `ends` holds where
   * each pair ends, relative to ptr. For TraceCollector.fill: the pairs are copied once.
   */
  addEncodedAttributes(ptr: usize, len: i32, ends: i32[]): void {
    let w = this._encoded;
    if (w === null) {
      w = new ByteWriter(256);
      this._encoded = w;
    }
    const base = w.len;
    w.raw(ptr, len);
    for (let i = 0; i < ends.length; i++) this._encodedEnds.push(base + unchecked(ends[i]));
  }

  /** Key and value of each encoded pair, as text: for the legacy form and for inspection. */
  encodedAttributes(): KeyVal[] {
    const out: KeyVal[] = [];
    const enc = this._encoded;
    if (enc === null) return out;
    const pairs = new PbReader(enc.view());
    while (pairs.next()) {
      const pair = pairs.message();
      let key = "";
      let val = "";
      while (pair.next()) {
        if (pair.field == KeyValField.KEY) key = pair.string();
        else if (pair.field == KeyValField.VAL) val = pair.string();
        else pair.skip();
      }
      out.push(new KeyVal(key, val));
    }
    return out;
  }

  /**
   * The record's byte store: a plugin may write a value here itself (e.g. joined from
   * several payload parts) and point a field at it with setSpan. Emptied by reset().
   */
  store(): ByteWriter {
    let w = this.values;
    if (w === null) {
      w = new ByteWriter(256);
      this.values = w;
    }
    return w;
  }

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
    const w = this.store();
    const at = w.len;
    w.utf8Bytes(ptr, len, valid);
    this.pair(key).setBytes(w, at, w.len - at);
    return this;
  }

  /**
   * attr() with the value at bytes [at, at+len) of the record's store (store()), written
   * there by the caller as valid UTF-8: several values copied in one go, then pointed at.
   */
  attrSpan(key: string, at: i32, len: i32): L7ProtocolInfo {
    this.pair(key).setBytes(this.store(), at, len);
    return this;
  }

  /** An attribute holding v in decimal: its digits written into the record, no string made. */
  attrNumber(key: string, v: u64): L7ProtocolInfo {
    const w = this.store();
    const at = w.len;
    w.decimal(v);
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
        r.store = this.store();
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
        r.store = this.store();
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
        t.store = this.store();
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
    const encoded = this._encoded;
    if (encoded !== null) encoded.reset();
    this._encodedEnds.length = 0;
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
