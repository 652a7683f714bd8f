// Deterministic OpenTelemetry ids for Pinpoint data.
//
// trace_id  = first 16 bytes of SHA-256(transaction id string "agentId^agentStartTime^sequence")
// span_id of a PSpan = its 64-bit spanId as 8 bytes big-endian two's complement
//                      (the inverse of Pinpoint's OTLP collector, which parses span_id bytes as a long)
// span_id of an event = a 64-bit hash of (spanId, asyncId, asyncSequence, sequence), with
//                      asyncId = asyncSequence = 0 for events outside async chunks. Real span ids are
//                      random 64-bit values, so a collision is as likely as two random ids colliding.
import * as crypto from "node:crypto";

// One-shot hashing (Node ≥ 20.12) skips the Hash object a transaction would otherwise cost, and hex
// straight from it the Buffer (made by the binding, then read back as text) that cost more than the hash.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: "hex") => string }).hash;

export function traceIdOf(transactionId: string): string {
  const hex = oneShot ? oneShot("sha256", transactionId, "hex") : crypto.createHash("sha256").update(transactionId).digest("hex");
  return hex.slice(0, 32);
}

/** 64-bit signed integer given as two 32-bit halves (protobufjs Long layout). */
export interface Int64Parts {
  low: number;
  high: number;
}

export function int64Hex(v: Int64Parts): string {
  return hex16(v.high, v.low);
}

export function int64Decimal(v: Int64Parts): string {
  // Exact in a double (|v| < 2^53): the same digits without BigInt.
  if (v.high >= -0x200000 && v.high < 0x200000) return String(v.high * 4294967296 + (v.low >>> 0));
  return BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0)).toString();
}

/** Parses a signed decimal (as carried in Pinpoint-SpanID headers) into 16 hex chars. */
export function decimalToSpanHex(decimal: string): string {
  return BigInt.asUintN(64, BigInt(decimal)).toString(16).padStart(16, "0");
}

export function spanHexToDecimal(hex: string): string {
  return BigInt.asIntN(64, BigInt(`0x${hex}`)).toString();
}

const ROOT_PARENT = "ffffffffffffffff"; // parentSpanId == -1

export function isRootParent(hex: string): boolean {
  return hex === ROOT_PARENT;
}

export function eventSpanId(spanHigh: number, spanLow: number, asyncId: number, asyncSequence: number, sequence: number): string {
  // Two independent 32-bit murmur3-style chains give 64 bits; fast enough for millions of events/s.
  const a = mix(mix(mix(mix(mix(0x9e3779b9, spanHigh), spanLow), asyncId), asyncSequence), sequence);
  const b = mix(mix(mix(mix(mix(0x85ebca6b, sequence), asyncSequence), asyncId), spanLow), spanHigh);
  const h = fmix(a ^ 0x5bd1e995);
  const l = fmix(b ^ 0x27d4eb2f);
  // An all-zero span id is invalid in OTLP.
  return h === 0 && l === 0 ? "0000000000000001" : hex16(h, l);
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

const HEX = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/** 16 hex digits of two 32-bit halves, made as one flat string (concatenation left a rope of pieces per id). */
function hex16(h: number, l: number): string {
  return String.fromCharCode(
    HEX[(h >>> 28) & 15],
    HEX[(h >>> 24) & 15],
    HEX[(h >>> 20) & 15],
    HEX[(h >>> 16) & 15],
    HEX[(h >>> 12) & 15],
    HEX[(h >>> 8) & 15],
    HEX[(h >>> 4) & 15],
    HEX[h & 15],
    HEX[(l >>> 28) & 15],
    HEX[(l >>> 24) & 15],
    HEX[(l >>> 20) & 15],
    HEX[(l >>> 16) & 15],
    HEX[(l >>> 12) & 15],
    HEX[(l >>> 8) & 15],
    HEX[(l >>> 4) & 15],
    HEX[l & 15],
  );
}
