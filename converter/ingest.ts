// One decoded gRPC request from an agent → the assembler, by method path.
import type { TraceAssembler } from "./assembler.ts";
import type { AgentHeader, PAgentInfoMsg, PApiMetaDataMsg, PSqlMetaDataMsg, PSqlUidMetaDataMsg, PStringMetaDataMsg } from "./messages.ts";
import { PAgentInfo, PApiMetaData, PSqlMetaData, PSqlUidMetaData, PStringMetaData } from "./schema.ts";
import { decodeSpanMessage } from "./span-decode.ts";

export const SPAN_PATH = "/v1.Span/SendSpan";

export interface IngestStats {
  messages: number;
  /** Requests of methods the converter does not read (stats, pings, commands). */
  ignored: number;
  /** Messages whose :path was lost with the HPACK state. */
  unknownPath: number;
  /** Messages that failed to decode as their method's type. */
  malformed: number;
  /** Messages whose agent headers were unknown (agent id reported as "unknown"). */
  unknownAgent: number;
}

export function newIngestStats(): IngestStats {
  return { messages: 0, ignored: 0, unknownPath: 0, malformed: 0, unknownAgent: 0 };
}

/** The agent identity that every Pinpoint call carries as gRPC metadata. */
export function agentHeaderOf(get: (name: string) => string | undefined): AgentHeader {
  const start = Number(get("starttime"));
  const header: AgentHeader = {
    agentId: get("agentid") ?? "",
    applicationName: get("applicationname") ?? "",
    agentStartTime: Number.isFinite(start) ? start : 0,
  };
  const agentName = get("agentname");
  if (agentName) header.agentName = agentName;
  return header;
}

export function ingestGrpcRequest(asm: TraceAssembler, stats: IngestStats, path: string | undefined, header: AgentHeader, data: Uint8Array): void {
  stats.messages++;
  if (path === undefined) {
    stats.unknownPath++;
    return;
  }
  if (!header.agentId && path.startsWith("/v1.")) stats.unknownAgent++;
  try {
    switch (path) {
      case SPAN_PATH:
        asm.addSpanMessage(header, decodeSpanMessage(data));
        return;
      case "/v1.Metadata/RequestApiMetaData":
        asm.addApiMetaData(header, PApiMetaData.decode(data) as unknown as PApiMetaDataMsg);
        return;
      case "/v1.Metadata/RequestSqlMetaData":
        asm.addSqlMetaData(header, PSqlMetaData.decode(data) as unknown as PSqlMetaDataMsg);
        return;
      case "/v1.Metadata/RequestSqlUidMetaData":
        asm.addSqlUidMetaData(header, PSqlUidMetaData.decode(data) as unknown as PSqlUidMetaDataMsg);
        return;
      case "/v1.Metadata/RequestStringMetaData":
        asm.addStringMetaData(header, PStringMetaData.decode(data) as unknown as PStringMetaDataMsg);
        return;
      case "/v1.Agent/RequestAgentInfo":
        asm.addAgentInfo(header, PAgentInfo.decode(data) as unknown as PAgentInfoMsg);
        return;
      default:
        stats.ignored++;
        // Stats and pings keep a live agent's metadata from expiring (it is sent only once).
        asm.touchAgent(header);
    }
  } catch {
    stats.malformed++;
  }
}
