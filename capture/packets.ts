// A capture's frames decoded down to TCP/UDP and filtered: the first stage of a replay.
// What it passes over is counted by reason; damage ends the reading like the end of the
// file does, and `stats.error` says where (everything before it was delivered).
import type { PacketFilter } from "./filter.ts";
import { CaptureError, DecodedPacket, decodeFrame, type CaptureReader } from "./open.ts";
import { IPPROTO_TCP, type DecodeStatus } from "./packet.ts";

export interface PacketStats {
  /** Frames read, whatever they held. */
  frames: number;
  /** Packets decoded down to TCP/UDP (and passed by the filter). */
  tcp: number;
  udp: number;
  /** Other frames by reason (not-ip, other-l4, fragment, truncated, malformed, unsupported-link). */
  skipped: Partial<Record<DecodeStatus, number>>;
  filteredOut: number;
  /** A truncated/corrupt file: where. */
  error: string | null;
  firstTimeUs: number;
  lastTimeUs: number;
}

export class PacketSource {
  readonly stats: PacketStats = { frames: 0, tcp: 0, udp: 0, skipped: {}, filteredOut: 0, error: null, firstTimeUs: -1, lastTimeUs: 0 };
  /** Reused for every packet: valid until the next call of next(). */
  private readonly packet = new DecodedPacket();
  private ended = false;

  constructor(
    private readonly reader: CaptureReader,
    private readonly filter: PacketFilter | null = null,
    /** Frames to read at most. */
    private readonly limit = Infinity,
  ) {}

  /** The next TCP/UDP packet that passes the filter; null at the end, at damage, or at the limit. */
  next(): DecodedPacket | null {
    const s = this.stats;
    const p = this.packet;
    while (!this.ended && s.frames < this.limit) {
      let frame;
      try {
        frame = this.reader.next();
      } catch (e) {
        if (!(e instanceof CaptureError)) throw e;
        s.error = e.message;
        frame = null;
      }
      if (!frame) break;
      s.frames++;
      if (!decodeFrame(frame, p)) {
        s.skipped[p.status] = (s.skipped[p.status] ?? 0) + 1;
        continue;
      }
      if (this.filter && !this.filter(p)) {
        s.filteredOut++;
        continue;
      }
      if (p.ipProto === IPPROTO_TCP) s.tcp++;
      else s.udp++;
      const t = p.timeUs;
      if (s.firstTimeUs < 0) s.firstTimeUs = t;
      if (t > s.lastTimeUs) s.lastTimeUs = t;
      return p;
    }
    this.ended = true;
    return null;
  }

  /** Bytes of the file read so far. */
  get bytesRead(): number {
    return this.reader.bytesRead;
  }

  close(): void {
    this.reader.close();
  }
}
