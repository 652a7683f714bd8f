// End to end: the Pinpoint Node agent between two node:http services (in
// tests/fixtures/mixed/mixed.pcap: a driver calls the front app, which calls the back app
// with Pinpoint-TraceID / Pinpoint-SpanID headers, while both report spans over gRPC). The
// replay, with the trace headers configured as a DeepFlow user configures them, gives HTTP
// rows carrying the Pinpoint ids; `pinpoint-otel convert --logs` then joins every
// cross-service HTTP call to the caller's event and the callee's span.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { FlowLogRow } from "../../sdk/row.ts";

const root = join(import.meta.dirname, "../..");
const CAPTURE = join(root, "tests/fixtures/mixed/mixed.pcap");
const HOOKS = join(root, "build/http-hooks.wasm");

beforeAll(() => {
  if (!existsSync(HOOKS)) execFileSync(process.execPath, ["--import", "tsx", "scripts/build-plugins.ts", "http-hooks"], { cwd: root, stdio: "inherit", timeout: 120_000 });
});

function replayThenJoin(extra: string[]): { rows: FlowLogRow[]; joinLine: string; network: Array<Record<string, unknown>> } {
  const dir = mkdtempSync(join(tmpdir(), "pinpoint-join-"));
  const logs = join(dir, "logs.jsonl");
  const spans = join(dir, "spans.jsonl");
  execFileSync(process.execPath, [join(root, "bin/host-sim.mjs"), "replay", CAPTURE, "--plugin", HOOKS, "--format", "jsonl", "--out", logs, "--no-progress", ...extra], { stdio: "ignore" });
  const convert = spawnSync(process.execPath, [join(root, "bin/pinpoint-otel.mjs"), "convert", CAPTURE, "--logs", logs, "--out", spans], { encoding: "utf8" });
  expect(convert.status).toBe(0);
  const joinLine = /^join: .*$/m.exec(convert.stderr)![0];
  const rows = readFileSync(logs, "utf8").trim().split("\n").map((l) => JSON.parse(l) as FlowLogRow);
  const network: Array<Record<string, unknown>> = [];
  for (const line of readFileSync(spans, "utf8").trim().split("\n")) {
    const req = JSON.parse(line) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string; parentSpanId: string; traceId: string; attributes: Array<{ key: string; value: Record<string, unknown> }> }> }> }> };
    for (const rs of req.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          if (s.name !== "network") continue;
          const a: Record<string, unknown> = { parentSpanId: s.parentSpanId, traceId: s.traceId };
          for (const kv of s.attributes) a[kv.key] = Object.values(kv.value)[0];
          network.push(a);
        }
      }
    }
  }
  return { rows, joinLine, network };
}

describe("Pinpoint between two services: replay with the trace headers, then join", () => {
  it("every cross-service HTTP call joins to its spans", () => {
    const { rows, network, joinLine } = replayThenJoin(["--http-trace-headers", "Pinpoint-TraceID,traceparent,sw8", "--http-span-headers", "Pinpoint-SpanID,traceparent,sw8"]);
    // 14 HTTP rows, and 19 gRPC rows of the agents' reports to the collector (no pinpoint-grpc
    // loaded: the agent's HTTP/2 parser takes those flows); only HTTP rows carry Pinpoint ids.
    expect(joinLine).toBe("join: 33 logs (7 with Pinpoint ids, 0 bad lines), 7 matched, 7 network spans");
    expect(rows.filter((r) => r.l7_protocol !== 20).every((r) => r.l7_protocol === 41 && r.trace_id === "")).toBe(true);
    const http = rows.filter((r) => r.l7_protocol === 20);
    expect(http).toHaveLength(14); // driver → front (no Pinpoint headers) and front → back, 7 each
    const traced = http.filter((r) => r.trace_id !== "");
    expect(traced).toHaveLength(7);
    for (const r of traced) {
      expect(r.trace_id).toMatch(/^pp-front-1\^\d{13}\^\d+$/);
      expect(r.span_id).toMatch(/^\d+$/);
    }
    // One network span per traced call, under the caller's event, carrying the row's columns.
    const httpSpans = network.filter((s) => s["deepflow.l7_protocol"] === "20" || s["deepflow.l7_protocol"] === 20);
    expect(httpSpans.map((s) => s["pinpoint.next_span_id"]).sort()).toEqual(traced.map((r) => r.span_id).sort());
    expect(httpSpans.map((s) => s["deepflow.request_resource"]).sort()).toEqual(traced.map((r) => r.request_resource).sort());
    for (const s of httpSpans) expect(s.parentSpanId).toMatch(/^[0-9a-f]{16}$/);
    expect(httpSpans.find((s) => s["deepflow.request_resource"] === "/fail/7")).toMatchObject({ "deepflow.response_code": expect.anything() });
  });

  it("without them (the agent's defaults), no HTTP row carries a Pinpoint id and none joins", () => {
    const { rows, network, joinLine } = replayThenJoin([]);
    expect(joinLine).toBe("join: 33 logs (0 with Pinpoint ids, 0 bad lines), 0 matched, 0 network spans");
    expect(rows.filter((r) => r.l7_protocol === 20 && r.trace_id !== "")).toHaveLength(0);
    expect(network.filter((s) => s["deepflow.l7_protocol"] === "20" || s["deepflow.l7_protocol"] === 20)).toHaveLength(0);
  });
});
