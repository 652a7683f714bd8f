// Captures made by tests and benches: classic pcap (microseconds, little-endian, snaplen
// 262144, Ethernet), each TCP segment one Ethernet/IPv4/TCP frame with zero MACs, no IP id, flags
// or options, TTL 64, TCP window 65535, no TCP options, and zero checksums (the replay does not
// check them). In memory (`bytes()`), or written to an open file as it goes (`new
// PcapWriter(fd)`, then `end()`) for captures too large to hold. The reader is capture/.
import { writeSync } from "node:fs";
import { parseIp } from "../../capture/address.ts";

export const FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

/** An IPv4 address as "a.b.c.d" or as its 32-bit value; a port. */
export type Endpoint = readonly [ip: string | number, port: number];

export interface TcpSegment {
  timeUs: number;
  src: Endpoint;
  dst: Endpoint;
  seq: number;
  /** 0 unless given. */
  ack?: number;
  /** PSH|ACK unless given. */
  flags?: number;
  /** Bytes, or text written as latin1 (one byte a character). */
  payload?: Uint8Array | string;
}

const FILE_HEADER = 24;
const RECORD_HEADER = 16;
const ETH_IP_TCP = 14 + 20 + 20;

export class PcapWriter {
  /** Records written. */
  packets = 0;
  /** Bytes written, the file header included. */
  size = 0;
  private buf = Buffer.alloc(1 << 20);
  private at = 0;
  private readonly parts: Buffer[] = [];

  /** `fd`: an open file to write to as the buffer fills (then call `end()`); without it, `bytes()` returns the capture. */
  constructor(private readonly fd?: number) {
    const h = this.take(FILE_HEADER);
    this.buf.writeUInt32LE(0xa1b2c3d4, h);
    this.buf.writeUInt16LE(2, h + 4);
    this.buf.writeUInt16LE(4, h + 6);
    this.buf.writeUInt32LE(262144, h + 16);
    this.buf.writeUInt32LE(1, h + 20); // LINKTYPE_ETHERNET
  }

  /** One record holding `frame` whole (captured length = original length). */
  frame(timeUs: number, frame: Uint8Array): void {
    const o = this.record(timeUs, frame.length);
    this.buf.set(frame, o);
  }

  /** One Ethernet/IPv4/TCP frame. */
  tcp(s: TcpSegment): void {
    const payload = s.payload ?? "";
    const len = ETH_IP_TCP + payload.length;
    const o = this.record(s.timeUs, len);
    const b = this.buf;
    b.fill(0, o, o + len);
    b.writeUInt16BE(0x0800, o + 12);
    const ip = o + 14;
    b[ip] = 0x45;
    b.writeUInt16BE(len - 14, ip + 2);
    b[ip + 8] = 64;
    b[ip + 9] = 6;
    writeIpv4(b, ip + 12, s.src[0]);
    writeIpv4(b, ip + 16, s.dst[0]);
    const tcp = ip + 20;
    b.writeUInt16BE(s.src[1], tcp);
    b.writeUInt16BE(s.dst[1], tcp + 2);
    b.writeUInt32BE(s.seq >>> 0, tcp + 4);
    b.writeUInt32BE((s.ack ?? 0) >>> 0, tcp + 8);
    b[tcp + 12] = 5 << 4;
    b[tcp + 13] = s.flags ?? PSH | ACK;
    b.writeUInt16BE(65535, tcp + 14);
    if (typeof payload === "string") b.write(payload, tcp + 20, "latin1");
    else b.set(payload, tcp + 20);
  }

  /** The capture so far (in memory only). */
  bytes(): Buffer {
    if (this.fd !== undefined) throw new Error("PcapWriter: bytes() of a capture written to a file");
    this.flush();
    return Buffer.concat(this.parts);
  }

  /** Writes what is still buffered to the file. */
  end(): void {
    this.flush();
  }

  /** A record header; returns where its `len` bytes of frame go. */
  private record(timeUs: number, len: number): number {
    const o = this.take(RECORD_HEADER + len);
    this.buf.writeUInt32LE(Math.floor(timeUs / 1e6), o);
    this.buf.writeUInt32LE(timeUs % 1e6, o + 4);
    this.buf.writeUInt32LE(len, o + 8);
    this.buf.writeUInt32LE(len, o + 12);
    this.packets++;
    return o + RECORD_HEADER;
  }

  private take(n: number): number {
    if (this.at + n > this.buf.length) {
      this.flush();
      if (n > this.buf.length) this.buf = Buffer.alloc(n);
    }
    const o = this.at;
    this.at += n;
    this.size += n;
    return o;
  }

  private flush(): void {
    if (this.at === 0) return;
    if (this.fd !== undefined) writeSync(this.fd, this.buf, 0, this.at);
    else this.parts.push(Buffer.from(this.buf.subarray(0, this.at)));
    this.at = 0;
  }
}

/** A capture of these segments, in order. */
export function pcapOf(segments: Iterable<TcpSegment>): Buffer {
  const w = new PcapWriter();
  for (const s of segments) w.tcp(s);
  return w.bytes();
}

function writeIpv4(b: Buffer, at: number, ip: string | number): void {
  if (typeof ip === "number") {
    b.writeUInt32BE(ip >>> 0, at);
    return;
  }
  const bytes = parseIp(ip);
  if (bytes.length !== 4) throw new TypeError(`PcapWriter: IPv4 only, not ${ip}`);
  b.set(bytes, at);
}
