// Capture helpers shared by plugin tests: a capture's TCP payloads as plain values,
// and a seeded generator for fuzz tests (deterministic, so a failure replays).
import { decodeFrame, DecodedPacket, openCapture } from "../../capture/open.ts";
import { ipToString } from "../../capture/address.ts";

export interface Segment {
  /** 0-based index among payload-carrying TCP packets. */
  index: number;
  direction: 0 | 1;
  payload: Uint8Array;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  /** TCP sequence number of the segment's first byte. */
  seq: number;
  timeUs: number;
}

/** Every TCP payload of a capture, with the direction the first payload's destination port implies. */
export function tcpSegments(path: string): Segment[] {
  const reader = openCapture(path);
  const p = new DecodedPacket();
  const out: Segment[] = [];
  let serverPort = -1;
  try {
    for (;;) {
      const f = reader.next();
      if (!f) break;
      if (!decodeFrame(f, p) || p.ipProto !== 6 || p.payloadLength === 0) continue;
      if (serverPort < 0) serverPort = p.dstPort;
      out.push({
        index: out.length,
        direction: p.dstPort === serverPort ? 0 : 1,
        payload: p.data.slice(p.payloadAt, p.payloadAt + p.payloadLength),
        srcIp: ipToString(p.data.subarray(p.srcIpAt, p.srcIpAt + (p.ipVersion === 6 ? 16 : 4))),
        dstIp: ipToString(p.data.subarray(p.dstIpAt, p.dstIpAt + (p.ipVersion === 6 ? 16 : 4))),
        srcPort: p.srcPort,
        dstPort: p.dstPort,
        seq: p.tcpSeq,
        timeUs: p.timeUs,
      });
    }
  } finally {
    reader.close();
  }
  return out;
}

/** Every TCP payload of the captures, copied; missing files are skipped when `optional`. */
export function tcpPayloads(paths: string[], optional = false): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const path of paths) {
    try {
      for (const s of tcpSegments(path)) out.push(s.payload);
    } catch (e) {
      if (!optional) throw e;
    }
  }
  return out;
}

/** xorshift32: a fast deterministic stream of u32 values. */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
