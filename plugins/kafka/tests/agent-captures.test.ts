// The agent's own Kafka captures (and its recorded .result of the built-in parser):
// the plugin must find the same api key/version, correlation id, client id, topic,
// partition, group, status and trace ids.
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { WasmHost } from "../../../host-sim/host.ts";
import { attr, replayKafka } from "./replay-records.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const shared = resolve(root, "..", "shared", "captures", "deepflow", "kafka");
const upstream = join(root, "tests", "fixtures", "kafka", "deepflow");

interface Expected {
  request: boolean;
  correlationId: number;
  api: string;
  version: number;
  clientId: string;
  topic: string;
  partition: number;
  offset: number;
  groupId: string;
  endpoint: string | null;
  status: string;
  code: number | null;
  traceIds: string[];
  spanId: string;
}

/** Parses the agent's `KafkaInfo { ... }` debug lines (lines without a KafkaInfo are packets it did not log). */
function parseResult(text: string): Expected[] {
  const out: Expected[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("KafkaInfo {")) continue;
    const field = (name: string) => {
      const m = new RegExp(`[{,] ${name}: ((?:Some\\("[^"]*"\\))|(?:Some\\([^)]*\\))|(?:"[^"]*")|(?:PrioFields\\(\\[.*?\\]\\))|[^,}]+)`).exec(line);
      if (!m) throw new Error(`no ${name} in ${line}`);
      return m[1];
    };
    const unquote = (v: string) => v.replace(/^Some\((.*)\)$/, "$1").replace(/^"(.*)"$/, "$1");
    const opt = (v: string) => (v === "None" ? null : unquote(v));
    out.push({
      request: field("msg_type") === "Request",
      correlationId: Number(unquote(field("correlation_id"))),
      api: field("api_key"),
      version: Number(field("api_version")),
      clientId: unquote(field("client_id")),
      topic: unquote(field("topic_name")),
      partition: Number(field("partition")),
      offset: Number(field("offset")),
      groupId: unquote(field("group_id")),
      endpoint: opt(field("endpoint")),
      status: field("status"),
      code: opt(field("status_code")) === null ? null : Number(opt(field("status_code"))),
      traceIds: [...field("trace_ids").matchAll(/field: "([^"]*)"/g)].map((m) => m[1]),
      spanId: unquote(field("span_id")),
    });
  }
  return out;
}

const STATUS: Record<string, string> = { Ok: "ok", ServerError: "server_error", ClientError: "client_error" };

const cases = [
  ...readdirSync(shared).filter((f) => f.endsWith(".pcap")).map((f) => join(shared, f)),
  ...readdirSync(upstream).filter((f) => f.endsWith(".pcap")).map((f) => join(upstream, f)),
];

let host: WasmHost;
beforeAll(async () => {
  host = await WasmHost.load([join(root, "build", "kafka.wasm")]);
});

describe("agent Kafka captures", () => {
  it("has captures to replay", () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  for (const pcap of cases) {
    it(pcap.split("/").pop()!, async () => {
      const expected = parseResult(readFileSync(pcap.replace(/\.pcap$/, ".result"), "utf8"));
      const { records } = await replayKafka(host, pcap);
      expect(expected.length).toBeGreaterThan(0);
      for (const e of expected) {
        const found = records.filter((r) => r.request === e.request && r.info.request_id === e.correlationId);
        expect(found, `${e.request ? "request" : "response"} ${e.correlationId}`).toHaveLength(1);
        const info = found[0].info;
        if (e.request) {
          expect(info.req.req_type).toBe(e.api);
          expect(info.req.version).toBe(String(e.version));
          expect(attr(info, "client_id")).toBe(e.clientId);
          expect(info.req.domain).toBe(e.topic);
          expect(info.req.endpoint).toBe(e.endpoint ?? "");
          if (e.topic) expect(info.req.resource).toBe(`${e.topic}-${e.partition}`);
          if (e.api === "Fetch" && e.topic) expect(attr(info, "fetch_offset")).toBe(String(e.offset));
          // The agent reads group ids of JoinGroup/SyncGroup/LeaveGroup only; the plugin also of OffsetCommit, Heartbeat, ...
          if (e.groupId) expect(attr(info, "group_id")).toBe(e.groupId);
          for (const id of e.traceIds) expect(info.trace.trace_ids).toContain(id);
          if (e.spanId) expect(info.trace.span_id).toBe(e.spanId);
        } else {
          // -2 is the agent's own marker for apis it does not inspect; the plugin reads their real error code.
          if (e.code !== -2) {
            expect(info.resp.status).toBe(STATUS[e.status]);
            expect(info.resp.code).toBe(e.code);
          }
          if (e.api === "Produce") {
            expect(info.resp.endpoint).toBe(e.endpoint);
            expect(attr(info, "offset")).toBe(String(e.offset));
          }
        }
      }
      // Nothing beyond what the agent logged (it logs every message it saw).
      expect(records.length).toBe(expected.length);
    });
  }
});
