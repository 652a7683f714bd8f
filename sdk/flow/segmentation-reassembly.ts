// `--packet-segmentation-reassembly PORTS` (packet mode): the agent's
// `inputs.cbpf.preprocess.packet_segmentation_reassembly` — for TCP flows with either port in
// the list, "consecutive TCP packets are aggregated together for application log parsing".
//
// Mirrors agent/plugins/packet_segmentation_reassembly/src/lib.rs as it is driven by
// agent/src/flow_generator/flow_map.rs (init_flow: the flow's ports, TCP, not eBPF;
// update_tcp_node / new_tcp_node: every packet goes through `inject`, and only what it returns
// reaches collect_metric → FlowLog::parse → the plugins; node_removed_aftercare: `flush`) and
// MetaPacket's `Segment` impl in agent/src/common/meta_packet.rs (the merged packet is the
// earlier segment with the later one's payload appended: its time, TCP seq and header). The
// open-source crate is a stub (`does_support()` is false: the option has no effect there); the
// Enterprise implementation is not public. What it does is taken from its unit test
// (agent/src/flow_generator/flow_node.rs, test_packet_segmentation_reassembly: three
// contiguous 1448-byte segments of one direction come out as two 2896-byte packets, the 1st+2nd
// and the 2nd+3rd) and the option's documentation ("相邻的两个TCP分段" — two adjacent
// segments): each segment that continues the previous payload segment of the same direction
// (seq = previous seq + length) is joined to it; a segment that nothing joined is fed alone
// once the pairing is over. When that is (below) is our reading, not the agent's code.
//
// The merged packets then pass the agent's L4 check before any plugin sees them: with its TCP
// metrics on (outputs.flow_metrics.filters.npm_metrics, the default) a packet whose first byte
// was already seen is a retransmission and is not parsed (perf/tcp.rs, FlowLog::parse in
// perf/mod.rs). The 2nd+3rd packet of the test starts inside 1st+2nd: it is dropped here, and
// the plugins get 1st+2nd, then 3rd+4th, ... (3rd alone when nothing follows it).
//
// Not a stream reassembler (that is StreamReassembler in tcp-stream.ts, for --mode stream): no
// reordering, no waiting for holes, never more than two segments in one payload.
import { UsageError } from "../errors.ts";
import type { Flow } from "./flow.ts";
import type { L7Feeder } from "./l7-feeder.ts";

/** The ports of the option, as the agent's FlowConfig keeps them (a set of u16). */
export class PortSet {
  private readonly bits = new Uint8Array(65536);
  size = 0;

  constructor(readonly text: string) {}

  add(port: number): void {
    if (this.bits[port]) return;
    this.bits[port] = 1;
    this.size++;
  }

  has(port: number): boolean {
    return this.bits[port] === 1;
  }
}

/**
 * The option's entries as in the agent's YAML list: a port ("20880") or an inclusive range
 * ("2000-2010"), 0..65535 (FlowConfig::from in agent/src/config/handler.rs). The agent skips an
 * entry it cannot read with a debug log; here it is a usage error. `what` names the option in
 * the message.
 */
export function parsePortList(entries: ReadonlyArray<string | number>, what: string): PortSet {
  const set = new PortSet(entries.map((e) => String(e).trim()).join(","));
  const port = (s: string, entry: string): number => {
    const x = Number(s);
    if (!/^\d+$/.test(s) || x > 65535) throw new UsageError(`${what}: ${JSON.stringify(entry)} is not a port (0..65535) or a range A-B`);
    return x;
  };
  for (const raw of entries) {
    const entry = String(raw).trim();
    const dash = entry.indexOf("-");
    if (dash < 0) {
      set.add(port(entry, entry));
      continue;
    }
    const start = port(entry.slice(0, dash).trim(), entry);
    const end = port(entry.slice(dash + 1).trim(), entry);
    if (start > end) throw new UsageError(`${what}: range ${JSON.stringify(entry)} ends before it starts`);
    for (let p = start; p <= end; p++) set.add(p);
  }
  return set;
}

export interface SegmentationStats {
  /** The ports, as given. */
  ports: string;
  /** TCP flows on those ports that carried payload. */
  flows: number;
  /** Payloads fed as two adjacent segments joined. */
  joined: number;
  /** Segments fed alone: nothing continued them before the pairing ended. */
  alone: number;
  /** Joined packets that start inside the previous one (2nd+3rd): the agent's L4 check drops them. */
  overlapping: number;
}

/** The last payload segment of a flow, kept to be joined to the next one. */
interface Held {
  fromA: boolean;
  seq: number;
  timeUs: number;
  bytes: Uint8Array;
  /** Already fed, as the second half of a joined payload: not to be fed alone. */
  fed: boolean;
}

export class SegmentationReassembly {
  readonly stats: SegmentationStats;
  /** null once a flow's held segment was released (the flow is still counted). */
  private readonly held = new WeakMap<Flow, Held | null>();

  constructor(
    private readonly ports: PortSet,
    private readonly feeder: Pick<L7Feeder, "feed">,
  ) {
    this.stats = { ports: ports.text, flows: 0, joined: 0, alone: 0, overlapping: 0 };
  }

  /** need_to_reassemble: the flow's source or destination port is in the list (TCP only). */
  applies(flow: Flow): boolean {
    return this.ports.has(flow.portA) || this.ports.has(flow.portB);
  }

  /**
   * A payload segment of the flow (retransmissions already dropped). It is joined to the
   * held one when it continues it in the same direction; otherwise the held one is released.
   * `payload` may be a view into the frame: what is kept is copied.
   */
  segment(flow: Flow, fromA: boolean, seq: number, payload: Uint8Array, timeUs: number): void {
    const h = this.held.get(flow);
    if (h === undefined) this.stats.flows++;
    if (h && h.fromA === fromA && ((h.seq + h.bytes.length) >>> 0) === seq) {
      if (h.fed) {
        // Joined, this packet would start at a byte already parsed: a retransmission to the agent.
        this.stats.overlapping++;
        this.held.set(flow, { fromA, seq, timeUs, bytes: payload.slice(), fed: false });
        return;
      }
      // Segment::merge_segments: the earlier packet grows by the later one's payload.
      const joined = new Uint8Array(h.bytes.length + payload.length);
      joined.set(h.bytes);
      joined.set(payload, h.bytes.length);
      this.stats.joined++;
      this.feeder.feed(flow, fromA, joined, h.timeUs, h.seq);
      // The later segment is kept to be joined to the one after it (2nd+3rd in the agent's test).
      this.held.set(flow, { fromA, seq, timeUs, bytes: joined.subarray(h.bytes.length), fed: true });
      return;
    }
    if (h) this.feedHeld(flow, h);
    this.held.set(flow, { fromA, seq, timeUs, bytes: payload.slice(), fed: false });
  }

  /**
   * Ends the pairing: the held segment, if nothing joined it, is fed alone. Called on FIN/RST
   * (our reading: no data follows that the agent would wait for) and when the flow ends
   * (node_removed_aftercare's `flush`).
   */
  release(flow: Flow): void {
    const h = this.held.get(flow);
    if (!h) return;
    this.held.set(flow, null);
    this.feedHeld(flow, h);
  }

  flowEnded(flow: Flow): void {
    this.release(flow);
    this.held.delete(flow);
  }

  private feedHeld(flow: Flow, h: Held): void {
    if (h.fed) return;
    this.stats.alone++;
    this.feeder.feed(flow, h.fromA, h.bytes, h.timeUs, h.seq);
  }
}
