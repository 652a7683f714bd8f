// One flow (5-tuple, both directions) and what the replay knows about it: which end is the
// client and how that was decided, TCP state, and the agent's per-flow L7 state (FlowLog in
// agent/src/flow_generator/perf/mod.rs).
import { ipToString } from "../../capture/address.ts";
import type { DecodedPacket } from "../../capture/packet.ts";
import { SeqTracker, StreamReassembler } from "../../capture/tcp-stream.ts";

/** How the client/server roles were decided (recorded on every log row). */
export type DirectionSource =
  | "first-packet" // the first packet's source, scores tied
  | "service-table" // scores of earlier flows (SYN-ACKs, claims) or the port-32768 rule
  | "syn" // a SYN's sender is the client
  | "syn-ack" // a SYN-ACK's sender is the server
  | "plugin-request" // the first claimed payload was a request: its destination is the server
  | "plugin-response" // ... a response: its source is the server
  | "http-request" // the agent's HTTP/1 parser claimed the first payload, a request: its destination is the server
  | "dubbo-request" // the agent's Dubbo parser claimed it, likewise
  | "zmtp-request"; // the agent's ZMTP parser claimed it (its check answers "request"), likewise

const TIME_BITS = 0x1f_ffff;
const COUNTER_FLOW_ID_MASK = 0xff_ffff;

/**
 * The agent's generate_flow_id layout — capture time (ns >> 30) in the high word, thread 0,
 * a counter in the low 24 bits — with the time cut to 21 bits so that the id stays a safe
 * JS integer (exact in JSON, no BigInt on the per-call path).
 */
export function agentFlowId(timeUs: number, counter: number): number {
  const timeField = Math.floor(timeUs / 1_073_741.824) & TIME_BITS; // (timeUs * 1000) >> 30
  return timeField * 0x1_0000_0000 + (counter & COUNTER_FLOW_ID_MASK);
}

export class Flow {
  readonly id: number;
  readonly idText: string;
  readonly isV6: boolean;
  readonly l4: number;
  /** Endpoint A is the source of the flow's first packet. */
  readonly ipA: Uint8Array;
  readonly ipB: Uint8Array;
  readonly ipTextA: string;
  readonly ipTextB: string;
  readonly portA: number;
  readonly portB: number;
  readonly a4: number;
  readonly b4: number;
  /** Bucket hash in the flow table. */
  readonly hash: number;
  readonly startUs: number;
  lastUs: number;

  clientIsA = true;
  /** The service-table score of the server side (255: settled by a SYN-ACK). */
  directionScore = 0;
  directionSource: DirectionSource = "first-packet";

  /** Per direction, index 0 = packets from A. */
  readonly packets = [0, 0];
  readonly payloadBytes = [0, 0];
  retransmissions = 0;

  // TCP
  finFromA = false;
  finFromB = false;
  reset = false;
  /** Sequence number of each side's bare SYN, -1 when none was seen. */
  synSeqA = -1;
  synSeqB = -1;
  /** Capture time the flow closed (FIN both ways or RST), -1 while open. */
  closedUs = -1;
  readonly seq: [SeqTracker | null, SeqTracker | null] = [null, null];
  readonly streams: [StreamReassembler | null, StreamReassembler | null] = [null, null];

  // L7 (FlowLog): the claimed protocol (0 = none yet) and inference bookkeeping.
  proto = 0;
  /** How the protocol was learnt: check_payload on this flow, or the server's inference cache. */
  protoFrom: "check_payload" | "cache" | "" = "";
  protoName = "";
  /** The plugin that claimed it (for a cached protocol: the plugin that claimed the server first). */
  claimedBy = "";
  /** A built-in parser of the agent that took the flow instead of the plugins ("" = none). */
  builtin: "" | "http1" | "http2" | "dubbo" | "zmtp" = "";
  inferenceSucceeded = false;
  skipInference = false;
  skipStartSec: number | null = null;
  records = 0;

  constructor(p: DecodedPacket, id: number, hash: number) {
    this.id = id;
    this.idText = String(id);
    this.hash = hash;
    this.isV6 = p.ipVersion === 6;
    this.l4 = p.ipProto;
    this.ipA = p.srcIp().slice();
    this.ipB = p.dstIp().slice();
    this.ipTextA = ipToString(this.ipA);
    this.ipTextB = ipToString(this.ipB);
    this.portA = p.srcPort;
    this.portB = p.dstPort;
    this.a4 = p.src4;
    this.b4 = p.dst4;
    this.startUs = this.lastUs = p.timeUs;
  }

  /** Whether a packet of this flow travels from endpoint A. */
  isFromA(p: DecodedPacket): boolean {
    if (p.srcPort !== this.portA || p.dstPort !== this.portB) return false;
    if (!this.isV6) return p.src4 === this.a4 && p.dst4 === this.b4;
    return sameBytes(p.data, p.srcIpAt, this.ipA) && sameBytes(p.data, p.dstIpAt, this.ipB);
  }

  /** Whether the packet belongs to this flow in either direction. */
  matches(p: DecodedPacket): boolean {
    if (p.ipProto !== this.l4 || (p.ipVersion === 6) !== this.isV6) return false;
    if (this.isFromA(p)) return true;
    if (p.srcPort !== this.portB || p.dstPort !== this.portA) return false;
    if (!this.isV6) return p.src4 === this.b4 && p.dst4 === this.a4;
    return sameBytes(p.data, p.srcIpAt, this.ipB) && sameBytes(p.data, p.dstIpAt, this.ipA);
  }

  /** Packet direction: true when it goes client → server. */
  isClientToServer(fromA: boolean): boolean {
    return fromA === this.clientIsA;
  }

  get clientIp(): Uint8Array {
    return this.clientIsA ? this.ipA : this.ipB;
  }
  get serverIp(): Uint8Array {
    return this.clientIsA ? this.ipB : this.ipA;
  }
  get clientIpText(): string {
    return this.clientIsA ? this.ipTextA : this.ipTextB;
  }
  get serverIpText(): string {
    return this.clientIsA ? this.ipTextB : this.ipTextA;
  }
  get clientPort(): number {
    return this.clientIsA ? this.portA : this.portB;
  }
  get serverPort(): number {
    return this.clientIsA ? this.portB : this.portA;
  }
}

function sameBytes(data: Uint8Array, at: number, ip: Uint8Array): boolean {
  for (let i = 0; i < ip.length; i++) if (data[at + i] !== ip[i]) return false;
  return true;
}
