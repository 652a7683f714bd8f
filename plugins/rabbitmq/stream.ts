// Per-connection state that must survive from one payload to the next: per direction,
// the head of a frame split across segments, how much of a large frame is still to skip,
// and content records waiting for their content header; and the channels whose request
// awaits its reply. Bounded in count and bytes.
import { L7ProtocolInfo } from "../../assembly/result";
import { MAX_CARRY, MAX_PENDING, MAX_STREAMS } from "./config";

/** Removes list[i], keeping the order (splice would allocate the list of removed items). */
export function removeAt<T>(list: T[], i: i32): void {
  const n = list.length - 1;
  for (let k = i; k < n; k++) unchecked((list[k] = list[k + 1]));
  list.length = n;
}

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
}

/** At most this many channels per connection remembered with a request awaiting its reply. */
const MAX_WAITING: i32 = 32;

/** One connection: its two directions' streams and the channels awaiting a reply. */
export class FlowState {
  client: Stream | null = null;
  server: Stream | null = null;
  /** Channels on which the client sent a synchronous request not answered yet. */
  waiting: u32[] = [];
  lastUse: u64 = 0;

  stream(fromClient: bool): Stream | null {
    return fromClient ? this.client : this.server;
  }

  openStream(fromClient: bool): Stream {
    let s = fromClient ? this.client : this.server;
    if (s === null) {
      s = new Stream();
      if (fromClient) this.client = s;
      else this.server = s;
    }
    return s;
  }

  get idle(): bool {
    const c = this.client;
    const s = this.server;
    return (c === null || c.idle) && (s === null || s.idle) && this.waiting.length == 0;
  }

  /** A request went out on `channel` (the oldest is forgotten when too many wait). */
  await(channel: u32): void {
    if (this.waiting.includes(channel)) return;
    if (this.waiting.length >= MAX_WAITING) this.waiting.shift();
    this.waiting.push(channel);
  }

  /** The reply on `channel` came; true when a request was waiting for it. */
  answer(channel: u32): bool {
    const i = this.waiting.indexOf(channel);
    if (i < 0) return false;
    removeAt(this.waiting, i);
    return true;
  }
}

/** Connections by flow id; the least recently used goes first when full. */
export class FlowTable {
  private byFlow: Map<u64, FlowState> = new Map();
  private clock: u64 = 0;

  get size(): i32 {
    return this.byFlow.size;
  }

  find(flowId: u64): FlowState | null {
    if (!this.byFlow.has(flowId)) return null;
    const s = this.byFlow.get(flowId);
    s.lastUse = ++this.clock;
    return s;
  }

  /** The state of a flow, created (evicting the least recently used) when missing. */
  open(flowId: u64): FlowState {
    const found = this.find(flowId);
    if (found !== null) return found;
    if (this.byFlow.size >= MAX_STREAMS) this.evictOldest();
    const s = new FlowState();
    s.lastUse = ++this.clock;
    this.byFlow.set(flowId, s);
    return s;
  }

  /** Drops a flow's state once nothing in it is waiting. */
  release(flowId: u64, s: FlowState): void {
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
