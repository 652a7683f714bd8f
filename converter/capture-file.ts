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

interface Connection {
  reasm: StreamReassembler;
  gaps: number;
}

function ipText(ip: Uint8Array): string {
  if (ip.length === 4) return ip.join(".");
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((ip[i] << 8) | ip[i + 1]).toString(16));
  return `[${parts.join(":")}]`;
}

export interface CaptureResult {
  /** One-line summary of what was read. */
  summary: string;
  /** Frames read (all of them when there is no damage; those before it otherwise). */
  frames: number;
  /** Where the file is damaged (cut or corrupt record); everything before it was converted. */
  damage: CaptureError | undefined;
}

/**
 * Streams the capture's agent→collector requests into the pipeline.
 * collectorPorts = [agent, stat, span]. A request whose HEADERS frame is not in the capture (the
 * long-lived span stream opened before it started) has no :path; on the span port the collector
 * serves nothing but Span/SendSpan, so such messages are read as spans (their agent stays unknown).
 * A file that cannot be opened as a capture throws CaptureError; damage after that ends the reading
 * like the end of the file does (held bytes are delivered) and is returned in `damage`. A reader
 * passed in is read to its end and closed.
 */
export function convertCapture(file: string | CaptureReader, pipeline: Pipeline, collectorPorts: number[]): CaptureResult {
  const ports = new Set(collectorPorts);
  const spanPortSuffix = `:${collectorPorts[2]}`;
  const decoder = new GrpcCaptureDecoder((r) => {
    const path = r.path ?? (r.connection.endsWith(spanPortSuffix) ? SPAN_PATH : undefined);
    pipeline.request(path, r.header, r.data);
  });
  const connections = new Map<string, Connection>();
  const reader = typeof file === "string" ? openCapture(file) : file;
  const pkt = new DecodedPacket();
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
      if (!decodeFrame(frame, pkt) || pkt.ipProto !== IPPROTO_TCP || !ports.has(pkt.dstPort)) continue;
      const key = `${ipText(pkt.srcIp())}:${pkt.srcPort}>${ipText(pkt.dstIp())}:${pkt.dstPort}`;
      let conn = connections.get(key);
      if (conn && pkt.tcpFlags & TCP_SYN) {
        conn.reasm.finish(); // the 4-tuple was reused by a new connection
        connections.delete(key);
        conn = undefined;
      }
      if (!conn) {
        const c: Connection = {
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
      }
      const payload = pkt.payload();
      if (payload.length) {
        segments++;
        bytes += payload.length;
        conn.reasm.push(pkt.tcpSeq, payload, pkt.timeUs);
      }
      if (pkt.tcpFlags & (TCP_FIN | TCP_RST)) {
        conn.reasm.finish();
        connections.delete(key);
      }
    }
  } finally {
    reader.close();
  }
  for (const c of connections.values()) c.reasm.finish();
  const h = decoder.stats();
  const summary = `capture: ${frames} frames, ${connections.size} open connections at the end, ${segments} segments / ${bytes} bytes to collector ports ${[...ports].join(",")}; http2: ${h.messages} gRPC messages, ${h.resyncs} resyncs, ${h.unknownHeaderFields} header fields lost with the HPACK state, ${h.badFrames} bad frames`;
  return { summary, frames, damage };
}
