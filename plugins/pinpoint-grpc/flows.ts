// Per-connection state, keyed by the agent's flow_id: the two HTTP/2 directions (HPACK
// tables, carry-over) and the open streams (path, Pinpoint metadata, gRPC deframers).
// Bounded in connections and bytes, least recently used forgotten first (the agent
// never says when a flow ends).
import { H2Direction } from "../../assembly/codec/http2";
import { GrpcDeframer } from "../../assembly/codec/grpc";
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
  method: i32 = METHOD_UNKNOWN;
  /** Client- or bidi-streaming: one record per message, not paired with the response. */
  streaming: bool = true;
  agentId: string | null = null;
  applicationName: string | null = null;
  startTime: string | null = null;
  agentName: string | null = null;
  headersSeen: bool = false;
  /** Some request header could not be resolved (HPACK entries never seen, cut block). */
  incomplete: bool = false;
  grpcEncoding: string | null = null;
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
  streams: Map<u32, StreamState> = new Map();
  /** Stream ids in creation order, for forgetting the oldest. */
  private order: u32[] = [];
  /** The collector-side port. */
  serverPort: u16 = 0;
  spanPort: bool = false;
  /** Bytes this flow was last counted for in the table. */
  counted: i32 = 0;
  prev: FlowState | null = null;
  next: FlowState | null = null;

  constructor(public flowId: u64) {
    this.c2s = new H2Direction(HPACK_TABLE_LIMIT);
    this.s2c = new H2Direction(HPACK_TABLE_LIMIT);
    this.c2s.maxHeaderBlock = MAX_HEADER_BLOCK;
    this.s2c.maxHeaderBlock = MAX_HEADER_BLOCK;
  }

  stream(id: u32): StreamState | null {
    return this.streams.has(id) ? this.streams.get(id) : null;
  }

  openStream(id: u32, headersSeen: bool): StreamState {
    if (this.streams.size >= MAX_STREAMS_PER_FLOW) {
      // Forget the oldest stream still open.
      while (this.order.length > 0) {
        const old = this.order.shift();
        if (this.streams.has(old)) {
          this.streams.delete(old);
          break;
        }
      }
    }
    const s = new StreamState(id, headersSeen);
    this.streams.set(id, s);
    this.order.push(id);
    return s;
  }

  closeStream(id: u32): void {
    if (!this.streams.has(id)) return;
    this.streams.delete(id);
    const i = this.order.indexOf(id);
    if (i >= 0) this.order.splice(i, 1);
  }

  dropStreams(): void {
    this.streams.clear();
    this.order.length = 0;
  }

  get footprint(): i32 {
    let n = 256 + this.c2s.footprint + this.s2c.footprint + this.order.length * 4;
    const ids = this.order;
    for (let i = 0; i < ids.length; i++) {
      const id = unchecked(ids[i]);
      if (this.streams.has(id)) n += this.streams.get(id).footprint;
    }
    return n;
  }
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
