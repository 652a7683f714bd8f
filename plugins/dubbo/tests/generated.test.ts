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
import { WasmHost, type CustomInfo } from "../../../host-sim/host.ts";
import { attrs, hookSegments, parseSegments, tcpSegments } from "./drive.ts";
import { generate, type Manifest, type ManifestCall } from "../../../tests/fixtures/dubbo/generate.ts";

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
function expectIds(r: CustomInfo, ids: Ids, complete: boolean, requestSide: boolean): void {
  const xr = requestSide ? r.trace.x_request_id_0 : r.trace.x_request_id_1;
  for (const t of r.trace.trace_ids) expect(ids.traceIds).toContain(t);
  if (r.trace.span_id !== null) expect(ids.spans).toContain(r.trace.span_id);
  if (r.trace.parent_span_id !== null) expect(r.trace.parent_span_id).toBe(ids.parent);
  if (xr !== null) expect(xr).toBe(ids.requestId);
  for (const a of r.attributes) if (ID_ATTRIBUTES.has(a.key)) expect(ids.attributes.get(a.key)).toBe(a.val);
  if (!complete) return;
  expect(new Set(r.trace.trace_ids)).toEqual(ids.traceIds);
  expect(r.trace.span_id).toBe(ids.spans.size ? r.trace.span_id : null);
  if (ids.spans.size) expect(r.trace.span_id).not.toBeNull();
  expect(r.trace.parent_span_id).toBe(ids.parent);
  expect(xr).toBe(ids.requestId);
  const got = new Map(r.attributes.filter((a) => ID_ATTRIBUTES.has(a.key)).map((a) => [a.key, a.val]));
  expect(got).toEqual(ids.attributes);
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

function checkCustomProtocol(pcap: string, manifest: Manifest, bufSize: number): void {
  const byId = new Map<number, ManifestCall>(manifest.calls.map((c) => [Number(BigInt(c.requestId) & 0xffffffffn), c]));
  const parsed = parseSegments(host, tcpSegments(pcap), 3, bufSize);
  expect(parsed[0].claimed).toBe(true);
  const requests = new Map<number, CustomInfo[]>();
  const responses = new Map<number, CustomInfo[]>();
  for (const { segment, records } of parsed) {
    for (const r of records) {
      expect(r.request_id).not.toBeNull();
      const call = byId.get(r.request_id!);
      expect(call, `record for unknown request id ${r.request_id}`).toBeDefined();
      const side = segment.direction === 0 ? requests : responses;
      side.set(r.request_id!, [...(side.get(r.request_id!) ?? []), r]);
    }
  }
  for (const call of manifest.calls) {
    const id = Number(BigInt(call.requestId) & 0xffffffffn);
    const reqs = requests.get(id) ?? [];
    expect(reqs, `request ${call.kind}`).toHaveLength(1);
    const r = reqs[0];
    expect(r.req_len).toBe(call.bodyLength);
    expect(attrs(r, "serialization_id")).toEqual(["HESSIAN2"]);
    const cut = attrs(r, "truncated");
    if (call.event) {
      expect(r.req.req_type).toBe("heartbeat");
      expect(r.req.domain).toBe("");
      expect(attrs(r, "event")).toEqual(["1"]);
    } else if (cut[0] !== "body") {
      expect(r.req).toEqual({
        version: call.dubboVersion, req_type: call.method, domain: call.service, resource: call.service, endpoint: `${call.service}/${call.method}`,
      });
      expect(attrs(r, "service_version")).toEqual([call.serviceVersion]);
    }
    expect(attrs(r, "oneway")).toEqual(call.twoWay || call.event ? [] : ["true"]);
    expectIds(r, idsOf(call.attachments), cut.length === 0, true);

    const resps = responses.get(id) ?? [];
    if (!call.response) {
      expect(resps).toHaveLength(0);
      continue;
    }
    expect(resps, `response ${call.kind}`).toHaveLength(1);
    const p = resps[0];
    expect(p.resp.code).toBe(call.response.status);
    expect(p.resp.status).toBe(STATUS[call.response.status]);
    expect(p.resp.exception).toBe(call.response.exception ?? "");
    if (call.event) expect(p.resp.req_type).toBe("heartbeat");
    expectIds(p, idsOf(call.response.attachments ?? {}), attrs(p, "truncated").length === 0, false);
  }
}

function truncatedKinds(pcap: string, bufSize: number): string[] {
  const parsed = parseSegments(host, tcpSegments(pcap), 3, bufSize);
  return parsed.flatMap((p) => p.records.flatMap((r) => attrs(r, "truncated").map((t) => `${r.request_id}:${t}`)));
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
      expectIds(record!, ids, false, true);
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

  it("custom protocol, payloads up to 64 KiB: everything found, only the split frame cut", () => {
    checkCustomProtocol(pcap, manifest, 65535);
    const split = manifest.calls.find((c) => c.kind === "split")!;
    expect(truncatedKinds(pcap, 65535)).toEqual([`${Number(BigInt(split.requestId) & 0xffffffffn)}:body`]);
  });

  it("custom protocol, the agent's default 1024-byte truncation: large frames say their attachments were cut", () => {
    checkCustomProtocol(pcap, manifest, 1024);
    const idOf = (kind: string) => Number(BigInt(manifest.calls.find((c) => c.kind === kind)!.requestId) & 0xffffffffn);
    expect(truncatedKinds(pcap, 1024).sort()).toEqual([`${idOf("every-type")}:attachments`, `${idOf("large-argument")}:attachments`, `${idOf("split")}:body`].sort());
  });

  it("custom-message hook: ids added to the agent's own records, statuses kept", () => {
    checkHook(pcap, manifest);
  });
});

const canCapture = process.getuid?.() === 0 && spawnSync("tcpdump", ["--version"]).status === 0;

describe.skipIf(!canCapture)("generated Dubbo traffic (fresh capture)", () => {
  it("regenerates the traffic and finds the same", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dubbo-gen-"));
    try {
      const manifest = await generate(dir);
      const pcap = join(dir, "dubbo-hessian2.pcap");
      checkCustomProtocol(pcap, manifest, 65535);
      checkCustomProtocol(pcap, manifest, 1024);
      checkHook(pcap, manifest);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
