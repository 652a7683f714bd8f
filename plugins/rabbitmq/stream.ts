// Per-connection state that must survive from one payload to the next, besides frames cut
// across payloads (those wait in the SDK's FrameAssembler, see index.ts): the channels whose
// request awaits its reply, per direction whether the position in the stream is lost, and
// content records waiting for their content header.
//
// A connection is a slot of the SDK's FlowTable, kept only while something in it waits. The
// channels and the flags are the slot's own bytes, in unmanaged memory that no garbage
// collection walks: a connection awaiting a reply holds no managed object, so a collection
// costs the same with 100k of them kept. Content records are managed (the agent takes them
// as objects) but short-lived: they wait for the next payload of their direction, which
// normally brings their header (a sender writes method, header and body together). They
// wait in a Stream, at most MAX_PENDING_STREAMS directions of all connections at once; with
// none free a content record goes out at once, without its header's ids.
import { FlowTable as SdkFlowTable, L7ProtocolInfo } from "../../assembly/index";
import { MAX_PENDING_STREAMS, MAX_STREAMS } from "./config";

/** Removes list[i], keeping the order (splice would allocate the list of removed items). */
export function removeAt<T>(list: T[], i: i32): void {
  const n = list.length - 1;
  for (let k = i; k < n; k++) unchecked((list[k] = list[k + 1]));
  list.length = n;
}

/** Publish / Deliver / Get-Ok / Return records waiting for their content header (at most MAX_PENDING), and their channels. */
export class Stream {
  waiting: L7ProtocolInfo[] = [];
  channels: u32[] = [];
}

/** At most this many channels per connection remembered with a request awaiting its reply. */
export const MAX_WAITING: i32 = 32;

// A slot's bytes: flags (u8), the number of channels waiting (u8), per direction the handle
// of its Stream plus one (i32, 0: none; the client's first), the channels waiting (u16 each,
// AMQP's channel numbers), oldest first.
const FLAGS: usize = 0;
const COUNT: usize = 1;
const HANDLES: usize = 4;
const CHANNELS: usize = 12;
export const SLOT_BYTES: i32 = <i32>CHANNELS + MAX_WAITING * 2;
/** The position in the client's (server's) stream is lost: the next payload is read from its first whole, checked frame. */
const LOST_CLIENT: u8 = 1;
const LOST_SERVER: u8 = 2;

// @ts-expect-error: decorator
@inline function lostBit(fromClient: bool): u8 {
  return fromClient ? LOST_CLIENT : LOST_SERVER;
}

// @ts-expect-error: decorator
@inline function handleAt(data: usize, fromClient: bool): usize {
  return data + HANDLES + (fromClient ? 0 : 4);
}

/**
 * Connections by flow id, in the SDK's FlowTable (the least recently used goes first when
 * full), each a slot number: valid until the next `open` of another flow or `release`.
 */
export class Connections {
  private table: SdkFlowTable;
  /** Streams by handle; those in use hold records, the others wait in `freeHandles`. */
  private streams: Stream[] = [];
  private freeHandles: i32[] = [];

  constructor(capacity: i32 = MAX_STREAMS, readonly maxPending: i32 = MAX_PENDING_STREAMS) {
    this.table = new SdkFlowTable(capacity, SLOT_BYTES);
  }

  /** Connections kept now. */
  get size(): i32 {
    return this.table.size;
  }

  /** Directions of all connections with content records waiting now. */
  get pendingStreams(): i32 {
    return this.streams.length - this.freeHandles.length;
  }

  /** The connection's slot, -1 when it has none. */
  find(flowId: u64): i32 {
    return this.table.find(flowId);
  }

  /** The connection's slot, given to it (the least recently used connection forgotten first when full) when missing. */
  open(flowId: u64): i32 {
    const found = this.table.find(flowId);
    if (found >= 0) return found;
    const table = this.table;
    if (table.size >= table.capacity) this.drop(table.oldest);
    return table.open(flowId);
  }

  lost(slot: i32, fromClient: bool): bool {
    return (load<u8>(this.table.data(slot), FLAGS) & lostBit(fromClient)) != 0;
  }

  setLost(slot: i32, fromClient: bool, lost: bool): void {
    const data = this.table.data(slot);
    const flags = load<u8>(data, FLAGS);
    store<u8>(data, lost ? flags | lostBit(fromClient) : flags & ~lostBit(fromClient), FLAGS);
  }

  /** A request went out on `channel` (the oldest is forgotten when too many wait). */
  await(slot: i32, channel: u32): void {
    const data = this.table.data(slot);
    if (this.indexOf(data, channel) >= 0) return;
    let n = <i32>load<u8>(data, COUNT);
    if (n >= MAX_WAITING) {
      this.removeChannel(data, 0);
      n--;
    }
    store<u16>(data + CHANNELS + (<usize>n << 1), <u16>channel);
    store<u8>(data, <u8>(n + 1), COUNT);
  }

  /** The reply on `channel` came; true when a request was waiting for it. */
  answer(slot: i32, channel: u32): boolean {
    const data = this.table.data(slot);
    const i = this.indexOf(data, channel);
    if (i < 0) return false;
    this.removeChannel(data, i);
    return true;
  }

  /**
   * The Stream of this direction's content records, given up by the connection: the caller
   * takes its lists (swapping them with empty ones) before the next `park`. Null when none wait.
   */
  unpark(slot: i32, fromClient: bool): Stream | null {
    const at = handleAt(this.table.data(slot), fromClient);
    const h = load<i32>(at) - 1;
    if (h < 0) return null;
    store<i32>(at, 0);
    this.freeHandles.push(h);
    return unchecked(this.streams[h]);
  }

  /**
   * A Stream (its lists empty) for this direction's content records to wait in, which the
   * caller swaps its lists into; null when MAX_PENDING_STREAMS directions have records waiting.
   */
  park(slot: i32, fromClient: bool): Stream | null {
    const at = handleAt(this.table.data(slot), fromClient);
    let h = load<i32>(at) - 1;
    if (h >= 0) return unchecked(this.streams[h]);
    if (this.freeHandles.length > 0) h = this.freeHandles.pop();
    else if (this.streams.length < this.maxPending) {
      h = this.streams.length;
      this.streams.push(new Stream());
    } else return null;
    store<i32>(at, h + 1);
    return unchecked(this.streams[h]);
  }

  /** Forgets the connection once nothing in it waits. */
  release(slot: i32): void {
    const data = this.table.data(slot);
    if (load<u8>(data, FLAGS) == 0 && load<u8>(data, COUNT) == 0 && load<u64>(data, HANDLES) == 0) this.table.free(slot);
  }

  /** Forgets the connection with what waits in it. */
  private drop(slot: i32): void {
    for (let d = 0; d < 2; d++) {
      const st = this.unpark(slot, d == 0);
      if (st !== null) {
        st.waiting.length = 0;
        st.channels.length = 0;
      }
    }
    this.table.free(slot);
  }

  private indexOf(data: usize, channel: u32): i32 {
    const n = <i32>load<u8>(data, COUNT);
    for (let i = 0; i < n; i++) if (<u32>load<u16>(data + CHANNELS + (<usize>i << 1)) == channel) return i;
    return -1;
  }

  private removeChannel(data: usize, i: i32): void {
    const n = <i32>load<u8>(data, COUNT) - 1;
    const at = data + CHANNELS + (<usize>i << 1);
    memory.copy(at, at + 2, <usize>(n - i) << 1);
    store<u8>(data, <u8>n, COUNT);
  }
}
