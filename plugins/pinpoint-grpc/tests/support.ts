// Shared by the plugin's tests: building and loading build/pinpoint-grpc.wasm, replaying
// captures through the host simulator, and the collector stand-in's record of what the
// agents really sent (tests/fixtures/pinpoint/received.json).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { WasmHost } from "../../../sdk/host.ts";
import { replayCapture, type ReplayOptions, type ReplaySummary } from "../../../sdk/replay.ts";
import type { FlowLogRow } from "../../../sdk/row.ts";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const PLUGIN = join(root, "build", "pinpoint-grpc.wasm");
export const FIXTURES = join(root, "tests", "fixtures", "pinpoint");
/** plugins/pinpoint-grpc/config.ts PINPOINT_PROTO. */
export const PINPOINT_PROTO = 170;
export const DEEPFLOW_HTTP = join(root, "tests", "fixtures", "deepflow", "http");

const SOURCES = ["plugins/pinpoint-grpc/index.ts", "plugins/pinpoint-grpc/config.ts", "plugins/pinpoint-grpc/flows.ts",
  "assembly/flow/table.ts", "assembly/collect.ts", "assembly/exports.ts", "protocols/http2.ts", "protocols/hpack.ts", "protocols/grpc.ts", "protocols/pinpoint-span.ts"];

/** Builds the plugin unless build/pinpoint-grpc.wasm is newer than its sources. */
export function ensureBuilt(): string {
  const built = existsSync(PLUGIN) ? statSync(PLUGIN).mtimeMs : 0;
  if (SOURCES.some((f) => statSync(join(root, f)).mtimeMs > built)) {
    execFileSync(process.execPath, ["--import", "tsx", join(root, "scripts", "build-plugins.ts"), "pinpoint-grpc"], { cwd: root, stdio: "pipe" });
  }
  return PLUGIN;
}

export async function loadPlugin(): Promise<WasmHost> {
  return WasmHost.load([ensureBuilt()]);
}

export interface Row extends FlowLogRow {
  attrs: Record<string, string>;
}

export async function replay(capture: string | Uint8Array, opts: Partial<ReplayOptions> = {}): Promise<{ rows: Row[]; summary: ReplaySummary }> {
  const rows: Row[] = [];
  const summary = await replayCapture({
    capture, plugins: [ensureBuilt()], ...opts,
    onRow: (r) => rows.push({ ...r, attrs: Object.fromEntries(r.attribute_names.map((k, i) => [k, r.attribute_values[i]])) }),
  });
  return { rows, summary };
}

// ---- what the collector stand-in received ----

interface TransactionIdObject { agentid: string; agentstarttime: string | number; sequence: string | number }
interface SpanObject { transactionid?: TransactionIdObject; spanid: string; parentspanid?: string; acceptevent?: { rpc: string } }

export interface ReceivedEntry {
  t: number;
  port: number;
  path: string;
  metadata: Record<string, string>;
  message: { span?: SpanObject; spanchunk?: SpanObject } & Record<string, unknown> | null;
  raw: string | null;
}

export interface Received {
  ports: { agent: number; stat: number; span: number };
  captures: Record<string, { start: number; end: number }>;
  received: ReceivedEntry[];
}

export const received: Received = JSON.parse(readFileSync(join(FIXTURES, "received.json"), "utf8"));

/** A span message as the request log should show it. */
export interface ExpectedSpan {
  kind: "span" | "spanChunk";
  traceId: string;
  spanId: string;
  parentSpanId: string;
  rpc: string;
  agentId: string;
  applicationName: string;
  t: number;
}

export function expectedSpans(): ExpectedSpan[] {
  const out: ExpectedSpan[] = [];
  for (const r of received.received) {
    if (r.path !== "/v1.Span/SendSpan" || !r.message) continue;
    const kind = r.message.span ? "span" : "spanChunk";
    const s = (r.message.span ?? r.message.spanchunk)!;
    const tx = s.transactionid!;
    const agent = tx.agentid || r.metadata.agentid;
    out.push({
      kind, traceId: `${agent}^${tx.agentstarttime}^${tx.sequence}`, spanId: String(s.spanid),
      parentSpanId: kind === "span" && String(s.parentspanid) !== "-1" ? String(s.parentspanid) : "",
      rpc: kind === "span" ? s.acceptevent?.rpc ?? "" : "", agentId: r.metadata.agentid, applicationName: r.metadata.applicationname, t: r.t,
    });
  }
  return out;
}

/** The row shows exactly this span message's ids (and its agent's metadata when it shows any). */
export function rowMatches(row: Row, e: ExpectedSpan): boolean {
  return row.trace_id === e.traceId && row.span_id === e.spanId && row.parent_span_id === e.parentSpanId &&
    row.attrs.message_kind === e.kind && (e.rpc === "" || row.attrs.rpc === e.rpc);
}

/**
 * The row shows nothing this span message did not carry: a cut message (message_state=partial)
 * may lack fields, never differ in one.
 */
export function rowConsistent(row: Row, e: ExpectedSpan): boolean {
  if (row.attrs.message_state !== "partial") return rowMatches(row, e);
  return (row.trace_id === "" || row.trace_id === e.traceId) && row.span_id === e.spanId &&
    (row.parent_span_id === "" || row.parent_span_id === e.parentSpanId) && row.attrs.message_kind === e.kind &&
    (row.attrs.rpc === undefined || row.attrs.rpc === e.rpc);
}
