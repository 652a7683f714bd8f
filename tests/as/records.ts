// Harness for record building and writing (tests/assembly/records.test.ts): nested-message
// lengths, string fields of every length class, records reused through RecordPool, and
// TraceKeys.findBytes against find.
import { KeyVal, L7ProtocolInfo, RecordPool } from "../../assembly/result";
import { writeRecordPB } from "../../assembly/codec/records";
import { TraceCollector, TraceKeys, commonTraceKeys, defaultTraceKeys, ROLE_ATTRIBUTE } from "../../assembly/trace/keys";
import { decodeUtf8Lossy } from "../../assembly/codec/utf8";
export { alloc, outPtr, outLen } from "./io";
import { input, out, text } from "./io";

/** Field 5 holding a nested message of `size` bytes of 'a'. */
export function nested(size: i32): void {
  out.reset();
  const at = out.beginMessage(5);
  for (let i = 0; i < size; i++) out.u8(0x61);
  out.endMessage(at);
}

/** Field 1 holding `units` UTF-16 units of kind 0 'a', 1 'é', 2 '✓', 3 '𝄞' (2 units each), 4 a lone surrogate. */
export function textField(kind: i32, units: i32): void {
  let s = "";
  const piece = kind == 0 ? "a" : kind == 1 ? "é" : kind == 2 ? "✓" : kind == 3 ? "𝄞" : String.fromCharCode(0xd800);
  for (let n = 0; n < units; n += piece.length) s += piece;
  out.reset();
  out.fieldString(1, s);
}

const pool = new RecordPool(2);
const FOREIGN = new KeyVal("foreign", "kept");

/**
 * Round 0: three records with every part and many attributes (one a KeyVal pushed by
 * hand). Round 1: two small records. Writes the round's records.
 */
export function poolRound(round: i32): i32 {
  pool.reset();
  if (round == 0) {
    for (let i = 0; i < 3; i++) {
      const info = pool.take();
      info.reqLen = 10;
      info.respLen = 20;
      info.requestId = i;
      info.protocolStr = "big";
      info.isEnd = 1;
      info.isAsync = 0;
      info.isReversed = 1;
      info.bizType = 4;
      info.bizCode = "c";
      info.bizScenario = "s";
      info.bizResponseCode = "r";
      const req = info.request();
      req.version = "v";
      req.type = "t";
      req.domain = "d";
      req.resource = "r";
      req.endpoint = "e";
      const t = info.traceInfo();
      t.traceId = "T";
      t.spanId = "S";
      t.parentSpanId = "P";
      t.xRequestId = "X";
      t.httpProxyClient = "H";
      t.setTraceIds(["T", "U"]);
      for (let k = 0; k < 20; k++) info.attr("k" + k.toString(), "v");
      info.attributes.push(FOREIGN);
    }
  } else {
    const a = pool.take();
    a.requestId = 7;
    a.response().setCode(5);
    a.attr("one", "1");
    const b = pool.take();
    b.traceInfo().spanId = "only";
  }
  out.reset();
  for (let i = 0; i < pool.taken.length; i++) writeRecordPB(out, pool.taken[i]);
  return pool.taken.length;
}

export function foreignIntact(): bool {
  return FOREIGN.key == "foreign" && FOREIGN.val == "kept";
}

const keys = defaultTraceKeys()
  .add("a-key-longer-than-forty-eight-bytes-for-the-last-length-slot", ROLE_ATTRIBUTE, "long")
  .add("a-key-longer-than-forty-eight-bytes-for-the-last-length-slot-too", ROLE_ATTRIBUTE, "longer")
  .add("clé", ROLE_ATTRIBUTE, "cle")
  .add("X-Tag@Home[1]", ROLE_ATTRIBUTE, "tag")
  .add("traceparent", ROLE_ATTRIBUTE, "second traceparent");

/** findBytes and find of the input as a key, as "bytes,find". */
export function lookup(): void {
  const byText = keys.find(String.UTF8.decodeUnsafe(input.dataStart, input.length));
  text(keys.findBytes(input, 0, input.length).toString() + "," + byText.toString());
}

/** findBytes of a key after the keys changed (the index is rebuilt). */
export function lookupAfterChange(): i32 {
  const k = new TraceKeys().add("x-one", ROLE_ATTRIBUTE).add("x-two", ROLE_ATTRIBUTE);
  const before = k.findBytes(input, 0, input.length);
  k.remove("x-one");
  return before * 10 + k.findBytes(input, 0, input.length);
}

/**
 * The input's "key=value" lines (value bytes as they are, invalid UTF-8 included) offered
 * to a collector as bytes (byBytes) or as text (decoded as ByteReader.utf8 does), filled
 * into a record written to the output. withAttribute is false for lines after the first `plain` lines.
 */
export function collectRecord(byBytes: bool, plain: i32): void {
  const c = new TraceCollector(defaultTraceKeys());
  c.maxTraceIds = 3;
  offerLines(c, byBytes, plain);
  const info = new L7ProtocolInfo();
  c.fill(info);
  if (c.traceIdsDropped > 0) info.attr("dropped", c.traceIdsDropped.toString());
  out.reset();
  writeRecordPB(out, info);
}

/**
 * The input's "key=value" lines offered as bytes to a collector keeping at most `limit`
 * trace ids; the record written to the output, with its trace ids as the collector lists
 * them (the inspection getter) in attribute "listed", one per line.
 */
export function collectTraceIds(limit: i32): void {
  const c = new TraceCollector(defaultTraceKeys());
  c.maxTraceIds = limit;
  offerLines(c, true, 0);
  const info = new L7ProtocolInfo();
  c.fill(info);
  info.attr("listed", c.traceIds.join("\n"));
  info.attr("dropped", c.traceIdsDropped.toString());
  out.reset();
  writeRecordPB(out, info);
}

/**
 * The input's "key=value" lines offered as bytes to a collector with idsInFieldsOnly,
 * filled into a record (with the ids as attributes too when `asAttributes`) written to the output.
 */
export function collectFieldsOnly(asAttributes: bool): void {
  const c = new TraceCollector(defaultTraceKeys());
  c.idsInFieldsOnly = true;
  offerLines(c, true, i32.MAX_VALUE);
  const info = new L7ProtocolInfo();
  c.fill(info, asAttributes);
  out.reset();
  writeRecordPB(out, info);
}

/** Offers the input's "key=value" lines to `c` (see collectRecord). */
function offerLines(c: TraceCollector, byBytes: bool, plain: i32): void {
  let line = 0;
  let from = 0;
  const n = input.length;
  for (let i = 0; i <= n; i++) {
    if (i < n && input[i] != 0x0a) continue;
    let eq = from;
    while (eq < i && input[eq] != 0x3d) eq++;
    if (eq < i) {
      const rank = keys.findBytes(input, from, eq - from);
      const withAttribute = line < plain;
      if (byBytes) c.offerBytes(rank, input, eq + 1, i - eq - 1, withAttribute);
      else c.offerRule(rank, decodeUtf8Lossy(input.dataStart + <usize>(eq + 1), i - eq - 1), withAttribute);
    }
    line++;
    from = i + 1;
  }
}

/** A record with the input bytes as an attribute value (attrBytes); returns whether `val` reads them as the record has them. */
export function bytesAttribute(): bool {
  const info = new L7ProtocolInfo();
  info.attrBytes("k", input.dataStart, input.length);
  out.reset();
  writeRecordPB(out, info);
  const written = out.len;
  const kv = info.attributes[0];
  const val = kv.val;
  // The same text through the string path.
  const again = new L7ProtocolInfo();
  again.attr("k", val);
  writeRecordPB(out, again);
  return out.len == written * 2 && memory.compare(out.dataStart, out.dataStart + <usize>written, <usize>written) == 0;
}

/** The rules of defaultTraceKeys (dubbo = 1) or commonTraceKeys, in rank order, as "key:role:attribute" lines. */
export function keyOrder(dubbo: bool): void {
  const rules = (dubbo ? defaultTraceKeys() : commonTraceKeys()).rules;
  const lines: string[] = [];
  for (let i = 0; i < rules.length; i++) lines.push(rules[i].key + ":" + rules[i].role.toString() + ":" + rules[i].attribute);
  text(lines.join("\n"));
}
