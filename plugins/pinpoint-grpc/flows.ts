// Per-connection state, keyed by the agent's flow_id: the two HTTP/2 directions (HPACK
// tables, carry-over) and the open streams (path, Pinpoint metadata, gRPC deframers).
// Bounded in connections and bytes, least recently used forgotten first (the agent
// never says when a flow ends): the SDK's flow table (assembly/flow/table.ts) keeps the
// slots, a connection's managed state is kept by slot.
import { FRAME_HEADER_LEN, H2Direction, plausibleFrames, prefaceMatch } from "../../protocols/http2";
import { GrpcDeframer } from "../../protocols/grpc";
import { collectEveryCalls, FlowTable as SdkFlowTable, KeyVal } from "../../assembly/index";
import { COLLECT_CALLS_PER_FLOW, HPACK_TABLE_LIMIT, MAX_FLOWS, MAX_FLOW_BYTES, MAX_HEADER_BLOCK, MAX_STREAMS_PER_FLOW, MESSAGE_KEEP } from "./config";

// What a stream's :path says it is.
export const METHOD_UNKNOWN: i32 = 0;
export const METHOD_SEND_SPAN: i32 = 1;
export const METHOD_SEND_STAT: i32 = 2;
export const METHOD_AGENT_INFO: i32 = 3;
export const METHOD_PING: i32 = 4;
export const METHOD_API_META: i32 = 5;
export const METHOD_SQL_META: i32 = 6;
export const METHOD_STRING_META: i32 = 7;
export const METHOD_OTHER_META: i32 = 8;
export const METHOD_COMMAND: i32 = 9;
export const METHOD_OTHER_PINPOINT: i32 = 10;

export class StreamState {
  path: string | null = null;
  /** `service/method` and `method` of the path. */
  endpoint: string = "";
  type: string = "";
  method: i32 = METHOD_UNKNOWN;
  /** Client- or bidi-streaming: one record per message, not paired with the response. */
  streaming: bool = true;
  agentId: string | null = null;
  applicationName: string | null = null;
  /** Attributes from the request headers, shared by all of the stream's records (null: HEADERS never seen). */
  headerAttributes: KeyVal[] | null = null;
  headersSeen: bool = false;
  /** Some request header could not be resolved (HPACK entries never seen, cut block). */
  incomplete: bool = false;
  up: GrpcDeframer;
  down: GrpcDeframer;
  /** PResult of a unary response, when read. */
  resultSeen: bool = false;
  resultSuccess: bool = true;
  resultMessage: string = "";
  messages: u32 = 0;
  /** Records logged for this stream's messages. */
  logged: u32 = 0;

  constructor(public id: u32, headersSeen: bool) {
    this.headersSeen = headersSeen;
    this.up = new GrpcDeframer(headersSeen, MESSAGE_KEEP);
    this.down = new GrpcDeframer(headersSeen, MESSAGE_KEEP);
  }

  get footprint(): i32 {
    return 160 + this.up.footprint + this.down.footprint;
  }
}

/**
 * A connection's managed state: the two HTTP/2 directions (HPACK tables, the frame in
 * progress) and the open streams. Its small fixed state lives in its slot of the SDK's
 * flow table (`at`, unmanaged: see the slot layout below).
 */
export class FlowState {
  c2s: H2Direction;
  s2c: H2Direction;
  /** Open streams, oldest first (a handful at a time: a list beats a map here). */
  streams: StreamState[] = [];
  /** The collector-side port. */
  serverPort: u16 = 0;
  spanPort: bool = false;
  /** Bytes this flow was last counted for in the table. */
  counted: i32 = 0;
  /** Header values its streams share (one agent per connection, usually): kept once. */
  private shared: string[] = [];

  /** @param at the flow's slot data in the table (fixed while the flow holds its slot) */
  constructor(public at: usize) {
    this.c2s = new H2Direction(HPACK_TABLE_LIMIT);
    this.s2c = new H2Direction(HPACK_TABLE_LIMIT);
    this.c2s.maxHeaderBlock = MAX_HEADER_BLOCK;
    this.s2c.maxHeaderBlock = MAX_HEADER_BLOCK;
  }

  stream(id: u32): StreamState | null {
    const list = this.streams;
    for (let i = list.length - 1; i >= 0; i--) {
      const s = unchecked(list[i]);
      if (s.id == id) return s;
    }
    return null;
  }

  openStream(id: u32, headersSeen: bool): StreamState {
    // Forget the oldest stream still open.
    if (this.streams.length >= MAX_STREAMS_PER_FLOW) this.streams.shift();
    const s = new StreamState(id, headersSeen);
    this.streams.push(s);
    return s;
  }

  closeStream(id: u32): void {
    const list = this.streams;
    for (let i = list.length - 1; i >= 0; i--) {
      if (unchecked(list[i]).id == id) {
        list.splice(i, 1);
        return;
      }
    }
  }

  /**
   * Per direction (client→server first): the frame in progress holds bytes of payloads
   * whose continuity no frame header has confirmed yet (they were all inside that frame).
   */
  @inline unsure(d: i32): bool {
    return load<u8>(this.at + SLOT_UNSURE + <usize>d) != 0;
  }

  @inline setUnsure(d: i32, v: bool): void {
    store<u8>(this.at + SLOT_UNSURE + <usize>d, <u8>v);
  }

  /**
   * True when this direction carried exactly these bytes among its last few payloads: a
   * TCP retransmission, which the agent feeds again. Fed twice, a header block would be
   * inserted into the HPACK table twice and shift every later index.
   */
  repeated(c2s: bool, payload: Uint8Array): bool {
    const key = (<u64>payloadHash(payload) << 32) | <u64>(<u32>payload.length);
    const recent = this.at + SLOT_RECENT + (c2s ? 0 : <usize>RECENT_PAYLOADS << 3);
    for (let i = 0; i < RECENT_PAYLOADS; i++) if (load<u64>(recent + (<usize>i << 3)) == key) return true;
    const atAddr = this.at + SLOT_RECENT_AT + (c2s ? 0 : 1);
    const at = <i32>load<u8>(atAddr);
    store<u64>(recent + (<usize>at << 3), key);
    store<u8>(atAddr, <u8>(at + 1 == RECENT_PAYLOADS ? 0 : at + 1));
    return false;
  }

  /**
   * The bytes to read of payload `p` of a direction; while it is seeking a frame boundary,
   * a payload shorter than a frame header cannot show one, so its bytes wait (8 at most,
   * in the slot) and go in front of the next payload's when frames start there. Null when they wait.
   */
  join(c2s: bool, p: Uint8Array, dir: H2Direction, cut: bool): Uint8Array | null {
    const d = c2s ? 0 : 1;
    const lenAddr = this.at + SLOT_HELD_LEN + <usize>d;
    const held = this.at + SLOT_HELD + <usize>(d * (FRAME_HEADER_LEN - 1));
    const n = <i32>load<u8>(lenAddr);
    store<u8>(lenAddr, 0);
    if (!dir.seeking) return p;
    if (n > 0) {
      const all = new Uint8Array(n + p.length);
      memory.copy(all.dataStart, held, <usize>n);
      memory.copy(all.dataStart + <usize>n, p.dataStart, <usize>p.length);
      // The bytes held are a frame's first ones only if frames (or the client preface) start there.
      if (all.length >= FRAME_HEADER_LEN) return plausibleFrames(all, 0, all.length, dir.maxFrameSize) || prefaceMatch(all, 0, all.length) > 0 ? all : p;
      p = all;
    }
    if (cut || p.length >= FRAME_HEADER_LEN) return p;
    memory.copy(held, p.dataStart, <usize>p.length);
    store<u8>(lenAddr, <u8>p.length);
    return null;
  }

  /** The flow's copy of a value equal to `v`, so that many streams hold one string. */
  intern(v: string | null): string | null {
    if (v === null) return null;
    const list = this.shared;
    for (let i = 0; i < list.length; i++) {
      const s = unchecked(list[i]);
      if (s == v) return s;
    }
    if (list.length >= 8) list.shift();
    list.push(v);
    return v;
  }

  /** Frees its unmanaged memory (the HTTP/2 directions): when the flow is forgotten. */
  release(): void {
    this.c2s.free();
    this.s2c.free();
  }

  dropStreams(): void {
    this.streams.length = 0;
  }

  get footprint(): i32 {
    let n = 128 + this.c2s.footprint + this.s2c.footprint;
    const list = this.streams;
    for (let i = 0; i < list.length; i++) n += unchecked(list[i]).footprint;
    return n;
  }
}

const RECENT_PAYLOADS: i32 = 8;

/** A fast 32-bit hash of a payload (multiply-rotate over 8-byte words); never 0 for a non-empty one. */
function payloadHash(p: Uint8Array): u32 {
  let h: u64 = 0x9e3779b97f4a7c15 ^ <u64>p.length;
  const base = p.dataStart;
  const n = p.length;
  let i = 0;
  for (; i + 8 <= n; i += 8) h = rotl<u64>((h ^ load<u64>(base + <usize>i)) * 0x9e3779b97f4a7c15, 29);
  for (; i < n; i++) h = (h ^ <u64>load<u8>(base + <usize>i)) * 0x100000001b3;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93;
  h ^= h >> 32;
  return <u32>h | 1;
}

// A flow's slot data in the SDK table (unmanaged; zeroed when the slot is given to a flow):
//   0  rejected: the flow's headers named another service (check_payload leaves it alone)
//   1  unsure, per direction (u8 × 2)
//   3  bytes held while seeking, per direction (u8 × 2)
//   5  next entry of the recent-payload ring, per direction (u8 × 2)
//   8  bytes held while seeking (8 per direction)
//  24  recent payloads (length and hash, u64), RECENT_PAYLOADS per direction
const SLOT_REJECTED: usize = 0;
const SLOT_UNSURE: usize = 1;
const SLOT_HELD_LEN: usize = 3;
const SLOT_RECENT_AT: usize = 5;
const SLOT_HELD: usize = 8;
const SLOT_RECENT: usize = 24;
const SLOT_BYTES: i32 = <i32>SLOT_RECENT + RECENT_PAYLOADS * 2 * 8;

/**
 * Connections by flow id, in the SDK's FlowTable (the least recently used forgotten first
 * when full); each connection's managed state in an array by slot. Bounded also in the
 * managed bytes of all connections together (MAX_FLOW_BYTES), the least recently used
 * forgotten first while over.
 */
export class FlowTable {
  private table: SdkFlowTable = new SdkFlowTable(MAX_FLOWS, SLOT_BYTES);
  private states: Array<FlowState | null> = [];
  bytes: i64 = 0;
  /** Flows with managed state (the rest hold only their slot). */
  managed: i32 = 0;

  get size(): i32 {
    return this.table.size;
  }

  /** The flow's slot, given to it when it has none (forgetting the state the slot held). */
  private open(flowId: u64): i32 {
    const table = this.table;
    const slot = table.open(flowId);
    if (table.created) this.drop(slot);
    return slot;
  }

  /** The state a slot holds (null: none, a slot given to a flow only to mark it rejected). */
  private stateAt(slot: i32): FlowState | null {
    return slot < this.states.length ? unchecked(this.states[slot]) : null;
  }

  /** Whether the flow's headers named another service. */
  rejected(flowId: u64): bool {
    const slot = this.table.find(flowId);
    return slot >= 0 && load<u8>(this.table.data(slot) + SLOT_REJECTED) != 0;
  }

  /** Remembers that the flow's headers named another service (the flow keeps its slot as any other). */
  reject(flowId: u64): void {
    store<u8>(this.table.data(this.open(flowId)) + SLOT_REJECTED, 1);
  }

  /** The flow's state, made most recently used; created when absent. */
  use(flowId: u64): FlowState {
    const slot = this.open(flowId);
    const states = this.states;
    while (states.length <= slot) states.push(null);
    let f = unchecked(states[slot]);
    if (f === null) {
      unchecked((states[slot] = f = new FlowState(this.table.data(slot))));
      this.managed++;
    }
    return f;
  }

  /** Forgets the state a slot holds, if any. */
  private drop(slot: i32): void {
    const f = this.stateAt(slot);
    if (f === null) return;
    f.release();
    this.bytes -= f.counted;
    this.managed--;
    unchecked((this.states[slot] = null));
  }

  /** Re-counts a flow's bytes after a call and forgets old flows while over budget. */
  account(f: FlowState): void {
    const now = f.footprint;
    this.bytes += now - f.counted;
    f.counted = now;
    const table = this.table;
    while (this.bytes > MAX_FLOW_BYTES) {
      const oldest = table.oldest;
      if (oldest < 0 || table.data(oldest) == f.at) break;
      this.drop(oldest);
      table.free(oldest);
    }
    // A single flow over the whole budget keeps only its connection state.
    if (this.bytes > MAX_FLOW_BYTES) {
      f.dropStreams();
      const after = f.footprint;
      this.bytes += after - f.counted;
      f.counted = after;
    }
    // Every collection marks every flow's objects: as many calls between them as flows kept, in proportion.
    collectEveryCalls(this.managed * COLLECT_CALLS_PER_FLOW);
  }
}
