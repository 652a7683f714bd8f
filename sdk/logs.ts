// From what a parser answered (a plugin, or the agent's own HTTP, Dubbo and ZMTP parsers) to the logs the agent's session queue takes: one L7Log per
// record, with the flow's endpoints, the packet's time, captured bytes and TCP seq, counted
// per protocol for the summary.
import type { Flow } from "./flow/flow.ts";
import type { ParsedBuiltin, ParsedHttp, ParsedPayload } from "./flow/l7-feeder.ts";
import { LogMessageType, type AnyL7Log, type L7Log } from "./session.ts";

export interface MessageStats {
  records: number;
  requests: number;
  responses: number;
  byProtocol: Record<string, { requests: number; responses: number }>;
  /** Records that set is_end: the agent's perf_stats asserts on these (see the report). */
  withIsEnd: number;
}

const HTTP_LOG_TYPE = { request: LogMessageType.Request, response: LogMessageType.Response, session: LogMessageType.Session, other: LogMessageType.Other } as const;

export class LogMaker {
  readonly stats: MessageStats = { records: 0, requests: 0, responses: 0, byProtocol: {}, withIsEnd: 0 };

  constructor(private readonly toSessions: (log: AnyL7Log) => void) {}

  /** A plugin's parse_payload records. */
  readonly payload = (r: ParsedPayload): void => {
    const f = r.flow;
    for (const info of r.records) {
      // WasmLog::parse_payload: the name from check_payload, the type from the direction.
      info.proto_str = f.protoName;
      f.records++;
      this.count(f.protoName, r.clientToServer);
      if (info.need_protocol_merge) this.stats.withIsEnd++;
      this.toSessions(logOf(f, r.clientToServer ? LogMessageType.Request : LogMessageType.Response, info, r.timeUs, r.clientToServer, r.capturedBytes, r.tcpSeq));
    }
  };

  /** A log of the agent's HTTP parsers. */
  readonly http = (r: ParsedHttp): void => {
    const f = r.flow;
    const info = r.info;
    f.records++;
    this.count(f.protoName, info.msgType === "request");
    // The log's type is the record's (HTTP/2 also has Session and Other); set_captured_byte goes by
    // the packet's direction; an HTTP/2 record's seq is that of its HEADERS frame (tcp_seq_offset).
    this.toSessions(logOf(f, HTTP_LOG_TYPE[info.msgType], info, r.timeUs, r.clientToServer, r.capturedBytes, (r.tcpSeq + (info.headersOffset ?? 0)) >>> 0));
  };

  /** A log of the agent's parsers that send custom messages (Dubbo, ZMTP). */
  readonly builtin = (r: ParsedBuiltin): void => {
    const f = r.flow;
    f.records++;
    this.count(f.protoName, r.clientToServer);
    const type = r.info.msgType === "request" ? LogMessageType.Request : r.info.msgType === "response" ? LogMessageType.Response : LogMessageType.Session;
    this.toSessions(logOf(f, type, r.info, r.timeUs, r.clientToServer, r.capturedBytes, r.tcpSeq) as AnyL7Log);
  };

  private count(protoName: string, isRequest: boolean): void {
    const m = this.stats;
    m.records++;
    const byProto = (m.byProtocol[protoName] ??= { requests: 0, responses: 0 });
    if (isRequest) {
      m.requests++;
      byProto.requests++;
    } else {
      m.responses++;
      byProto.responses++;
    }
  }
}

/** A record as the session queue takes it; captured bytes and the TCP seq go by the packet's direction. */
function logOf<T extends AnyL7Log["info"]>(f: Flow, type: LogMessageType, info: T, timeUs: number, clientToServer: boolean, capturedBytes: number, tcpSeq: number): L7Log<T> {
  return {
    flowId: f.id,
    flowIdText: f.idText,
    type,
    startUs: timeUs,
    endUs: timeUs,
    rrtUs: 0,
    info,
    capturedRequestBytes: clientToServer ? capturedBytes : 0,
    capturedResponseBytes: clientToServer ? 0 : capturedBytes,
    reqTcpSeq: clientToServer ? tcpSeq : 0,
    respTcpSeq: clientToServer ? 0 : tcpSeq,
    clientIp: f.clientIpText,
    serverIp: f.serverIpText,
    clientPort: f.clientPort,
    serverPort: f.serverPort,
    l4: f.l4,
    isV6: f.isV6,
    directionSource: f.directionSource,
    merged: 1,
  };
}
