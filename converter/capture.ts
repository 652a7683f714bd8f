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

/** Feeds TcpChunks, calls back with each gRPC request message. */
export class GrpcCaptureDecoder {
  private readonly decoders = new Map<string, Http2RequestDecoder>();

  constructor(private readonly onRequest: (r: CapturedRequest) => void) {}

  push(c: TcpChunk): void {
    if (!c.fromClient) return;
    let d = this.decoders.get(c.connection);
    if (!d) {
      d = new Http2RequestDecoder((m) => {
        const header = agentHeaderOf((name) => m.headers.get(name));
        this.onRequest({ connection: c.connection, path: m.path, header, data: m.data, timeUs: m.timeUs });
      });
      this.decoders.set(c.connection, d);
    } else if (c.gap) d.gap();
    d.push(c.data, c.timeUs);
  }

  stats(): Http2Stats {
    const total: Http2Stats = { frames: 0, messages: 0, resyncs: 0, unknownHeaderFields: 0, badFrames: 0, skippedBytes: 0 };
    for (const d of this.decoders.values()) for (const k of Object.keys(total) as (keyof Http2Stats)[]) total[k] += d.stats[k];
    return total;
  }
}
