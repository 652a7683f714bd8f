// Flows keyed by 5-tuple (both directions one flow), with the agent's flow-direction rules
// (update_l4_direction in agent/src/flow_generator/flow_map.rs) and a lifetime bounded by
// TCP close and idle timeouts, so memory follows live flows, not the capture size.
import { IPPROTO_TCP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type DecodedPacket } from "../../capture/packet.ts";
import { agentFlowId, Flow } from "./flow.ts";
import { isClientToServer, serviceKey, ServiceTable } from "./service-table.ts";

/** Idle time after which an open TCP flow is forgotten (the agent's established timeout). */
const TCP_IDLE_US = 300_000_000;
/** UDP flows are forgotten after this much silence. */
const UDP_IDLE_US = 150_000_000;
/** A closed TCP flow lingers this long so that trailing ACKs/FINs do not open a new flow. */
const CLOSED_LINGER_US = 2_000_000;
/** How often (capture time) idle flows are looked for. */
const EXPIRY_SCAN_US = 1_000_000;

export interface FlowTableStats {
  flows: number;
  tcpFlows: number;
  udpFlows: number;
  live: number;
  peakLive: number;
}

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A bucket hash of the 5-tuple that is the same in both directions. */
function tupleHash(p: DecodedPacket): number {
  const ports = Math.imul(p.srcPort ^ p.dstPort, 0x9e3779b1) + p.srcPort + p.dstPort + p.ipProto;
  if (p.ipVersion === 4) return mix((p.src4 ^ p.dst4) + ports);
  const d = p.data;
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i++) h = Math.imul(h, 0x01000193) + (d[p.srcIpAt + i]! ^ d[p.dstIpAt + i]!);
  return mix(h + ports);
}

export class FlowTable {
  private readonly buckets = new Map<number, Flow | Flow[]>();
  private counter = 0;
  private lastScanUs = 0;
  readonly stats: FlowTableStats = { flows: 0, tcpFlows: 0, udpFlows: 0, live: 0, peakLive: 0 };
  /** Of the last track(): whether the packet came from the flow's endpoint A, and whether the flow is new. */
  fromA = true;
  created = false;

  constructor(
    readonly services: ServiceTable,
    /** Called when a flow leaves the table (closed and lingered, idle, or replaced by a new SYN). */
    private readonly onEnd: (flow: Flow) => void,
  ) {}

  /**
   * Finds or creates the flow of a decoded TCP/UDP packet and applies the agent's direction
   * rules; `fromA` and `created` tell the rest (no object per packet).
   */
  track(p: DecodedPacket): Flow {
    const hash = tupleHash(p);
    let flow = this.find(hash, p);
    let created = false;
    if (flow && p.ipProto === IPPROTO_TCP && this.startsNewConnection(flow, p)) {
      this.remove(flow);
      flow = undefined;
    }
    if (!flow) {
      flow = this.create(hash, p);
      created = true;
    }
    const fromA = created || flow.isFromA(p);
    flow.lastUs = Math.max(flow.lastUs, p.timeUs);
    flow.packets[fromA ? 0 : 1]!++;
    flow.payloadBytes[fromA ? 0 : 1]! += p.payloadLength;
    if (p.ipProto === IPPROTO_TCP) {
      // The agent re-scores the direction on the first packet and on every SYN / SYN-ACK.
      if (created || (p.tcpFlags & TCP_SYN) !== 0) this.scoreDirection(flow, p, fromA, created);
      this.updateTcpState(flow, p, fromA);
    } else if (created) {
      this.scoreDirection(flow, p, fromA, true);
    }
    this.fromA = fromA;
    this.created = created;
    return flow;
  }

  /** Ends flows idle past their timeout (capture time). Cheap when called every packet. */
  expire(nowUs: number): void {
    if (nowUs - this.lastScanUs < EXPIRY_SCAN_US) return;
    this.lastScanUs = nowUs;
    const ended: Flow[] = [];
    for (const entry of this.buckets.values()) {
      if (Array.isArray(entry)) for (const f of entry) this.collectExpired(f, nowUs, ended);
      else this.collectExpired(entry, nowUs, ended);
    }
    for (const f of ended) this.remove(f);
  }

  /** Ends every flow (end of the capture). */
  endAll(): void {
    const all: Flow[] = [];
    for (const entry of this.buckets.values()) {
      if (Array.isArray(entry)) all.push(...entry);
      else all.push(entry);
    }
    for (const f of all) this.remove(f);
  }

  private collectExpired(f: Flow, nowUs: number, out: Flow[]): void {
    const idle = nowUs - f.lastUs;
    if (f.closedUs >= 0 ? idle > CLOSED_LINGER_US : idle > (f.l4 === IPPROTO_TCP ? TCP_IDLE_US : UDP_IDLE_US)) out.push(f);
  }

  private find(hash: number, p: DecodedPacket): Flow | undefined {
    const entry = this.buckets.get(hash);
    if (entry === undefined) return undefined;
    if (!Array.isArray(entry)) return entry.matches(p) ? entry : undefined;
    for (const f of entry) if (f.matches(p)) return f;
    return undefined;
  }

  private create(hash: number, p: DecodedPacket): Flow {
    const flow = new Flow(p, agentFlowId(p.timeUs, ++this.counter), hash);
    const entry = this.buckets.get(hash);
    if (entry === undefined) this.buckets.set(hash, flow);
    else if (Array.isArray(entry)) entry.push(flow);
    else this.buckets.set(hash, [entry, flow]);
    const s = this.stats;
    s.flows++;
    if (flow.l4 === IPPROTO_TCP) s.tcpFlows++;
    else s.udpFlows++;
    s.live++;
    if (s.live > s.peakLive) s.peakLive = s.live;
    return flow;
  }

  private remove(flow: Flow): void {
    const entry = this.buckets.get(flow.hash);
    if (entry === flow) this.buckets.delete(flow.hash);
    else if (Array.isArray(entry)) {
      const i = entry.indexOf(flow);
      if (i < 0) return;
      entry.splice(i, 1);
      if (entry.length === 1) this.buckets.set(flow.hash, entry[0]!);
    } else return;
    this.stats.live--;
    this.onEnd(flow);
  }

  /**
   * A bare SYN starts a new connection on the 5-tuple when the flow is closed, when its
   * sender's earlier SYN had another sequence number, or when the flow carried data without a
   * SYN from that side (tshark's "port numbers reused"). The same SYN again is a retransmission.
   */
  private startsNewConnection(flow: Flow, p: DecodedPacket): boolean {
    if ((p.tcpFlags & (TCP_SYN | TCP_ACK)) !== TCP_SYN) return false;
    if (flow.closedUs >= 0) return true;
    const synSeq = flow.isFromA(p) ? flow.synSeqA : flow.synSeqB;
    return synSeq >= 0 ? synSeq !== p.tcpSeq : flow.payloadBytes[0]! + flow.payloadBytes[1]! > 0;
  }

  private updateTcpState(flow: Flow, p: DecodedPacket, fromA: boolean): void {
    const f = p.tcpFlags;
    if ((f & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      if (fromA) flow.synSeqA = p.tcpSeq;
      else flow.synSeqB = p.tcpSeq;
    }
    if (f & TCP_RST) flow.reset = true;
    if (f & TCP_FIN) {
      if (fromA) flow.finFromA = true;
      else flow.finFromB = true;
    }
    if (flow.closedUs < 0 && (flow.reset || (flow.finFromA && flow.finFromB))) flow.closedUs = p.timeUs;
  }

  /**
   * update_l4_direction: scores the packet's two ends in the service table and makes the
   * higher-scored end the server (ties keep the current orientation).
   */
  private scoreDirection(flow: Flow, p: DecodedPacket, fromA: boolean, first: boolean): void {
    const srcText = fromA ? flow.ipTextA : flow.ipTextB;
    const dstText = fromA ? flow.ipTextB : flow.ipTextA;
    const src = serviceKey(srcText, p.srcPort);
    const dst = serviceKey(dstText, p.dstPort);
    let [srcScore, dstScore] =
      p.ipProto === IPPROTO_TCP
        ? this.services.tcpScore(flow.isV6, first, p.tcpFlags, src, dst)
        : this.services.udpScore(flow.isV6, first, src, dst);
    // Scores are of the packet's ends; orient them as (flow client, flow server).
    const c2s = flow.isClientToServer(fromA);
    if (!c2s) [srcScore, dstScore] = [dstScore, srcScore];
    if (!isClientToServer(srcScore, dstScore)) {
      flow.clientIsA = !flow.clientIsA;
      [srcScore, dstScore] = [dstScore, srcScore];
    }
    flow.directionScore = dstScore;
    if (p.ipProto === IPPROTO_TCP && (p.tcpFlags & TCP_SYN) !== 0) {
      flow.directionSource = (p.tcpFlags & TCP_ACK) !== 0 ? "syn-ack" : "syn";
    } else if (first) {
      // (0, 1) with the sender as client is the plain first-packet vote; anything else came
      // from earlier flows' votes or the port rule.
      flow.directionSource = flow.isClientToServer(fromA) && srcScore === 0 && dstScore === 1 ? "first-packet" : "service-table";
    }
  }
}
