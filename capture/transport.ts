// Transport-layer decoders: TCP and UDP headers; locate the payload a plugin would be fed.
import { IPPROTO_TCP, IPPROTO_UDP, type DecodedPacket } from "./packet.ts";

export function decodeTransport(d: Uint8Array, at: number, end: number, p: DecodedPacket): boolean {
  if (p.ipProto === IPPROTO_TCP) return decodeTcp(d, at, end, p);
  if (p.ipProto === IPPROTO_UDP) return decodeUdp(d, at, end, p);
  return p.fail("other-l4", `ip protocol ${p.ipProto}`);
}

function decodeTcp(d: Uint8Array, at: number, end: number, p: DecodedPacket): boolean {
  if (end < at + 20) return p.fail("truncated", "tcp header");
  const dataOffset = (d[at + 12]! >> 4) * 4;
  if (dataOffset < 20) return p.fail("malformed", `tcp data offset ${dataOffset}`);
  let payloadAt = at + dataOffset;
  if (end < payloadAt) {
    // Options cut by snaplen still leave ports and flags (a SYN tells the direction); anything
    // else means the IP length is wrong.
    if (!p.cutBySnaplen) return p.fail("malformed", `tcp data offset ${dataOffset} past the ip payload`);
    payloadAt = end;
  }
  p.srcPort = (d[at]! << 8) | d[at + 1]!;
  p.dstPort = (d[at + 2]! << 8) | d[at + 3]!;
  p.tcpSeq = ((d[at + 4]! << 24) | (d[at + 5]! << 16) | (d[at + 6]! << 8) | d[at + 7]!) >>> 0;
  p.tcpAck = ((d[at + 8]! << 24) | (d[at + 9]! << 16) | (d[at + 10]! << 8) | d[at + 11]!) >>> 0;
  p.tcpFlags = ((d[at + 12]! & 0x01) << 8) | d[at + 13]!;
  p.payloadAt = payloadAt;
  p.payloadLength = end - payloadAt;
  p.status = "ok";
  return true;
}

function decodeUdp(d: Uint8Array, at: number, end: number, p: DecodedPacket): boolean {
  if (end < at + 8) return p.fail("truncated", "udp header");
  p.srcPort = (d[at]! << 8) | d[at + 1]!;
  p.dstPort = (d[at + 2]! << 8) | d[at + 3]!;
  const length = (d[at + 4]! << 8) | d[at + 5]!;
  p.payloadAt = at + 8;
  // The UDP length may be 0 (jumbograms) or disagree with IP: trust the smaller bound.
  p.payloadLength = length >= 8 ? Math.min(length - 8, end - p.payloadAt) : end - p.payloadAt;
  p.status = "ok";
  return true;
}
