// Replays a capture through plugins the way the agent feeds them, as a straight pipeline; each
// stage is one module with one input and one output:
//
//   capture file  → PacketSource (capture/packets.ts)        → TCP/UDP packets
//   packet        → FlowTable (flow/flow-table.ts)            → flow + direction
//   flow, packet  → PayloadCutter (flow/payloads.ts)          → payloads as the agent cuts them
//   payload       → L7Feeder (flow/l7-feeder.ts), WasmHost,
//                   the agent's HTTP parsers (http/) and
//                   its Dubbo and ZMTP parsers (custom/)      → records / built-in logs
//   record        → LogMaker (logs.ts)                        → L7 logs
//   L7 log        → SessionQueue (session.ts)                 → sessions (request ↔ response)
//   session       → toRow (row.ts)                            → l7_flow_log rows, to onRow
//
// Time moves the flow table and the session queue on once per second of capture time.
import { openCapture, openCaptureBytes, type CaptureReader } from "../capture/open.ts";
import { compileFilter, FilterError } from "../capture/filter.ts";
import { PacketSource, type PacketStats } from "../capture/packets.ts";
import { UsageError } from "./errors.ts";
import { AppTable } from "./flow/app-table.ts";
import type { DirectionSource, Flow } from "./flow/flow.ts";
import { FlowTable } from "./flow/flow-table.ts";
import { L7Feeder, type FeedStats } from "./flow/l7-feeder.ts";
import { PayloadCutter, type PayloadStats } from "./flow/payloads.ts";
import { parsePortList } from "./flow/segmentation-reassembly.ts";
import { ServiceTable } from "./flow/service-table.ts";
import { httpParserConfig, type AgentHttpConfig } from "./http/config.ts";
import { Http1Emulator, type HttpStats } from "./http/emulator.ts";
import { CustomMessageEmulator, dubboConfig, type CustomMessageStats } from "./custom/emulator.ts";
import { WasmHost, type HostLogEntry, type InstanceCounters, type PluginSource, type Stall } from "./host.ts";
import { LogMaker, type MessageStats } from "./logs.ts";
import { toRow, type FlowLogRow } from "./row.ts";
import { SessionQueue, type AnyL7Log, type SessionStats } from "./session.ts";

/** Frames between two looks at progress, backpressure and shouldStop. */
const CHECK_EVERY_FRAMES = 4096;

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
  onFlowEnd?: (flow: { flowId: number; claimedBy: string; builtin: "" | "http1" | "http2" | "dubbo" | "zmtp" }) => void;
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
  /**
   * Built-in parsers that send plugins custom messages, added to the agent's enabled_protocols
   * (which has none of them by default): "Dubbo" runs the agent's Dubbo parser (replay's
   * emulation, ./custom/) on TCP flows no plugin and no HTTP parser claimed, when a loaded
   * plugin subscribes to its custom messages (type 40); its messages go to on_custom_message and
   * it gives Dubbo rows. "ZMTP" likewise runs its ZMTP parser (type 106). NATS and RocketMQ are
   * accepted and not emulated (the summary says so).
   */
  enableProtocols?: readonly string[];
}

export interface ReplaySummary {
  capture: {
    file: string;
    format: string;
    bytes: number;
    /** Frames read. */
    packets: number;
  } & Omit<PacketStats, "frames">;
  flows: { total: number; tcp: number; udp: number; peakLive: number; directionSource: Partial<Record<DirectionSource, number>>; claimed: number };
  payload: PayloadStats & FeedStats;
  /** The agent's HTTP/1 parser, null when HTTP emulation is off. */
  http: HttpStats | null;
  /**
   * Custom messages (on_custom_message): per type a loaded plugin subscribes to, whether replay
   * sends it (else why not), and what the agent's Dubbo parser did. Absent when no plugin subscribes.
   */
  customMessages?: CustomMessageStats;
  plugins: InstanceCounters[];
  /** Plugins skipped at load, and why (never with `strict`). */
  notLoaded: Array<{ name: string; problems: string[] }>;
  /** Calls that ran out of their budget, with the packet being replayed (1-based, as tshark numbers frames). */
  stalls: Array<Stall & { packet: number }>;
  messages: MessageStats;
  sessions: SessionStats;
  rows: number;
  elapsedMs: number;
  packetsPerSec: number;
  megabytesPerSec: number;
}

/** Replays a capture; rows go to `onRow`, the summary is returned. */
export async function replayCapture(opts: ReplayOptions): Promise<ReplaySummary> {
  const t0 = performance.now();
  const mode = opts.mode ?? "packet";
  const bufSize = opts.payloadTruncation ?? DEFAULT_PAYLOAD_TRUNCATION;
  if (!Number.isInteger(bufSize) || bufSize < 1 || bufSize > 65535) throw new UsageError(`payload truncation must be 1..65535, got ${bufSize}`);
  const srPorts = opts.packetSegmentationReassembly?.length ? parsePortList(opts.packetSegmentationReassembly, "packet segmentation reassembly") : null;
  if (srPorts && mode !== "packet") throw new UsageError("packet segmentation reassembly applies to packet mode only (stream mode joins whole turns already)");
  let filter = null;
  try {
    filter = opts.filter ? compileFilter(opts.filter) : null;
  } catch (e) {
    throw e instanceof FilterError ? new UsageError(e.message) : e;
  }
  const host = opts.host ?? (await WasmHost.load(opts.plugins ?? [], { onLog: opts.onHostLog, skipBadModules: !opts.strict, callBudget: opts.callBudget }));
  const reader: CaptureReader = typeof opts.capture === "string" ? openCapture(opts.capture) : openCaptureBytes(opts.capture);
  const countersBefore = host.counters();

  // The stages, wired from the last to the first.
  let rows = 0;
  const sessions = new SessionQueue<AnyL7Log>((log, timedOut) => {
    rows++;
    opts.onRow?.(toRow(log, timedOut));
  });
  const logs = new LogMaker((log) => sessions.add(log));
  const services = new ServiceTable();
  const apps = new AppTable(opts.inferenceMaxRetries ?? DEFAULT_INFERENCE_MAX_RETRIES, opts.inferenceTtlSec ?? DEFAULT_INFERENCE_TTL_SEC);
  const http = opts.http === false ? null : new Http1Emulator(host, httpParserConfig(opts.httpConfig));
  const custom = new CustomMessageEmulator(host, dubboConfig(http?.config ?? httpParserConfig(opts.httpConfig)), new Set((opts.enableProtocols ?? []).map((p) => p.toLowerCase())));
  const feeder = new L7Feeder(host, apps, services, bufSize, logs.payload, http && { emulator: http, onParsed: logs.http }, custom.dubbo || custom.zmtp ? { emulator: custom, onParsed: logs.builtin } : null);
  const payloads = new PayloadCutter(feeder, mode, bufSize, srPorts);
  const ended = { claimed: 0, directionSource: {} as Partial<Record<DirectionSource, number>> };
  const flows = new FlowTable(services, (flow: Flow) => {
    payloads.flowEnded(flow);
    ended.directionSource[flow.directionSource] = (ended.directionSource[flow.directionSource] ?? 0) + 1;
    if (flow.builtin === "" && flow.proto !== 0) ended.claimed++;
    opts.onFlowEnd?.({ flowId: flow.id, claimedBy: flow.claimedBy, builtin: flow.builtin });
  });
  const packets = new PacketSource(reader, filter, opts.limit ?? Infinity);

  const stalls: ReplaySummary["stalls"] = [];
  const stallsBefore = host.onStall;
  host.onStall = (stall) => stalls.push({ ...stall, packet: packets.stats.frames });
  let lastSecond = -1;
  let nextCheck = CHECK_EVERY_FRAMES;
  try {
    for (let p = packets.next(); p; p = packets.next()) {
      const t = p.timeUs;
      const second = Math.floor(t / 1e6);
      if (second !== lastSecond) {
        lastSecond = second;
        flows.expire(t);
        sessions.flushTill(t);
      }
      const flow = flows.track(p);
      if (flows.created) feeder.flowCreated(flow, t);
      payloads.packet(flow, flows.fromA, p);
      if (packets.stats.frames >= nextCheck) {
        nextCheck = packets.stats.frames + CHECK_EVERY_FRAMES;
        opts.onProgress?.(packets.bytesRead, packets.stats.frames);
        const wait = opts.backpressure?.();
        if (wait) await wait;
        if (opts.shouldStop?.()) break;
      }
    }
  } finally {
    packets.close();
  }
  flows.endAll();
  sessions.flushTill(Infinity);
  host.onStall = stallsBefore;

  const ps = packets.stats;
  const fs = flows.stats;
  const elapsedMs = performance.now() - t0;
  const secs = elapsedMs / 1000;
  const bytes = packets.bytesRead;
  return {
    capture: {
      file: typeof opts.capture === "string" ? opts.capture : "(bytes)", format: reader.format, bytes, packets: ps.frames, tcp: ps.tcp, udp: ps.udp,
      skipped: ps.skipped, filteredOut: ps.filteredOut, error: ps.error, firstTimeUs: Math.max(ps.firstTimeUs, 0), lastTimeUs: ps.lastTimeUs,
    },
    flows: { total: fs.flows, tcp: fs.tcpFlows, udp: fs.udpFlows, peakLive: fs.peakLive, directionSource: ended.directionSource, claimed: ended.claimed },
    payload: { ...payloads.stats, ...feeder.stats },
    http: http ? { ...http.stats } : null,
    ...(custom.stats.subscriptions.length > 0 ? { customMessages: { ...custom.stats } } : {}),
    plugins: diffCounters(countersBefore, host.counters()),
    notLoaded: host.notLoaded,
    stalls,
    messages: logs.stats,
    sessions: { ...sessions.stats },
    rows,
    elapsedMs,
    packetsPerSec: secs > 0 ? Math.round(ps.frames / secs) : 0,
    megabytesPerSec: secs > 0 ? bytes / 1e6 / secs : 0,
  };
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
