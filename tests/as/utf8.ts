// Harness for text out of untrusted bytes and into records (tests/assembly/utf8.test.ts):
// each way the SDK makes a string from input bytes, written into a PB record as the
// exports would send it.
import { ByteReader } from "../../assembly/codec/reader";
import { ByteWriter } from "../../assembly/codec/writer";
import { PbReader } from "../../assembly/codec/protobuf";
import { base64DecodeToString } from "../../assembly/codec/base64";
import { decodeUtf8Lossy, isValidUtf8, repairUtf8 } from "../../assembly/codec/utf8";
import { L7ProtocolInfo } from "../../assembly/result";
import { writeRecordLegacy, writeRecordPB } from "../../assembly/codec/records";
import { DIR_C2S } from "../../assembly/abi";
export { alloc, outPtr, outLen } from "./io";
import { input, out } from "./io";

export const VIA_READER = 0;
export const VIA_READER_UPTO = 1;
export const VIA_PROTOBUF = 2;
export const VIA_BASE64 = 3;
export const VIA_LOSSY = 4;
/** String.UTF8.decodeUnsafe, as a plugin might call it itself: no validation at all. */
export const VIA_UNCHECKED = 5;
/** The input as UTF-16 code units (little-endian pairs): any unit sequence, lone surrogates too. */
export const VIA_UTF16 = 6;

const pb = new ByteWriter(64);

/** The input as text by `via`; null when that way gives none (base64 of non-UTF-8). */
function textOf(via: i32): string | null {
  const n = input.length;
  if (via == VIA_READER) return new ByteReader(input).utf8(n);
  if (via == VIA_READER_UPTO) return new ByteReader(input).utf8Upto(n + 5);
  if (via == VIA_PROTOBUF) {
    pb.reset();
    pb.fieldBytes(1, input);
    const r = new PbReader(pb.buf, 0, pb.len);
    return r.next() ? r.string() : null;
  }
  if (via == VIA_BASE64) return base64DecodeToString(String.UTF8.decodeUnsafe(input.dataStart, <usize>n));
  if (via == VIA_LOSSY) return decodeUtf8Lossy(input.dataStart, n);
  if (via == VIA_UNCHECKED) return String.UTF8.decodeUnsafe(input.dataStart, <usize>n);
  return String.UTF16.decodeUnsafe(input.dataStart, <usize>(n & ~1));
}

/**
 * One PB record (legacy: a legacy request record) whose request domain, trace id,
 * trace_ids, protocol_str and an attribute's key and value all hold the text. Returns
 * false when `via` gave no text (nothing written).
 */
export function record(via: i32, legacy: bool): bool {
  const s = textOf(via);
  out.reset();
  if (s === null) return false;
  const info = new L7ProtocolInfo();
  info.request().domain = s;
  const t = info.traceInfo();
  t.traceId = s;
  t.traceIds = [s, "x"];
  info.protocolStr = s;
  info.attr(s, s);
  if (legacy) writeRecordLegacy(out, info, DIR_C2S);
  else writeRecordPB(out, info);
  return true;
}

/** isValidUtf8 of the input. */
export function valid(): bool {
  return isValidUtf8(input.dataStart, input.length);
}

/** repairUtf8 of the input into the output. */
export function repair(): void {
  out.reset();
  out.ensure(input.length * 3);
  out.len = repairUtf8(input.dataStart, input.length, out.dataStart);
}
