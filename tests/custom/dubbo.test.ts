// The agent's Dubbo parser and its custom messages in replay (sdk/custom/): DeepFlow's
// own Dubbo captures (tests/fixtures/deepflow/dubbo, with the agent's recorded *.result of its
// `check` test in protocol_logs/rpc/dubbo.rs) and the generated Hessian2 capture
// (tests/fixtures/dubbo, with its manifest), replayed through a plugin that only hooks Dubbo
// custom messages (tests/as/dubbo-hook-plugin.ts); the payloads handed to on_custom_message
// checked against tshark's; precedence of a plugin's check_payload claim; off by default.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { CustomMessageInfo } from "../../sdk/abi.ts";
import { DubboPerfCache, dubboCheck, dubboTraceIds, parseDubbo, type DubboConfig } from "../../sdk/custom/dubbo.ts";
import { WasmHost, type CallCtx } from "../../sdk/host.ts";
import { decodeTraceId, traceType } from "../../sdk/http/config.ts";
import type { FlowLogRow } from "../../sdk/row.ts";
import { formatSummary } from "../../host-sim/replay.ts";
import { replayCapture, type ReplayOptions, type ReplaySummary } from "../../sdk/replay.ts";
import { buildTestPlugin } from "../support/as-harness.ts";
import { tcpSegments } from "../support/capture.ts";
import { shippedPlugins, type Module } from "../support/coexist.ts";
import { canRun } from "../support/tools.ts";

const root = join(import.meta.dirname, "../..");
const DEEPFLOW = join(root, "tests/fixtures/deepflow/dubbo");
const GENERATED = join(root, "tests/fixtures/dubbo/dubbo-hessian2.pcap");
const CAPTURES = ["dubbo_hessian2.pcap", "dubbo-eys.pcap", "dubbo-kryo.pcap"];
const RESULT: Record<string, string> = { "dubbo_hessian2.pcap": "dubbo_hessian.result", "dubbo-eys.pcap": "dubbo-eys.result", "dubbo-kryo.pcap": "dubbo-kryo.result" };

/** The agent test's config: TraceType::Customize built directly keeps its case (a config file's names are lowercased). */
const customize = (name: string) => ({ kind: "customize" as const, name, subTag: "" });
const AGENT_TEST_CONFIG: DubboConfig = {
  traceTypes: [customize("EagleEye-TraceID"), customize("x-g-rid"), traceType("sw8")],
  spanTypes: [customize("EagleEye-SpanID"), traceType("sw8")],
  multipleTraceIdCollection: true,
  copyApmTraceId: false,
};

let hook: Module;
beforeAll(async () => {
  hook = { name: "dubbo-hook.wasm", bytes: await buildTestPlugin("tests/as/dubbo-hook-plugin.ts") };
}, 120_000);
afterEach(() => vi.restoreAllMocks());

async function replay(capture: string, opts: Partial<ReplayOptions>): Promise<{ rows: FlowLogRow[]; summary: ReplaySummary }> {
  const rows: FlowLogRow[] = [];
  const summary = await replayCapture({ capture, plugins: [hook], onRow: (r) => rows.push(r), ...opts });
  return { rows, summary };
}

/** One field of a DubboInfo Debug line (up to the ", " at nesting depth 0, outside strings). */
function field(line: string, name: string): string {
  const m = new RegExp(`[{ ]${name}: `).exec(line);
  if (!m) throw new Error(`no ${name} in ${line}`);
  let depth = 0;
  let inStr = false;
  let i = m.index + m[0].length;
  const start = i;
  for (; i < line.length; i++) {
    const c = line[i];
    if (inStr) {
      if (c === "\\") i++;
      else if (c === '"') inStr = false;
    } else if (c === '"') inStr = true;
    else if ("({[".includes(c!)) depth++;
    else if (")}]".includes(c!)) {
      if (depth === 0) break;
      depth--;
    } else if (c === "," && depth === 0) break;
  }
  return line.slice(start, i).trim();
}

interface Recorded {
  isDubbo: boolean;
  msgType: string;
  serialId: number;
  dataType: number;
  requestId: bigint;
  version: string;
  service: string;
  serviceVersion: string;
  method: string;
  traceIds: string[];
  spanId: string;
  statusCode: number | null;
  endpoint: string | null;
  rrt: number;
  reqSize: number | null;
  respSize: number | null;
  capturedReq: number;
  capturedResp: number;
}

const str = (v: string) => JSON.parse(v) as string;
const someNum = (v: string) => (v === "None" ? null : Number(/^Some\((.*)\)$/.exec(v)![1]));

function readResult(capture: string): Recorded[] {
  return readFileSync(join(DEEPFLOW, RESULT[capture]!), "utf8").trim().split("\n").map((line) => ({
    isDubbo: line.endsWith("is_dubbo: true"),
    msgType: field(line, "msg_type"),
    serialId: Number(field(line, "serial_id")),
    dataType: Number(field(line, "data_type")),
    requestId: BigInt(field(line, "request_id")),
    version: str(field(line, "dubbo_version")),
    service: str(field(line, "service_name")),
    serviceVersion: str(field(line, "service_version")),
    method: str(field(line, "method_name")),
    traceIds: [...field(line, "trace_ids").matchAll(/field: ("(?:[^"\\]|\\.)*")/g)].map((m) => str(m[1]!)),
    spanId: str(/field: (".*")/.exec(field(line, "span_id"))![1]!),
    statusCode: someNum(field(line, "status_code")),
    endpoint: field(line, "endpoint") === "None" ? null : str(/^Some\((.*)\)$/.exec(field(line, "endpoint"))![1]!),
    rrt: Number(field(line, "rrt")),
    reqSize: someNum(field(line, "req_msg_size")),
    respSize: someNum(field(line, "resp_msg_size")),
    capturedReq: Number(field(line, "captured_request_byte")),
    capturedResp: Number(field(line, "captured_response_byte")),
  }));
}

describe("DubboLog as the agent's own test runs it (check_payload, parse_payload per packet)", () => {
  it.each(CAPTURES)("%s: every recorded field", (capture) => {
    const recorded = readResult(capture);
    const segments = tcpSegments(join(DEEPFLOW, capture));
    expect(segments.length).toBe(recorded.length);
    const cache = new DubboPerfCache();
    segments.forEach((s, i) => {
      const want = recorded[i]!;
      expect(dubboCheck(s.payload), `${capture} #${i} is_dubbo`).toBe(want.isDubbo);
      const info = parseDubbo(s.payload, s.direction === 0, AGENT_TEST_CONFIG)!;
      if (info.msgType === "response" && info.endpoint === null) info.endpoint = cache.endpointFor(info, s.timeUs);
      cache.update(info, s.timeUs);
      expect({
        msgType: info.msgType === "request" ? "Request" : "Response", serialId: info.serialId, dataType: info.dataType, requestId: info.requestId,
        version: info.dubboVersion, service: info.serviceName, serviceVersion: info.serviceVersion, method: info.methodName,
        traceIds: dubboTraceIds(info), spanId: info.spanId.value, statusCode: info.statusCode, endpoint: info.endpoint,
        reqSize: info.reqMsgSize, respSize: info.respMsgSize,
      }, `${capture} #${i}`).toEqual({
        msgType: want.msgType, serialId: want.serialId, dataType: want.dataType, requestId: want.requestId,
        version: want.version, service: want.service, serviceVersion: want.serviceVersion, method: want.method,
        traceIds: want.traceIds, spanId: want.spanId, statusCode: want.statusCode, endpoint: want.endpoint,
        reqSize: want.reqSize, respSize: want.respSize,
      });
    });
    // The captures cover Hessian2 and Kryo bodies and a trace id found by a Customize type.
    expect(recorded.some((r) => r.traceIds.length > 0) || capture !== "dubbo-eys.pcap").toBe(true);
  });
});

describe("replayed with --enable-protocol Dubbo and a plugin hooking Dubbo custom messages", () => {
  it.each(CAPTURES)("%s: Dubbo rows with the agent's recorded values and the plugin's record merged", async (capture) => {
    const recorded = readResult(capture);
    const { rows, summary } = await replay(join(DEEPFLOW, capture), { enableProtocols: ["Dubbo"], payloadTruncation: 65535 });
    const requests = recorded.filter((r) => r.msgType === "Request");
    expect(rows.length).toBe(requests.length);
    for (const [i, req] of requests.entries()) {
      const resp = recorded.find((r) => r.msgType === "Response" && r.requestId === req.requestId) ?? null;
      const row = rows[i]!;
      expect(row).toMatchObject({
        l7_protocol: 40, l7_protocol_str: "Dubbo", type: resp ? 2 : 0, direction_source: "dubbo-request",
        version: req.version, request_type: req.method, request_domain: req.service, request_resource: req.service, endpoint: req.endpoint,
        request_id: Number(BigInt.asUintN(32, req.requestId)),
        response_code: resp?.statusCode ?? null, request_length: req.reqSize, response_length: resp?.respSize ?? null,
        captured_request_byte: req.capturedReq, captured_response_byte: resp?.capturedResp ?? 0,
        response_duration: resp?.rrt ?? 0,
        // The plugin answers requests only: its ids go first (priority 64 before the parser's 128), its span replaces.
        trace_id: `hook-trace-${req.requestId}`, span_id: `hook-span-${req.requestId}`,
        // 20 maps to ok; a request alone is flushed as timeout.
        response_status: resp ? 0 : 2,
      });
      expect(row.attribute_names).toEqual(["serialization_id", "hook_payload_bytes", "hook_message_bytes", "hook_type_code", "hook_point"]);
      expect(row.attribute_values).toEqual([req.serialId === 2 ? "HESSIAN2" : "KRYO", String(req.capturedReq), "0", "40", "0"]);
    }
    expect(summary.customMessages).toMatchObject({ dubboFlows: 1, requests: requests.length, responses: recorded.length - requests.length, answeredByPlugins: requests.length });
    expect(formatSummary(summary)).toMatch(/custom {4}dubbo-hook\.wasm subscribes to Dubbo custom messages \(type 40\): the agent's Dubbo parser took 1 flows/);
  });

  it("on_custom_message gets the agent's message (type 40, hook point 0, empty), l7 0, and each packet's payload as tshark reads it", async () => {
    if (!canRun("tshark payload check", tsharkMissing())) return;
    const calls: Array<{ direction: number; l7: number | undefined; srcPort: number; payload: string; msg: CustomMessageInfo }> = [];
    const real = WasmHost.prototype.onCustomMessage;
    vi.spyOn(WasmHost.prototype, "onCustomMessage").mockImplementation(function (this: WasmHost, ctx: CallCtx, payload: Uint8Array, msg: CustomMessageInfo) {
      calls.push({ direction: ctx.direction, l7: ctx.l7, srcPort: ctx.srcPort, payload: Buffer.from(payload).toString("hex"), msg: { ...msg, data: msg.data.slice() } });
      return real.call(this, ctx, payload, msg);
    });
    for (const capture of [...CAPTURES.map((c) => join(DEEPFLOW, c)), GENERATED]) {
      calls.length = 0;
      const { summary } = await replay(capture, { enableProtocols: ["Dubbo"], payloadTruncation: 65535 });
      // tshark: every TCP payload of the capture, its source port; the Dubbo frames (magic 0xdabb) but heartbeats (event flag).
      const frames = execFileSync("tshark", ["-r", capture, "-Y", "tcp.len>0", "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.payload"], { encoding: "utf8" })
        .trim().split("\n").map((l) => l.split("\t")).map(([port, hex]) => ({ srcPort: Number(port), payload: hex! }))
        .filter((f) => f.payload.startsWith("dabb") && (parseInt(f.payload.slice(4, 6), 16) & 0x20) === 0);
      expect(calls.map((c) => ({ srcPort: c.srcPort, payload: c.payload })), capture).toEqual(frames);
      for (const c of calls) {
        expect(c.msg).toEqual({ hookPoint: 0, typeCode: 40, data: new Uint8Array(0) });
        expect(c.l7).toBe(0);
        // The request flag (0x80) goes with the client-to-server direction (0 in the ctx).
        expect(c.direction === 0).toBe((parseInt(c.payload.slice(4, 6), 16) & 0x80) !== 0);
      }
      expect(calls.length).toBe(summary.customMessages!.requests + summary.customMessages!.responses);
    }
  });

  it("the generated capture: a row per call whose frame starts a segment; the parser's sw8 ids kept after the plugin's", async () => {
    const manifest = JSON.parse(readFileSync(GENERATED.replace(/\.pcap$/, ".json"), "utf8")) as {
      calls: Array<{ requestId: string; event: boolean; write: string; attachments: Record<string, string>; response?: { status: number } }>;
    };
    const { rows } = await replay(GENERATED, { enableProtocols: ["Dubbo"] });
    const byId = new Map(rows.map((r) => [r.trace_id, r]));
    let sw8 = 0;
    for (const call of manifest.calls.filter((c) => !c.event)) {
      const row = byId.get(`hook-trace-${call.requestId}`);
      // DubboLog::parse_payload reads the first frame of a payload only (L7ParseResult::Single):
      // a frame after another in the same segment ("coalesced") gives no log, no custom message.
      if (call.write === "coalesced") {
        expect(row, call.requestId).toBeUndefined();
        continue;
      }
      expect(row, call.requestId).toBeDefined();
      expect(row!.request_id).toBe(Number(BigInt.asUintN(32, BigInt(call.requestId))));
      if (call.response) expect(row!.response_code).toBe(call.response.status);
      const value = call.attachments.sw8;
      if (value !== undefined && row!.trace_ids.length > 1) {
        sw8++;
        const t = traceType("sw8");
        expect(row!.trace_ids).toEqual([`hook-trace-${call.requestId}`, decodeTraceId(t, value)]);
        // The parser's span id (sw8's) is kept as apm_span_id once the plugin's replaces it.
        expect(row!.attribute_names).toContain("apm_span_id");
      }
    }
    expect(sw8).toBeGreaterThan(0);
  });
});

describe("precedence and defaults", () => {
  it("a plugin claiming the flow by check_payload keeps it: no Dubbo parser, no custom message, its rows as alone", async () => {
    const dubbo = shippedPlugins().find((p) => p.name === "dubbo.wasm")!;
    const alone: FlowLogRow[] = [];
    await replayCapture({ capture: GENERATED, plugins: [dubbo], onRow: (r) => alone.push(r) });
    for (const order of [[dubbo, hook], [hook, dubbo]]) {
      const rows: FlowLogRow[] = [];
      const s = await replayCapture({ capture: GENERATED, plugins: order, enableProtocols: ["Dubbo"], onRow: (r) => rows.push(r) });
      expect(rows).toEqual(alone);
      expect(rows.every((r) => r.l7_protocol === 127)).toBe(true);
      expect(s.customMessages).toMatchObject({ dubboFlows: 0, requests: 0, responses: 0 });
      for (const p of s.plugins) expect(p.hooks.on_custom_message.calls, p.name).toBe(0);
    }
  });

  it("off by default (Dubbo is not in the agent's default enabled_protocols): no Dubbo rows, and the summary says why", async () => {
    const { rows, summary } = await replay(GENERATED, {});
    expect(rows).toEqual([]);
    expect(summary.customMessages!.subscriptions).toEqual([
      { typeCode: 40, name: "Dubbo", plugins: ["dubbo-hook.wasm"], replayed: false, why: expect.stringContaining("--enable-protocol Dubbo") },
    ]);
    expect(formatSummary(summary)).toContain("custom    dubbo-hook.wasm subscribes to Dubbo custom messages (type 40): NOT REPLAYED, the agent's Dubbo parser is not in its default enabled_protocols");
    expect(summary.plugins[0]!.hooks.on_custom_message.calls).toBe(0);
  });

  it("nothing changes for plugins that do not subscribe", async () => {
    const kafka = shippedPlugins().find((p) => p.name === "kafka.wasm")!;
    for (const capture of [GENERATED, join(root, "tests/fixtures/kafka/v7.pcap")]) {
      const base: FlowLogRow[] = [];
      const on: FlowLogRow[] = [];
      const s0 = await replayCapture({ capture, plugins: [kafka], onRow: (r) => base.push(r) });
      const s1 = await replayCapture({ capture, plugins: [kafka], enableProtocols: ["Dubbo"], onRow: (r) => on.push(r) });
      expect(on).toEqual(base);
      expect(s0.customMessages).toBeUndefined();
      expect(s1.customMessages).toBeUndefined();
    }
  });

  it("types replay does not emulate (NATS, RocketMQ) are named in the summary, with why", async () => {
    const greedy = { name: "greedy.wasm", bytes: await buildTestPlugin("tests/as/greedy-plugin.ts") };
    const rows: FlowLogRow[] = [];
    const s = await replayCapture({ capture: GENERATED, plugins: [greedy], enableProtocols: ["NATS", "Dubbo"], onRow: (r) => rows.push(r) });
    expect(rows).toEqual([]);
    expect(s.customMessages!.subscriptions).toEqual([
      { typeCode: 104, name: "NATS", plugins: ["greedy.wasm"], replayed: false, why: expect.stringContaining("does not emulate the agent's NATS parser") },
    ]);
    expect(formatSummary(s)).toContain("custom    greedy.wasm subscribes to NATS custom messages (type 104): NOT REPLAYED, replay does not emulate the agent's NATS parser (mq/nats.rs)");
  }, 120_000);
});

function tsharkMissing(): string | null {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
    return null;
  } catch {
    return "tshark is not installed";
  }
}
