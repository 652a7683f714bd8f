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
import { MAX_PENDING_STREAMS } from "./config";

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

// A slot's bytes: flags (u8), the number of channels waiting (u8), two bytes never written,
// per direction the handle of its Stream plus one (u16, 0: none; the client's first), the
// channels waiting (u16 each, AMQP's channel numbers), oldest first.
const FLAGS: usize = 0;
const COUNT: usize = 1;
const HANDLES: usize = 4;
const CHANNELS: usize = 8;
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
  return data + HANDLES + (fromClient ? 0 : 2);
}

/**
 * Connections by flow id, in the SDK's FlowTable (the least recently used goes first when
 * full), each a slot number, valid until the next `open` of another flow or `release`; the
 * methods on a connection's state take its bytes (`data(slot)`), which stay where they are.
 */
export class Connections {
  private table: SdkFlowTable;
  /** Streams by handle; those in use hold records, the others wait in `freeHandles`. */
  private streams: Stream[] = [];
  private freeHandles: i32[] = [];

  constructor(capacity: i32) {
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

  /** A connection's bytes (its channels and flags). */
  data(slot: i32): usize {
    return this.table.data(slot);
  }

  /** The connection's slot, -1 when it has none. */
  find(flowId: u64): i32 {
    return this.table.find(flowId);
  }

  /** A slot given to a connection that has none (`find` gave -1), the least recently used connection forgotten first when full. */
  open(flowId: u64): i32 {
    const table = this.table;
    if (table.size >= table.capacity) this.drop(table.oldest);
    return table.open(flowId);
  }

  /** Whether this direction's position in the stream was lost, which is then forgotten. */
  takeLost(data: usize, fromClient: bool): bool {
    const flags = load<u8>(data, FLAGS);
    store<u8>(data, flags & ~lostBit(fromClient), FLAGS);
    return (flags & lostBit(fromClient)) != 0;
  }

  /** This direction's position in the stream is lost: its next payload is read from its first whole, checked frame. */
  setLost(data: usize, fromClient: bool): void {
    store<u8>(data, load<u8>(data, FLAGS) | lostBit(fromClient), FLAGS);
  }

  /** A request went out on `channel` (the oldest is forgotten when too many wait). */
  await(data: usize, channel: u32): void {
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
  answer(data: usize, channel: u32): boolean {
    const i = this.indexOf(data, channel);
    if (i < 0) return false;
    this.removeChannel(data, i);
    return true;
  }

  /**
   * The Stream of this direction's content records, given up by the connection: the caller
   * takes its lists (swapping them with empty ones) before the next `park`. Null when none wait.
   */
  unpark(data: usize, fromClient: bool): Stream | null {
    const at = handleAt(data, fromClient);
    const h = <i32>load<u16>(at) - 1;
    if (h < 0) return null;
    store<u16>(at, 0);
    this.freeHandles.push(h);
    return unchecked(this.streams[h]);
  }

  /**
   * A Stream (its lists empty) for this direction's content records to wait in, which the
   * caller swaps its lists into; null when MAX_PENDING_STREAMS directions have records waiting.
   */
  park(data: usize, fromClient: bool): Stream | null {
    const at = handleAt(data, fromClient);
    let h = <i32>load<u16>(at) - 1;
    if (h >= 0) return unchecked(this.streams[h]);
    if (this.freeHandles.length > 0) h = this.freeHandles.pop();
    else if (this.streams.length < MAX_PENDING_STREAMS) {
      h = this.streams.length;
      this.streams.push(new Stream());
    } else return null;
    store<u16>(at, <u16>(h + 1));
    return unchecked(this.streams[h]);
  }

  /** Forgets the connection (its slot and bytes) once nothing in it waits. */
  release(slot: i32, data: usize): void {
    // Flags, count, the two bytes never written and both handles: nothing waits.
    if (load<u64>(data) == 0) this.table.free(slot);
  }

  /** Forgets the connection with what waits in it. */
  private drop(slot: i32): void {
    const data = this.table.data(slot);
    this.empty(this.unpark(data, true));
    this.empty(this.unpark(data, false));
    this.table.free(slot);
  }

  private empty(st: Stream | null): void {
    if (st === null) return;
    st.waiting.length = 0;
    st.channels.length = 0;
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
