// Per-connection state that must survive from one payload to the next, besides frames cut
// across payloads (those wait in the SDK's FrameAssembler, see index.ts): per direction,
// content records waiting for their content header and whether the position in the stream
// is lost; and the channels whose request awaits its reply. Bounded in count.
import { FlowTable as SdkFlowTable, L7ProtocolInfo } from "../../assembly/index";
import { MAX_STREAMS } from "./config";

/** Removes list[i], keeping the order (splice would allocate the list of removed items). */
export function removeAt<T>(list: T[], i: i32): void {
  const n = list.length - 1;
  for (let k = i; k < n; k++) unchecked((list[k] = list[k + 1]));
  list.length = n;
}

export class Stream {
  /**
   * Where the next payload starts is unknown: the last one was cut by the agent, or the
   * stream went out of step. The next payload is read from its first whole, checked frame.
   */
  lost: bool = false;
  /** Publish / Deliver / Get-Ok / Return records waiting for their content header (at most MAX_PENDING), and their channels. */
  waiting: L7ProtocolInfo[] = [];
  channels: u32[] = [];
  get idle(): bool {
    return !this.lost && this.channels.length == 0;
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
    if (this.waiting.indexOf(channel) >= 0) return;
    if (this.waiting.length >= MAX_WAITING) removeAt(this.waiting, 0);
    this.waiting.push(channel);
  }

  /** The reply on `channel` came; true when a request was waiting for it. */
  answer(channel: u32): boolean {
    const i = this.waiting.indexOf(channel);
    if (i < 0) return false;
    removeAt(this.waiting, i);
    return true;
  }
}

/**
 * Connections by flow id, in the SDK's FlowTable (the least recently used goes first when
 * full); a connection's state is a managed object, kept in an array by slot, and only
 * while something in it waits (release), so garbage collection walks only those.
 */
export class FlowTable {
  private table: SdkFlowTable = new SdkFlowTable(MAX_STREAMS, 0);
  private states: Array<FlowState | null> = [];

  get size(): i32 {
    return this.table.size;
  }

  find(flowId: u64): FlowState | null {
    const slot = this.table.find(flowId);
    return slot < 0 ? null : unchecked(this.states[slot]);
  }

  /** The state of a flow, created (evicting the least recently used) when missing. */
  open(flowId: u64): FlowState {
    const slot = this.table.open(flowId);
    const states = this.states;
    if (!this.table.created) return unchecked(states[slot])!;
    const s = new FlowState();
    if (slot == states.length) states.push(s);
    else unchecked((states[slot] = s));
    return s;
  }

  /** Drops a flow's state once nothing in it is waiting. */
  release(flowId: u64, s: FlowState): void {
    if (!s.idle) return;
    const slot = this.table.find(flowId);
    if (slot < 0) return;
    this.table.free(slot);
    unchecked((this.states[slot] = null));
  }
}
