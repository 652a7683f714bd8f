// Pairs request and response logs into sessions the way the agent's SessionQueue does
// (aggregate_session_and_send / flush_till in agent/src/flow_generator/protocol_logs/parser.rs),
// merging fields as CustomInfo::merge_log (agent/src/plugin/mod.rs) and
// AppProtoLogsBaseInfo::merge (protocol_logs.rs) do. Key: flow id + request_id (0 when the
// plugin gives none), so without request ids a response pairs with the latest request.
// Logs of the agent's HTTP/1 parser (./http/) go through the same queue with their own merge
// (HttpInfo::merge) and key (stream_id, which a plugin's on_http_req may set); those of its
// Dubbo parser (./custom/) with DubboInfo::merge and `request_id as u32`; those of its ZMTP
// parser with ZmtpInfo::merge and no session id (0), its Session logs sent as they are.
import type { CustomInfo } from "./result.ts";
import { dubboSessionId, isDubboInfo, mergeDubbo, type DubboInfo } from "./custom/dubbo.ts";
import { isZmtpInfo, mergeZmtp, type ZmtpInfo } from "./custom/zmtp.ts";
import { isHttpInfo, mergeHttp, type HttpInfo } from "./http/info.ts";

/**
 * LogMessageType (agent/crates/public/src/l7_protocol.rs, repr(u8) in declaration order):
 * a log's kind, written out as its `type`. Other: an HTTP/2 record that is neither (it never
 * pairs). Not check_payload's message type (1 request, 2 response: MSG_TYPE_* of abi.ts),
 * which the agent turns into Request or Response (abi_export.rs check_payload).
 */
export const LogMessageType = { Request: 0, Response: 1, Session: 2, Other: 3 } as const;
export type LogMessageType = (typeof LogMessageType)[keyof typeof LogMessageType];

/** What a log carries: a plugin's CustomInfo, or the agent's HTTP record. */
export type LogInfo = CustomInfo | HttpInfo | DubboInfo | ZmtpInfo;

/** One l7 log on its way to output: the agent's MetaAppProto with a CustomInfo (or an HttpInfo). */
export interface L7Log<I extends LogInfo = CustomInfo> {
  flowId: number;
  flowIdText: string;
  type: LogMessageType;
  startUs: number;
  endUs: number;
  /** response_duration, µs: set when a request and a response merge. */
  rrtUs: number;
  info: I;
  capturedRequestBytes: number;
  capturedResponseBytes: number;
  reqTcpSeq: number;
  respTcpSeq: number;
  /** Flow facts at the time the log was made (the agent copies them into base_info). */
  clientIp: string;
  serverIp: string;
  clientPort: number;
  serverPort: number;
  l4: number;
  isV6: boolean;
  directionSource: string;
  /** How many records were merged into this log (1 when alone). */
  merged: number;
}

export interface SessionStats {
  received: number;
  /** Request+response pairs merged into one session log. */
  paired: number;
  /** is_end merges (need_protocol_merge) folded into an existing log. */
  protocolMerges: number;
  /** Logs sent when their aggregation window ran out (status forced to Timeout). */
  timedOut: number;
  /** Logs with is_async = true: sent without aggregation. */
  async: number;
  /** need_protocol_merge logs that arrive already ended with nothing to merge into: the agent drops them. */
  droppedEndedMerge: number;
  /** New logs dropped because the queue was full (l7_log_session_aggr_max_entries). */
  droppedQueueFull: number;
  sent: number;
}

/** SessionTimeout::DEFAULT for every protocol but DNS/TLS (Custom included). */
export const SESSION_TIMEOUT_US = 120_000_000;
/** l7_log_session_aggr_max_entries default. */
export const SESSION_MAX_ENTRIES = 65_536;

interface Entry<L extends AnyL7Log> {
  log: L;
  timeoutUs: number;
}

/** Empty-string fields take the other's value (the agent's swap_if! with is_empty). */
function fillEmpty<T extends Record<K, string>, K extends keyof T>(a: T, b: T, keys: K[]): void {
  for (const k of keys) if (a[k] === "") a[k] = b[k];
}

/** CustomInfo::merge_log. */
export function mergeInfo(a: CustomInfo, b: CustomInfo): void {
  fillEmpty(a.req, b.req, ["version", "req_type", "domain", "resource", "endpoint"]);
  if (a.req_len === null) a.req_len = b.req_len;
  if (b.is_req_end) a.is_req_end = true;
  if (a.resp.status === "unknown") a.resp.status = b.resp.status;
  if (a.resp.code === null) a.resp.code = b.resp.code;
  fillEmpty(a.resp, b.resp, ["exception", "result", "req_type", "endpoint"]);
  if (a.resp_len === null) a.resp_len = b.resp_len;
  if (b.is_resp_end) a.is_resp_end = true;
  for (const id of b.trace.trace_ids) if (!a.trace.trace_ids.includes(id)) a.trace.trace_ids.push(id);
  const t = a.trace;
  const u = b.trace;
  t.span_id ??= u.span_id;
  t.parent_span_id ??= u.parent_span_id;
  t.x_request_id_0 ??= u.x_request_id_0;
  t.x_request_id_1 ??= u.x_request_id_1;
  t.http_proxy_client ??= u.http_proxy_client;
  a.attributes.push(...b.attributes);
  a.biz_code ??= b.biz_code;
  a.biz_scenario ??= b.biz_scenario;
}

export type AnyL7Log = L7Log<CustomInfo> | L7Log<HttpInfo> | L7Log<DubboInfo> | L7Log<ZmtpInfo>;

/** session_id(): the plugin's request_id, the HTTP record's stream id, or the Dubbo request id. */
function sessionId(info: LogInfo): number | null {
  if (isDubboInfo(info)) return dubboSessionId(info);
  if (isZmtpInfo(info)) return null;
  return isHttpInfo(info) ? info.streamId : info.request_id;
}

/**
 * needs_session_aggregation(): a plugin record with is_async = true skips it; an HTTP record
 * never does, but a log of type Session (gRPC streaming data) is sent as is (parser.rs).
 */
function skipsAggregation(info: LogInfo): boolean {
  if (isDubboInfo(info)) return false;
  if (isZmtpInfo(info)) return info.msgType === "session";
  return isHttpInfo(info) ? info.msgType === "session" : info.is_async === true;
}

/** need_merge(): only plugin records that set is_end (HTTP/1 records never). */
function needsProtocolMerge(info: LogInfo): boolean {
  return !isHttpInfo(info) && !isDubboInfo(info) && !isZmtpInfo(info) && info.need_protocol_merge;
}

function reqRespEnd(info: LogInfo): [boolean, boolean] {
  return isHttpInfo(info) || isDubboInfo(info) || isZmtpInfo(info) ? [false, false] : [info.is_req_end, info.is_resp_end];
}

/** MetaAppProto::session_merge: the l7 info's merge, then the base info merge. */
export function mergeLogs<L extends AnyL7Log>(a: L, b: L): void {
  if (isHttpInfo(a.info)) {
    // (a log's kind follows its flow's parser: both are HTTP here)
    mergeHttp(a.info, b.info as HttpInfo);
  } else if (isDubboInfo(a.info)) {
    mergeDubbo(a.info, b.info as DubboInfo);
  } else if (isZmtpInfo(a.info)) {
    mergeZmtp(a.info, b.info as ZmtpInfo);
  } else {
    mergeInfo(a.info, b.info as CustomInfo);
  }
  a.capturedRequestBytes += b.capturedRequestBytes;
  a.capturedResponseBytes += b.capturedResponseBytes;
  a.startUs = Math.min(a.startUs, b.startUs);
  a.endUs = Math.max(a.endUs, b.endUs);
  if (a.reqTcpSeq === 0) a.reqTcpSeq = b.reqTcpSeq;
  if (a.respTcpSeq === 0) a.respTcpSeq = b.respTcpSeq;
  if (a.type !== b.type) a.type = LogMessageType.Session;
  a.rrtUs = a.endUs > a.startUs ? a.endUs - a.startUs : 0;
  if (!isHttpInfo(a.info) && !isDubboInfo(a.info) && !isZmtpInfo(a.info) && a.info.biz_type === 0) a.info.biz_type = (b.info as CustomInfo).biz_type;
  a.merged += b.merged;
}

export class SessionQueue<L extends AnyL7Log = L7Log> {
  private readonly entries = new Map<string, Entry<L>>();
  private windowStartUs = 0;
  readonly stats: SessionStats = {
    received: 0, paired: 0, protocolMerges: 0, timedOut: 0, async: 0, droppedEndedMerge: 0, droppedQueueFull: 0, sent: 0,
  };

  constructor(
    /** Receives each finished log; `timedOut` means the agent overrides its response status with Timeout. */
    private readonly send: (log: L, timedOut: boolean) => void,
    private readonly timeoutUs = SESSION_TIMEOUT_US,
    private readonly maxEntries = SESSION_MAX_ENTRIES,
  ) {}

  get pending(): number {
    return this.entries.size;
  }

  /** aggregate_session_and_send followed by flush_till(the log's time), as one batch of one. */
  add(log: L): void {
    this.aggregate(log);
    this.flushTill(log.startUs);
  }

  /** Sends what waited past its window; at the end of a capture, `flushTill(Infinity)`. */
  flushTill(timeUs: number): void {
    for (const [key, e] of this.entries) {
      if (e.timeoutUs > timeUs) break; // insertion order ~ timeout order
      this.entries.delete(key);
      this.emit(e.log, true);
    }
    if (timeUs > this.windowStartUs) this.windowStartUs = timeUs;
  }

  private emit(log: L, timedOut: boolean): void {
    this.stats.sent++;
    if (timedOut) this.stats.timedOut++;
    this.send(log, timedOut);
  }

  private aggregate(item: L): void {
    const s = this.stats;
    s.received++;
    if (skipsAggregation(item.info)) {
      s.async++;
      this.emit(item, false);
      return;
    }
    const timeoutUs = item.startUs + this.timeoutUs;
    if (timeoutUs <= this.windowStartUs) {
      this.emit(item, false);
      return;
    }
    const key = `${item.flowIdText}/${sessionId(item.info) ?? 0}`;
    const entry = this.entries.get(key);
    const needMerge = needsProtocolMerge(item.info);
    if (entry) {
      const v = entry.log;
      if (needMerge) {
        mergeLogs(v, item);
        s.protocolMerges++;
        const [reqEnd, respEnd] = reqRespEnd(v.info);
        if (reqEnd && respEnd) {
          this.entries.delete(key);
          this.emit(v, false);
        }
      } else if (item.type === LogMessageType.Response && v.type === LogMessageType.Request && item.startUs > v.startUs) {
        mergeLogs(v, item);
        s.paired++;
        this.entries.delete(key);
        this.emit(v, false);
      } else if (item.type === LogMessageType.Request && v.type === LogMessageType.Response && v.startUs > item.startUs) {
        // A response seen before its request (out of order): the request absorbs it.
        this.entries.delete(key);
        mergeLogs(item, v);
        s.paired++;
        this.emit(item, false);
      } else if (v.startUs > item.startUs) {
        this.emit(item, false);
      } else {
        // Cannot pair: the older one goes out, the newer one waits.
        this.entries.delete(key);
        this.emit(v, false);
        this.entries.set(key, { log: item, timeoutUs });
      }
      return;
    }
    if (needMerge && reqRespEnd(item.info).some((end) => end)) {
      // The agent ignores an ended merge log with nothing to merge into (parser.rs).
      s.droppedEndedMerge++;
      return;
    }
    if (this.entries.size >= this.maxEntries) {
      // over_limit: the oldest waiting log goes out and the new one is dropped, as in the agent.
      s.droppedQueueFull++;
      const oldest = this.entries.keys().next();
      if (!oldest.done) {
        const e = this.entries.get(oldest.value)!;
        this.entries.delete(oldest.value);
        this.emit(e.log, false);
      }
      return;
    }
    this.entries.set(key, { log: item, timeoutUs });
  }
}
