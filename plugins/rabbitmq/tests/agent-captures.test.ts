// DeepFlow's own AMQP captures (tests/fixtures/deepflow/amqp), replayed through the
// plugin as the agent feeds it, against what the agent's built-in AMQP parser recorded in
// the .result files: every method frame with its class, method and channel, the content
// headers' body sizes and trace ids, Close reply codes, and request/reply pairs.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { replayCapture } from "../../../sdk/replay.ts";
import type { FlowLogRow } from "../../../sdk/row.ts";
import { ensureBuilt } from "./session.ts";

const here = dirname(fileURLToPath(import.meta.url));
const CAPTURES = resolve(here, "..", "..", "..", "tests", "fixtures", "deepflow", "amqp");

/** One line of a .result file: the agent's AmqpInfo Debug output. */
interface AgentFrame {
  msgType: string;
  respStatus: string;
  frameType: string;
  channel: number;
  protocolHeader: boolean;
  name: string | null;
  bodySize: number | null;
  traceIds: string[];
  spanId: string | null;
  replyCode: string | null;
  replyText: string | null;
  rtt: number;
}

function field(line: string, name: string): string | null {
  const m = new RegExp(`\\b${name}: (Some\\("((?:[^"\\\\]|\\\\.)*)"\\)|Some\\(([^)]*)\\)|([^,}]+))`).exec(line);
  if (!m) return null;
  return m[2] ?? m[3] ?? (m[4] === "None" ? null : m[4]);
}

function parseResult(text: string): AgentFrame[] {
  return text.trim().split("\n").map((line) => {
    const cls = field(line, "class_id");
    const method = field(line, "method_id");
    return {
      msgType: field(line, "msg_type")!,
      respStatus: field(line, "resp_status")!,
      frameType: field(line, "frame_type")!,
      channel: Number(field(line, "channel_id")),
      protocolHeader: field(line, "is_protcol_header") === "true",
      name: cls && method ? `${cls}.${method}` : null,
      bodySize: field(line, "body_size") === null ? null : Number(field(line, "body_size")),
      traceIds: [...line.matchAll(/PrioField \{ prio: \d+, field: "([^"]*)" \}/g)].map((m) => m[1]),
      spanId: field(line, "span_id"),
      replyCode: field(line, "resp_code"),
      replyText: field(line, "resp_text"),
      rtt: Number(field(line, "rtt")),
    };
  });
}

const attr = (row: FlowLogRow, name: string) => {
  const i = row.attribute_names.indexOf(name);
  return i < 0 ? null : row.attribute_values[i];
};

/** The method names a row stands for: its request type, and the reply merged into it (a lone reply names itself twice). */
const rowNames = (row: FlowLogRow) =>
  [row.request_type, ...(row.response_result && row.response_result !== row.request_type ? [row.response_result] : [])];

// The agent's built-in parser pairs the broker's Start/Secure/Tune with the client's answer.
// A Wasm plugin's record type comes from its direction, so such reversed pairs cannot pair:
// the plugin logs both halves on their own.
const SERVER_REQUESTS = new Set(["Connection.Start", "Connection.Secure", "Connection.Tune"]);

const sorted = <T>(xs: T[]) => xs.map((x) => JSON.stringify(x)).sort();

beforeAll(() => {
  ensureBuilt();
}, 120_000);

describe.each(["amqp1", "amqp2", "amqp3"])("%s.pcap", (name) => {
  let rows: FlowLogRow[];
  let agent: AgentFrame[];

  beforeAll(async () => {
    rows = [];
    await replayCapture({ capture: join(CAPTURES, `${name}.pcap`), plugins: [ensureBuilt()], onRow: (r) => rows.push(r) });
    agent = parseResult(readFileSync(join(CAPTURES, `${name}.result`), "utf8"));
  });

  it("logs every method frame with its class, method and channel", () => {
    const expected = agent.filter((f) => f.protocolHeader || f.frameType === "Method")
      .map((f) => [f.protocolHeader ? "Protocol-Header" : f.name, String(f.channel)]);
    const actual = rows.flatMap((r) => rowNames(r).map((n) => [n, attr(r, "channel")]));
    expect(expected.length).toBeGreaterThan(10);
    expect(sorted(actual)).toEqual(sorted(expected));
  });

  it("pairs requests with replies as the agent does, with their status", () => {
    const pairs: [string, string, string][] = [];
    agent.forEach((f, i) => {
      if (f.msgType !== "Response" || f.frameType !== "Method" || f.rtt === 0) return;
      const req = agent.slice(0, i).reverse().find((q) => q.msgType === "Request" && q.channel === f.channel)!;
      if (!SERVER_REQUESTS.has(req.name!)) pairs.push([req.name!, f.name!, f.respStatus]);
    });
    const STATUS: Record<number, string> = { 0: "Ok", 3: "ServerError", 4: "ClientError" };
    const paired = rows.filter((r) => r.response_result !== "" && r.request_type !== r.response_result)
      .map((r) => [r.request_type, r.response_result, STATUS[r.response_status] ?? String(r.response_status)]);
    expect(pairs.length).toBeGreaterThanOrEqual(3);
    expect(sorted(paired)).toEqual(sorted(pairs));
  });

  it("keeps Close reply codes and texts", () => {
    const closes = agent.filter((f) => f.replyCode !== null).map((f) => [f.name, f.replyCode === "Success" ? "200" : f.replyCode, f.replyText]);
    const actual = rows.filter((r) => attr(r, "reply_code") !== null).map((r) => [r.request_type, attr(r, "reply_code"), attr(r, "reply_text")]);
    expect(sorted(actual)).toEqual(sorted(closes));
  });

  it("puts each content header's body size and trace ids into its Publish/Deliver record", () => {
    const expected = agent.flatMap((f, i) => {
      if (f.frameType !== "Header") return [];
      const m = agent.slice(0, i).reverse().find((q) => q.frameType === "Method" && q.channel === f.channel)!;
      return [[m.name, String(f.bodySize), f.traceIds, f.spanId ?? ""]];
    });
    const actual = rows.filter((r) => attr(r, "body_size") !== null)
      .map((r) => [r.request_type, attr(r, "body_size"), r.trace_ids, r.span_id]);
    expect(expected.length).toBeGreaterThan(0);
    expect(sorted(actual)).toEqual(sorted(expected));
  });
});
