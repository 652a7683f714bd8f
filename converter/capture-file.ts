// `pinpoint-otel convert CAPTURE`: host-sim's capture reader and TCP stream reassembly → the
// client→server bytes of every connection to a collector port → gRPC requests → the pipeline.
import { CaptureError, decodeFrame, DecodedPacket, openCapture, type CaptureReader, type Frame } from "../capture/open.ts";
import { IPPROTO_TCP, TCP_FIN, TCP_RST, TCP_SYN } from "../capture/packet.ts";
import { StreamReassembler } from "../capture/tcp-stream.ts";
import { GrpcCaptureDecoder, type TcpChunk } from "./capture.ts";
import { SPAN_PATH } from "./ingest.ts";
import type { Pipeline } from "./pipeline.ts";

/** Out-of-order bytes held per direction before a hole is declared lost. */
const MAX_PENDING_BYTES = 4 << 20;
/**
 * A connection without a packet for this long (capture time) is closed (its FIN was not captured).
 * Agents ping every minute on theirs, so a live one is never this quiet.
 */
export const CONNECTION_IDLE_US = 10 * 60e6;
/** Connections held at once; beyond, the one quiet the longest is closed. */
export const MAX_CONNECTIONS = 10_000;
/** How often (capture time) idle connections are looked for. */
const IDLE_SWEEP_US = 10e6;

interface Connection {
  reasm: StreamReassembler;
  gaps: number;
  lastUs: number;
  /** When it was last moved to the end of the connection map. */
  movedUs: number;
}

export interface ConvertOptions {
  /**
   * Emit each transaction once it has been quiet for this long in capture time (ms), give up waiting
   * for its missing parts after 30× as long and forget it after 60×, as `serve` does with --flush-ms;
   * without it everything is emitted at the end (and held until then). Needs `clock`.
   */
  flushMs?: number;
  /** Set to the capture time (epoch ms) of each frame before it is handed on: the pipeline's clock. */
  clock?: { nowMs: number };
  /** Closes connections idle this long (µs of capture time); default CONNECTION_IDLE_US. */
  idleUs?: number;
  /** Connections held at once; default MAX_CONNECTIONS. */
  maxConnections?: number;
}

function ipText(ip: Uint8Array): string {
  if (ip.length === 4) return ip.join(".");
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((ip[i] << 8) | ip[i + 1]).toString(16));
  return `[${parts.join(":")}]`;
}

/** IPv4 sources whose connection key is kept; beyond, the table starts afresh (it only saves work). */
const KEYS_KEPT = 20_000;

/**
 * A packet's connection key (`src:port>dst:port`), made once per IPv4 connection rather than per packet
 * (a few strings each), looked up by source address and port.
 */
class ConnectionKeys {
  private readonly bySource = new Map<number, { dst4: number; dstPort: number; key: string }>();

  of(pkt: DecodedPacket): string {
    if (pkt.ipVersion !== 4) return connectionKey(pkt);
    const source = pkt.src4 * 65536 + pkt.srcPort;
    const known = this.bySource.get(source);
    if (known && known.dst4 === pkt.dst4 && known.dstPort === pkt.dstPort) return known.key;
    const key = connectionKey(pkt);
    if (this.bySource.size >= KEYS_KEPT) this.bySource.clear();
    this.bySource.set(source, { dst4: pkt.dst4, dstPort: pkt.dstPort, key });
    return key;
  }
}

function connectionKey(pkt: DecodedPacket): string {
  return `${ipText(pkt.srcIp())}:${pkt.srcPort}>${ipText(pkt.dstIp())}:${pkt.dstPort}`;
}

export interface CaptureResult {
  /** One-line summary of what was read. */
  summary: string;
  /** Frames read (all of them when there is no damage; those before it otherwise). */
  frames: number;
  /** Where the file is damaged (cut or corrupt record); everything before it was converted. */
  damage: CaptureError | undefined;
  /** Connections (and their HTTP/2 decoders) held at the end, and freed along the way. */
  connections: { live: number; closed: number; idleClosed: number; peak: number };
}

/**
 * Streams the capture's agent→collector requests into the pipeline.
 * collectorPorts = [agent, stat, span]. A request whose HEADERS frame is not in the capture (the
 * long-lived span stream opened before it started) has no :path; on the span port the collector
 * serves nothing but Span/SendSpan, so such messages are read as spans (their agent stays unknown).
 * A file that cannot be opened as a capture throws CaptureError; damage after that ends the reading
 * like the end of the file does (held bytes are delivered) and is returned in `damage`. A reader
 * passed in is read to its end and closed. Connections are freed at FIN/RST, when idle for
 * idleUs, and beyond maxConnections (the quietest first): memory follows the connections open, not
 * the length of the capture.
 */
export async function convertCapture(file: string | CaptureReader, pipeline: Pipeline, collectorPorts: number[], opts: ConvertOptions = {}): Promise<CaptureResult> {
  const idleUs = opts.idleUs ?? CONNECTION_IDLE_US;
  const maxConnections = opts.maxConnections ?? MAX_CONNECTIONS;
  const flushUs = opts.flushMs !== undefined ? opts.flushMs * 1000 : undefined;
  if (flushUs !== undefined && !opts.clock) throw new Error("convertCapture: flushMs needs the pipeline's clock");
  const ports = new Set(collectorPorts);
  const spanPortSuffix = `:${collectorPorts[2]}`;
  const decoder = new GrpcCaptureDecoder((r) => {
    const path = r.path ?? (r.connection.endsWith(spanPortSuffix) ? SPAN_PATH : undefined);
    pipeline.request(path, r.header, r.data);
  });
  const connections = new Map<string, Connection>();
  let closed = 0;
  let idleClosed = 0;
  let peak = 0;
  const close = (key: string, conn: Connection): void => {
    conn.reasm.finish();
    connections.delete(key);
    decoder.close(key);
    closed++;
  };
  let nextIdleSweepUs = -1;
  let nextFlushUs = -1;
  const reader = typeof file === "string" ? openCapture(file) : file;
  const pkt = new DecodedPacket();
  const keys = new ConnectionKeys();
  let frames = 0;
  let segments = 0;
  let bytes = 0;
  let damage: CaptureError | undefined;
  try {
    for (;;) {
      let frame: Frame | null;
      try {
        frame = reader.next();
      } catch (e) {
        // Frames before a damaged record are good: stop here, keep what they carried.
        if (!(e instanceof CaptureError)) throw e;
        damage = e;
        break;
      }
      if (!frame) break;
      frames++;
      const nowUs = frame.timeUs;
      if (opts.clock) opts.clock.nowMs = Math.floor(nowUs / 1000);
      if (nowUs >= nextIdleSweepUs) {
        if (nextIdleSweepUs >= 0) {
          for (const [key, c] of connections) {
            if (nowUs - c.lastUs < idleUs) continue;
            close(key, c);
            idleClosed++;
          }
        }
        nextIdleSweepUs = nowUs + Math.min(IDLE_SWEEP_US, idleUs);
      }
      if (flushUs !== undefined && nowUs >= nextFlushUs) {
        if (nextFlushUs >= 0) {
          // Waits for the sinks: output that cannot keep up slows the reading, it is not buffered.
          const now = Math.floor(nowUs / 1000);
          await pipeline.flush({ idleMs: opts.flushMs, giveUpMs: (opts.flushMs as number) * 30, now });
          pipeline.asm.forget((opts.flushMs as number) * 60, now);
        }
        nextFlushUs = nowUs + flushUs;
      }
      if (!decodeFrame(frame, pkt) || pkt.ipProto !== IPPROTO_TCP || !ports.has(pkt.dstPort)) continue;
      const key = keys.of(pkt);
      let conn = connections.get(key);
      if (conn && pkt.tcpFlags & TCP_SYN) {
        close(key, conn); // the 4-tuple was reused by a new connection
        conn = undefined;
      }
      if (!conn) {
        if (connections.size >= maxConnections) {
          // The map is in order of the latest packet (see below): the first is the quietest.
          const [oldKey, oldest] = connections.entries().next().value as [string, Connection];
          close(oldKey, oldest);
          idleClosed++;
        }
        const c: Connection = {
          lastUs: nowUs,
          movedUs: nowUs,
          gaps: 0,
          reasm: new StreamReassembler(MAX_PENDING_BYTES, (data, timeUs) => {
            const chunk: TcpChunk = { connection: key, fromClient: true, data, timeUs };
            if (c.reasm.gapCount !== c.gaps) {
              c.gaps = c.reasm.gapCount;
              chunk.gap = true;
            }
            decoder.push(chunk);
          }),
        };
        conn = c;
        connections.set(key, conn);
        if (connections.size > peak) peak = connections.size;
      } else {
        conn.lastUs = nowUs;
        if (nowUs - conn.movedUs >= IDLE_SWEEP_US) {
          // Kept in order of activity, coarsely: moved to the end at most once per sweep interval.
          connections.delete(key);
          connections.set(key, conn);
          conn.movedUs = nowUs;
        }
      }
      const payload = pkt.payload();
      if (payload.length) {
        segments++;
        bytes += payload.length;
        conn.reasm.push(pkt.tcpSeq, payload, pkt.timeUs);
      }
      if (pkt.tcpFlags & (TCP_FIN | TCP_RST)) close(key, conn);
    }
  } finally {
    reader.close();
  }
  for (const c of connections.values()) c.reasm.finish();
  const h = decoder.stats();
  const summary = `capture: ${frames} frames, ${connections.size} open connections at the end (${closed} closed, ${idleClosed} of them idle), ${segments} segments / ${bytes} bytes to collector ports ${[...ports].join(",")}; http2: ${h.messages} gRPC messages, ${h.resyncs} resyncs, ${h.unknownHeaderFields} header fields lost with the HPACK state, ${h.badFrames} bad frames`;
  return { summary, frames, damage, connections: { live: connections.size, closed, idleClosed, peak } };
}
