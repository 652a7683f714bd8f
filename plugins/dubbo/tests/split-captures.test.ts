// Real Dubbo traffic whose frames TCP or the sender cut across segments (tests/fixtures/dubbo:
// dubbo-split.pcap on loopback, dubbo-mtu1500.pcap with a 1500-byte MTU; see its README):
// a split 3.5 KB argument, a header alone, a no-argument call whose header is split, an 80 KB
// frame, split responses, two in-flight ids equal in their low 32 bits. With whole payloads
// (stream mode, packet mode at 65535, and with the agent's segment joining) every call gives
// its row with every id; at the agent's default 1024 bytes every call still gives its row,
// and whatever a row holds is right.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { WasmHost } from "../../../sdk/host.ts";
import type { FlowLogRow } from "../../../sdk/row.ts";
import { replayCapture, type ReplayOptions } from "../../../sdk/replay.ts";
import type { Manifest, ManifestCall } from "../../../tests/fixtures/dubbo/generate.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const fixtures = join(root, "tests", "fixtures", "dubbo");
let host: WasmHost;

beforeAll(async () => {
  host = await WasmHost.load([join(root, "build", "dubbo.wasm")]);
});

const attr = (row: FlowLogRow, name: string) => row.attribute_names.flatMap((n, i) => (n === name ? [row.attribute_values[i]!] : []));
const pick = (m: Record<string, string> | undefined, key: string) =>
  Object.entries(m ?? {}).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1] ?? "";

/** The ids a call's row must show: from the request's attachments and the response's. */
function expected(call: ManifestCall) {
  const resp = call.response?.attachments;
  return {
    traceId: pick(call.attachments, "Pinpoint-TraceID") || pick(call.attachments, "_DUBBO_TRASACTION_ID"),
    spanId: pick(call.attachments, "Pinpoint-SpanID") || pick(call.attachments, "_DUBBO_SPAN_ID"),
    parent: pick(call.attachments, "Pinpoint-pSpanID") || pick(call.attachments, "_DUBBO_PARENT_SPAN_ID"),
    requestId: pick(call.attachments, "X-Request-ID") || pick(call.attachments, "RequestID"),
    responseRequestId: pick(resp, "X-Request-ID") || pick(resp, "RequestID"),
    entryIds: [pick(call.attachments, "EntryID"), pick(resp, "EntryID")].filter((v) => v !== ""),
  };
}

async function rowsOf(capture: string, o: Partial<ReplayOptions>): Promise<Map<string, FlowLogRow[]>> {
  const byId = new Map<string, FlowLogRow[]>();
  await replayCapture({
    capture, host, ...o,
    onRow: (r) => {
      // A row never mixes two calls: every dubbo_request_id in it is the same.
      const ids = new Set(attr(r, "dubbo_request_id"));
      expect(ids.size).toBe(1);
      const id = [...ids][0]!;
      byId.set(id, [...(byId.get(id) ?? []), r]);
    },
  });
  return byId;
}

/** What the plugin sees of a call: everything, or what a joined payload cut at 64 KB holds. */
const MODES: Array<[string, Partial<ReplayOptions>]> = [
  ["stream mode", { mode: "stream", payloadTruncation: 65535 }],
  ["packet mode, whole segments", { payloadTruncation: 65535 }],
  // Two 50 and 30 KB loopback segments joined are cut at 64 KB, as the agent cuts them.
  ["packet mode, whole segments, the agent's segment joining", { payloadTruncation: 65535, packetSegmentationReassembly: ["1-65535"] }],
];

/** Ids a row holds are right, or absent where its frame was cut. */
function expectNeverWrong(row: FlowLogRow, call: ManifestCall): void {
  const want = expected(call);
  for (const [field, value] of [["trace_id", want.traceId], ["span_id", want.spanId], ["parent_span_id", want.parent], ["x_request_id_0", want.requestId]] as const) {
    expect([value, ""], `${call.kind} ${field}`).toContain(row[field]);
  }
}

describe.each(["dubbo-split", "dubbo-mtu1500"])("%s.pcap", (name) => {
  const capture = join(fixtures, `${name}.pcap`);
  const manifest = JSON.parse(readFileSync(join(fixtures, `${name}.json`), "utf8")) as Manifest;
  const low32 = (c: ManifestCall) => BigInt(c.requestId) & 0xffffffffn;
  const collides = (c: ManifestCall) => manifest.calls.some((o) => o !== c && low32(o) === low32(c));

  it("holds every kind of cut", () => {
    expect(manifest.calls.map((c) => c.kind)).toEqual(expect.arrayContaining(["split-argument", "no-argument-header-split", "large-frame", "response-split", "high-bits-first"]));
    expect(manifest.calls.filter(collides)).toHaveLength(2);
  });

  it.each(MODES)("%s: one row per call with everything its frames hold", async (_, mode) => {
    const rows = await rowsOf(capture, mode);
    for (const call of manifest.calls) {
      const found = rows.get(call.requestId) ?? [];
      // The agent pairs by the low 32 bits: two in flight that share them are not paired together.
      const request = found.find((r) => r.type !== 1);
      expect(request, call.kind).toBeDefined();
      if (!collides(call)) expect(found, call.kind).toHaveLength(1);
      const want = expected(call);
      expect(request).toMatchObject({ request_type: call.method, request_domain: call.service });
      const segments = call.requestSegments ?? [];
      if (mode.packetSegmentationReassembly && segments.some((n, i) => n + (segments[i + 1] ?? 0) > 65535)) {
        expect(attr(request!, "truncated")).toEqual(["attachments"]);
        expectNeverWrong(request!, call);
        continue;
      }
      expect(request).toMatchObject({ trace_id: want.traceId, span_id: want.spanId, parent_span_id: want.parent, x_request_id_0: want.requestId });
      expect(attr(request!, "EntryID")).toEqual(collides(call) ? want.entryIds.slice(0, 1) : want.entryIds);
      expect(attr(request!, "truncated")).toEqual([]);
      const response = found.find((r) => r.type !== 0)!;
      expect(response.response_code, call.kind).toBe(call.response!.status);
      expect(response.x_request_id_1, call.kind).toBe(want.responseRequestId);
    }
  });

  it("packet mode at the agent's 1024 bytes: every call gives its row, and what a row holds is right", async () => {
    const rows = await rowsOf(capture, { payloadTruncation: 1024 });
    let cut = 0;
    for (const call of manifest.calls) {
      const found = rows.get(call.requestId) ?? [];
      const request = found.find((r) => r.type !== 1);
      expect(request, call.kind).toBeDefined();
      expect(request).toMatchObject({ request_type: call.method, request_domain: call.service, version: call.dubboVersion });
      expectNeverWrong(request!, call);
      if (attr(request!, "truncated").length) cut++;
      else expect(request!.trace_id, call.kind).toBe(expected(call).traceId);
    }
    // The frames whose first segment the agent cut lose their attachments, and say so.
    expect(cut).toBeGreaterThan(0);
  });
});
