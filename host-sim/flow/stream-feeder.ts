// `--mode stream`: TCP reassembled per direction, handed to the plugins in byte order.
// Consecutive bytes of one direction are coalesced into one payload until the other side
// speaks, the flow ends (FIN/RST/expiry), or the payload reaches the truncation size — so a
// message split over segments (or over several writes) arrives whole, up to the truncation
// size. PSH is not a boundary: applications often write a header and a body separately.
import type { Flow } from "./flow.ts";
import type { L7Feeder } from "./l7-feeder.ts";
import { StreamReassembler } from "./tcp-stream.ts";

/** Out-of-order bytes waiting for a hole to fill, per direction. */
const MAX_PENDING_BYTES = 1 << 20;

interface Turn {
  parts: Uint8Array[];
  bytes: number;
  timeUs: number;
  seq: number;
}

interface DirState {
  reasm: StreamReassembler;
  turn: Turn | null;
}

export interface StreamStats {
  chunks: number;
  gaps: number;
  gapBytes: number;
}

export class StreamFeeder {
  readonly stats: StreamStats = { chunks: 0, gaps: 0, gapBytes: 0 };
  private readonly state = new WeakMap<Flow, [DirState, DirState]>();

  constructor(
    private readonly feeder: L7Feeder,
    private readonly bufSize: number,
  ) {}

  /** A TCP segment's payload (may be empty) and flags. */
  segment(flow: Flow, fromA: boolean, seq: number, payload: Uint8Array, timeUs: number, finOrRst: boolean): void {
    const dirs = this.dirs(flow);
    if (payload.length > 0) dirs[fromA ? 0 : 1].reasm.push(seq, payload, timeUs);
    if (finOrRst) {
      this.flush(flow, true);
      this.flush(flow, false);
    }
  }

  /** The flow leaves the table: report holes, deliver what waited behind them, flush. */
  flowEnded(flow: Flow): void {
    const dirs = this.state.get(flow);
    if (!dirs) return;
    for (const fromA of [true, false]) {
      const d = dirs[fromA ? 0 : 1];
      d.reasm.finish();
      this.flush(flow, fromA);
      this.stats.gaps += d.reasm.gapCount;
      this.stats.gapBytes += d.reasm.gapBytes;
    }
    this.state.delete(flow);
  }

  private dirs(flow: Flow): [DirState, DirState] {
    let dirs = this.state.get(flow);
    if (!dirs) {
      const make = (fromA: boolean): DirState => ({
        reasm: new StreamReassembler(MAX_PENDING_BYTES, (bytes, timeUs, seq) => this.append(flow, fromA, bytes, timeUs, seq)),
        turn: null,
      });
      dirs = [make(true), make(false)];
      this.state.set(flow, dirs);
    }
    return dirs;
  }

  private append(flow: Flow, fromA: boolean, bytes: Uint8Array, timeUs: number, seq: number): void {
    // The other side speaking ends this side's turn.
    this.flush(flow, !fromA);
    const d = this.dirs(flow)[fromA ? 0 : 1];
    let at = 0;
    while (at < bytes.length) {
      if (!d.turn) d.turn = { parts: [], bytes: 0, timeUs, seq: (seq + at) >>> 0 };
      const take = Math.min(bytes.length - at, this.bufSize - d.turn.bytes);
      d.turn.parts.push(bytes.slice(at, at + take));
      d.turn.bytes += take;
      at += take;
      if (d.turn.bytes >= this.bufSize) this.flush(flow, fromA);
    }
  }

  private flush(flow: Flow, fromA: boolean): void {
    const dirs = this.state.get(flow);
    const d = dirs?.[fromA ? 0 : 1];
    const turn = d?.turn;
    if (!d || !turn) return;
    d.turn = null;
    const payload = turn.parts.length === 1 ? turn.parts[0]! : Buffer.concat(turn.parts, turn.bytes);
    this.stats.chunks++;
    this.feeder.feed(flow, fromA, payload, turn.timeUs, turn.seq);
  }
}
