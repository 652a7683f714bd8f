// Traffic of real, independent clients (kafkajs; librdkafka through python3-confluent-kafka)
// against a real broker implementation (librdkafka's mock cluster), captured with tcpdump:
// the committed captures of tests/fixtures/kafka (see its README), and one scenario made
// afresh when the machine can (root, gcc, tcpdump, librdkafka-dev).
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { FlowLogRow } from "../../../sdk/row.ts";
import { SCENARIOS, runScenario, trafficToolsMissing, type SentMessage, type Truth } from "../../../tests/fixtures/kafka/traffic.ts";
import { STATUS, attr, listed, replayKafka } from "./replay-records.ts";
import { canRun } from "../../../tests/support/tools.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const fixtures = join(root, "tests", "fixtures", "kafka");

/** The ids a message's headers carry, decoded the way tracing systems define them (independently of the plugin). */
function idsOf(m: SentMessage) {
  const h = m.headers;
  const trace: string[] = [];
  if (h["Pinpoint-TraceID"]) trace.push(h["Pinpoint-TraceID"]);
  if (h.traceparent) trace.push(h.traceparent.split("-")[1]);
  if (h.sw8) trace.push(Buffer.from(h.sw8.split("-")[1], "base64").toString());
  const spans: string[] = [];
  if (h["Pinpoint-SpanID"]) spans.push(h["Pinpoint-SpanID"]);
  if (h.traceparent) spans.push(h.traceparent.split("-")[2]);
  if (h.sw8) spans.push(`${Buffer.from(h.sw8.split("-")[2], "base64").toString()}-${h.sw8.split("-")[3]}`);
  return {
    trace,
    spans,
    parents: h["Pinpoint-pSpanID"] ? [h["Pinpoint-pSpanID"]] : [],
    messageIds: [h["message-id"], h.messageId].filter((x): x is string => !!x),
    requestIds: [h.RequestID].filter((x): x is string => !!x),
  };
}

function allIds(truth: Truth) {
  const sets = { trace: new Set<string>(), spans: new Set<string>(), parents: new Set<string>(), messageIds: new Set<string>(), requestIds: new Set<string>() };
  for (const m of truth.sent) {
    const ids = idsOf(m);
    for (const k of Object.keys(sets) as (keyof typeof sets)[]) for (const v of ids[k]) sets[k].add(v);
  }
  return sets;
}

const producesOf = (rows: FlowLogRow[]) => rows.filter((r) => r.request_type === "Produce");
const fetchesOf = (rows: FlowLogRow[]) => rows.filter((r) => r.request_type === "Fetch");

/** Checks that every id the clients set is found in the logs, and that no log carries an id they did not set. */
function checkIds(truth: Truth, rows: FlowLogRow[], complete: boolean): void {
  const known = allIds(truth);
  // None invented: every id in any row is one a client set.
  for (const row of rows) {
    for (const t of row.trace_ids) expect(known.trace, `trace id ${t}`).toContain(t);
    if (row.span_id) expect(known.spans).toContain(row.span_id);
    if (row.parent_span_id) expect(known.parents).toContain(row.parent_span_id);
    if (row.x_request_id_0) expect(known.requestIds).toContain(row.x_request_id_0);
    for (const id of listed(row, "message_id")) expect(known.messageIds).toContain(id);
    for (const id of listed(row, "RequestID")) expect(known.requestIds).toContain(id);
  }
  if (!complete) return;
  // Every id found: each message's trace ids, message ids and RequestIDs in a Produce log of its topic.
  const produces = producesOf(rows);
  for (const m of truth.sent) {
    const ids = idsOf(m);
    const logs = produces.filter((r) => r.request_domain === m.topic || attr(r, "topic_count") !== undefined);
    const where = `${truth.scenario} ${m.topic} ${m.key}`;
    for (const t of ids.trace) expect(logs.some((r) => r.trace_ids.includes(t)), `${where} trace ${t}`).toBe(true);
    for (const id of ids.messageIds) expect(logs.some((r) => listed(r, "message_id").includes(id)), `${where} message id ${id}`).toBe(true);
    for (const id of ids.requestIds) expect(logs.some((r) => listed(r, "RequestID").includes(id)), `${where} request id ${id}`).toBe(true);
  }
}


/** Each committed capture is replayed once per payload limit, then its rows are shared by the checks. */
const replays = new Map<string, Promise<{ rows: FlowLogRow[]; summary: { flows: { claimed: number } } }>>();
function replayOnce(pcap: string, bufSize: number) {
  const key = `${pcap}:${bufSize}`;
  let r = replays.get(key);
  if (!r) replays.set(key, (r = replayKafka(pcap, bufSize)));
  return r;
}

function loadTruth(name: string): Truth {
  return JSON.parse(readFileSync(join(fixtures, `${name}.json`), "utf8")) as Truth;
}

describe("committed captures of real clients", () => {
  for (const name of SCENARIOS) {
    describe(name, () => {
      const truth = loadTruth(name);
      const pcap = join(fixtures, `${name}.pcap`);

      it("finds every id the clients set, and no other (whole payloads)", async () => {
        const { rows } = await replayOnce(pcap, 65535);
        expect(truth.sent.length).toBeGreaterThan(0);
        checkIds(truth, rows, true);
      });

      it("names the versions the broker allowed, and pairs every request with its response", async () => {
        const { rows, summary } = await replayOnce(pcap, 65535);
        for (const [apiKey, max] of truth.apiVersions) {
          const api = apiKey === 0 ? "Produce" : "Fetch";
          const versions = new Set(rows.filter((r) => r.request_type === api).map((r) => r.version));
          expect([...versions], api).toEqual([String(max)]);
        }
        for (const r of rows) expect(attr(r, "client_id"), r.request_type).toMatch(/\S/);
        // Sessions (type 2); a consumer's last long-poll Fetch may go unanswered before it leaves.
        const unanswered = rows.filter((r) => r.type !== 2);
        expect(unanswered.length, JSON.stringify(unanswered.map((r) => r.request_type))).toBeLessThanOrEqual(2);
        for (const r of unanswered) expect(r.request_type).toBe("Fetch");
        expect(summary.flows.claimed).toBeGreaterThanOrEqual(2);
      });

      it("reads gzip batches and the records' count", async () => {
        const { rows } = await replayOnce(pcap, 65535);
        const gzip = producesOf(rows).filter((r) => attr(r, "compression") === "gzip");
        expect(gzip.length).toBeGreaterThan(0);
        for (const r of gzip) {
          expect(attr(r, "records_not_decoded")).toBeUndefined();
          expect(attr(r, "records_cut_off")).toBeUndefined();
          expect(Number(attr(r, "message_id_count"))).toBe(Number(attr(r, "record_count")));
        }
      });

      it("finds consumed messages' ids in Fetch responses", async () => {
        const { rows } = await replayOnce(pcap, 65535);
        const consumedIds = new Set(fetchesOf(rows).flatMap((r) => listed(r, "message_id")));
        if (truth.consumed === 0) return;
        const subscribed = truth.sent.filter((m) => m.acked && m.topic.startsWith("orders"));
        if (truth.consumed < subscribed.length) {
          expect(consumedIds.size).toBeGreaterThan(0);
          return;
        }
        for (const m of subscribed) for (const id of idsOf(m).messageIds) expect(consumedIds, `${name} ${id}`).toContain(id);
      });

      it("says when a request was cut by a 1024-byte payload limit, inventing nothing", async () => {
        const { rows } = await replayOnce(pcap, 1024);
        checkIds(truth, rows, false);
        const cut = producesOf(rows).filter((r) => attr(r, "message_cut_off") !== undefined);
        const long = producesOf((await replayOnce(pcap, 65535)).rows).filter((r) => r.request_length! + 4 > 1024);
        expect(cut.length).toBe(long.length);
        for (const r of cut) {
          expect(Number(attr(r, "records_cut_off") ?? "0") + Number(attr(r, "message_id_count") ?? "0")).toBeGreaterThan(0);
        }
      });
    });
  }

  it("maps injected broker errors to status, code and name", async () => {
    const truth = loadTruth("errors");
    const { rows } = await replayOnce(join(fixtures, "errors.pcap"), 65535);
    const failed = rows.filter((r) => r.response_code !== null && r.response_code !== 0);
    const byCode = new Map(failed.map((r) => [r.response_code, r]));
    for (const [, code] of truth.injectedErrors) expect(byCode.has(code), `code ${code}`).toBe(true);
    expect(byCode.get(6)).toMatchObject({ response_status: STATUS.server_error, response_exception: "NOT_LEADER_OR_FOLLOWER" });
    expect(byCode.get(29)).toMatchObject({ response_status: STATUS.client_error, response_exception: "TOPIC_AUTHORIZATION_FAILED" });
    expect(failed.filter((r) => r.response_code === 6).map((r) => r.request_type).sort()).toEqual(["Fetch", "Produce"]);
  });
});

describe.runIf(canRun("Kafka traffic made now", trafficToolsMissing()))("traffic made now", () => {
  let dir = "";
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("kafkajs Produce v7 / Fetch v11 through the mock broker", async () => {
    dir = mkdtempSync(join(tmpdir(), "kafka-traffic-"));
    const truth = await runScenario("v7", dir);
    expect(truth.sent.filter((m) => m.acked).length).toBe(18);
    const { rows, summary } = await replayKafka(join(dir, "v7.pcap"), 65535);
    expect(summary.flows.claimed).toBeGreaterThanOrEqual(2);
    checkIds(truth, rows, true);
  }, 60_000);
});
