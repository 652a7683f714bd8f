// Harness for the SDK's basic codecs (tests/assembly/codec.test.ts).
import { ByteReader } from "../../assembly/codec/reader";
import { PbReader } from "../../assembly/codec/protobuf";
import { base64DecodeToString } from "../../assembly/codec/base64";
import { httpHeader } from "../../assembly/codec/text";
import { L7ProtocolInfo } from "../../assembly/result";
import { writeRecordLegacy, writeRecordPB } from "../../assembly/codec/records";
import { TraceCollector, defaultTraceKeys } from "../../assembly/trace/keys";
import { RESP_CLIENT_ERROR } from "../../assembly/abi";
export { alloc, outPtr, outLen } from "./io";
import { input, out, text } from "./io";

/** Reads the input as: u8, u16be, u32be, u64be, uvarint32, zigzag32; writes what it got as a text line. */
export function readMixed(): bool {
  const r = new ByteReader(input);
  const parts: string[] = [r.u8().toString(), r.u16be().toString(), r.u32be().toString(), r.u64be().toString(),
    r.uvarint32().toString(), r.zigzag32().toString()];
  text(parts.join(","));
  return r.short;
}

/** Walks the input as protobuf: "field:wire=value" per field, stops at the first malformed one. */
export function walkProtobuf(): bool {
  const pb = new PbReader(input);
  const parts: string[] = [];
  while (pb.next()) {
    const f = pb.field.toString() + ":" + pb.wire.toString() + "=";
    if (pb.wire == 0) parts.push(f + pb.varint().toString());
    else if (pb.wire == 2) parts.push(f + pb.string());
    else if (pb.wire == 1) parts.push(f + pb.fixed64().toString());
    else parts.push(f + pb.fixed32().toString());
  }
  text(parts.join(";"));
  return pb.bad;
}

export function base64(): bool {
  const s = base64DecodeToString(String.UTF8.decodeUnsafe(input.dataStart, input.length));
  text(s);
  return s !== null;
}

export function header(nameLen: i32): bool {
  const name = String.UTF8.decodeUnsafe(input.dataStart, nameLen);
  const v = httpHeader(input.subarray(nameLen), name);
  text(v);
  return v !== null;
}

/** A record with every field set, in PB (legacy=false) or legacy form for a direction. */
export function sampleRecord(legacy: bool, direction: u8, response: bool): bool {
  const info = new L7ProtocolInfo();
  info.reqLen = 10;
  info.respLen = 20;
  info.requestId = 7;
  info.protocolStr = "toy";
  info.isEnd = 1;
  if (response) {
    const resp = info.response();
    resp.status = RESP_CLIENT_ERROR;
    resp.setCode(-2);
    resp.exception = "bad";
    resp.result = "res";
  } else {
    const req = info.request();
    req.version = "2";
    req.type = "GET";
    req.domain = "d";
    req.resource = "/r";
    req.endpoint = "e";
  }
  const t = info.traceInfo();
  t.traceId = "t";
  t.spanId = "s";
  t.parentSpanId = "p";
  t.xRequestId = "x";
  t.traceIds = ["t", "u"];
  info.attr("k", "v").attr("é", "ü");
  info.bizType = 3;
  out.reset();
  return legacy ? writeRecordLegacy(out, info, direction) : writeRecordPB(out, info);
}

/** Offers "key=value" lines to a collector with the default keys and writes its findings. */
export function collect(): bool {
  const lines = String.UTF8.decodeUnsafe(input.dataStart, input.length).split("\n");
  const c = new TraceCollector(defaultTraceKeys());
  for (let i = 0; i < lines.length; i++) {
    const eq = lines[i].indexOf("=");
    if (eq > 0) c.offer(lines[i].substring(0, eq), lines[i].substring(eq + 1));
  }
  const parts: string[] = [
    "trace=" + (c.traceId !== null ? c.traceId! : "-"),
    "span=" + (c.spanId !== null ? c.spanId! : "-"),
    "parent=" + (c.parentSpanId !== null ? c.parentSpanId! : "-"),
    "request=" + (c.requestId !== null ? c.requestId! : "-"),
    "traces=" + c.traceIds.join(","),
  ];
  for (let i = 0; i < c.attrNames.length; i++) parts.push(c.attrNames[i] + ":" + c.attrValues[i]);
  text(parts.join(";"));
  return c.found;
}
