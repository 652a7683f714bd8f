// Link-layer decoders: each reads its header and hands the network layer to decodeEtherType.
import { decodeIPv4, decodeIPv6 } from "./ip.ts";
import type { DecodedPacket } from "./packet.ts";

// LINKTYPE_* values (https://www.tcpdump.org/linktypes.html) and the DLT_* aliases seen in files.
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const DLT_RAW_12 = 12;
export const DLT_RAW_14 = 14; // DLT_RAW on OpenBSD
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100; // 802.1Q
const ETHERTYPE_QINQ = 0x88a8; // 802.1ad
const ETHERTYPE_QINQ_OLD = 0x9100;

// BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 differs by OS.
const AF_INET = 2;
const AF_INET6 = new Set([10, 24, 28, 30]);

function be16(d: Uint8Array, o: number): number {
  return (d[o]! << 8) | d[o + 1]!;
}

export function decodeLink(linkType: number, p: DecodedPacket): boolean {
  const d = p.data;
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      return decodeEthernet(d, p);
    case LINKTYPE_LINUX_SLL:
      return decodeLinuxSll(d, p);
    case LINKTYPE_LINUX_SLL2:
      return decodeLinuxSll2(d, p);
    case LINKTYPE_RAW:
    case DLT_RAW_12:
    case DLT_RAW_14:
      return decodeRawIp(d, p.base, p);
    case LINKTYPE_IPV4:
      return decodeEtherType(ETHERTYPE_IPV4, d, p.base, p);
    case LINKTYPE_IPV6:
      return decodeEtherType(ETHERTYPE_IPV6, d, p.base, p);
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
      return decodeLoopback(linkType, d, p);
    default:
      return p.fail("unsupported-link", `link type ${linkType}`);
  }
}

/** Ethernet II with any number of 802.1Q / 802.1ad tags. */
function decodeEthernet(d: Uint8Array, p: DecodedPacket): boolean {
  const b = p.base;
  if (p.end < b + 14) return p.fail("truncated", "ethernet header");
  return decodeEtherType(be16(d, b + 12), d, b + 14, p);
}

/** Linux cooked capture v1 (tcpdump -i any, older libpcap): 16-byte header, protocol last. */
function decodeLinuxSll(d: Uint8Array, p: DecodedPacket): boolean {
  const b = p.base;
  if (p.end < b + 16) return p.fail("truncated", "linux sll header");
  return decodeEtherType(be16(d, b + 14), d, b + 16, p);
}

/** Linux cooked capture v2 (tcpdump -i any, libpcap >= 1.10): 20-byte header, protocol first. */
function decodeLinuxSll2(d: Uint8Array, p: DecodedPacket): boolean {
  const b = p.base;
  if (p.end < b + 20) return p.fail("truncated", "linux sll2 header");
  return decodeEtherType(be16(d, b), d, b + 20, p);
}

/** BSD loopback: a 4-byte address family, host byte order (NULL) or network order (LOOP). */
function decodeLoopback(linkType: number, d: Uint8Array, p: DecodedPacket): boolean {
  const b = p.base;
  if (p.end < b + 4) return p.fail("truncated", "loopback header");
  const be = ((d[b]! << 24) | (d[b + 1]! << 16) | (d[b + 2]! << 8) | d[b + 3]!) >>> 0;
  const le = ((d[b + 3]! << 24) | (d[b + 2]! << 16) | (d[b + 1]! << 8) | d[b]!) >>> 0;
  // NULL is in the byte order of the machine that captured: the family is a small number either way.
  const family = linkType === LINKTYPE_LOOP ? be : le <= 0xffff ? le : be;
  if (family === AF_INET) return decodeEtherType(ETHERTYPE_IPV4, d, b + 4, p);
  if (AF_INET6.has(family)) return decodeEtherType(ETHERTYPE_IPV6, d, b + 4, p);
  return p.fail("not-ip", `loopback family ${family}`);
}

/** Raw IP: the version nibble says which. */
function decodeRawIp(d: Uint8Array, at: number, p: DecodedPacket): boolean {
  if (p.end <= at) return p.fail("truncated", "raw ip");
  const v = d[at]! >> 4;
  if (v === 4) return decodeEtherType(ETHERTYPE_IPV4, d, at, p);
  if (v === 6) return decodeEtherType(ETHERTYPE_IPV6, d, at, p);
  return p.fail("not-ip", `raw ip version ${v}`);
}

export function decodeEtherType(etherType: number, d: Uint8Array, at: number, p: DecodedPacket): boolean {
  for (;;) {
    if (etherType === ETHERTYPE_VLAN || etherType === ETHERTYPE_QINQ || etherType === ETHERTYPE_QINQ_OLD) {
      if (p.end < at + 4) return p.fail("truncated", "vlan tag");
      if (p.vlan < 0) p.vlan = be16(d, at) & 0x0fff;
      etherType = be16(d, at + 2);
      at += 4;
      continue;
    }
    p.etherType = etherType;
    if (etherType === ETHERTYPE_IPV4) return decodeIPv4(d, at, p);
    if (etherType === ETHERTYPE_IPV6) return decodeIPv6(d, at, p);
    return p.fail("not-ip", `ethertype 0x${etherType.toString(16).padStart(4, "0")}`);
  }
}
