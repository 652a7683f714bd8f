// Agent→collector gRPC requests out of reassembled TCP byte streams.
//
// The TCP reassembly is host-sim's (capture reader + flow table); this side only needs ordered
// client→server bytes per connection, described by TcpChunk.
import { Http2RequestDecoder, type Http2Stats } from "./http2.ts";
import { agentHeaderOf } from "./ingest.ts";
import type { AgentHeader } from "./messages.ts";

export interface TcpChunk {
  /** Identifies the connection (e.g. its 5-tuple). */
  connection: string;
  /** True for bytes the client (agent) sent. */
  fromClient: boolean;
  data: Uint8Array;
  timeUs: number;
  /** Bytes were lost before this chunk. */
  gap?: boolean;
}

export interface CapturedRequest {
  connection: string;
  path: string | undefined;
  header: AgentHeader;
  data: Uint8Array;
  timeUs: number;
}

function newHttp2Stats(): Http2Stats {
  return { frames: 0, messages: 0, resyncs: 0, unknownHeaderFields: 0, badFrames: 0, skippedBytes: 0 };
}

/**
 * Feeds TcpChunks, calls back with each gRPC request message. One HTTP/2 decoder (HPACK table,
 * partial frames and messages) per connection, until `close(connection)`: a capture of weeks holds
 * the decoders of the connections open now, not of every connection it ever saw.
 */
export class GrpcCaptureDecoder {
  private readonly decoders = new Map<string, Http2RequestDecoder>();
  /** Counts of the decoders already closed. */
  private readonly closedStats: Http2Stats = newHttp2Stats();
  private closedCount = 0;

  constructor(private readonly onRequest: (r: CapturedRequest) => void) {}

  /** Decoders held now (connections seen and not closed). */
  get liveConnections(): number {
    return this.decoders.size;
  }

  /** Connections whose decoder was freed by close(). */
  get closedConnections(): number {
    return this.closedCount;
  }

  /** Frees the connection's decoder (FIN, RST, idle); its counts stay in stats(). */
  close(connection: string): void {
    const d = this.decoders.get(connection);
    if (!d) return;
    addStats(this.closedStats, d.stats);
    this.decoders.delete(connection);
    this.closedCount++;
  }

  push(c: TcpChunk): void {
    if (!c.fromClient) return;
    let d = this.decoders.get(c.connection);
    if (!d) {
      // One header object per stream, not per message: the stream's header map is the same object.
      const headerOf = new WeakMap<Map<string, string>, AgentHeader>();
      d = new Http2RequestDecoder((m) => {
        let header = headerOf.get(m.headers);
        if (!header) {
          header = agentHeaderOf((name) => m.headers.get(name));
          headerOf.set(m.headers, header);
        }
        this.onRequest({ connection: c.connection, path: m.path, header, data: m.data, timeUs: m.timeUs });
      });
      this.decoders.set(c.connection, d);
    } else if (c.gap) d.gap();
    d.push(c.data, c.timeUs);
  }

  stats(): Http2Stats {
    const total = newHttp2Stats();
    addStats(total, this.closedStats);
    for (const d of this.decoders.values()) addStats(total, d.stats);
    return total;
  }
}

function addStats(total: Http2Stats, s: Http2Stats): void {
  for (const k of Object.keys(total) as (keyof Http2Stats)[]) total[k] += s[k];
}
