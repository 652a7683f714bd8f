// `--mode stream`: TCP reassembled per direction, handed to the plugins in byte order.
// Consecutive bytes of one direction are coalesced into one payload up to the end of the
// sender's write (PSH), the other side speaking, a hole given up, the end of the flow, or the
// truncation size — so a message that TCP cut into several segments arrives whole (up to the
// truncation size), while messages written one by one keep their own capture times. A message
// the application wrote in several writes still arrives in pieces.
//
// Nothing is cut here: a turn longer than the truncation size goes out in pieces of at most
// one byte less, because a payload as long as the agent's payload size is, for a plugin, one
// the agent may have cut (nothing after it can be continued), which these are not.
import type { Flow } from "./flow.ts";
import type { L7Feeder } from "./l7-feeder.ts";
import { StreamReassembler } from "../../capture/tcp-stream.ts";

/** Out-of-order bytes waiting for a hole to fill, per direction. */
const MAX_PENDING_BYTES = 1 << 20;
const EMPTY = new Uint8Array(0);

/** The bytes of one direction's current turn, in a buffer reused across turns. */
interface DirState {
  reasm: StreamReassembler;
  buf: Uint8Array;
  length: number;
  timeUs: number;
  seq: number;
}

export interface StreamGapReport {
  flowId: number;
  /** Which side's bytes are missing. */
  from: "client" | "server";
  /** Offset in that side's byte stream (from its first captured byte). */
  offset: number;
  bytes: number;
}

export interface StreamStats {
  chunks: number;
  gaps: number;
  gapBytes: number;
  /** The first gaps found (at most 20), to look at in the capture. */
  firstGaps: StreamGapReport[];
}

const MAX_GAP_REPORTS = 20;

export class StreamFeeder {
  readonly stats: StreamStats = { chunks: 0, gaps: 0, gapBytes: 0, firstGaps: [] };
  private readonly state = new WeakMap<Flow, [DirState, DirState]>();

  constructor(
    private readonly feeder: L7Feeder,
    private readonly bufSize: number,
  ) {}

  /**
   * A TCP segment: its payload (null when empty), its acknowledgement number (null without
   * ACK) and whether it carries FIN or RST.
   */
  segment(flow: Flow, fromA: boolean, seq: number, payload: Uint8Array | null, ack: number | null, timeUs: number, psh: boolean, finOrRst: boolean): void {
    const dirs = this.state.get(flow) ?? (payload ? this.dirs(flow) : undefined);
    if (!dirs) return;
    // What the other side acknowledged but the capture never showed is lost: stop waiting.
    if (ack !== null) dirs[fromA ? 1 : 0].reasm.acknowledge(ack);
    const own = dirs[fromA ? 0 : 1].reasm;
    if (payload) own.push(seq, payload, timeUs, psh);
    if (finOrRst) own.fin((seq + (payload?.length ?? 0)) >>> 0);
    if (finOrRst) {
      this.flush(dirs, flow, true);
      this.flush(dirs, flow, false);
    }
  }

  /** The flow leaves the table: report holes, deliver what waited behind them, flush. */
  flowEnded(flow: Flow): void {
    const dirs = this.state.get(flow);
    if (!dirs) return;
    for (const fromA of [true, false]) {
      const d = dirs[fromA ? 0 : 1];
      d.reasm.finish();
      this.flush(dirs, flow, fromA);
      this.stats.gaps += d.reasm.gapCount;
      this.stats.gapBytes += d.reasm.gapBytes;
      for (const g of d.reasm.gaps) {
        if (this.stats.firstGaps.length >= MAX_GAP_REPORTS) break;
        this.stats.firstGaps.push({ flowId: flow.id, from: flow.isClientToServer(fromA) ? "client" : "server", offset: g.offset, bytes: g.bytes });
      }
    }
    this.state.delete(flow);
  }

  private dirs(flow: Flow): [DirState, DirState] {
    let dirs = this.state.get(flow);
    if (!dirs) {
      const make = (fromA: boolean): DirState => ({
        reasm: new StreamReassembler(
          MAX_PENDING_BYTES,
          (bytes, timeUs, seq, push) => this.append(both, flow, fromA, bytes, timeUs, seq, push),
          // Never join bytes across a hole into one payload.
          () => this.flush(both, flow, fromA),
        ),
        buf: EMPTY,
        length: 0,
        timeUs: 0,
        seq: 0,
      });
      const both: [DirState, DirState] = [make(true), make(false)];
      dirs = both;
      this.state.set(flow, dirs);
    }
    return dirs;
  }

  private append(dirs: [DirState, DirState], flow: Flow, fromA: boolean, bytes: Uint8Array, timeUs: number, seq: number, push: boolean): void {
    // The other side speaking ends this side's turn.
    this.flush(dirs, flow, !fromA);
    const d = dirs[fromA ? 0 : 1];
    const piece = Math.max(1, this.bufSize - 1);
    let at = 0;
    while (at < bytes.length) {
      if (d.length === 0) {
        d.timeUs = timeUs;
        d.seq = (seq + at) >>> 0;
      }
      const take = Math.min(bytes.length - at, piece - d.length);
      if (d.length + take > d.buf.length) {
        const grown = new Uint8Array(Math.min(this.bufSize, Math.max(2 * d.buf.length, d.length + take, 2048)));
        grown.set(d.buf.subarray(0, d.length));
        d.buf = grown;
      }
      d.buf.set(at === 0 && take === bytes.length ? bytes : bytes.subarray(at, at + take), d.length);
      d.length += take;
      at += take;
      if (d.length >= piece) this.flush(dirs, flow, fromA);
    }
    if (push) this.flush(dirs, flow, fromA);
  }

  private flush(dirs: [DirState, DirState], flow: Flow, fromA: boolean): void {
    const d = dirs[fromA ? 0 : 1];
    if (d.length === 0) return;
    const length = d.length;
    d.length = 0;
    this.stats.chunks++;
    // The plugin call copies what it reads; the buffer is free again when feed returns.
    this.feeder.feed(flow, fromA, d.buf.subarray(0, length), d.timeUs, d.seq);
  }
}
