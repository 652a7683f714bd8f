// Writes the records of ../result.ts in the agent's two wire forms: the protobuf record
// ("PB" + wasm_plugin.AppInfo, field numbers from ../schema.generated.ts, made from the
// agent's WasmPluginApi.proto) and the legacy binary record (CustomInfo::try_from and
// from_legacy_protocol in agent/src/plugin/mod.rs). The records are plain data; all their
// wire knowledge is here.
import { DIR_C2S, MAX_RECORD_LEN, RESP_OK } from "../abi";
import { L7ProtocolInfo, Request, Response, STATUS_UNSET, TextFields, Trace, UNSET } from "../result";
import { AppInfoField, AppRequestField, AppResponseField, AppTraceField, KeyValField } from "../schema.generated";
import { ByteWriter } from "./writer";

// ---- protobuf form: "PB" + AppInfo ----

function optString(w: ByteWriter, field: u32, s: string | null): void {
  if (s !== null) w.fieldString(field, s);
}

/**
 * A part's text field as protobuf field `number`, when it has a value (as bytes or as a
 * string). The part comes first, as `this` did when this was its method: the same code.
 */
function textField(part: TextFields, w: ByteWriter, field: i32, number: u32): void {
  if ((part._touched & (1 << field)) == 0) return;
  const at = unchecked(part._spanAt[field]);
  if (at >= 0) {
    w.fieldRaw(number, part._bytesStore().dataStart + <usize>at, unchecked(part._spanLen[field]));
  } else {
    const s = unchecked(part._texts[field]);
    if (s !== null) w.fieldString(number, s);
  }
}

/** AppTrace.trace_ids: the list, then the ids added as bytes (kept in their wire form). */
export function writeTraceIds(w: ByteWriter, t: Trace): void {
  for (let i = 0; i < t.traceIds.length; i++) w.fieldString(AppTraceField.TRACE_IDS, unchecked(t.traceIds[i]));
  const entries = t._idEntries;
  if (entries !== null && entries.len > 0) w.raw(entries.dataStart, entries.len);
}

function writeTrace(w: ByteWriter, t: Trace): void {
  const at = w.beginMessage(AppInfoField.TRACE);
  textField(t, w, Trace.TRACE_ID, AppTraceField.TRACE_ID);
  textField(t, w, Trace.SPAN_ID, AppTraceField.SPAN_ID);
  textField(t, w, Trace.PARENT_SPAN_ID, AppTraceField.PARENT_SPAN_ID);
  textField(t, w, Trace.X_REQUEST_ID, AppTraceField.X_REQUEST_ID);
  textField(t, w, Trace.HTTP_PROXY_CLIENT, AppTraceField.HTTP_PROXY_CLIENT);
  writeTraceIds(w, t);
  w.endMessage(at);
}

/** The first `count` attribute pairs added in their wire form (addEncodedAttributes). */
function writeEncodedAttributes(info: L7ProtocolInfo, w: ByteWriter, count: i32): void {
  const enc = info._encoded;
  if (enc === null || count <= 0) return;
  const n = count < info._encodedEnds.length ? count : info._encodedEnds.length;
  w.raw(enc.dataStart, unchecked(info._encodedEnds[n - 1]));
}

/** Appends the AppInfo message body (without the "PB" marker). */
export function writeAppInfo(w: ByteWriter, info: L7ProtocolInfo, attributeLimit: i32 = -1): void {
  if (info.reqLen >= 0) w.fieldUint32(AppInfoField.REQ_LEN, <u32>info.reqLen);
  if (info.respLen >= 0) w.fieldUint32(AppInfoField.RESP_LEN, <u32>info.respLen);
  if (info.requestId >= 0) w.fieldUint32(AppInfoField.REQUEST_ID, <u32>info.requestId);
  const req = info.req;
  const resp = info.resp;
  // oneof info: one of the two (prost keeps the last one seen).
  if (req !== null) {
    const at = w.beginMessage(AppInfoField.REQ);
    textField(req, w, Request.VERSION, AppRequestField.VERSION);
    textField(req, w, Request.TYPE, AppRequestField.TYPE);
    textField(req, w, Request.DOMAIN, AppRequestField.DOMAIN);
    textField(req, w, Request.RESOURCE, AppRequestField.RESOURCE);
    textField(req, w, Request.ENDPOINT, AppRequestField.ENDPOINT);
    w.endMessage(at);
  } else if (resp !== null) {
    const at = w.beginMessage(AppInfoField.RESP);
    w.fieldInt32(AppResponseField.STATUS, resp.status == STATUS_UNSET ? RESP_OK : resp.status);
    if (resp.hasCode) w.fieldInt32(AppResponseField.CODE, resp.code);
    textField(resp, w, Response.EXCEPTION, AppResponseField.EXCEPTION);
    textField(resp, w, Response.RESULT, AppResponseField.RESULT);
    textField(resp, w, Response.TYPE, AppResponseField.TYPE);
    textField(resp, w, Response.ENDPOINT, AppResponseField.ENDPOINT);
    w.endMessage(at);
  }
  const trace = info.trace;
  if (trace !== null) writeTrace(w, trace);
  optString(w, AppInfoField.PROTOCOL_STR, info.protocolStr);
  if (info.isEnd != UNSET) w.fieldBool(AppInfoField.IS_END, info.isEnd == 1);
  if (info.isAsync != UNSET) w.fieldBool(AppInfoField.IS_ASYNC, info.isAsync == 1);
  if (info.isReversed != UNSET) w.fieldBool(AppInfoField.IS_REVERSED, info.isReversed == 1);
  const total = info.attributeCount;
  const limit = attributeLimit < 0 || attributeLimit > total ? total : attributeLimit;
  const n = limit < info.attributes.length ? limit : info.attributes.length;
  for (let i = 0; i < n; i++) {
    const kv = unchecked(info.attributes[i]);
    const bytes = kv.bytes;
    if (bytes !== null) {
      w.fieldPair(AppInfoField.ATTRIBUTES, kv.key, bytes.dataStart + <usize>kv.at, kv.len);
    } else {
      const at = w.beginMessage(AppInfoField.ATTRIBUTES);
      w.fieldString(KeyValField.KEY, kv.key);
      w.fieldString(KeyValField.VAL, kv.val);
      w.endMessage(at);
    }
  }
  writeEncodedAttributes(info, w, limit - n);
  if (info.bizType >= 0) w.fieldUint32(AppInfoField.BIZ_TYPE, <u32>info.bizType);
  optString(w, AppInfoField.BIZ_CODE, info.bizCode);
  optString(w, AppInfoField.BIZ_SCENARIO, info.bizScenario);
  optString(w, AppInfoField.BIZ_RESPONSE_CODE, info.bizResponseCode);
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
    // CustomInfo::try_from: a record starting with "PB" is protobuf, else legacy.
    w.ascii("PB");
    writeAppInfo(w, info, limit);
    const bodyLen = w.len - start - 2;
    if (bodyLen <= MAX_RECORD_LEN) {
      w.patchU16be(start, bodyLen);
      return true;
    }
    w.len = start;
    const had = limit < 0 ? info.attributeCount : limit;
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

/** A part's text field as the agent's legacy "str" (empty when unset). */
function str16Field(part: TextFields, w: ByteWriter, field: i32): void {
  const s = part.getText(field);
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
    str16Field(req, w, Request.TYPE);
    str16Field(req, w, Request.ENDPOINT);
    str16Field(req, w, Request.DOMAIN);
    str16Field(req, w, Request.RESOURCE);
  } else {
    const resp = info.resp !== null ? info.resp! : new Response();
    w.u8(<u32>(resp.status == STATUS_UNSET ? RESP_OK : resp.status));
    if (resp.hasCode) {
      w.u8(1);
      w.u32be(<u32>resp.code);
    } else {
      w.u8(0);
    }
    str16Field(resp, w, Response.RESULT);
    str16Field(resp, w, Response.EXCEPTION);
  }
  str(w, info.protocolStr);
  w.u8(info.isEnd == UNSET ? 0 : (0x80 | (info.isEnd == 1 ? 1 : 0)));
  const trace = info.trace;
  if (trace !== null) {
    w.u8(1);
    str16Field(trace, w, Trace.TRACE_ID);
    str16Field(trace, w, Trace.SPAN_ID);
    str16Field(trace, w, Trace.PARENT_SPAN_ID);
  } else {
    w.u8(0);
  }
  if (info.attributeCount > 0) {
    w.u8(1);
    for (let i = 0; i < info.attributes.length; i++) {
      w.str16(info.attributes[i].key);
      w.str16(info.attributes[i].val);
    }
    const encoded = info.encodedAttributes();
    for (let i = 0; i < encoded.length; i++) {
      w.str16(encoded[i].key);
      w.str16(encoded[i].val);
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
