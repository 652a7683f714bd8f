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
import { ACK, FIN, PcapWriter, PSH, SYN } from "../../support/pcap-writer.ts";

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
    this.segment(this.seq - 1, SYN);
    this.send(Buffer.concat([Buffer.from(CONNECTION_PREFACE, "latin1"), frame(FRAME_SETTINGS, 0, 0, Buffer.alloc(0))]));
  }

  send(bytes: Buffer): void {
    for (let at = 0; at < bytes.length; at += MSS) {
      const seg = bytes.subarray(at, at + MSS);
      this.segment(this.seq, PSH | ACK, seg);
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
    this.segment(this.seq, FIN);
  }

  /** A segment 127.0.0.1:sport → 127.0.0.1:dport. */
  private segment(seq: number, flags: number, payload?: Uint8Array): void {
    this.w.tcp({ timeUs: this.clock.us, src: ["127.0.0.1", this.sport], dst: ["127.0.0.1", this.dport], seq, flags, payload });
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
