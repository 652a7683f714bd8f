// Network-layer decoders: IPv4 (with options) and IPv6 (with extension headers).
// The IP length fields, not the frame length, bound the payload: Ethernet pads short frames.
import { decodeTransport } from "./transport.ts";
import type { DecodedPacket } from "./packet.ts";

// IPv6 extension headers that chain with a (next header, length in 8-octet units) prefix.
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_AH = 51;
const IPV6_DEST_OPTS = 60;
const IPV6_MOBILITY = 135;
const IPV6_HIP = 139;
const IPV6_SHIM6 = 140;
const MAX_EXTENSION_HEADERS = 16;

export function decodeIPv4(d: Uint8Array, at: number, p: DecodedPacket): boolean {
  if (p.end < at + 20) return p.fail("truncated", "ipv4 header");
  const vihl = d[at]!;
  if (vihl >> 4 !== 4) return p.fail("malformed", `ipv4 version ${vihl >> 4}`);
  const ihl = (vihl & 0x0f) * 4;
  if (ihl < 20) return p.fail("malformed", `ipv4 header length ${ihl}`);
  if (p.end < at + ihl) return p.fail("truncated", "ipv4 options");
  const totalLength = (d[at + 2]! << 8) | d[at + 3]!;
  const fragField = (d[at + 6]! << 8) | d[at + 7]!;
  p.ipVersion = 4;
  p.ipProto = d[at + 9]!;
  p.srcIpAt = at + 12;
  p.dstIpAt = at + 16;
  p.src4 = ((d[at + 12]! << 24) | (d[at + 13]! << 16) | (d[at + 14]! << 8) | d[at + 15]!) >>> 0;
  p.dst4 = ((d[at + 16]! << 24) | (d[at + 17]! << 16) | (d[at + 18]! << 8) | d[at + 19]!) >>> 0;
  let end: number;
  if (totalLength === 0) {
    // TSO/GSO on the capturing host leaves the length 0: the frame is all we have.
    end = p.end;
  } else {
    if (totalLength < ihl) return p.fail("malformed", `ipv4 total length ${totalLength} < header ${ihl}`);
    end = at + totalLength;
    if (end > p.end) {
      p.cutBySnaplen = true;
      end = p.end;
    }
  }
  if ((fragField & 0x2000) !== 0 || (fragField & 0x1fff) !== 0) {
    return p.fail("fragment", `ipv4 fragment offset ${(fragField & 0x1fff) * 8}${fragField & 0x2000 ? " more" : ""}`);
  }
  return decodeTransport(d, at + ihl, end, p);
}

export function decodeIPv6(d: Uint8Array, at: number, p: DecodedPacket): boolean {
  if (p.end < at + 40) return p.fail("truncated", "ipv6 header");
  if (d[at]! >> 4 !== 6) return p.fail("malformed", `ipv6 version ${d[at]! >> 4}`);
  const payloadLength = (d[at + 4]! << 8) | d[at + 5]!;
  p.ipVersion = 6;
  p.srcIpAt = at + 8;
  p.dstIpAt = at + 24;
  let end: number;
  if (payloadLength === 0) {
    // Jumbogram or offloaded length: use the frame.
    end = p.end;
  } else {
    end = at + 40 + payloadLength;
    if (end > p.end) {
      p.cutBySnaplen = true;
      end = p.end;
    }
  }
  let next = d[at + 6]!;
  let o = at + 40;
  for (let i = 0; i < MAX_EXTENSION_HEADERS; i++) {
    switch (next) {
      case IPV6_HOP_BY_HOP:
      case IPV6_ROUTING:
      case IPV6_DEST_OPTS:
      case IPV6_MOBILITY:
      case IPV6_HIP:
      case IPV6_SHIM6: {
        if (o + 8 > end) return p.fail("truncated", `ipv6 extension header ${next}`);
        const len = (d[o + 1]! + 1) * 8;
        next = d[o]!;
        o += len;
        break;
      }
      case IPV6_AH: {
        if (o + 8 > end) return p.fail("truncated", "ipv6 authentication header");
        const len = (d[o + 1]! + 2) * 4;
        next = d[o]!;
        o += len;
        break;
      }
      case IPV6_FRAGMENT: {
        if (o + 8 > end) return p.fail("truncated", "ipv6 fragment header");
        const fragField = (d[o + 2]! << 8) | d[o + 3]!;
        const offset = fragField & 0xfff8;
        const more = fragField & 1;
        if (offset !== 0 || more) return p.fail("fragment", `ipv6 fragment offset ${offset}${more ? " more" : ""}`);
        // An atomic fragment (offset 0, no more) is a whole packet.
        next = d[o]!;
        o += 8;
        break;
      }
      default:
        p.ipProto = next;
        if (o > end) return p.fail("truncated", "ipv6 extension headers");
        return decodeTransport(d, o, end, p);
    }
  }
  return p.fail("malformed", "too many ipv6 extension headers");
}
