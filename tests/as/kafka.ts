// Harness for the codec library's Kafka codec and inflater (tests/protocols/kafka.test.ts, tests/protocols/inflate.test.ts).
import { Inflater } from "../../protocols/inflate";
import {
  RecordSetReader, RecordSetSummary, RecordVisitor, RequestHeader, apiName, errorName, errorRetriable, isFlexible,
  readRequestHeader, responseHeaderHasTags,
} from "../../protocols/kafka";
import { decodeUtf8Lossy, isWellFormed } from "../../assembly/codec/utf8";
export { alloc, outPtr, outLen } from "./io";
import { input, out, text } from "./io";

const inflater = new Inflater(64);

/** mode 0 auto, 1 gzip, 2 raw. Output: the decoded bytes. Returns the INFLATE_* status. */
export function inflate(mode: i32, maxOut: i32): i32 {
  let st: i32;
  if (mode == 1) st = inflater.gunzip(input, 0, input.length, maxOut);
  else if (mode == 2) st = inflater.inflateRaw(input, 0, input.length, maxOut);
  else st = inflater.inflateAuto(input, 0, input.length, maxOut);
  out.reset();
  out.raw(inflater.out.dataStart, inflater.len);
  return st;
}

function str(data: Uint8Array, start: i32, len: i32): string {
  if (len < 0) return "<null>";
  return String.UTF8.decodeUnsafe(data.dataStart + <usize>start, <usize>len);
}

class Lister extends RecordVisitor {
  parts: string[] = [];

  onRecord(data: Uint8Array, keyStart: i32, keyLen: i32): void {
    this.parts.push("key=" + str(data, keyStart, keyLen));
  }

  onHeader(data: Uint8Array, keyStart: i32, keyLen: i32, valueStart: i32, valueLen: i32): void {
    this.parts.push("h:" + str(data, keyStart, keyLen) + "=" + str(data, valueStart, valueLen));
  }
}

const records = new RecordSetReader(1 << 20);
const summary = new RecordSetSummary();

/**
 * Reads input[0 ..] as a record set declared `size` bytes long (the input may be shorter).
 * Output: "batches declared decoded notDecoded compression cutOff bad legacy transactional|key=..|h:k=v|..".
 */
export function recordSet(size: i32, maxInflate: i32): void {
  const lister = new Lister();
  summary.reset();
  records.maxInflate = maxInflate;
  records.read(input, 0, size, lister, summary);
  const s = summary;
  text([s.batches.toString(), s.declared.toString(), s.decoded.toString(), s.notDecoded.toString(),
    s.compressionNames().length > 0 ? s.compressionNames() : "-", s.cutOff ? "cut" : "-", s.bad ? "bad" : "-",
    s.legacy ? "legacy" : "-", s.transactional ? "txn" : "-"].join(" ") + "|" + lister.parts.join("|"));
}

const header = new RequestHeader();

/** "key version correlation clientId bodyStart messageEnd" or "" when not a plausible request header. */
export function requestHeader(at: i32): bool {
  const ok = readRequestHeader(input, at, header);
  const id = header.clientId;
  text(ok ? [header.apiKey.toString(), header.apiVersion.toString(), header.correlationId.toString(),
    id !== null ? id : "<null>", header.bodyStart.toString(), header.messageEnd.toString()].join(" ") : "");
  return ok;
}

export function api(key: i32, version: i32): void {
  text(apiName(key) + " " + (isFlexible(key, version) ? "flexible" : "classic") + " " +
    (responseHeaderHasTags(key, version) ? "tags" : "-"));
}

export function error(code: i32): void {
  text(errorName(code) + " " + (errorRetriable(code) ? "retriable" : "-"));
}

/** The input as text with invalid UTF-8 replaced; returns isWellFormed of the result. */
export function lossy(): bool {
  const s = decodeUtf8Lossy(input.dataStart, input.length);
  text(s);
  return isWellFormed(s);
}
