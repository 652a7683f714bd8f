// `host-sim replay CAPTURE --plugin a.wasm ...`: replays a capture through plugins the way
// the agent feeds them and prints what it would log.
//
//   capture file → frames → decoded packets → flows → payloads → WasmHost → records
//   → sessions → rows (JSONL / table) + summary
//
// Each stage is its own module: capture/ (files, link/IP/TCP/UDP), flow/ (flow table,
// direction, inference, reassembly), http/ (the agent's own HTTP/1 parser, which calls the
// plugins' HTTP hooks), session.ts (request/response pairing), output.ts.
import { statSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { CaptureError, DecodedPacket, decodeFrame, openCapture, openCaptureBytes, type CaptureReader } from "./capture/open.ts";
import { IPPROTO_TCP, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, type DecodeStatus } from "./capture/packet.ts";
import { UsageError } from "./errors.ts";
import { pluginFiles } from "./plugin-files.ts";
import { compileFilter } from "./filter.ts";
import { AppTable } from "./flow/app-table.ts";
import type { DirectionSource, Flow } from "./flow/flow.ts";
import { FlowTable } from "./flow/flow-table.ts";
import { L7Feeder, type FeedStats, type ParsedHttp, type ParsedPayload, type PluginFeedStats } from "./flow/l7-feeder.ts";
import { httpParserConfig, type AgentHttpConfig } from "./http/config.ts";
import { Http1Emulator, type HttpStats } from "./http/emulator.ts";
import { parsePortList, SegmentationReassembly, type SegmentationStats } from "./flow/segmentation-reassembly.ts";
import { ServiceTable } from "./flow/service-table.ts";
import { StreamFeeder, type StreamStats } from "./flow/stream-feeder.ts";
import { SeqTracker } from "./flow/tcp-stream.ts";
import { DEFAULT_CALL_BUDGET, WasmHost, type HostLogEntry, type InstanceCounters, type PluginSource, type Stall } from "./host.ts";
import { inTimeOrder, jsonlWriter, tableWriter, toRow, type FlowLogRow, type RowWriter } from "./output.ts";
import { LogMessageType, SESSION_TIMEOUT_US, SessionQueue, type AnyL7Log, type L7Log, type SessionStats } from "./session.ts";

export const DEFAULT_PAYLOAD_TRUNCATION = 1024;
export const DEFAULT_INFERENCE_MAX_RETRIES = 128;
export const DEFAULT_INFERENCE_TTL_SEC = 60;

export interface ReplayOptions {
  /** A capture file path, or bytes. */
  capture: string | Uint8Array;
  /** Plugins to load (ignored when `host` is given). */
  plugins?: PluginSource[];
  /** A loaded host to reuse (e.g. across benchmark runs). */
  host?: WasmHost;
  mode?: "packet" | "stream";
  /** The agent's payload truncation (buf size), default 1024. */
  payloadTruncation?: number;
  /**
   * Packet mode: the agent's `inputs.cbpf.preprocess.packet_segmentation_reassembly` — ports
   * (20880) or ranges ("2000-2010"); a payload segment of a TCP flow on one of them that
   * continues the previous one in the same direction is fed joined to it. Empty: off (default).
   */
  packetSegmentationReassembly?: ReadonlyArray<number | string>;
  filter?: string;
  /** Stop after this many packets. */
  limit?: number;
  inferenceMaxRetries?: number;
  inferenceTtlSec?: number;
  /** Receives each log row as the agent would send it. */
  onRow?: (row: FlowLogRow) => void;
  /** Each flow as it ends (or at the end of the capture): who took it (a plugin's file name, or the agent's HTTP parser). */
  onFlowEnd?: (flow: { flowId: number; claimedBy: string; builtin: "" | "http1" | "http2" }) => void;
  /** Awaited every few thousand packets when it returns a promise (output backpressure). */
  backpressure?: () => Promise<void> | null;
  /** Checked every few thousand packets: true ends the replay early (e.g. the output pipe closed). */
  shouldStop?: () => boolean;
  /** Called now and then with the bytes read so far. */
  onProgress?: (bytesRead: number, packets: number) => void;
  /** Plugin and host log lines (when the replay loads the plugins). */
  onHostLog?: (entry: HostLogEntry) => void;
  /**
   * A plugin the agent would refuse (not Wasm, a missing export, an import it does not
   * offer, an 11th instance) stops the replay with a LoadError; false (default): it is
   * skipped, as the agent skips it, and the summary says so.
   */
  strict?: boolean;
  /** Steps each plugin call may take (see WasmHost's DEFAULT_CALL_BUDGET); 0 = none, as in the agent. */
  callBudget?: number;
  /**
   * The agent's HTTP/1 parser (default on, as in the agent): flows no plugin claims whose
   * first payload is an HTTP/1 request are parsed as the agent parses them, their requests
   * and responses go to the plugins' on_http_req / on_http_resp, and they give HTTP rows.
   * Likewise its HTTP/2 parser for flows whose first payload is h2c frames (HTTP2 / gRPC rows).
   * false: off (plugins' check_payload / parse_payload only, as before).
   */
  http?: boolean;
  /** The agent's config keys for its HTTP parser (processors.request_log.tag_extraction.*); defaults for what is not given. */
  httpConfig?: Partial<AgentHttpConfig>;
}

export interface ReplaySummary {
  capture: {
    file: string;
    format: string;
    bytes: number;
    packets: number;
    /** Packets decoded down to TCP/UDP. */
    tcp: number;
    udp: number;
    /** Other packets by reason (not-ip, other-l4, fragment, truncated, malformed, unsupported-link). */
    skipped: Partial<Record<DecodeStatus, number>>;
    filteredOut: number;
    /** A truncated/corrupt file: where, and what was read before stays replayed. */
    error: string | null;
    firstTimeUs: number;
    lastTimeUs: number;
  };
  flows: { total: number; tcp: number; udp: number; peakLive: number; directionSource: Partial<Record<DirectionSource, number>>; claimed: number };
  payload: { bytes: number; retransmissionsSkipped: number; stream: StreamStats | null; segmentation: SegmentationStats | null } & FeedStats;
  /** The agent's HTTP/1 parser, null when HTTP emulation is off. */
  http: HttpStats | null;
  plugins: InstanceCounters[];
  /** Plugins skipped at load, and why (never with `strict`). */
  notLoaded: Array<{ name: string; problems: string[] }>;
  /** Calls that ran out of their budget, with the packet being replayed (1-based, as tshark numbers frames). */
  stalls: Array<Stall & { packet: number }>;
  messages: {
    records: number;
    requests: number;
    responses: number;
    byProtocol: Record<string, { requests: number; responses: number }>;
    /** Records that set is_end: the agent's perf_stats asserts on these (see the report). */
    withIsEnd: number;
  };
  sessions: SessionStats;
  rows: number;
  elapsedMs: number;
  packetsPerSec: number;
  megabytesPerSec: number;
}

function emptyCount(): Partial<Record<DirectionSource, number>> {
  return {};
}

/** Replays a capture; rows go to `onRow`, the summary is returned. */
export async function replayCapture(opts: ReplayOptions): Promise<ReplaySummary> {
  const t0 = performance.now();
  const mode = opts.mode ?? "packet";
  const bufSize = opts.payloadTruncation ?? DEFAULT_PAYLOAD_TRUNCATION;
  if (!Number.isInteger(bufSize) || bufSize < 1 || bufSize > 65535) throw new UsageError(`payload truncation must be 1..65535, got ${bufSize}`);
  const srPorts = opts.packetSegmentationReassembly?.length ? parsePortList(opts.packetSegmentationReassembly, "packet segmentation reassembly") : null;
  if (srPorts && mode !== "packet") throw new UsageError("packet segmentation reassembly applies to packet mode only (stream mode joins whole turns already)");
  const filter = opts.filter ? compileFilter(opts.filter) : null;
  const host = opts.host ?? (await WasmHost.load(opts.plugins ?? [], { onLog: opts.onHostLog, skipBadModules: !opts.strict, callBudget: opts.callBudget }));
  const reader: CaptureReader = typeof opts.capture === "string" ? openCapture(opts.capture) : openCaptureBytes(opts.capture);
  const countersBefore = host.counters();

  const summary: ReplaySummary = {
    capture: {
      file: typeof opts.capture === "string" ? opts.capture : "(bytes)", format: reader.format, bytes: 0, packets: 0, tcp: 0, udp: 0,
      skipped: {}, filteredOut: 0, error: null, firstTimeUs: 0, lastTimeUs: 0,
    },
    flows: { total: 0, tcp: 0, udp: 0, peakLive: 0, directionSource: emptyCount(), claimed: 0 },
    payload: {} as ReplaySummary["payload"],
    http: null,
    plugins: [],
    notLoaded: host.notLoaded,
    stalls: [],
    messages: { records: 0, requests: 0, responses: 0, byProtocol: {}, withIsEnd: 0 },
    sessions: {} as SessionStats,
    rows: 0, elapsedMs: 0, packetsPerSec: 0, megabytesPerSec: 0,
  };
  const messages = summary.messages;

  const sessions = new SessionQueue<AnyL7Log>((log, timedOut) => {
    summary.rows++;
    opts.onRow?.(toRow(log, timedOut));
  });

  /** Counts one record of a flow's protocol. */
  const count = (protoName: string, isRequest: boolean) => {
    messages.records++;
    const byProto = (messages.byProtocol[protoName] ??= { requests: 0, responses: 0 });
    if (isRequest) {
      messages.requests++;
      byProto.requests++;
    } else {
      messages.responses++;
      byProto.responses++;
    }
  };

  /** A record as the session queue takes it; captured bytes and the TCP seq go by the packet's direction. */
  const logOf = <T extends AnyL7Log["info"]>(f: Flow, type: LogMessageType, info: T, timeUs: number, clientToServer: boolean, capturedBytes: number, tcpSeq: number): L7Log<T> => ({
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
  });

  const onParsed = (r: ParsedPayload) => {
    const f = r.flow;
    for (const info of r.records) {
      // WasmLog::parse_payload: the name from check_payload, the type from the direction.
      info.proto_str = f.protoName;
      f.records++;
      count(f.protoName, r.clientToServer);
      if (info.need_protocol_merge) messages.withIsEnd++;
      sessions.add(logOf(f, r.clientToServer ? LogMessageType.Request : LogMessageType.Response, info, r.timeUs, r.clientToServer, r.capturedBytes, r.tcpSeq));
    }
  };

  const HTTP_LOG_TYPE = { request: LogMessageType.Request, response: LogMessageType.Response, session: LogMessageType.Session, other: LogMessageType.Other } as const;
  const onParsedHttp = (r: ParsedHttp) => {
    const f = r.flow;
    const info = r.info;
    f.records++;
    count(f.protoName, info.msgType === "request");
    // The log's type is the record's (HTTP/2 also has Session and Other); set_captured_byte goes by
    // the packet's direction; an HTTP/2 record's seq is that of its HEADERS frame (tcp_seq_offset).
    sessions.add(logOf(f, HTTP_LOG_TYPE[info.msgType], info, r.timeUs, r.clientToServer, r.capturedBytes, (r.tcpSeq + (info.headersOffset ?? 0)) >>> 0));
  };

  const services = new ServiceTable();
  const apps = new AppTable(opts.inferenceMaxRetries ?? DEFAULT_INFERENCE_MAX_RETRIES, opts.inferenceTtlSec ?? DEFAULT_INFERENCE_TTL_SEC);
  const http = opts.http === false ? null : new Http1Emulator(host, httpParserConfig(opts.httpConfig));
  const feeder = new L7Feeder(host, apps, services, bufSize, onParsed, http && { emulator: http, onParsed: onParsedHttp });
  const stream = mode === "stream" ? new StreamFeeder(feeder, bufSize) : null;
  const segmentation = srPorts ? new SegmentationReassembly(srPorts, feeder) : null;
  const directionSource = summary.flows.directionSource;
  const flows = new FlowTable(services, (flow: Flow) => {
    stream?.flowEnded(flow);
    segmentation?.flowEnded(flow);
    directionSource[flow.directionSource] = (directionSource[flow.directionSource] ?? 0) + 1;
    if (flow.builtin === "") {
      if (flow.proto !== 0) summary.flows.claimed++;
    }
    opts.onFlowEnd?.({ flowId: flow.id, claimedBy: flow.claimedBy, builtin: flow.builtin });
  });

  const p = new DecodedPacket();
  const skipped = summary.capture.skipped;
  const limit = opts.limit ?? Infinity;
  let packets = 0;
  const stallsBefore = host.onStall;
  host.onStall = (stall) => summary.stalls.push({ ...stall, packet: packets });
  let payloadBytes = 0;
  let retransmissions = 0;
  let lastSecond = -1;
  let firstTimeUs = -1;
  let lastTimeUs = 0;
  try {
    for (let frame = reader.next(); frame; frame = reader.next()) {
      packets++;
      if (!decodeFrame(frame, p)) {
        skipped[p.status] = (skipped[p.status] ?? 0) + 1;
      } else if (filter && !filter(p)) {
        summary.capture.filteredOut++;
      } else {
        const t = p.timeUs;
        if (firstTimeUs < 0) firstTimeUs = t;
        if (t > lastTimeUs) lastTimeUs = t;
        const second = Math.floor(t / 1e6);
        if (second !== lastSecond) {
          lastSecond = second;
          flows.expire(t);
          sessions.flushTill(t);
        }
        const flow = flows.track(p);
        const fromA = flows.fromA;
        if (flows.created) feeder.flowCreated(flow, t);
        const len = p.payloadLength;
        payloadBytes += len;
        if (p.ipProto === IPPROTO_TCP) {
          if (stream) {
            const f = p.tcpFlags;
            stream.segment(flow, fromA, p.tcpSeq, len > 0 ? p.payload() : null, f & TCP_ACK ? p.tcpAck : null, t, (f & TCP_PSH) !== 0, (f & (TCP_FIN | TCP_RST)) !== 0);
          } else {
            const joining = segmentation?.applies(flow) ? segmentation : null;
            if (len > 0) {
              // Not fed twice (the issue's rule). The agent skips them too while its L4 metrics
              // are on (the default): TcpPerf answers RetransPacket and FlowLog::parse stops
              // before L7 (agent/src/flow_generator/perf/{tcp,mod}.rs).
              const dir = fromA ? 0 : 1;
              const tracker = (flow.seq[dir] ??= new SeqTracker());
              if (tracker.isRetransmission(p.tcpSeq, len)) {
                retransmissions++;
                flow.retransmissions++;
              } else if (joining) joining.segment(flow, fromA, p.tcpSeq, p.payload(), t);
              else feeder.feed(flow, fromA, p.payload(), t, p.tcpSeq);
            }
            if (joining && p.tcpFlags & (TCP_FIN | TCP_RST)) joining.release(flow);
          }
        } else if (len > 0) {
          feeder.feed(flow, fromA, p.payload(), t, 0);
        }
        if (p.ipProto === IPPROTO_TCP) summary.capture.tcp++;
        else summary.capture.udp++;
      }
      if ((packets & 0xfff) === 0) {
        opts.onProgress?.(reader.bytesRead, packets);
        const wait = opts.backpressure?.();
        if (wait) await wait;
        if (opts.shouldStop?.()) break;
      }
      if (packets >= limit) break;
    }
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e;
    summary.capture.error = e.message;
  } finally {
    summary.capture.bytes = reader.bytesRead;
    reader.close();
  }
  flows.endAll();
  sessions.flushTill(Infinity);
  host.onStall = stallsBefore;

  const c = summary.capture;
  c.packets = packets;
  c.firstTimeUs = Math.max(firstTimeUs, 0);
  c.lastTimeUs = lastTimeUs;
  const fs = flows.stats;
  Object.assign(summary.flows, { total: fs.flows, tcp: fs.tcpFlows, udp: fs.udpFlows, peakLive: fs.peakLive });
  summary.payload = { bytes: payloadBytes, retransmissionsSkipped: retransmissions, stream: stream?.stats ?? null, segmentation: segmentation?.stats ?? null, ...feeder.stats };
  summary.http = http ? { ...http.stats } : null;
  summary.plugins = diffCounters(countersBefore, host.counters());
  summary.sessions = { ...sessions.stats };
  summary.elapsedMs = performance.now() - t0;
  const secs = summary.elapsedMs / 1000;
  summary.packetsPerSec = secs > 0 ? Math.round(packets / secs) : 0;
  summary.megabytesPerSec = secs > 0 ? c.bytes / 1e6 / secs : 0;
  return summary;
}

/** Counters of this replay only (a reused host has counts from earlier runs). */
function diffCounters(before: InstanceCounters[], after: InstanceCounters[]): InstanceCounters[] {
  return after.map((a) => {
    const b = before.find((x) => x.name === a.name);
    if (!b) return a;
    const hooks = { ...a.hooks };
    for (const [name, h] of Object.entries(a.hooks) as Array<[keyof typeof hooks, (typeof hooks)[keyof typeof hooks]]>) {
      const hb = b.hooks[name];
      hooks[name] = { ...h, calls: h.calls - hb.calls, answered: h.answered - hb.answered, failures: h.failures - hb.failures };
    }
    return { ...a, agentPanics: a.agentPanics - b.agentPanics, hooks };
  });
}

// ---------------------------------------------------------------------------------------
// Summary text

function n(v: number): string {
  return v.toLocaleString("en-US");
}

export function formatSummary(s: ReplaySummary): string {
  const c = s.capture;
  const lines: string[] = [];
  const skipped = Object.entries(c.skipped).map(([k, v]) => `${k} ${n(v ?? 0)}`).join(", ");
  lines.push(`capture   ${basename(c.file)} (${c.format}, ${n(c.bytes)} bytes): ${n(c.packets)} packets, ${n(c.tcp)} TCP, ${n(c.udp)} UDP` +
    (skipped ? `; not fed: ${skipped}` : "") + (c.filteredOut ? `; filtered out ${n(c.filteredOut)}` : ""));
  if (c.error) lines.push(`ERROR     ${c.error} (everything before it was replayed)`);
  const dirs = Object.entries(s.flows.directionSource).map(([k, v]) => `${k} ${n(v ?? 0)}`).join(", ");
  lines.push(`flows     ${n(s.flows.total)} (${n(s.flows.tcp)} TCP, ${n(s.flows.udp)} UDP), ${n(s.flows.claimed)} claimed by a plugin, peak ${n(s.flows.peakLive)} live; server side decided by: ${dirs || "-"}`);
  const pl = s.payload;
  lines.push(`payloads  ${n(pl.payloads)} fed (${n(pl.bytes)} bytes), ${n(pl.retransmissionsSkipped)} retransmissions skipped, ` +
    `check_payload ${n(pl.checkCalls)} → ${n(pl.claims)} claims, parse_payload ${n(pl.parseCalls)} (${n(pl.parseUnanswered)} unanswered)` +
    (pl.flowsFromCache ? `, ${n(pl.flowsFromCache)} flows from the inference cache` : "") +
    (pl.skippedInferenceLimit ? `, ${n(pl.skippedInferenceLimit)} skipped after inference_max_retries` : ""));
  const h = s.http;
  if (h && (h.flows || h.flowsFromCache || h.http2Flows)) {
    const parsers = h.http2Flows ? `HTTP/1 and HTTP/2 parsers took ${n(h.flows)} + ${n(h.http2Flows)} flows (${n(h.grpcFlows)} turned gRPC)` : `HTTP/1 parser took ${n(h.flows)} flows`;
    lines.push(`http      the agent's ${parsers} no plugin claimed` + (h.flowsFromCache ? ` (+${n(h.flowsFromCache)} from the inference cache)` : "") +
      `: ${n(h.requests)} requests, ${n(h.responses)} responses (${n(h.rewrittenByPlugins)} rewritten by on_http_req/on_http_resp), ${n(h.notParsed)} payloads gave no log (bodies, 1xx, not HTTP/1)`);
  }
  if (pl.stream) {
    lines.push(`stream    ${n(pl.stream.chunks)} reassembled payloads, ${n(pl.stream.gaps)} gaps (${n(pl.stream.gapBytes)} bytes missing)`);
    for (const g of pl.stream.firstGaps.slice(0, 5)) lines.push(`          gap: flow ${g.flowId}, ${g.from} bytes ${n(g.offset)}..${n(g.offset + g.bytes)} missing`);
  }
  if (pl.segmentation) {
    const sg = pl.segmentation;
    lines.push(`segments  packet_segmentation_reassembly ${sg.ports}: ${n(sg.flows)} flows, ${n(sg.joined)} payloads of two segments joined, ${n(sg.alone)} segments fed alone` +
      (sg.overlapping ? `, ${n(sg.overlapping)} overlapping joins dropped as retransmissions` : ""));
  }
  const m = s.messages;
  const protos = Object.entries(m.byProtocol).map(([k, v]) => `${k || "(no name)"}: ${n(v.requests)} req / ${n(v.responses)} resp`).join(", ");
  lines.push(`messages  ${n(m.records)} records (${n(m.requests)} requests, ${n(m.responses)} responses)${protos ? ` — ${protos}` : ""}`);
  if (m.withIsEnd) lines.push(`WARNING   ${n(m.withIsEnd)} records set is_end: with l7 metrics on, the agent's perf_stats asserts on them (multi_merge_info is never set for plugin records) and panics`);
  const ss = s.sessions;
  lines.push(`sessions  ${n(s.rows)} rows: ${n(ss.paired)} request/response pairs, ${n(ss.protocolMerges)} is_end merges, ${n(ss.timedOut)} flushed as timeout` +
    (ss.droppedEndedMerge ? `, ${n(ss.droppedEndedMerge)} ended merge logs dropped` : "") + (ss.droppedQueueFull ? `, ${n(ss.droppedQueueFull)} dropped (queue full)` : ""));
  for (const p of s.plugins) lines.push(formatPlugin(p, pl.byPlugin[p.name]));
  for (const p of s.notLoaded) lines.push(`plugin    ${p.name}: NOT LOADED (the agent would skip it too): ${p.problems.join("; ")}`);
  for (const st of s.stalls) {
    lines.push(`STALL     ${st.plugin}: ${st.hook} ran out of its budget of ${n(st.budget)} steps on packet ${n(st.packet)} (flow ${st.flowId}); ` +
      `the agent, which has no budget, would stall there; ${st.plugin} was skipped from then on`);
  }
  lines.push(`time      ${(s.elapsedMs / 1000).toFixed(2)} s, ${n(s.packetsPerSec)} packets/s, ${s.megabytesPerSec.toFixed(1)} MB/s`);
  return lines.join("\n");
}

const L4_NAMES: Record<number, string> = { 0: "TCP/UDP", 6: "TCP", 17: "UDP" };

/** One plugin's line: its protocol, what it claimed and answered, and each hook's calls. */
function formatPlugin(p: InstanceCounters, fed: PluginFeedStats | undefined): string {
  const proto = p.protocol ? ` (${p.protocol.name}, protocol ${p.protocol.proto}/${L4_NAMES[p.protocol.l4] ?? p.protocol.l4})` : "";
  const claimed = fed
    ? `${n(fed.flows)} flows claimed${fed.flowsFromCache ? ` (+${n(fed.flowsFromCache)} from the inference cache)` : ""}, ${n(fed.messages)} messages → ${n(fed.records)} records`
    : "0 flows claimed";
  const hooks = Object.entries(p.hooks).filter(([, h]) => h.calls > 0).map(([k, h]) => {
    const accepted = h.calls - h.failures;
    const parts = k === "check_payload"
      ? [`${n(h.answered)} claimed`, `${n(accepted - h.answered)} not`]
      : [`${n(h.answered)} answered`, `${n(accepted - h.answered)} next`];
    if (h.failures) parts.push(`${n(h.failures)} failed`);
    return `${k} ${n(h.calls)} (${parts.join(", ")})`;
  }).join(", ");
  return `plugin    ${p.name}${proto}: ${claimed}; ${hooks || "not called"}${p.agentPanics ? `; ${n(p.agentPanics)} calls would panic the real agent` : ""}` +
    (p.stalled ? "; WOULD STALL THE AGENT (see STALL)" : "");
}

// ---------------------------------------------------------------------------------------
// Command line

const HELP = `usage: host-sim replay CAPTURE --plugin a.wasm [--plugin b.wasm ...] [options]

Replays a pcap/pcapng capture through Wasm plugins the way the DeepFlow agent feeds them and
prints what the agent would log (l7_flow_log columns), then a summary on stderr.

options:
  --plugin FILE|DIR           a plugin, or every .wasm of a folder in name order; several
                              are asked in the given order (required)
  --format jsonl|table        output format (default: table on a terminal, else jsonl)
  --out FILE                  write rows to FILE instead of stdout
  --filter EXPR               packets to replay: host/net/port/portrange [src|dst], tcp, udp,
                              ip, ip6, and/or/not, parentheses (a subset of BPF syntax)
  --mode packet|stream        packet: one call per TCP segment / UDP datagram, as the agent
                              (default); stream: TCP reassembled per direction
  --payload-truncation N      payload cut to N bytes, as the agent's buf size (default 1024)
  --packet-segmentation-reassembly PORTS
                              packet mode: as the agent's inputs.cbpf.preprocess.
                              packet_segmentation_reassembly, e.g. 20880,9092,2000-2010: on TCP
                              flows with either port listed, a segment that continues the
                              previous one of the same direction is fed joined to it (two
                              adjacent segments per payload, then cut to the truncation size)
  --limit N                   stop after N packets
  --inference-max-retries N   failed inferences per server before it is left alone (default 128)
  --inference-ttl S           seconds of capture time inference results are kept (default 60)
  --strict                    a plugin the agent would refuse fails the run (exit 2); without
                              it, that plugin is skipped as the agent skips it, and the
                              summary says so
  --no-http                   no HTTP/1 emulation: by default, as in the agent, a TCP flow no
                              plugin claims whose first payload is an HTTP/1 request is taken
                              by the agent's own HTTP/1 parser; its requests and responses go
                              to the plugins' on_http_req / on_http_resp and give HTTP rows
                              (l7_protocol 20) with the plugin's rewrite applied; likewise
                              its HTTP/2 parser for h2c flows (l7_protocol 21, or 41 once a
                              content-type application/grpc header makes the flow gRPC)
  The agent's processors.request_log.tag_extraction settings for that parser (comma-separated;
  a list replaces the agent's default, as in its config; '' for none):
  --http-trace-headers LIST   tracing_tag.apm_trace_id (default traceparent,sw8); known formats
                              traceparent, sw8, sw6, sw3, uber-trace-id, b3, x-b3-traceid,
                              new_rpc_trace_context; any other name takes the header's value
                              as is. Every listed header's id is kept, the first listed first,
                              e.g. Pinpoint-TraceID,traceparent,sw8
  --http-span-headers LIST    tracing_tag.apm_span_id (default traceparent,sw8); the first
                              listed header present wins, e.g. Pinpoint-SpanID,traceparent,sw8
  --http-x-request-id-headers LIST
                              tracing_tag.x_request_id (default X_Request_ID: the agent matches
                              the lowercased header name exactly, so this default does not
                              match a header named X-Request-ID; list X-Request-ID for that)
  --http-real-client-headers LIST
                              tracing_tag.http_real_client (default X_Forwarded_For, likewise)
  --http-custom-fields LIST   custom_fields.HTTP field names, copied to attributes
  --call-budget N             steps (function calls and loop iterations) one plugin call may
                              take (default ${DEFAULT_CALL_BUDGET.toLocaleString("en-US")}, 0 = none, as in the agent).
                              A call that runs out is a plugin that would stall the agent: it
                              is named with the packet, skipped from then on, everything else
                              is replayed and written, and the exit status is 1
  --no-progress               no progress bar (it is shown only on a terminal anyway)
  -h, --help`;

function intOption(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!/^\d+$/.test(v) || x < min || x > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return x;
}

/** A comma-separated header list; "" is an empty list (the agent's "turned off"). */
function listOption(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v.split(",").map((x) => x.trim()).filter((x) => x !== "");
}

function httpOptions(values: Record<string, unknown>): Partial<AgentHttpConfig> {
  const out: Partial<AgentHttpConfig> = {};
  const set = <K extends "apm_trace_id" | "apm_span_id" | "x_request_id" | "http_real_client" | "custom_fields">(key: K, option: string) => {
    const list = listOption(values[option] as string | undefined);
    if (list !== undefined) out[key] = list;
  };
  set("apm_trace_id", "http-trace-headers");
  set("apm_span_id", "http-span-headers");
  set("x_request_id", "http-x-request-id-headers");
  set("http_real_client", "http-real-client-headers");
  set("custom_fields", "http-custom-fields");
  return out;
}

function progressBar(total: number): { update(bytes: number, packets: number): void; done(): void } {
  let last = 0;
  const start = performance.now();
  return {
    update(bytes, packets) {
      const now = performance.now();
      if (now - last < 200) return;
      last = now;
      const frac = total > 0 ? Math.min(1, bytes / total) : 0;
      const width = 30;
      const filled = Math.round(frac * width);
      const rate = bytes / 1e6 / ((now - start) / 1000);
      process.stderr.write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${n(packets)} packets ${rate.toFixed(1)} MB/s`);
    },
    done() {
      if (last > 0) process.stderr.write("\r\x1b[K");
    },
  };
}

/** Plugin warnings/errors to stderr, the first 20 only: a plugin failing on every packet would flood it. */
function hostLogPrinter(): (e: HostLogEntry) => void {
  let printed = 0;
  return (e) => {
    if (e.level === "info") return;
    if (++printed <= 20) process.stderr.write(`[${e.instance}] ${e.level}: ${e.message}\n`);
    else if (printed === 21) process.stderr.write("(more plugin messages not shown; the summary counts failures)\n");
  };
}

export async function runReplay(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      plugin: { type: "string", multiple: true },
      format: { type: "string" },
      out: { type: "string" },
      filter: { type: "string" },
      mode: { type: "string" },
      "payload-truncation": { type: "string" },
      "packet-segmentation-reassembly": { type: "string" },
      limit: { type: "string" },
      "inference-max-retries": { type: "string" },
      "inference-ttl": { type: "string" },
      "no-progress": { type: "boolean" },
      strict: { type: "boolean" },
      "call-budget": { type: "string" },
      "no-http": { type: "boolean" },
      "http-trace-headers": { type: "string" },
      "http-span-headers": { type: "string" },
      "http-x-request-id-headers": { type: "string" },
      "http-real-client-headers": { type: "string" },
      "http-custom-fields": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`expected one capture file, got ${positionals.length}\n${HELP}`);
  const plugins = pluginFiles(values.plugin ?? []);
  if (plugins.length === 0) throw new UsageError("at least one --plugin is needed");
  const mode = values.mode ?? "packet";
  if (mode !== "packet" && mode !== "stream") throw new UsageError(`--mode must be packet or stream, got ${JSON.stringify(mode)}`);
  const srOption = values["packet-segmentation-reassembly"];
  const srEntries = srOption === undefined ? undefined : srOption.split(",");
  if (srEntries) parsePortList(srEntries, "--packet-segmentation-reassembly");
  if (srEntries && mode !== "packet") throw new UsageError("--packet-segmentation-reassembly applies to --mode packet only");
  const format = values.format ?? (values.out || !process.stdout.isTTY ? "jsonl" : "table");
  if (format !== "jsonl" && format !== "table") throw new UsageError(`--format must be jsonl or table, got ${JSON.stringify(format)}`);
  const httpConfig = httpOptions(values);
  if (values["no-http"] && Object.keys(httpConfig).length > 0) throw new UsageError("--no-http turns the HTTP parser off: its --http-* settings would not apply");
  const capture = positionals[0]!;
  // The progress bar's total: 0 (no bar) for a pipe; openCapture reports what cannot be read.
  let size = 0;
  try {
    size = capture === "-" || capture === "/dev/stdin" ? 0 : statSync(capture).size;
  } catch {
    throw new UsageError(`cannot read ${capture}`);
  }

  // JSONL keeps the agent's order (a session leaves when it completes or times out); the
  // table, for people, is in start-time order.
  const writer: RowWriter = format === "jsonl" ? jsonlWriter(values.out) : inTimeOrder(tableWriter(values.out), SESSION_TIMEOUT_US);
  const bar = process.stderr.isTTY && !values["no-progress"] ? progressBar(size) : null;
  let summary: ReplaySummary;
  try {
    summary = await replayCapture({
      capture,
      plugins,
      mode,
      payloadTruncation: intOption("payload-truncation", values["payload-truncation"], 1, 65535),
      packetSegmentationReassembly: srEntries,
      filter: values.filter,
      limit: intOption("limit", values.limit, 1, Number.MAX_SAFE_INTEGER),
      inferenceMaxRetries: intOption("inference-max-retries", values["inference-max-retries"], 0, 1_000_000),
      inferenceTtlSec: intOption("inference-ttl", values["inference-ttl"], 0, 1_000_000_000),
      onRow: (row) => writer.write(row),
      backpressure: () => writer.backpressure(),
      shouldStop: () => writer.closed,
      onProgress: bar ? (bytes, packets) => bar.update(bytes, packets) : undefined,
      onHostLog: hostLogPrinter(),
      strict: values.strict,
      callBudget: intOption("call-budget", values["call-budget"], 0, 0x7fff_ffff),
      http: !values["no-http"],
      httpConfig,
    });
  } catch (e) {
    if (e instanceof CaptureError) throw new UsageError(e.message);
    throw e;
  } finally {
    bar?.done();
    await writer.close();
  }
  if (writer.closed) return 0; // the reader stopped early (| head): no summary wanted
  process.stderr.write(formatSummary(summary) + "\n");
  if (summary.plugins.length === 0) {
    process.stderr.write("host-sim replay: none of the plugins could be loaded (see above)\n");
    return 2;
  }
  return summary.capture.error || summary.stalls.length ? 1 : 0;
}
