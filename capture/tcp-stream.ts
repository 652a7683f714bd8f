// Per-direction TCP byte tracking. Sequence numbers are kept relative to the first byte seen
// (u32 arithmetic), so wrap-around inside a stream is handled.

const MAX_HOLES = 64;
const HALF_SPACE = 0x8000_0000;

function rel(seq: number, base: number): number {
  return (seq - base) >>> 0;
}

/**
 * Packet mode: which payload bytes of one direction were already seen, so that a
 * retransmitted segment is not fed to the plugins a second time. Segments that fill a
 * hole (arrived out of order) are new, not retransmissions.
 */
export class SeqTracker {
  private base = -1;
  private next = 0;
  /** Missing ranges [start, end) below `next`, relative to `base`. */
  private holes: Array<[number, number]> = [];

  /** Records a segment; true when all its bytes were seen before (a retransmission). */
  isRetransmission(seq: number, length: number): boolean {
    if (length === 0) return false;
    if (this.base < 0) {
      this.base = seq;
      this.next = length;
      return false;
    }
    const start = rel(seq, this.base);
    if (start >= HALF_SPACE) return false; // before the first byte we saw: never fed, so new
    const end = start + length;
    if (start >= this.next) {
      if (start > this.next) {
        this.holes.push([this.next, start]);
        if (this.holes.length > MAX_HOLES) this.holes.shift();
      }
      this.next = end;
      return false;
    }
    let filled = false;
    if (this.holes.length > 0) {
      const kept: Array<[number, number]> = [];
      for (const [hs, he] of this.holes) {
        if (he <= start || hs >= end) kept.push([hs, he]);
        else {
          filled = true;
          if (hs < start) kept.push([hs, start]);
          if (he > end) kept.push([end, he]);
        }
      }
      this.holes = kept;
    }
    if (end > this.next) {
      this.next = end;
      return false;
    }
    return !filled;
  }
}

export interface StreamGap {
  /** Relative offset in the stream where bytes are missing. */
  offset: number;
  bytes: number;
}

interface Pending {
  start: number;
  data: Uint8Array;
  timeUs: number;
  push: boolean;
}

/**
 * Stream mode: reassembles one direction in byte order. In-order bytes are appended to the
 * current chunk; out-of-order segments wait (copied, bounded); what never arrives becomes a
 * reported gap once the wait buffer is full or the flow ends.
 */
export class StreamReassembler {
  private base = -1;
  private next = 0;
  private pending: Pending[] = [];
  private pendingBytes = 0;
  /** The latest gaps (at most 64 kept); gapCount/gapBytes count all of them. */
  readonly gaps: StreamGap[] = [];
  gapCount = 0;
  gapBytes = 0;
  /** Stream offset of the sender's FIN (its ACK is not data), -1 until seen. */
  private finOffset = -1;

  constructor(
    private readonly maxPendingBytes: number,
    /**
     * Receives in-order bytes (a view valid during the call), their capture time, the TCP seq of
     * the first byte, and whether their segment had PSH (the end of a sender's write).
     */
    private readonly deliver: (bytes: Uint8Array, timeUs: number, seq: number, push: boolean) => void,
    /** Told when bytes are given up as missing: what follows is not contiguous with what came before. */
    private readonly onGap?: () => void,
  ) {}

  /** The sender's FIN, at the sequence number after its last data byte. */
  fin(seqAfterData: number): void {
    if (this.base < 0) return;
    const at = rel(seqAfterData, this.base);
    if (at < HALF_SPACE) this.finOffset = at;
  }

  push(seq: number, data: Uint8Array, timeUs: number, psh = false): void {
    if (data.length === 0) return;
    if (this.base < 0) {
      this.base = seq;
      this.next = 0;
    }
    let start = rel(seq, this.base);
    if (start >= HALF_SPACE) return; // before the stream start we saw
    let bytes = data;
    if (start < this.next) {
      // Retransmission, maybe with some new bytes at its end.
      const skip = this.next - start;
      if (skip >= bytes.length) return;
      bytes = bytes.subarray(skip);
      start = this.next;
    }
    if (start === this.next) {
      this.next += bytes.length;
      this.deliver(bytes, timeUs, (this.base + start) >>> 0, psh);
      this.drainPending();
      return;
    }
    // Out of order: keep a copy until the hole before it is filled.
    this.pending.push({ start, data: bytes.slice(), timeUs, push: psh });
    this.pending.sort((a, b) => a.start - b.start);
    this.pendingBytes += bytes.length;
    while (this.pendingBytes > this.maxPendingBytes && this.pending.length > 0) this.skipToPending();
  }

  /**
   * The peer acknowledged up to `ack`: bytes below it that never showed up were lost by the
   * capture, not the network (Wireshark's "ACKed unseen segment"), so stop waiting for them.
   */
  acknowledge(ack: number): void {
    if (this.base < 0) return;
    let upTo = rel(ack, this.base);
    if (upTo >= HALF_SPACE) return;
    if (this.finOffset >= 0 && upTo > this.finOffset) upTo = this.finOffset;
    if (upTo <= this.next) return;
    while (this.pending.length > 0 && this.pending[0]!.start < upTo) this.skipToPending();
    if (upTo > this.next) {
      this.recordGap(this.next, upTo - this.next);
      this.next = upTo;
      this.drainPending();
    }
  }

  /** The flow ends: whatever waits behind a hole is delivered after reporting the hole. */
  finish(): void {
    while (this.pending.length > 0) this.skipToPending();
  }

  private skipToPending(): void {
    const first = this.pending[0]!;
    if (first.start > this.next) {
      this.recordGap(this.next, first.start - this.next);
      this.next = first.start;
    }
    this.drainPending();
  }

  private recordGap(offset: number, bytes: number): void {
    this.onGap?.();
    this.gaps.push({ offset, bytes });
    if (this.gaps.length > MAX_HOLES) this.gaps.shift();
    this.gapCount++;
    this.gapBytes += bytes;
  }

  private drainPending(): void {
    while (this.pending.length > 0) {
      const p = this.pending[0]!;
      if (p.start > this.next) return;
      this.pending.shift();
      this.pendingBytes -= p.data.length;
      const end = p.start + p.data.length;
      if (end <= this.next) continue;
      const fresh = p.data.subarray(this.next - p.start);
      const at = this.next;
      this.next = end;
      this.deliver(fresh, p.timeUs, (this.base + at) >>> 0, p.push);
    }
  }
}
