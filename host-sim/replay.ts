// `host-sim replay CAPTURE --plugin a.wasm ...`: the command over the SDK's replayCapture
// (../sdk/replay.ts, where the pipeline is): its options, progress, output and summary text.
import { statSync } from "node:fs";
import { basename } from "node:path";
import { parseOptions, type OptionSpecs, type OptionValues } from "../cli/options.ts";
import { CaptureError } from "../capture/open.ts";
import { UsageError } from "../sdk/errors.ts";
import { parsePortList } from "../sdk/flow/segmentation-reassembly.ts";
import type { PluginFeedStats } from "../sdk/flow/l7-feeder.ts";
import type { AgentHttpConfig } from "../sdk/http/config.ts";
import { DEFAULT_CALL_BUDGET, type HostLogEntry, type InstanceCounters } from "../sdk/host.ts";
import { pluginFiles } from "../sdk/plugin-files.ts";
import { replayCapture, type ReplaySummary } from "../sdk/replay.ts";
import { SESSION_TIMEOUT_US } from "../sdk/session.ts";
import { CUSTOM_MESSAGE_PROTOCOLS } from "../sdk/custom/emulator.ts";
import { inTimeOrder, jsonlWriter, tableWriter, type RowWriter } from "./output.ts";

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
  const cm = s.customMessages;
  if (cm) {
    for (const sub of cm.subscriptions) {
      const who = `${sub.plugins.join(", ")} ${sub.plugins.length > 1 ? "subscribe" : "subscribes"} to ${sub.name} custom messages (type ${sub.typeCode})`;
      if (!sub.replayed) {
        lines.push(`custom    ${who}: NOT REPLAYED, ${sub.why}`);
        continue;
      }
      if (sub.typeCode === 106) {
        lines.push(`custom    ${who}: the agent's ZMTP parser took ${n(cm.zmtpFlows)} flows no plugin claimed` + (cm.zmtpFlowsFromCache ? ` (+${n(cm.zmtpFlowsFromCache)} from the inference cache)` : "") +
          `: ${n(cm.zmtpLogs)} logs, each sent to on_custom_message, ${n(cm.zmtpNotParsed)} payloads did not parse`);
        continue;
      }
      lines.push(`custom    ${who}: the agent's Dubbo parser took ${n(cm.dubboFlows)} flows no plugin claimed` + (cm.dubboFlowsFromCache ? ` (+${n(cm.dubboFlowsFromCache)} from the inference cache)` : "") +
        `: ${n(cm.requests)} requests, ${n(cm.responses)} responses (${n(cm.answeredByPlugins)} answered by on_custom_message), ${n(cm.notParsed)} payloads gave no log` +
        (cm.bodyNotDecoded ? `; ${n(cm.bodyNotDecoded)} requests of a serialization the agent does not decode (header fields only)` : ""));
    }
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

export const HELP = `usage: host-sim replay CAPTURE --plugin a.wasm [--plugin b.wasm ...] [options]

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
  --enable-protocol LIST      built-in parsers that send plugins custom messages, added to the
                              agent's enabled_protocols (default: none of them): Dubbo runs the
                              agent's Dubbo parser on TCP flows no plugin and no HTTP parser
                              claimed, when a plugin subscribes to Dubbo custom messages (type
                              40): its requests and responses go to on_custom_message and give
                              Dubbo rows (l7_protocol 40) with the plugin's record merged, and
                              it reads the --http-trace-headers / --http-span-headers ids too.
                              ZMTP likewise (type 106, after Dubbo, TCP or UDP; ZMTP rows,
                              l7_protocol 106). NATS, RocketMQ: not emulated (the summary
                              says so)
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

function httpOptions(values: OptionValues<typeof REPLAY_OPTIONS>): Partial<AgentHttpConfig> {
  const out: Partial<AgentHttpConfig> = {};
  const set = (key: "apm_trace_id" | "apm_span_id" | "x_request_id" | "http_real_client" | "custom_fields", list: string[] | undefined) => {
    if (list !== undefined) out[key] = list;
  };
  set("apm_trace_id", values["http-trace-headers"]);
  set("apm_span_id", values["http-span-headers"]);
  set("x_request_id", values["http-x-request-id-headers"]);
  set("http_real_client", values["http-real-client-headers"]);
  set("custom_fields", values["http-custom-fields"]);
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

/** Every option of `host-sim replay`, with its type and range (HELP describes them). */
export const REPLAY_OPTIONS = {
  plugin: { type: "strings" },
  format: { type: "choice", choices: ["jsonl", "table"] },
  out: { type: "string" },
  filter: { type: "string" },
  mode: { type: "choice", choices: ["packet", "stream"], default: "packet" },
  "payload-truncation": { type: "int", min: 1, max: 65535 },
  "packet-segmentation-reassembly": { type: "string" },
  limit: { type: "int", min: 1, max: Number.MAX_SAFE_INTEGER },
  "inference-max-retries": { type: "int", min: 0, max: 1_000_000 },
  "inference-ttl": { type: "int", min: 0, max: 1_000_000_000 },
  "no-progress": { type: "boolean" },
  strict: { type: "boolean" },
  "call-budget": { type: "int", min: 0, max: 0x7fff_ffff },
  "no-http": { type: "boolean" },
  "http-trace-headers": { type: "list" },
  "http-span-headers": { type: "list" },
  "http-x-request-id-headers": { type: "list" },
  "http-real-client-headers": { type: "list" },
  "http-custom-fields": { type: "list" },
  "enable-protocol": { type: "strings" },
} as const satisfies OptionSpecs;

export async function runReplay(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, REPLAY_OPTIONS);
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`expected one capture file, got ${positionals.length}\n${HELP}`);
  const plugins = pluginFiles(values.plugin ?? []);
  if (plugins.length === 0) throw new UsageError("at least one --plugin is needed");
  const mode = values.mode;
  const srOption = values["packet-segmentation-reassembly"];
  const srEntries = srOption === undefined ? undefined : srOption.split(",");
  if (srEntries) parsePortList(srEntries, "--packet-segmentation-reassembly");
  if (srEntries && mode !== "packet") throw new UsageError("--packet-segmentation-reassembly applies to --mode packet only");
  const format = values.format ?? (values.out || !process.stdout.isTTY ? "jsonl" : "table");
  const httpConfig = httpOptions(values);
  const enableProtocols = (values["enable-protocol"] ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== "");
  for (const p of enableProtocols) {
    if (!CUSTOM_MESSAGE_PROTOCOLS.some((n) => n.toLowerCase() === p.toLowerCase())) throw new UsageError(`--enable-protocol takes ${CUSTOM_MESSAGE_PROTOCOLS.join(", ")}; got ${JSON.stringify(p)}`);
  }
  const traceOnly = Object.keys(httpConfig).every((k) => k === "apm_trace_id" || k === "apm_span_id");
  if (values["no-http"] && Object.keys(httpConfig).length > 0 && !(traceOnly && enableProtocols.some((p) => p.toLowerCase() === "dubbo"))) {
    throw new UsageError("--no-http turns the HTTP parser off: its --http-* settings would not apply");
  }
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
      payloadTruncation: values["payload-truncation"],
      packetSegmentationReassembly: srEntries,
      filter: values.filter,
      limit: values.limit,
      inferenceMaxRetries: values["inference-max-retries"],
      inferenceTtlSec: values["inference-ttl"],
      onRow: (row) => writer.write(row),
      backpressure: () => writer.backpressure(),
      shouldStop: () => writer.closed,
      onProgress: bar ? (bytes, packets) => bar.update(bytes, packets) : undefined,
      onHostLog: hostLogPrinter(),
      strict: values.strict,
      callBudget: values["call-budget"],
      http: !values["no-http"],
      httpConfig,
      enableProtocols,
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
