// The agent's own Kafka captures (and its recorded .result of the built-in parser):
// the plugin must find the same api key/version, correlation id, client id, topic,
// partition, group, status and trace ids.
import { readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { STATUS, attr, replayKafka } from "./replay-records.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const captures = join(root, "tests", "fixtures", "deepflow", "kafka");

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
  reqSize: number | null;
  respSize: number | null;
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
      reqSize: opt(field("req_msg_size")) === null ? null : Number(opt(field("req_msg_size"))),
      respSize: opt(field("resp_msg_size")) === null ? null : Number(opt(field("resp_msg_size"))),
    });
  }
  return out;
}

const STATUS_OF: Record<string, number> = { Ok: STATUS.ok, ServerError: STATUS.server_error, ClientError: STATUS.client_error };

const cases = readdirSync(captures).filter((f) => f.endsWith(".pcap")).map((f) => join(captures, f));

describe("agent Kafka captures", () => {
  it("has captures to replay", () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  for (const pcap of cases) {
    it(pcap.split("/").pop()!, async () => {
      const expected = parseResult(readFileSync(pcap.replace(/\.pcap$/, ".result"), "utf8"));
      const { rows, summary } = await replayKafka(pcap);
      expect(expected.length).toBeGreaterThan(0);
      // The plugin logs every message the agent logged, and no other.
      expect(summary.messages.records).toBe(expected.length);
      // One session per correlation id: request and response paired.
      expect(rows).toHaveLength(new Set(expected.map((e) => e.correlationId)).size);
      for (const e of expected) {
        const found = rows.filter((r) => r.request_id === e.correlationId);
        expect(found, `${e.request ? "request" : "response"} ${e.correlationId}`).toHaveLength(1);
        const row = found[0];
        expect(row.l7_protocol_str).toBe("Kafka");
        if (e.request) {
          expect(row.request_type).toBe(e.api);
          expect(row.version).toBe(String(e.version));
          expect(attr(row, "client_id")).toBe(e.clientId);
          expect(row.request_domain).toBe(e.topic);
          expect(row.endpoint).toBe(e.endpoint ?? "");
          if (e.topic) expect(row.request_resource).toBe(`${e.topic}-${e.partition}`);
          if (e.api === "Fetch" && e.topic) expect(attr(row, "fetch_offset")).toBe(String(e.offset));
          // The agent reads group ids of JoinGroup/SyncGroup/LeaveGroup only; the plugin also of OffsetCommit, Heartbeat, ...
          if (e.groupId) expect(attr(row, "group_id")).toBe(e.groupId);
          for (const id of e.traceIds) expect(row.trace_ids).toContain(id);
          if (e.spanId) expect(row.span_id).toBe(e.spanId);
          expect(row.request_length).toBe(e.reqSize);
        } else {
          // -2 is the agent's own marker for apis it does not inspect; the plugin reads their real error code.
          if (e.code !== -2) {
            expect(row.response_status).toBe(STATUS_OF[e.status]);
            expect(row.response_code).toBe(e.code);
          }
          if (e.api === "Produce") expect(attr(row, "offset")).toBe(String(e.offset));
          expect(row.response_length).toBe(e.respSize);
        }
      }
    });
  }
});
