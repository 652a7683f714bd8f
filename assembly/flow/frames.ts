// Frames that TCP or the sender cut across payloads. The agent hands a plugin one TCP
// segment per call (cut to its payload size, 1024 bytes by default), so a frame longer
// than a segment, or one the sender wrote in several writes, arrives in pieces. A plugin
// keeps the piece it has and decodes the frame whole once the rest arrives; this is
// where the pieces wait, per flow and direction, within stated bounds:
//
//  - a frame longer than `maxFrame` bytes is never kept (the plugin reads what the first
//    piece holds and skips the rest);
//  - at most `maxFlows` pieces and `maxBytes` bytes (of buffer capacity) wait in all; with
//    up to 64 spare buffers of at most 64 KiB kept for reuse, linear memory grows by at most
//    maxBytes + 4 MiB, plus ~100 bytes per waiting piece. A piece that finds no room is not
//    kept; pieces older than `staleUs` of capture time are dropped to make room (their
//    connection went quiet or lost the rest).
//
// Only a piece that the agent did not cut can be continued: the next payload then starts
// exactly where it ended. A plugin must check that the frame it completes decodes
// consistently, because a segment the capture lost makes the next one look like a
// continuation.
import { ByteWriter } from "../codec/writer";
import { FlowTable } from "./table";

/** The bytes of one frame so far, from its first byte. */
export class PartialFrame {
  readonly bytes: ByteWriter = new ByteWriter(1024);
  /** The frame's whole length once known (its header complete), else 0. */
  total: i32 = 0;
  /** Bytes the first piece held: what a plugin falls back to when the rest does not fit. */
  firstLength: i32 = 0;
  /** Capture time (µs) of the last piece. */
  lastUs: u64 = 0;
  /**
   * Bytes still to pass over, of a frame that could not wait (too long, or no room): the
   * plugin read what its first pieces held; the frames after it start past these.
   */
  toSkip: u32 = 0;

  @inline get length(): i32 {
    return this.bytes.len;
  }

  /** Bytes of memory it holds (its buffer's capacity). */
  @inline get held(): i32 {
    return this.bytes.buf.length;
  }

  /** Appends `n` bytes of `data` from `at`. */
  append(data: Uint8Array, at: i32, n: i32): void {
    this.bytes.raw(data.dataStart + <usize>at, n);
  }

  view(): Uint8Array {
    return this.bytes.view();
  }
}

/**
 * Pieces by flow (the SDK's FlowTable: one slot per flow with a piece waiting, so it never
 * has to evict) and direction (pieces[slot * 2 + direction]).
 */
export class FrameAssembler {
  private readonly flows: FlowTable;
  // Grown to the slots used (made in order from 0): memory and GC marking follow the flows waiting.
  private readonly pieces: Array<PartialFrame | null> = [];
  private readonly spare: PartialFrame[] = [];
  private count: i32 = 0;
  private bytesHeld: i64 = 0;
  private nextSweepUs: u64 = 0;

  constructor(
    readonly maxFrame: i32,
    readonly maxFlows: i32,
    readonly maxBytes: i64,
    readonly staleUs: u64,
  ) {
    this.flows = new FlowTable(maxFlows, 0);
  }

  /** Pieces waiting now. */
  get waiting(): i32 {
    return this.count;
  }

  /** Bytes waiting now. */
  get bytes(): i64 {
    return this.bytesHeld;
  }

  /** The waiting piece of this flow and direction, taken out of the table (give it back with keep or release). */
  take(flowId: u64, direction: u8): PartialFrame | null {
    const slot = this.flows.find(flowId);
    if (slot < 0) return null;
    const p = this.remove(slot, <i32>direction);
    if (p !== null) this.bytesHeld -= p.held;
    return p;
  }

  /** A new piece: `data` from `at` to its end, of a frame `total` bytes long (0: not known yet). Null when it may not wait. */
  start(flowId: u64, direction: u8, data: Uint8Array, at: i32, total: i32, timeUs: u64): PartialFrame | null {
    const n = data.length - at;
    if (total > this.maxFrame) return null;
    const p = this.spare.length > 0 ? this.spare.pop() : new PartialFrame();
    p.bytes.reset();
    p.total = total;
    p.toSkip = 0;
    p.firstLength = n;
    p.append(data, at, n);
    if (!this.room(p.held, timeUs)) {
      this.release(p);
      return null;
    }
    p.lastUs = timeUs;
    this.put(flowId, direction, p);
    return p;
  }

  /** Puts a taken piece back to wait for more; false when it may not (the caller still holds it). */
  keep(flowId: u64, direction: u8, p: PartialFrame, timeUs: u64): bool {
    if (p.total > this.maxFrame || !this.room(p.held, timeUs)) return false;
    p.lastUs = timeUs;
    this.put(flowId, direction, p);
    return true;
  }

  /** Remembers that the next `bytes` bytes of this flow and direction belong to a frame already read. */
  skip(flowId: u64, direction: u8, bytes: u32, timeUs: u64): void {
    const p = this.spare.length > 0 ? this.spare.pop() : new PartialFrame();
    p.bytes.reset();
    p.total = 0;
    p.toSkip = bytes;
    p.lastUs = timeUs;
    if (!this.room(p.held, timeUs)) {
      this.release(p);
      return;
    }
    this.put(flowId, direction, p);
  }

  /** Whether a piece (or bytes to skip) of this flow and direction waits: after start, keep or skip, whether there was room. */
  has(flowId: u64, direction: u8): bool {
    const slot = this.flows.find(flowId);
    return slot >= 0 && unchecked(this.pieces[(slot << 1) + <i32>direction]) !== null;
  }

  /** A piece done with: its buffer is reused (a large one is dropped, so memory does not stay at the peak). */
  release(p: PartialFrame): void {
    if (p.bytes.buf.length <= 65536 && this.spare.length < 64) this.spare.push(p);
  }

  private put(flowId: u64, direction: u8, p: PartialFrame): void {
    const i = (this.flows.open(flowId) << 1) + <i32>direction;
    const pieces = this.pieces;
    while (pieces.length <= (i | 1)) pieces.push(null);
    // A piece put over another replaces it (that one's bytes stay counted, as they did).
    if (unchecked(pieces[i]) === null) this.count++;
    unchecked((pieces[i] = p));
    this.bytesHeld += p.held;
  }

  /** Takes a slot's piece of one direction out; the slot goes when it holds none. */
  private remove(slot: i32, d: i32): PartialFrame | null {
    const i = (slot << 1) + d;
    const p = unchecked(this.pieces[i]);
    if (p === null) return null;
    unchecked((this.pieces[i] = null));
    this.count--;
    if (unchecked(this.pieces[i ^ 1]) === null) this.flows.free(slot);
    return p;
  }

  private room(n: i32, timeUs: u64): bool {
    if (this.fits(n)) return true;
    // A sweep finds nothing new until capture time has moved on: at most one per staleUs / 8,
    // so a full table costs one scan per such interval, not one per call.
    if (timeUs < this.nextSweepUs) return false;
    this.nextSweepUs = timeUs + max<u64>(this.staleUs >> 3, 1);
    this.dropStale(0, timeUs);
    this.dropStale(1, timeUs);
    return this.fits(n);
  }

  @inline private fits(n: i32): bool {
    return this.count < this.maxFlows && this.bytesHeld + <i64>n <= this.maxBytes;
  }

  /** O(waiting), and only when the table is full: one direction's stale pieces, oldest flow first. */
  private dropStale(d: i32, timeUs: u64): void {
    let slot = this.flows.oldest;
    while (slot >= 0) {
      const next = this.flows.newer(slot);
      const p = unchecked(this.pieces[(slot << 1) + d]);
      if (p !== null && timeUs > p.lastUs && timeUs - p.lastUs >= this.staleUs) {
        this.remove(slot, d);
        this.bytesHeld -= p.held;
        this.release(p);
      }
      slot = next;
    }
  }
}
