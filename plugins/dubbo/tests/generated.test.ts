// Dubbo traffic from an independent Hessian2 encoder (tests/fixtures/dubbo/generate.ts:
// hessian.js frames over real loopback TCP, captured with tcpdump), replayed through
// the built plugin in both modes. Every id the client put into attachments must be
// found, and none invented. The committed capture is checked, and a fresh one when
// tcpdump can run here.
import { beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { WasmHost, type CustomInfo } from "../../../sdk/host.ts";
import { replayCapture } from "../../../sdk/replay.ts";
import type { FlowLogRow } from "../../../sdk/row.ts";
import { RESP_STATUS_CODE } from "../../../sdk/result.ts";
import { attrs, hookSegments } from "./drive.ts";
import { tcpSegments } from "../../../tests/support/capture.ts";
import { generate, type Manifest, type ManifestCall } from "../../../tests/fixtures/dubbo/generate.ts";
import { canRun } from "../../../tests/support/tools.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const fixtures = join(root, "tests", "fixtures", "dubbo");
const wasm = join(root, "build", "dubbo.wasm");

// ---- the oracle: what the issue says each attachment key means ----

type Role = "trace" | "span" | "parent" | "request" | "attr";
const KEYS: Array<[string, Role, string]> = [
  ["Pinpoint-TraceID", "trace", "Pinpoint-TraceID"], ["_DUBBO_TRASACTION_ID", "trace", "Pinpoint-TraceID"],
  ["Pinpoint-SpanID", "span", "Pinpoint-SpanID"], ["_DUBBO_SPAN_ID", "span", "Pinpoint-SpanID"],
  ["Pinpoint-pSpanID", "parent", "Pinpoint-pSpanID"], ["_DUBBO_PARENT_SPAN_ID", "parent", "Pinpoint-pSpanID"],
  ["Pinpoint-Flags", "attr", "Pinpoint-Flags"], ["_DUBBO_FLAGS", "attr", "Pinpoint-Flags"],
  ["Pinpoint-pAppName", "attr", "Pinpoint-pAppName"], ["_DUBBO_PARENT_APPLICATION_NAME", "attr", "Pinpoint-pAppName"],
  ["Pinpoint-pAppType", "attr", "Pinpoint-pAppType"], ["_DUBBO_PARENT_APPLICATION_TYPE", "attr", "Pinpoint-pAppType"],
  ["Pinpoint-Host", "attr", "Pinpoint-Host"], ["_DUBBO_HOST", "attr", "Pinpoint-Host"],
  ["X-Request-ID", "request", "RequestID"], ["RequestID", "request", "RequestID"], ["EntryID", "attr", "EntryID"],
];
const ID_ATTRIBUTES = new Set([...KEYS.map((k) => k[2]), "sw8", "traceparent"]);
// Attributes of the keys whose value lands in a trace field: through parse_payload the
// plugin does not repeat those values as attributes (the agent keeps the fields).
const FIELD_ATTRIBUTES = new Set(KEYS.filter((k) => k[1] !== "attr").map((k) => k[2]));

/** The id attributes a parse_payload record carries: those of ids.attributes not already in a trace field. */
function parseAttributes(ids: Ids): Map<string, string> {
  return new Map([...ids.attributes].filter(([k]) => !FIELD_ATTRIBUTES.has(k)));
}

interface Ids {
  traceIds: Set<string>;
  spans: Set<string>;
  parent: string | null;
  requestId: string | null;
  attributes: Map<string, string>;
}

function idsOf(attachments: Record<string, string>): Ids {
  const ids: Ids = { traceIds: new Set(), spans: new Set(), parent: null, requestId: null, attributes: new Map() };
  for (const [k, v] of Object.entries(attachments)) {
    if (v === "") continue;
    const rule = KEYS.find(([key]) => key.toLowerCase() === k.toLowerCase());
    if (rule) {
      const [, role, attr] = rule;
      if (role === "trace") ids.traceIds.add(v);
      if (role === "span") ids.spans.add(v);
      if (role === "parent") ids.parent = v;
      if (role === "request") ids.requestId = v;
      ids.attributes.set(attr, v);
    } else if (k === "sw8") {
      // 1-TRACEID-SEGMENTID-SPANID-...: base64 ids; span = "SEGMENT-SPANID" (the agent's format).
      const [, t, seg, span] = v.split("-");
      ids.traceIds.add(Buffer.from(t, "base64").toString());
      ids.spans.add(`${Buffer.from(seg, "base64").toString()}-${span}`);
      ids.attributes.set("sw8", v);
    } else if (k === "traceparent") {
      const [, t, span] = v.split("-");
      ids.traceIds.add(t);
      ids.spans.add(span);
      ids.attributes.set("traceparent", v);
    }
  }
  return ids;
}

/** Ids in a record: all of `ids` when `complete`; never anything else. */
function expectIds(r: CustomInfo, ids: Ids, complete: boolean): void {
  const xr = r.trace.x_request_id_0;
  for (const t of r.trace.trace_ids) expect(ids.traceIds).toContain(t);
  if (r.trace.span_id !== null) expect(ids.spans).toContain(r.trace.span_id);
  if (r.trace.parent_span_id !== null) expect(r.trace.parent_span_id).toBe(ids.parent);
  if (xr !== null) expect(xr).toBe(ids.requestId);
  for (const a of r.attributes) if (ID_ATTRIBUTES.has(a.key)) expect(parseAttributes(ids).get(a.key)).toBe(a.val);
  if (!complete) return;
  expect(new Set(r.trace.trace_ids)).toEqual(ids.traceIds);
  if (ids.spans.size) expect(ids.spans).toContain(r.trace.span_id);
  else expect(r.trace.span_id).toBeNull();
  expect(r.trace.parent_span_id).toBe(ids.parent);
  expect(xr).toBe(ids.requestId);
  const got = new Map(r.attributes.filter((a) => ID_ATTRIBUTES.has(a.key)).map((a) => [a.key, a.val]));
  expect(got).toEqual(parseAttributes(ids));
}

/** Id attributes of a row, as sorted "name=value" strings. */
function idAttributes(row: FlowLogRow): string[] {
  return row.attribute_names.map((n, i) => `${n}=${row.attribute_values[i]}`).filter((kv) => ID_ATTRIBUTES.has(kv.slice(0, kv.indexOf("=")))).sort();
}

function rowAttrs(row: FlowLogRow, name: string): string[] {
  return row.attribute_names.flatMap((n, i) => (n === name ? [row.attribute_values[i]] : []));
}

/** Same ids, for the custom-message hook: the agent keeps only trace ids and span id from the trace part. */
function expectHookIds(r: CustomInfo, ids: Ids): void {
  expect(new Set(r.trace.trace_ids)).toEqual(ids.traceIds);
  if (ids.spans.size) expect(ids.spans).toContain(r.trace.span_id);
  const got = new Map(r.attributes.filter((a) => ID_ATTRIBUTES.has(a.key)).map((a) => [a.key, a.val]));
  // Parent span id and RequestID reach the agent's log only as attributes here.
  expect(got).toEqual(ids.attributes);
}

const STATUS: Record<number, string> = { 20: "ok", 30: "client_error", 40: "client_error", 90: "client_error", 31: "server_error", 50: "server_error", 60: "server_error", 70: "server_error", 80: "server_error", 100: "server_error" };

let host: WasmHost;

beforeAll(async () => {
  host = await WasmHost.load([wasm]);
});

const low32 = (id: string) => Number(BigInt(id) & 0xffffffffn);

/** Custom-protocol mode through host-sim's replay: one l7_flow_log row per call, request and response paired. */
async function checkCustomProtocol(pcap: string, manifest: Manifest, bufSize: number): Promise<string[]> {
  const rows: FlowLogRow[] = [];
  const summary = await replayCapture({ capture: pcap, host, payloadTruncation: bufSize, onRow: (r) => rows.push(r) });
  expect(summary.flows.claimed).toBe(1);
  const byId = new Map<number, FlowLogRow[]>();
  for (const r of rows) {
    expect(r.request_id).not.toBeNull();
    byId.set(r.request_id!, [...(byId.get(r.request_id!) ?? []), r]);
  }
  expect([...byId.keys()].sort()).toEqual(manifest.calls.map((c) => low32(c.requestId)).sort());
  const truncated: string[] = [];
  for (const call of manifest.calls) {
    const found = byId.get(low32(call.requestId))!;
    expect(found, `rows of ${call.kind}`).toHaveLength(1);
    const row = found[0];
    expect(row.l7_protocol_str).toBe("Dubbo");
    expect(row.request_length).toBe(call.bodyLength);
    expect(rowAttrs(row, "serialization_id")).toEqual(["HESSIAN2"]);
    // request_id keeps the low 32 bits, as the agent's Dubbo log; the whole id is an attribute (request and response).
    expect(rowAttrs(row, "dubbo_request_id")).toEqual(call.response ? [call.requestId, call.requestId] : [call.requestId]);
    const cut = rowAttrs(row, "truncated");
    truncated.push(...cut.map((c) => `${call.kind}:${c}`));
    if (call.event) {
      expect(row.request_type).toBe("heartbeat");
      expect(row.request_domain).toBe("");
      expect(rowAttrs(row, "event")).toEqual(call.response ? ["1", "1"] : ["1"]);
    } else if (!cut.includes("body")) {
      expect(row).toMatchObject({
        version: call.dubboVersion, request_type: call.method, request_domain: call.service, request_resource: call.service, endpoint: `${call.service}/${call.method}`,
      });
      expect(rowAttrs(row, "service_version")).toEqual([call.serviceVersion]);
    }
    expect(rowAttrs(row, "oneway")).toEqual(call.twoWay || call.event ? [] : ["true"]);

    // Ids: the request's, plus those the response carries; all of them unless cut, never others.
    const req = idsOf(call.attachments);
    const resp = idsOf(call.response?.attachments ?? {});
    const wanted = [...parseAttributes(req), ...parseAttributes(resp)].map(([k, v]) => `${k}=${v}`).sort();
    const got = idAttributes(row);
    for (const kv of got) expect(wanted).toContain(kv);
    for (const t of row.trace_ids) expect([...req.traceIds, ...resp.traceIds]).toContain(t);
    if (row.span_id) expect([...req.spans, ...resp.spans]).toContain(row.span_id);
    if (row.parent_span_id) expect(row.parent_span_id).toBe(req.parent);
    if (row.x_request_id_0) expect(row.x_request_id_0).toBe(req.requestId);
    if (row.x_request_id_1) expect(row.x_request_id_1).toBe(resp.requestId);
    if (cut.length === 0) {
      expect(got).toEqual(wanted);
      expect(new Set(row.trace_ids)).toEqual(new Set([...req.traceIds, ...resp.traceIds]));
      expect(row.trace_id).toBe(row.trace_ids[0] ?? "");
      expect(row.parent_span_id).toBe(req.parent ?? "");
      expect(row.x_request_id_0).toBe(req.requestId ?? "");
      expect(row.x_request_id_1).toBe(resp.requestId ?? "");
      if (req.spans.size) expect(req.spans).toContain(row.span_id);
    }

    if (!call.response) {
      expect(row.type).toBe(0);
      continue;
    }
    expect(row.type).toBe(2);
    expect(row.response_length).not.toBeNull();
    expect(row.response_code).toBe(call.response.status);
    expect(row.response_status).toBe(RESP_STATUS_CODE[STATUS[call.response.status] as keyof typeof RESP_STATUS_CODE]);
    expect(row.response_exception).toBe(call.response.exception ?? "");
    expect(row.response_duration).toBeGreaterThan(0);
  }
  return truncated.sort();
}

function checkHook(pcap: string, manifest: Manifest): void {
  const byId = new Map<number, ManifestCall>(manifest.calls.map((c) => [Number(BigInt(c.requestId) & 0xffffffffn), c]));
  const hooked = hookSegments(host, tcpSegments(pcap), 5, 1024);
  let enriched = 0;
  for (const { segment, record } of hooked) {
    const id = Number(BigInt(Buffer.from(segment.payload).readBigUInt64BE(4)) & 0xffffffffn);
    const call = byId.get(id)!;
    expect(call).toBeDefined();
    if (segment.direction === 1) {
      const st = call.response!.status;
      const expectsSomething = !!call.response!.exception || Object.keys(call.response!.attachments ?? {}).some((k) => KEYS.some(([key]) => key.toLowerCase() === k.toLowerCase()));
      if (!expectsSomething) {
        expect(record).toBeNull();
        continue;
      }
      expect(record).not.toBeNull();
      // The agent takes the record's status over its own: it must be the agent's mapping.
      expect(record!.resp.status).toBe(STATUS[st]);
      expect(record!.resp.code).toBeNull();
      expect(record!.resp.exception).toBe(call.response!.exception ?? "");
      // The agent hides the exception of a status-20 response: the plugin keeps it as an attribute.
      expect(attrs(record!, "exception")).toEqual(st === 20 && call.response!.exception ? [call.response!.exception] : []);
      continue;
    }
    const ids = idsOf(call.attachments);
    const cut = record ? attrs(record, "truncated") : [];
    if (ids.attributes.size === 0) {
      expect(record).toBeNull();
      continue;
    }
    expect(record, call.kind).not.toBeNull();
    expect(record!.req).toEqual({ version: "", req_type: "", domain: "", resource: "", endpoint: "" });
    if (cut.length) {
      expectIds(record!, ids, false);
    } else {
      expectHookIds(record!, ids);
      enriched++;
    }
  }
  expect(enriched).toBeGreaterThan(30);
}

describe("generated Dubbo traffic (committed capture)", () => {
  const pcap = join(fixtures, "dubbo-hessian2.pcap");
  const manifest = JSON.parse(readFileSync(join(fixtures, "dubbo-hessian2.json"), "utf8")) as Manifest;

  it("covers what the issue lists", () => {
    const kinds = new Set(manifest.calls.map((c) => c.kind));
    for (const k of ["pinpoint-dubbo", "pinpoint-header", "pinpoint-header-lower", "every-type", "large-argument", "sw8-traceparent", "no-ids", "heartbeat", "oneway", "exception-flag-0", "exception-flag-3", "coalesced", "split", "after-split"]) {
      expect(kinds).toContain(k);
    }
    for (const s of [30, 31, 40, 50, 60, 70, 80, 90, 100]) expect(kinds).toContain(`status-${s}`);
  });

  it("custom protocol, payloads up to 64 KiB: everything found, the split frame put together", async () => {
    expect(await checkCustomProtocol(pcap, manifest, 65535)).toEqual([]);
  });

  it("custom protocol, the agent's default 1024-byte truncation: large frames say their attachments were cut", async () => {
    expect(await checkCustomProtocol(pcap, manifest, 1024)).toEqual(["every-type:attachments", "large-argument:attachments"]);
  });

  it("custom-message hook: ids added to the agent's own records, statuses kept", () => {
    checkHook(pcap, manifest);
  });
});

function captureMissing(): string | null {
  if (process.getuid?.() !== 0) return "capturing on lo needs root";
  return spawnSync("tcpdump", ["--version"]).status === 0 ? null : "tcpdump is not installed";
}

describe.runIf(canRun("fresh Dubbo capture", captureMissing()))("generated Dubbo traffic (fresh capture)", () => {
  it("regenerates the traffic and finds the same", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dubbo-gen-"));
    try {
      const manifest = await generate(dir);
      const pcap = join(dir, "dubbo-hessian2.pcap");
      expect(await checkCustomProtocol(pcap, manifest, 65535)).toEqual([]);
      expect(await checkCustomProtocol(pcap, manifest, 1024)).toEqual(["every-type:attachments", "large-argument:attachments"]);
      checkHook(pcap, manifest);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
