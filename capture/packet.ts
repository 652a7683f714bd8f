// The result of decoding one frame down to TCP/UDP. Decoders write into one reused object
// (like gopacket's DecodingLayerParser) so decoding allocates nothing per packet.

export type DecodeStatus =
  | "ok" // TCP or UDP with its payload located
  | "unsupported-link" // link type we do not decode
  | "not-ip" // ARP, LLDP, ... (nothing for a plugin)
  | "other-l4" // IP but neither TCP nor UDP (ICMP, SCTP, ESP, ...)
  | "fragment" // IPv4/IPv6 fragment: reported, not reassembled (the agent does not either)
  | "truncated" // frame cut before the headers end (snaplen)
  | "malformed"; // a header field that cannot be right

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export class DecodedPacket {
  /** The buffer holding the frame at [base, end); every offset below is an index into it. */
  data: Uint8Array = new Uint8Array(0);
  base = 0;
  end = 0;
  status: DecodeStatus = "not-ip";
  /** Short reason when status is not "ok" (for counters and debugging). */
  reason = "";
  timeUs = 0;
  wireLength = 0;
  /** Outermost 802.1Q/802.1ad VLAN id, -1 when untagged. */
  vlan = -1;
  /** Ethertype of the network layer (0x0800, 0x86dd, ...). */
  etherType = 0;
  ipVersion: 0 | 4 | 6 = 0;
  /** Offsets of the source/destination address bytes in `data` (4 or 16 bytes). */
  srcIpAt = 0;
  dstIpAt = 0;
  /** IPv4 addresses as unsigned 32-bit numbers (0 for IPv6). */
  src4 = 0;
  dst4 = 0;
  ipProto = 0;
  /** True when the IP packet is longer than what was captured (snaplen cut the payload). */
  cutBySnaplen = false;
  srcPort = 0;
  dstPort = 0;
  tcpSeq = 0;
  tcpAck = 0;
  tcpFlags = 0;
  payloadAt = 0;
  payloadLength = 0;

  reset(data: Uint8Array, base: number, end: number, timeUs: number, wireLength: number): void {
    this.data = data;
    this.base = base;
    this.end = end;
    this.timeUs = timeUs;
    this.wireLength = wireLength;
    this.status = "not-ip";
    this.reason = "";
    this.vlan = -1;
    this.etherType = 0;
    this.ipVersion = 0;
    this.src4 = this.dst4 = 0;
    this.ipProto = 0;
    this.cutBySnaplen = false;
    this.srcPort = this.dstPort = 0;
    this.tcpSeq = this.tcpAck = this.tcpFlags = 0;
    this.payloadAt = this.payloadLength = 0;
  }

  fail(status: DecodeStatus, reason: string): false {
    this.status = status;
    this.reason = reason;
    return false;
  }

  /** The TCP/UDP payload as a view into the frame (valid until the reader moves on). */
  payload(): Uint8Array {
    return this.data.subarray(this.payloadAt, this.payloadAt + this.payloadLength);
  }

  srcIp(): Uint8Array {
    return this.data.subarray(this.srcIpAt, this.srcIpAt + (this.ipVersion === 6 ? 16 : 4));
  }

  dstIp(): Uint8Array {
    return this.data.subarray(this.dstIpAt, this.dstIpAt + (this.ipVersion === 6 ? 16 : 4));
  }
}
