// Per-connection state, keyed by the agent's flow_id: the two HTTP/2 directions (HPACK
// tables, carry-over) and the open streams (path, Pinpoint metadata, gRPC deframers).
// Bounded in connections and bytes, least recently used forgotten first (the agent
// never says when a flow ends): the SDK's flow table (assembly/flow/table.ts) keeps the
// slots, a connection's state is kept by slot. All of it is in unmanaged memory
// (@unmanaged classes, heap.alloc), freed when a stream or a connection is forgotten: a
// garbage collection walks none of it, so that its cost does not grow with the
// connections kept.
import { FRAME_HEADER_LEN, H2Direction, plausibleFrames, prefaceMatch } from "../../protocols/http2";
import { GrpcDeframer } from "../../protocols/grpc";
import { ByteWriter, FlowTable as SdkFlowTable, sameBytes } from "../../assembly/index";
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

// A stream's texts from its request headers, kept as the UTF-8 bytes a record writes
// (StreamTexts builds them, StreamState.keepTexts keeps them).
export const TEXT_PATH: i32 = 0;
/** `service/method` of the path. */
export const TEXT_ENDPOINT: i32 = 1;
/** `method` of the path. */
export const TEXT_TYPE: i32 = 2;
/**
 * The agentid header as the trace id takes it: String.UTF8's bytes, which keep a lone
 * surrogate as three (the trace id then has three U+FFFD for it, where a record writing
 * the string has one: kept so, as before); otherwise the bytes of TEXT_AGENT_ID.
 */
export const TEXT_TRACE_AGENT: i32 = 3;
/** Texts TEXT_ATTRS .. TEXT_ATTRS + HEADER_ATTRS - 1: the request headers a stream's records take as attributes. */
export const TEXT_ATTRS: i32 = 4;
export const HEADER_ATTRS: i32 = 7;
export const TEXT_AGENT_ID: i32 = TEXT_ATTRS;
export const TEXT_APPLICATION_NAME: i32 = TEXT_ATTRS + 1;
const TEXT_COUNT: i32 = TEXT_ATTRS + HEADER_ATTRS;
// A stream's texts block: per text its place among the bytes and its length (-1: absent), then the bytes.
const TEXT_TABLE: i32 = TEXT_COUNT * 8;

/** Heap bytes an allocation of n bytes takes: the allocator's 4-byte header, rounded up to 16. */
function allocated(n: i32): i32 {
  return (n + 4 + 15) & ~15;
}

/** Puts a stream's texts together, one after another, for StreamState.keepTexts; one serves every stream. */
export class StreamTexts {
  bytes: ByteWriter = new ByteWriter(256);
  // Per text: where its bytes start and their length (-1: absent).
  spans: StaticArray<i32> = new StaticArray<i32>(TEXT_COUNT * 2);
  // The text whose bytes were written last.
  private lastAt: i32 = 0;
  private lastLen: i32 = 0;

  begin(): void {
    this.bytes.reset();
    for (let t = 0; t < TEXT_COUNT; t++) unchecked((this.spans[(t << 1) + 1] = -1));
    this.lastAt = 0;
    this.lastLen = 0;
  }

  /** Text t = s as a record writes a string (UTF-8, a lone surrogate as U+FFFD); absent when null. */
  put(t: i32, s: string | null): void {
    if (s === null) return;
    const w = this.bytes;
    const at = w.len;
    w.utf8(s);
    this.place(t, at);
  }

  /** Text t = s as String.UTF8 encodes it (a lone surrogate as its three bytes); absent when null. */
  putUtf8Std(t: i32, s: string | null): void {
    if (s === null) return;
    const w = this.bytes;
    const at = w.len;
    w.ensure(s.length * 3);
    w.len += <i32>String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, w.dataStart + <usize>at);
    this.place(t, at);
  }

  /**
   * Text t = the bytes written from `at` on; bytes that end the text written before are
   * shared with it, not kept twice (an endpoint and a method end their path, agent_id is
   * the trace's agent id).
   */
  private place(t: i32, at: i32): void {
    const w = this.bytes;
    const len = w.len - at;
    const tail = this.lastAt + this.lastLen - len;
    if (len <= this.lastLen && sameBytes(w.dataStart + <usize>tail, w.dataStart + <usize>at, len)) {
      w.len = at;
      unchecked((this.spans[t << 1] = tail));
    } else {
      unchecked((this.spans[t << 1] = at));
      this.lastAt = at;
      this.lastLen = len;
    }
    unchecked((this.spans[(t << 1) + 1] = len));
  }
}

/**
 * An open stream. Unmanaged, as its deframers and texts: one made by FlowState.openStream
 * is freed by `free` when the stream is closed or forgotten.
 */
@unmanaged export class StreamState {
  method: i32 = METHOD_UNKNOWN;
  /** Client- or bidi-streaming: one record per message, not paired with the response. */
  streaming: bool = true;
  /** The request HEADERS were read (their texts kept). */
  headersSeen: bool = false;
  /** Some request header could not be resolved (HPACK entries never seen, cut block). */
  incomplete: bool = false;
  /** PResult of a unary response, when read. */
  resultSeen: bool = false;
  resultSuccess: bool = true;
  messages: u32 = 0;
  /** Records logged for this stream's messages. */
  logged: u32 = 0;
  up: GrpcDeframer;
  down: GrpcDeframer;
  // The request headers' texts (TEXT_TABLE, then their bytes; 0: none kept) and the bytes they take.
  private texts: usize = 0;
  private textsSize: i32 = 0;
  // The PResult's message: its length (i32), then its bytes (0: none).
  private result: usize = 0;

  constructor(public id: u32, headersSeen: bool) {
    this.headersSeen = headersSeen;
    this.up = new GrpcDeframer(headersSeen, MESSAGE_KEEP);
    this.down = new GrpcDeframer(headersSeen, MESSAGE_KEEP);
  }

  /** Frees the stream and all it holds: it is not to be used after. */
  free(): void {
    this.up.free();
    this.down.free();
    heap.free(this.texts);
    heap.free(this.result);
    heap.free(changetype<usize>(this));
  }

  /** Keeps the texts `b` holds as this stream's (in place of any kept before). */
  keepTexts(b: StreamTexts): void {
    heap.free(this.texts);
    const size = TEXT_TABLE + b.bytes.len;
    const p = heap.alloc(<usize>size);
    memory.copy(p, changetype<usize>(b.spans), <usize>TEXT_TABLE);
    memory.copy(p + <usize>TEXT_TABLE, b.bytes.dataStart, <usize>b.bytes.len);
    this.texts = p;
    this.textsSize = size;
  }

  /** Bytes of text t (-1: absent, or no texts kept). */
  textLen(t: i32): i32 {
    const p = this.texts;
    return p == 0 ? -1 : load<i32>(p + (<usize>t << 3), 4);
  }

  /** Where text t begins among the texts' bytes (when textLen(t) >= 0). */
  textOffset(t: i32): i32 {
    return load<i32>(this.texts + (<usize>t << 3));
  }

  /** Where text t's bytes are (when textLen(t) >= 0). */
  textAt(t: i32): usize {
    return this.textBytes + <usize>this.textOffset(t);
  }

  /** The bytes of all texts (textBytesLen of them), which textOffset counts from. */
  get textBytes(): usize {
    return this.texts + <usize>TEXT_TABLE;
  }

  get textBytesLen(): i32 {
    return this.texts != 0 ? this.textsSize - TEXT_TABLE : 0;
  }

  get hasPath(): bool {
    return this.textLen(TEXT_PATH) >= 0;
  }

  /** Keeps a PResult's message, as a record writes it (in place of the last one's). */
  keepResult(message: string): void {
    const w = resultScratch;
    w.reset();
    w.utf8(message);
    heap.free(this.result);
    const p = heap.alloc(4 + <usize>w.len);
    store<i32>(p, w.len);
    memory.copy(p + 4, w.dataStart, <usize>w.len);
    this.result = p;
  }

  /** Bytes of the PResult's message kept (-1: none). */
  get resultLen(): i32 {
    const p = this.result;
    return p == 0 ? -1 : load<i32>(p);
  }

  /** Where the PResult's message is (when resultLen >= 0). */
  get resultAt(): usize {
    return this.result + 4;
  }

  /** Approximate heap bytes held. */
  get footprint(): i32 {
    const r = this.result;
    return allocated(<i32>offsetof<StreamState>()) + this.up.footprint + this.down.footprint +
      (this.texts != 0 ? allocated(this.textsSize) : 0) + (r != 0 ? allocated(4 + load<i32>(r)) : 0);
  }
}

const resultScratch = new ByteWriter(64);

/**
 * A connection's state: the two HTTP/2 directions (HPACK tables, the frame in progress)
 * and the open streams. Unmanaged, as all it holds: one made with `new` is freed by
 * `free` when the connection is forgotten. Its small fixed state lives in its slot of the
 * SDK's flow table (`at`: see the slot layout below).
 */
@unmanaged export class FlowState {
  c2s: H2Direction;
  s2c: H2Direction;
  /** The collector-side port. */
  serverPort: u16 = 0;
  spanPort: bool = false;
  /** Bytes this flow was last counted for in the table. */
  counted: i32 = 0;
  /** Open streams. */
  streamCount: i32 = 0;
  // The open streams, oldest first (a handful at a time: a list beats a map here): their
  // pointers, in heap memory made for `listCap` of them.
  private list: usize = 0;
  private listCap: i32 = 0;

  /** @param at the flow's slot data in the table (fixed while the flow holds its slot) */
  constructor(public at: usize) {
    this.c2s = new H2Direction(HPACK_TABLE_LIMIT);
    this.s2c = new H2Direction(HPACK_TABLE_LIMIT);
    this.c2s.maxHeaderBlock = MAX_HEADER_BLOCK;
    this.s2c.maxHeaderBlock = MAX_HEADER_BLOCK;
  }

  /** Open stream i, oldest first (0 <= i < streamCount). */
  @inline streamAt(i: i32): StreamState {
    return changetype<StreamState>(load<usize>(this.list + (<usize>i << alignof<usize>())));
  }

  stream(id: u32): StreamState | null {
    for (let i = this.streamCount - 1; i >= 0; i--) {
      const s = this.streamAt(i);
      if (s.id == id) return s;
    }
    return null;
  }

  openStream(id: u32, headersSeen: bool): StreamState {
    // Forget the oldest stream still open.
    if (this.streamCount >= MAX_STREAMS_PER_FLOW) this.removeAt(0);
    if (this.streamCount == this.listCap) {
      const cap = this.listCap == 0 ? 2 : this.listCap << 1;
      const bytes = <usize>cap << alignof<usize>();
      this.list = this.list == 0 ? heap.alloc(bytes) : heap.realloc(this.list, bytes);
      this.listCap = cap;
    }
    const s = new StreamState(id, headersSeen);
    store<usize>(this.list + (<usize>this.streamCount << alignof<usize>()), changetype<usize>(s));
    this.streamCount++;
    return s;
  }

  closeStream(id: u32): void {
    for (let i = this.streamCount - 1; i >= 0; i--) {
      if (this.streamAt(i).id == id) {
        this.removeAt(i);
        return;
      }
    }
  }

  /** Frees open stream i; the later ones move down. */
  private removeAt(i: i32): void {
    this.streamAt(i).free();
    const at = this.list + (<usize>i << alignof<usize>());
    memory.copy(at, at + sizeof<usize>(), <usize>(this.streamCount - i - 1) << alignof<usize>());
    this.streamCount--;
  }

  /** Forgets every open stream. */
  dropStreams(): void {
    for (let i = 0; i < this.streamCount; i++) this.streamAt(i).free();
    this.streamCount = 0;
    heap.free(this.list);
    this.list = 0;
    this.listCap = 0;
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

  /** Frees the connection and all it holds (directions, streams): it is not to be used after. */
  free(): void {
    this.dropStreams();
    this.c2s.free();
    this.s2c.free();
    heap.free(changetype<usize>(this));
  }

  /** Approximate heap bytes held. */
  get footprint(): i32 {
    let n = allocated(<i32>offsetof<FlowState>()) + this.c2s.footprint + this.s2c.footprint;
    if (this.list != 0) n += allocated(this.listCap << alignof<usize>());
    for (let i = 0; i < this.streamCount; i++) n += this.streamAt(i).footprint;
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
 * when full); each connection's state in an array by slot (pointers to unmanaged
 * objects, which a collection does not follow). Bounded also in the bytes of all
 * connections' state together (MAX_FLOW_BYTES), the least recently used forgotten first
 * while over.
 */
export class FlowTable {
  private table: SdkFlowTable;
  private states: Array<FlowState | null> = [];
  bytes: i64 = 0;

  /** @param capacity connections kept @param maxBytes bytes of their state kept (both smaller in specs) */
  constructor(capacity: i32 = MAX_FLOWS, private maxBytes: i64 = MAX_FLOW_BYTES) {
    this.table = new SdkFlowTable(capacity, SLOT_BYTES);
  }

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
    if (f === null) unchecked((states[slot] = f = new FlowState(this.table.data(slot))));
    return f;
  }

  /** Forgets the state a slot holds, if any. */
  private drop(slot: i32): void {
    const f = this.stateAt(slot);
    if (f === null) return;
    this.bytes -= f.counted;
    f.free();
    unchecked((this.states[slot] = null));
  }

  /** Re-counts a flow's bytes after a call and forgets old flows while over budget. */
  account(f: FlowState): void {
    const now = f.footprint;
    this.bytes += now - f.counted;
    f.counted = now;
    const table = this.table;
    while (this.bytes > this.maxBytes) {
      const oldest = table.oldest;
      if (oldest < 0 || table.data(oldest) == f.at) break;
      this.drop(oldest);
      table.free(oldest);
    }
    // A single flow over the whole budget keeps only its connection state.
    if (this.bytes > this.maxBytes) {
      f.dropStreams();
      const after = f.footprint;
      this.bytes += after - f.counted;
      f.counted = after;
    }
  }
}
