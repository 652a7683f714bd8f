// A capture of any length made of real pinpoint-node-agent traffic (tests/fixtures/pinpoint/received.json,
// the agents' own message bytes): each copy is the fixture's spans with the transaction sequence moved
// (so copies are distinct traces, not duplicates), sent as a grpc-js client would (HTTP/2 preface,
// SETTINGS, HEADERS, gRPC-framed DATA) over TCP segments in a classic pcap. Every `copiesPerConnection`
// copies the agents reconnect (FIN, then a new client port), as long-running captures show.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FLAG_END_HEADERS, FLAG_END_STREAM, FRAME_DATA, FRAME_HEADERS, FRAME_SETTINGS, CONNECTION_PREFACE } from "../../../sdk/http/http2-frames.ts";
import { PSpanMessage } from "../../../converter/schema.ts";
import { frame } from "./h2-frame.ts";

interface Received {
  port: number;
  path: string;
  metadata?: Record<string, string>;
  raw?: string;
}

const FIXTURE = join(import.meta.dirname, "../../fixtures/pinpoint/received.json");
const MSS = 1448;

/** HPACK literal fields without indexing, new names (RFC 7541 6.2.2): no dynamic table to keep. */
function headerBlock(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  const str = (s: string): Buffer => {
    const b = Buffer.from(s, "latin1");
    if (b.length >= 127) throw new Error("header too long for this encoder");
    return Buffer.concat([Buffer.from([b.length]), b]);
  };
  for (const [k, v] of fields) parts.push(Buffer.from([0]), str(k), str(v));
  return Buffer.concat(parts);
}

function grpc(msg: Uint8Array): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
}

class PcapWriter {
  private readonly out: Buffer[] = [];
  constructor() {
    const g = Buffer.alloc(24);
    g.writeUInt32LE(0xa1b2c3d4, 0);
    g.writeUInt16LE(2, 4);
    g.writeUInt16LE(4, 6);
    g.writeUInt32LE(262144, 16);
    g.writeUInt32LE(1, 20); // Ethernet
    this.out.push(g);
  }

  /** One IPv4/TCP segment 127.0.0.1:sport → 127.0.0.1:dport. */
  packet(timeUs: number, sport: number, dport: number, seq: number, flags: number, payload: Buffer): void {
    const len = 14 + 20 + 20 + payload.length;
    const b = Buffer.alloc(16 + len);
    b.writeUInt32LE(Math.floor(timeUs / 1e6), 0);
    b.writeUInt32LE(timeUs % 1e6, 4);
    b.writeUInt32LE(len, 8);
    b.writeUInt32LE(len, 12);
    b.writeUInt16BE(0x0800, 16 + 12);
    const ip = 16 + 14;
    b[ip] = 0x45;
    b.writeUInt16BE(20 + 20 + payload.length, ip + 2);
    b[ip + 8] = 64;
    b[ip + 9] = 6;
    b.set([127, 0, 0, 1], ip + 12);
    b.set([127, 0, 0, 1], ip + 16);
    const tcp = ip + 20;
    b.writeUInt16BE(sport, tcp);
    b.writeUInt16BE(dport, tcp + 2);
    b.writeUInt32BE(seq >>> 0, tcp + 4);
    b[tcp + 12] = 5 << 4;
    b[tcp + 13] = flags;
    b.writeUInt16BE(65535, tcp + 14);
    payload.copy(b, tcp + 20);
    this.out.push(b);
  }

  bytes(): Buffer {
    return Buffer.concat(this.out);
  }
}

const SYN = 0x02;
const FIN = 0x01;
const PSH_ACK = 0x18;

/** A client→server TCP connection: SYN, then data in MSS segments, then FIN. */
class Conn {
  private seq = 1000;
  private nextStream = 1;
  constructor(
    private readonly w: PcapWriter,
    private readonly sport: number,
    private readonly dport: number,
    private readonly clock: { us: number },
  ) {
    w.packet(clock.us, sport, dport, this.seq - 1, SYN, Buffer.alloc(0));
    this.send(Buffer.concat([Buffer.from(CONNECTION_PREFACE, "latin1"), frame(FRAME_SETTINGS, 0, 0, Buffer.alloc(0))]));
  }

  send(bytes: Buffer): void {
    for (let at = 0; at < bytes.length; at += MSS) {
      const seg = bytes.subarray(at, at + MSS);
      this.w.packet(this.clock.us, this.sport, this.dport, this.seq, PSH_ACK, seg);
      this.seq += seg.length;
    }
  }

  open(path: string, metadata: Record<string, string>, endStream: boolean): number {
    const id = this.nextStream;
    this.nextStream += 2;
    const fields: [string, string][] = [[":method", "POST"], [":scheme", "http"], [":path", path], [":authority", "collector"], ["content-type", "application/grpc"]];
    for (const [k, v] of Object.entries(metadata)) fields.push([k, v]);
    this.send(frame(FRAME_HEADERS, FLAG_END_HEADERS | (endStream ? FLAG_END_STREAM : 0), id, headerBlock(fields)));
    return id;
  }

  data(stream: number, msg: Uint8Array, end = false): void {
    this.send(frame(FRAME_DATA, end ? FLAG_END_STREAM : 0, stream, grpc(msg)));
  }

  close(): void {
    this.w.packet(this.clock.us, this.sport, this.dport, this.seq, FIN, Buffer.alloc(0));
  }
}

export interface PinpointCaptureOptions {
  copiesPerConnection?: number;
  /** Capture time between copies. */
  copyIntervalUs?: number;
  /** false: connections are left without FIN (the capture missed it, or the agent vanished). */
  fin?: boolean;
}

export interface PinpointCapture {
  bytes: Buffer;
  /** Span messages (PSpanMessage bytes) in the capture, in order: the baseline's input. */
  spanMessages: Uint8Array[];
  connections: number;
}

/** `copies` copies of the fixture's span traffic, with the agents' info and API metadata per connection. */
export function pinpointCapture(copies: number, opts: PinpointCaptureOptions = {}): PinpointCapture {
  const perConn = opts.copiesPerConnection ?? 200;
  const interval = opts.copyIntervalUs ?? 20_000;
  const fin = opts.fin ?? true;
  const received = (JSON.parse(readFileSync(FIXTURE, "utf8")) as { received: Received[] }).received;
  const meta = (r: Received): Record<string, string> => {
    const m: Record<string, string> = {};
    for (const k of ["agentid", "applicationname", "starttime"]) if (r.metadata?.[k] !== undefined) m[k] = r.metadata[k];
    return m;
  };
  const unary = received.filter((r) => r.port === 9991 && r.raw && (r.path.endsWith("RequestAgentInfo") || r.path.endsWith("RequestApiMetaData")));
  const spans = received.filter((r) => r.port === 9993 && r.raw);
  const templates = spans.map((r) => ({ agent: r.metadata?.agentid ?? "", msg: PSpanMessage.toObject(PSpanMessage.decode(Buffer.from(r.raw as string, "base64")), { longs: String }) }));
  const agents = [...new Set(spans.map((r) => r.metadata?.agentid ?? ""))];
  const agentMeta = new Map(agents.map((a) => [a, meta(spans.find((r) => r.metadata?.agentid === a) as Received)]));

  const w = new PcapWriter();
  const clock = { us: 1_700_000_000_000_000 };
  let port = 40000;
  let connections = 0;
  const spanMessages: Uint8Array[] = [];
  let streams = new Map<string, { conn: Conn; id: number }>();
  for (let k = 0; k < copies; k++) {
    if (k % perConn === 0) {
      if (fin) for (const s of streams.values()) s.conn.close();
      streams = new Map();
      // Agent info and API metadata, unary calls on a connection of their own.
      const c = new Conn(w, port++, 9991, clock);
      connections++;
      for (const r of unary) c.data(c.open(r.path, meta(r), false), Buffer.from(r.raw as string, "base64"), true);
      if (fin) c.close();
      for (const a of agents) {
        const conn = new Conn(w, port++, 9993, clock);
        connections++;
        streams.set(a, { conn, id: conn.open("/v1.Span/SendSpan", agentMeta.get(a) as Record<string, string>, false) });
      }
    }
    for (const t of templates) {
      const m = structuredClone(t.msg) as { span?: { transactionId: { sequence?: string } }; spanChunk?: { transactionId: { sequence?: string } } };
      const tx = (m.span ?? m.spanChunk)?.transactionId;
      if (tx) tx.sequence = String(BigInt(tx.sequence ?? "0") + BigInt(k) * 1000n);
      const bytes = PSpanMessage.encode(PSpanMessage.fromObject(m)).finish();
      spanMessages.push(bytes);
      const s = streams.get(t.agent) as { conn: Conn; id: number };
      s.conn.data(s.id, bytes);
    }
    clock.us += interval;
  }
  if (fin) for (const s of streams.values()) s.conn.close();
  return { bytes: w.bytes(), spanMessages, connections };
}
