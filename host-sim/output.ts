// What a replay prints: one l7_flow_log-shaped row per log (column names as in the agent's
// l7_flow_log table), as JSON lines or a readable table.
import { createWriteStream, openSync, type WriteStream } from "node:fs";
import { RESP_STATUS_CODE } from "../sdk/result.ts";
import { UsageError } from "./errors.ts";
import { isHttpInfo, sentAttributes, traceIdStrings, type HttpInfo } from "./http/info.ts";
import { LogMessageType, type AnyL7Log, type L7Log } from "./session.ts";

/** L7Protocol::Custom: every plugin log has this l7_protocol. */
export const L7_PROTOCOL_CUSTOM = 127;

export interface FlowLogRow {
  start_time: string;
  end_time: string;
  flow_id: number;
  /** LogMessageType: request, response, session (or other, for HTTP/2). */
  type: LogMessageType;
  l7_protocol: number;
  l7_protocol_str: string;
  version: string;
  /** IP protocol: 6 TCP, 17 UDP. */
  protocol: number;
  is_ipv4: number;
  ip_0: string;
  ip_1: string;
  client_port: number;
  server_port: number;
  /** Not an agent column: how the replay decided which end is the server. */
  direction_source: string;
  request_type: string;
  request_domain: string;
  request_resource: string;
  endpoint: string;
  request_id: number | null;
  response_status: number;
  response_code: number | null;
  response_exception: string;
  response_result: string;
  trace_id: string;
  trace_ids: string[];
  span_id: string;
  parent_span_id: string;
  x_request_id_0: string;
  x_request_id_1: string;
  http_proxy_client: string;
  attribute_names: string[];
  attribute_values: string[];
  request_length: number | null;
  response_length: number | null;
  captured_request_byte: number;
  captured_response_byte: number;
  /** µs between request and response once paired, else 0. */
  response_duration: number;
  req_tcp_seq: number;
  resp_tcp_seq: number;
  biz_type: number;
  biz_code: string;
  biz_scenario: string;
  biz_response_code: string;
  /** Not an agent column: records merged into this row. */
  merged_records: number;
}

/** "000" to "999". */
const DIGITS3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));

/** The last second formatted ("YYYY-MM-DDTHH:MM:SS."): rows come in time order, so most rows reuse it. */
let isoSecond = NaN;
let isoPrefix = "";

/**
 * µs since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmuuuZ": Date#toISOString's text cut to the
 * millisecond, then the µs digits; toISOString runs once per second, not per row.
 */
export function isoMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const sec = Math.floor(ms / 1000);
  if (sec !== isoSecond) {
    const iso = new Date(sec * 1000).toISOString(); // throws for an invalid time, as per row did
    // A year outside 0000-9999 is written "+012345-..." or "-000001-...": keep the general form.
    if (iso.length !== 24) return isoMicrosSlow(us);
    isoSecond = sec;
    isoPrefix = iso.slice(0, 20);
  }
  const sub = Math.floor(us) % 1000; // negative (before 1970) as the original formula writes it
  return isoPrefix + DIGITS3[ms - sec * 1000]! + (sub >= 0 ? DIGITS3[sub]! : String(sub).padStart(3, "0")) + "Z";
}

/** The per-row formula isoMicros reproduces (and falls back to for years outside 0000-9999). */
function isoMicrosSlow(us: number): string {
  const ms = Math.floor(us / 1000);
  const iso = new Date(ms).toISOString(); // ...SS.mmmZ
  return `${iso.slice(0, 23)}${String(Math.floor(us) % 1000).padStart(3, "0")}Z`;
}

/** L7ProtocolSendLog::from(CustomInfo or HttpInfo) plus base info, with the Timeout override of a flushed log. */
export function toRow(log: AnyL7Log, timedOut: boolean): FlowLogRow {
  if (isHttpInfo(log.info)) return httpRow(log as L7Log<HttpInfo>, timedOut);
  return customRow(log as L7Log, timedOut);
}

function customRow(log: L7Log, timedOut: boolean): FlowLogRow {
  const i = log.info;
  // is_reversed: the plugin says the packet roles are swapped (AppProtoLogsBaseInfo::reverse).
  const rev = i.is_reversed === true;
  const status = timedOut ? "timeout" : i.resp.status;
  return {
    start_time: isoMicros(log.startUs),
    end_time: isoMicros(log.endUs),
    flow_id: log.flowId,
    type: log.type,
    l7_protocol: L7_PROTOCOL_CUSTOM,
    l7_protocol_str: i.proto_str,
    version: i.req.version,
    protocol: log.l4,
    is_ipv4: log.isV6 ? 0 : 1,
    ip_0: rev ? log.serverIp : log.clientIp,
    ip_1: rev ? log.clientIp : log.serverIp,
    client_port: rev ? log.serverPort : log.clientPort,
    server_port: rev ? log.clientPort : log.serverPort,
    direction_source: log.directionSource,
    request_type: i.req.req_type || i.resp.req_type,
    request_domain: i.req.domain,
    request_resource: i.req.resource,
    endpoint: i.req.endpoint || i.resp.endpoint,
    request_id: i.request_id,
    response_status: RESP_STATUS_CODE[status],
    response_code: i.resp.code,
    response_exception: i.resp.exception,
    response_result: i.resp.result,
    trace_id: i.trace.trace_ids[0] ?? "",
    trace_ids: i.trace.trace_ids,
    span_id: i.trace.span_id ?? "",
    parent_span_id: i.trace.parent_span_id ?? "",
    x_request_id_0: i.trace.x_request_id_0 ?? "",
    x_request_id_1: i.trace.x_request_id_1 ?? "",
    http_proxy_client: i.trace.http_proxy_client ?? "",
    attribute_names: i.attributes.map((a) => a.key),
    attribute_values: i.attributes.map((a) => a.val),
    request_length: i.req_len,
    response_length: i.resp_len,
    captured_request_byte: log.capturedRequestBytes,
    captured_response_byte: log.capturedResponseBytes,
    response_duration: log.rrtUs,
    req_tcp_seq: rev ? log.respTcpSeq : log.reqTcpSeq,
    resp_tcp_seq: rev ? log.reqTcpSeq : log.respTcpSeq,
    biz_type: i.biz_type,
    biz_code: i.biz_code ?? "",
    biz_scenario: i.biz_scenario ?? "",
    biz_response_code: i.biz_response_code ?? "",
    merged_records: log.merged,
  };
}

/**
 * An HTTP row: From<HttpInfo> for L7ProtocolSendLog (agent/src/flow_generator/protocol_logs/http.rs)
 * plus base info. l7_protocol_str is the name the server gives the L7Protocol (20 HTTP, 21 HTTP2,
 * 41 gRPC, 49 Triple; the agent sends none); parent_span_id is always empty (an HTTP record has
 * none; a plugin's is dropped). A gRPC row has request_type POST (not for a streaming "session"
 * record), its service name as request_resource, its path as endpoint, and grpc-status (when
 * read) as response_code.
 */
function httpRow(log: L7Log<HttpInfo>, timedOut: boolean): FlowLogRow {
  const i = log.info;
  const grpc = i.proto === 41;
  const rev = i.isReversed;
  const traceIds = traceIdStrings(i.traceIds);
  const attributes = sentAttributes(i);
  return {
    start_time: isoMicros(log.startUs),
    end_time: isoMicros(log.endUs),
    flow_id: log.flowId,
    type: log.type,
    l7_protocol: i.proto,
    l7_protocol_str: L7_NAMES[i.proto] ?? "HTTP",
    version: i.version,
    protocol: log.l4,
    is_ipv4: log.isV6 ? 0 : 1,
    ip_0: rev ? log.serverIp : log.clientIp,
    ip_1: rev ? log.clientIp : log.serverIp,
    client_port: rev ? log.serverPort : log.clientPort,
    server_port: rev ? log.clientPort : log.serverPort,
    direction_source: log.directionSource,
    request_type: grpc && i.msgType !== "session" ? "POST" : i.method,
    request_domain: i.host,
    request_resource: grpc ? (i.serviceName ?? "") : i.path,
    endpoint: grpc ? i.path : (i.endpoint ?? ""),
    request_id: i.streamId,
    response_status: RESP_STATUS_CODE[timedOut ? "timeout" : i.status],
    response_code: grpc ? (i.grpcStatusCode ?? i.statusCode) : i.statusCode,
    // The exception is sent for a status that is not ok (decided before a timeout override).
    response_exception: i.status !== "ok" ? (i.customException ?? "") : "",
    response_result: i.customResult ?? "",
    trace_id: traceIds[0] ?? "",
    trace_ids: traceIds,
    span_id: i.spanId.value,
    parent_span_id: "",
    x_request_id_0: i.xRequestId0.value,
    x_request_id_1: i.xRequestId1.value,
    http_proxy_client: i.clientIp?.value ?? "",
    attribute_names: attributes.map((a) => a.key),
    attribute_values: attributes.map((a) => a.val),
    request_length: i.reqContentLength,
    response_length: i.respContentLength,
    captured_request_byte: log.capturedRequestBytes,
    captured_response_byte: log.capturedResponseBytes,
    response_duration: log.rrtUs,
    req_tcp_seq: rev ? log.respTcpSeq : log.reqTcpSeq,
    resp_tcp_seq: rev ? log.reqTcpSeq : log.respTcpSeq,
    biz_type: i.baseBizType,
    biz_code: i.bizCode,
    biz_scenario: i.bizScenario,
    biz_response_code: i.bizResponseCode,
    merged_records: log.merged,
  };
}

const L7_NAMES: Record<number, string> = { 20: "HTTP", 21: "HTTP2", 41: "gRPC", 49: "Triple" };
const TYPE_NAMES = ["request", "response", "session", "other"];
const STATUS_NAMES = new Map(Object.entries(RESP_STATUS_CODE).map(([k, v]) => [v, k]));

export interface RowWriter {
  write(row: FlowLogRow): void;
  /** True once the reader went away (stdout piped into `head`): stop producing rows. */
  readonly closed: boolean;
  /** A promise to wait on when the output is backed up (pipe full), else null. */
  backpressure(): Promise<void> | null;
  /** Resolves when everything is flushed (and the file closed). */
  close(): Promise<void>;
}


/** Opens --out now, so that a bad path is a clear error before any work. */
function openOutput(path: string): number {
  try {
    return openSync(path, "w");
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

/** A flush once a chunk holds this many bytes. */
const CHUNK = 1 << 16;

/**
 * Writes lines as UTF-8 into a chunk of bytes, handed to the stream whole once it passes CHUNK
 * bytes, so that a big replay makes one write call per 64 KiB and no joined copy of the lines.
 */
function lineWriter(out: string | undefined, header?: string): {
  line(text: string): void;
  backpressure(): Promise<void> | null;
  close(): Promise<void>;
  readonly closed: boolean;
} {
  const file: WriteStream | null = out ? createWriteStream(out, { fd: openOutput(out) }) : null;
  const stream: NodeJS.WritableStream = file ?? process.stdout;
  // The stream keeps a chunk it is given until written, so each flush starts a new one.
  let buf = Buffer.allocUnsafe(2 * CHUNK);
  let at = 0;
  let full = false;
  let closed = false;
  // A reader that closes the pipe early (EPIPE) ends the output quietly, as for other tools.
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    closed = true;
  });
  const flush = () => {
    if (at > 0 && !closed && !stream.write(buf.subarray(0, at))) full = true;
    buf = Buffer.allocUnsafe(2 * CHUNK);
    at = 0;
  };
  const line = (text: string) => {
    // A UTF-16 code unit is at most 3 UTF-8 bytes; one more for the newline.
    const most = 3 * text.length + 1;
    if (at + most > buf.length) {
      if (at > 0) flush();
      if (most > buf.length) buf = Buffer.allocUnsafe(most);
    }
    at += buf.write(text, at);
    buf[at++] = 0x0a;
    if (at > CHUNK) flush();
  };
  if (header) line(header);
  return {
    get closed() {
      return closed;
    },
    line,
    backpressure() {
      if (!full || closed) return null;
      full = false;
      return new Promise((resolve) => {
        const done = () => {
          stream.off("drain", done);
          stream.off("error", done);
          resolve();
        };
        stream.once("drain", done);
        stream.once("error", done);
      });
    },
    close() {
      flush();
      if (!file) return Promise.resolve();
      return new Promise((resolve, reject) => {
        file.on("error", reject);
        file.end(() => resolve());
      });
    },
  };
}

export function jsonlWriter(out?: string): RowWriter {
  const w = lineWriter(out);
  return {
    write: (row) => w.line(JSON.stringify(row)),
    get closed() {
      return w.closed;
    },
    backpressure: () => w.backpressure(),
    close: () => w.close(),
  };
}

function cell(text: string, width: number, whole = false): string {
  const t = text.replace(/[\r\n\t]/g, " ");
  if (t.length > width) return whole ? t : t.slice(0, width - 1) + "…";
  return t.padEnd(width);
}

/** Columns: name, width, value, and whether a longer value is shown whole (ids never lose digits). */
const TABLE_COLUMNS: Array<[string, number, (r: FlowLogRow) => string, boolean?]> = [
  ["time", 15, (r) => r.start_time.slice(11, 26)],
  ["type", 8, (r) => TYPE_NAMES[r.type] ?? String(r.type)],
  ["protocol", 16, (r) => r.l7_protocol_str], // the agent cuts names to 16 bytes
  ["client -> server", 36, (r) => `${r.ip_0}:${r.client_port} -> ${r.ip_1}:${r.server_port}`],
  ["req_id", 10, (r) => (r.request_id === null ? "" : String(r.request_id)), true],
  ["request", 36, (r) => r.endpoint || [r.request_type, r.request_domain, r.request_resource].filter((x) => x).join(" ")],
  ["status", 12, (r) => (r.type === LogMessageType.Request ? "" : STATUS_NAMES.get(r.response_status) ?? String(r.response_status))],
  ["code", 5, (r) => (r.response_code === null ? "" : String(r.response_code))],
  ["rrt(us)", 8, (r) => (r.type === LogMessageType.Request || r.type === LogMessageType.Response ? "" : String(r.response_duration))],
  ["exception", 24, (r) => r.response_exception],
  // The ids this toolkit exists to surface, last and whole.
  ["trace_id", 30, (r) => r.trace_id, true],
  ["span_id", 20, (r) => r.span_id, true],
  ["x_request_id", 14, (r) => r.x_request_id_0 || r.x_request_id_1, true],
];

/** start_time ("...T12:34:56.123456Z") in µs since the epoch. */
function startUs(r: FlowLogRow): number {
  return Date.parse(r.start_time.slice(0, 23) + "Z") * 1000 + Number(r.start_time.slice(23, 26));
}

/**
 * Rows in start-time order. The agent sends a session when it completes or times out, so a
 * request that times out comes after later ones; no row still to come can start more than
 * `windowUs` (the session timeout) before the latest start seen, so the rows older than that
 * are final and leave in order, and the buffer holds one window of rows at most.
 */
export function inTimeOrder(writer: RowWriter, windowUs: number): RowWriter {
  let held: Array<{ at: number; row: FlowLogRow }> = [];
  let latest = -Infinity;
  const release = (before: number) => {
    if (held.length === 0 || held[0]!.at >= before) return;
    const out = held.filter((h) => h.at < before);
    held = held.filter((h) => h.at >= before);
    for (const h of out) writer.write(h.row);
  };
  return {
    write(row) {
      const at = startUs(row);
      if (at > latest) latest = at;
      // Kept sorted (stable for equal times): rows mostly come in order, so this is an append.
      let i = held.length;
      while (i > 0 && held[i - 1]!.at > at) i--;
      held.splice(i, 0, { at, row });
      release(latest - windowUs);
    },
    get closed() {
      return writer.closed;
    },
    backpressure: () => writer.backpressure(),
    async close() {
      release(Infinity);
      await writer.close();
    },
  };
}

export function tableWriter(out?: string): RowWriter {
  const header = TABLE_COLUMNS.map(([name, width]) => cell(name, width)).join(" ").trimEnd();
  const w = lineWriter(out, header);
  return {
    write: (row) => w.line(TABLE_COLUMNS.map(([, width, get, whole]) => cell(get(row), width, whole)).join(" ").trimEnd()),
    get closed() {
      return w.closed;
    },
    backpressure: () => w.backpressure(),
    close: () => w.close(),
  };
}
