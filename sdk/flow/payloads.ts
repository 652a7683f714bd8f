// From a flow's packets to the payloads the agent hands its parsers: in packet mode one per
// TCP segment (retransmissions dropped, optionally two adjacent segments joined) or UDP
// datagram; in stream mode TCP reassembled per direction (./stream-feeder.ts).
import { IPPROTO_TCP, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, type DecodedPacket } from "../../capture/packet.ts";
import { SeqTracker } from "../../capture/tcp-stream.ts";
import type { Flow } from "./flow.ts";
import type { L7Feeder } from "./l7-feeder.ts";
import { SegmentationReassembly, type PortSet, type SegmentationStats } from "./segmentation-reassembly.ts";
import { StreamFeeder, type StreamStats } from "./stream-feeder.ts";

export interface PayloadStats {
  /** Payload bytes of every TCP/UDP packet, retransmissions included. */
  bytes: number;
  retransmissionsSkipped: number;
  stream: StreamStats | null;
  segmentation: SegmentationStats | null;
}

export class PayloadCutter {
  private bytes = 0;
  private retransmissions = 0;
  private readonly stream: StreamFeeder | null;
  private readonly segmentation: SegmentationReassembly | null;

  constructor(
    private readonly feeder: L7Feeder,
    mode: "packet" | "stream",
    bufSize: number,
    segmentationPorts: PortSet | null,
  ) {
    this.stream = mode === "stream" ? new StreamFeeder(feeder, bufSize) : null;
    this.segmentation = segmentationPorts ? new SegmentationReassembly(segmentationPorts, feeder) : null;
  }

  /** One packet of `flow` (`fromA`: from its endpoint A). */
  packet(flow: Flow, fromA: boolean, p: DecodedPacket): void {
    const t = p.timeUs;
    const len = p.payloadLength;
    this.bytes += len;
    if (p.ipProto !== IPPROTO_TCP) {
      if (len > 0) this.feeder.feed(flow, fromA, p.payload(), t, 0);
      return;
    }
    const f = p.tcpFlags;
    if (this.stream) {
      this.stream.segment(flow, fromA, p.tcpSeq, len > 0 ? p.payload() : null, f & TCP_ACK ? p.tcpAck : null, t, (f & TCP_PSH) !== 0, (f & (TCP_FIN | TCP_RST)) !== 0);
      return;
    }
    const joining = this.segmentation?.applies(flow) ? this.segmentation : null;
    if (len > 0) {
      // Not fed twice (the rule). The agent skips them too while its L4 metrics are on
      // (the default): TcpPerf answers RetransPacket and FlowLog::parse stops before L7
      // (agent/src/flow_generator/perf/{tcp,mod}.rs).
      const dir = fromA ? 0 : 1;
      const tracker = (flow.seq[dir] ??= new SeqTracker());
      if (tracker.isRetransmission(p.tcpSeq, len)) {
        this.retransmissions++;
        flow.retransmissions++;
      } else if (joining) joining.segment(flow, fromA, p.tcpSeq, p.payload(), t);
      else this.feeder.feed(flow, fromA, p.payload(), t, p.tcpSeq);
    }
    if (joining && f & (TCP_FIN | TCP_RST)) joining.release(flow);
  }

  /** A flow ended: what is held for it is fed. */
  flowEnded(flow: Flow): void {
    this.stream?.flowEnded(flow);
    this.segmentation?.flowEnded(flow);
  }

  get stats(): PayloadStats {
    return { bytes: this.bytes, retransmissionsSkipped: this.retransmissions, stream: this.stream?.stats ?? null, segmentation: this.segmentation?.stats ?? null };
  }
}
