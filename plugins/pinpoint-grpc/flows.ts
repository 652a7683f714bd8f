// Per-connection state, keyed by the agent's flow_id: the two HTTP/2 directions (HPACK
// tables, carry-over) and the open streams (path, Pinpoint metadata, gRPC deframers).
// Bounded in connections and bytes, least recently used forgotten first (the agent
// never says when a flow ends).
import { FRAME_HEADER_LEN, H2Direction, plausibleFrames, prefaceMatch } from "../../protocols/http2";
import { GrpcDeframer } from "../../protocols/grpc";
import { KeyVal } from "../../assembly/index";
import { HPACK_TABLE_LIMIT, MAX_FLOWS, MAX_FLOW_BYTES, MAX_HEADER_BLOCK, MAX_STREAMS_PER_FLOW, MESSAGE_KEEP } from "./config";

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
  /** Length and hash of the last payloads of each direction (client→server first), to drop retransmissions. */
  private recent: StaticArray<u64> = new StaticArray<u64>(RECENT_PAYLOADS * 2);
  private recentAt: StaticArray<i32> = new StaticArray<i32>(2);
  /** Header values its streams share (one agent per connection, usually): kept once. */
  private shared: string[] = [];
  /**
   * Per direction (client→server first): the frame in progress holds bytes of payloads
   * whose continuity no frame header has confirmed yet (they were all inside that frame).
   */
  unsure: StaticArray<bool> = new StaticArray<bool>(2);
  /** Per direction, 8 bytes each: a payload too short to show where frames start, while seeking. */
  private held: Uint8Array | null = null;
  private heldLen: StaticArray<i32> = new StaticArray<i32>(2);
  prev: FlowState | null = null;
  next: FlowState | null = null;

  constructor(public flowId: u64) {
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
   * True when this direction carried exactly these bytes among its last few payloads: a
   * TCP retransmission, which the agent feeds again. Fed twice, a header block would be
   * inserted into the HPACK table twice and shift every later index.
   */
  repeated(c2s: bool, payload: Uint8Array): bool {
    const key = (<u64>payloadHash(payload) << 32) | <u64>(<u32>payload.length);
    const base = c2s ? 0 : RECENT_PAYLOADS;
    for (let i = 0; i < RECENT_PAYLOADS; i++) if (unchecked(this.recent[base + i]) == key) return true;
    const d = c2s ? 0 : 1;
    const at = unchecked(this.recentAt[d]);
    unchecked((this.recent[base + at] = key));
    unchecked((this.recentAt[d] = at + 1 == RECENT_PAYLOADS ? 0 : at + 1));
    return false;
  }

  /**
   * The bytes to read of payload `p` of a direction; while it is seeking a frame boundary,
   * a payload shorter than a frame header cannot show one, so its bytes wait (8 at most)
   * and go in front of the next payload's when frames start there. Null when they wait.
   */
  join(c2s: bool, p: Uint8Array, dir: H2Direction, cut: bool): Uint8Array | null {
    const d = c2s ? 0 : 1;
    const n = unchecked(this.heldLen[d]);
    unchecked((this.heldLen[d] = 0));
    if (!dir.seeking) return p;
    if (n > 0) {
      const all = new Uint8Array(n + p.length);
      memory.copy(all.dataStart, this.held!.dataStart + <usize>(d * (FRAME_HEADER_LEN - 1)), <usize>n);
      memory.copy(all.dataStart + <usize>n, p.dataStart, <usize>p.length);
      // The bytes held are a frame's first ones only if frames (or the client preface) start there.
      if (all.length >= FRAME_HEADER_LEN) return plausibleFrames(all, 0, all.length, dir.maxFrameSize) || prefaceMatch(all, 0, all.length) > 0 ? all : p;
      p = all;
    }
    if (cut || p.length >= FRAME_HEADER_LEN) return p;
    let held = this.held;
    if (held === null) this.held = held = new Uint8Array(2 * (FRAME_HEADER_LEN - 1));
    memory.copy(held.dataStart + <usize>(d * (FRAME_HEADER_LEN - 1)), p.dataStart, <usize>p.length);
    unchecked((this.heldLen[d] = p.length));
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

  dropStreams(): void {
    this.streams.length = 0;
  }

  get footprint(): i32 {
    let n = 256 + this.c2s.footprint + this.s2c.footprint;
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

/** flow_id → FlowState, most recently used first. */
export class FlowTable {
  private map: Map<u64, FlowState> = new Map();
  private head: FlowState | null = null;
  private tail: FlowState | null = null;
  bytes: i32 = 0;
  evicted: i32 = 0;

  get size(): i32 {
    return this.map.size;
  }

  /** The flow's state, moved to the front; created when absent. */
  use(flowId: u64): FlowState {
    if (this.map.has(flowId)) {
      const f = this.map.get(flowId);
      this.unlink(f);
      this.pushFront(f);
      return f;
    }
    while (this.map.size >= MAX_FLOWS && this.tail !== null) this.evict(this.tail!);
    const f = new FlowState(flowId);
    this.map.set(flowId, f);
    this.pushFront(f);
    return f;
  }

  /** Re-counts a flow's bytes after a call and forgets old flows while over budget. */
  account(f: FlowState): void {
    const now = f.footprint;
    this.bytes += now - f.counted;
    f.counted = now;
    while (this.bytes > MAX_FLOW_BYTES && this.tail !== null && this.tail !== f) this.evict(this.tail!);
    // A single flow over the whole budget keeps only its connection state.
    if (this.bytes > MAX_FLOW_BYTES) {
      f.dropStreams();
      const after = f.footprint;
      this.bytes += after - f.counted;
      f.counted = after;
    }
  }

  private evict(f: FlowState): void {
    this.unlink(f);
    this.map.delete(f.flowId);
    this.bytes -= f.counted;
    this.evicted++;
  }

  private unlink(f: FlowState): void {
    const p = f.prev;
    const n = f.next;
    if (p !== null) p.next = n;
    else this.head = n;
    if (n !== null) n.prev = p;
    else this.tail = p;
    f.prev = null;
    f.next = null;
  }

  private pushFront(f: FlowState): void {
    f.next = this.head;
    f.prev = null;
    const h = this.head;
    if (h !== null) h.prev = f;
    this.head = f;
    if (this.tail === null) this.tail = f;
  }
}
