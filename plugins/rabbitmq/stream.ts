// Per-connection-direction state that must survive from one payload to the next: the
// head of a frame split across segments, how much of a large frame is still to skip,
// and content records waiting for their content header. Bounded in count and bytes.
import { L7ProtocolInfo } from "../../assembly/result";
import { MAX_CARRY, MAX_PENDING, MAX_STREAMS } from "./config";

/** A Publish / Deliver / Get-Ok / Return record waiting for its content header. */
export class Pending {
  constructor(public channel: u32, public info: L7ProtocolInfo) {}
}

export class Stream {
  /** Bytes of a frame that began in an earlier payload (kept: method and header frames). */
  carry: Uint8Array = new Uint8Array(0);
  carryLen: i32 = 0;
  /** Bytes of a frame that began earlier and is not kept (bodies, oversized frames), end byte included. */
  skip: i64 = 0;
  pending: Pending[] = [];
  lastUse: u64 = 0;

  get idle(): bool {
    return this.carryLen == 0 && this.skip == 0 && this.pending.length == 0;
  }

  /** Appends to the carried frame; false when it would exceed MAX_CARRY. */
  append(data: Uint8Array, from: i32, n: i32): bool {
    const need = this.carryLen + n;
    if (need > MAX_CARRY) return false;
    if (this.carry.length < need) {
      let cap = this.carry.length < 64 ? 64 : this.carry.length;
      while (cap < need) cap <<= 1;
      if (cap > MAX_CARRY) cap = MAX_CARRY;
      const next = new Uint8Array(cap);
      memory.copy(next.dataStart, this.carry.dataStart, <usize>this.carryLen);
      this.carry = next;
    }
    memory.copy(this.carry.dataStart + <usize>this.carryLen, data.dataStart + <usize>from, <usize>n);
    this.carryLen = need;
    return true;
  }

  /** Forgets the position inside the stream (after a gap or garbage). */
  lose(): void {
    this.carryLen = 0;
    this.skip = 0;
  }

  /** Keeps a record for its content header; false when MAX_PENDING are waiting already. */
  hold(p: Pending): bool {
    if (this.pending.length >= MAX_PENDING) return false;
    this.pending.push(p);
    return true;
  }

  /** Takes the record waiting on `channel`, or null. */
  take(channel: u32): Pending | null {
    for (let i = 0; i < this.pending.length; i++) {
      const p = this.pending[i];
      if (p.channel == channel) {
        this.pending.splice(i, 1);
        return p;
      }
    }
    return null;
  }
}

/** Streams by flow id, one table per direction; the least recently used goes first when full. */
export class StreamTable {
  private byFlow: Map<u64, Stream> = new Map();
  private clock: u64 = 0;

  get size(): i32 {
    return this.byFlow.size;
  }

  find(flowId: u64): Stream | null {
    if (!this.byFlow.has(flowId)) return null;
    const s = this.byFlow.get(flowId);
    s.lastUse = ++this.clock;
    return s;
  }

  /** The stream of a flow, created (evicting the least recently used) when missing. */
  open(flowId: u64): Stream {
    const found = this.find(flowId);
    if (found !== null) return found;
    if (this.byFlow.size >= MAX_STREAMS) this.evictOldest();
    const s = new Stream();
    s.lastUse = ++this.clock;
    this.byFlow.set(flowId, s);
    return s;
  }

  /** Drops a flow's stream once nothing in it is waiting. */
  release(flowId: u64, s: Stream): void {
    if (s.idle) this.byFlow.delete(flowId);
  }

  private evictOldest(): void {
    const keys = this.byFlow.keys();
    let oldestKey: u64 = 0;
    let oldest: u64 = u64.MAX_VALUE;
    for (let i = 0; i < keys.length; i++) {
      const s = this.byFlow.get(keys[i]);
      if (s.lastUse < oldest) {
        oldest = s.lastUse;
        oldestKey = keys[i];
      }
    }
    if (keys.length > 0) this.byFlow.delete(oldestKey);
  }
}
