// Which end of a flow is the server before any plugin has spoken: the agent's ServiceTable
// (agent/src/flow_generator/service_table.rs). Each ip:port gets a score; SYN-ACK makes its
// sender the server for good (MAX), SYN votes for the receiver, first packets of flows vote
// for their destination, and ports on both sides of 32768 break near-ties.
import { LruMap } from "./bounded-map.ts";

export const MIN_SCORE = 0;
export const MAX_SCORE = 0xff;
export const MAX_SCORE_FROM_L7 = MAX_SCORE - 1;
const MAX_SCORE_FROM_PACKET = MAX_SCORE - 3;
const SCORE_DIFF_THRESHOLD = 8;
const PORT_MSB = 1 << 15;
const CAPACITY = 65_536;

export const TCP_SYN = 0x02;
export const TCP_ACK = 0x10;

/** A service endpoint key: "ip|port" (the agent adds an epc id, always 0 in a capture). */
export type ServiceKey = string;

export function serviceKey(ipText: string, port: number): ServiceKey {
  return `${ipText}|${port}`;
}

function portOf(key: ServiceKey): number {
  return Number(key.slice(key.lastIndexOf("|") + 1));
}

export class ServiceTable {
  private readonly v4 = new LruMap<ServiceKey, number>(CAPACITY);
  private readonly v6 = new LruMap<ServiceKey, number>(CAPACITY);

  constructor(private readonly serverPorts: ReadonlySet<number> = new Set()) {}

  private table(isV6: boolean): LruMap<ServiceKey, number> {
    return isV6 ? this.v6 : this.v4;
  }

  /** get_tcp_score: scores of (packet source, packet destination). */
  tcpScore(isV6: boolean, firstPacket: boolean, flags: number, src: ServiceKey, dst: ServiceKey): [number, number] {
    const t = this.table(isV6);
    if ((flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)) {
      // Whoever sends SYN|ACK is the server, its peer cannot be one.
      t.set(src, MAX_SCORE);
      t.delete(dst);
      return [MAX_SCORE, MIN_SCORE];
    }
    if (flags & TCP_SYN) {
      t.delete(src);
      let dstScore = t.get(dst) ?? MIN_SCORE;
      if (firstPacket && dstScore < MAX_SCORE_FROM_PACKET) {
        dstScore++;
        t.set(dst, dstScore);
      }
      return [MIN_SCORE, dstScore];
    }
    if (firstPacket) return this.firstPacketScore(isV6, src, dst);
    const s = t.get(src) ?? MIN_SCORE;
    const d = t.get(dst) ?? MIN_SCORE;
    // (the agent adjusts by ports here for IPv4 only)
    return isV6 ? [s, d] : adjustScore(portOf(src), portOf(dst), s, d);
  }

  /** get_udp_score (without the eBPF-only need_reverse_flow case). */
  udpScore(isV6: boolean, firstPacket: boolean, src: ServiceKey, dst: ServiceKey): [number, number] {
    if (firstPacket) return this.firstPacketScore(isV6, src, dst);
    const t = this.table(isV6);
    const s = t.get(src) ?? MIN_SCORE;
    const d = t.get(dst) ?? MIN_SCORE;
    return isV6 ? [s, d] : adjustScore(portOf(src), portOf(dst), s, d);
  }

  /** reset_score: a parser decided the direction; later flows between these ends follow it. */
  resetScore(isV6: boolean, client: ServiceKey, server: ServiceKey): void {
    const t = this.table(isV6);
    t.set(client, MIN_SCORE);
    t.set(server, MAX_SCORE_FROM_L7);
  }

  private firstPacketScore(isV6: boolean, src: ServiceKey, dst: ServiceKey): [number, number] {
    const t = this.table(isV6);
    let s: number;
    let d: number;
    if (this.serverPorts.has(portOf(src))) {
      s = MAX_SCORE - 2;
      t.set(src, s);
    } else s = t.get(src) ?? MIN_SCORE;
    if (this.serverPorts.has(portOf(dst))) {
      d = MAX_SCORE - 2;
      t.set(dst, d);
    } else d = t.get(dst) ?? MIN_SCORE;
    if (s === MAX_SCORE || d === MAX_SCORE) return [s, d];
    if (s > MIN_SCORE) {
      s--;
      if (s > MIN_SCORE) t.set(src, s);
      else t.delete(src);
    }
    if (d < MAX_SCORE_FROM_PACKET) {
      d++;
      t.set(dst, d);
    }
    return isV6 ? [s, d] : adjustScore(portOf(src), portOf(dst), s, d);
  }
}

/** Near-ties go to the side whose port is below 32768 (ephemeral ports are above). */
function adjustScore(srcPort: number, dstPort: number, s: number, d: number): [number, number] {
  if (s > MAX_SCORE_FROM_PACKET || d > MAX_SCORE_FROM_PACKET) return [s, d];
  if (Math.abs(s - d) < SCORE_DIFF_THRESHOLD && ((srcPort ^ dstPort) & PORT_MSB) !== 0) {
    return srcPort & PORT_MSB ? [0, 1] : [1, 0];
  }
  return [s, d];
}

/** is_client_to_server: equal scores keep the packet's orientation. */
export function isClientToServer(srcScore: number, dstScore: number): boolean {
  return srcScore <= dstScore;
}
