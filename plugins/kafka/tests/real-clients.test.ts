// Traffic of real, independent clients (kafkajs; librdkafka through python3-confluent-kafka)
// against a real broker implementation (librdkafka's mock cluster), captured with tcpdump:
// the committed captures of tests/fixtures/kafka (see its README), and one scenario made
// afresh when the machine can (root, gcc, tcpdump, librdkafka-dev).
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WasmHost, type CustomInfo } from "../../../host-sim/host.ts";
import { SCENARIOS, runScenario, trafficToolsMissing, type SentMessage, type Truth } from "../../../tests/fixtures/kafka/traffic.ts";
import { attr, attrs, replayKafka, type ReplayedRecord } from "./replay-records.ts";

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

const producesOf = (recs: ReplayedRecord[]) => recs.filter((r) => r.request && r.info.req.req_type === "Produce");
const fetchRespOf = (recs: ReplayedRecord[]) => recs.filter((r) => !r.request && attr(r.info, "record_count") !== undefined);

/** Checks that every id the clients set is found in the logs, and that no log carries an id they did not set. */
function checkIds(truth: Truth, records: ReplayedRecord[], complete: boolean): void {
  const known = allIds(truth);
  const produces = producesOf(records);
  const traceIdsOf = (i: CustomInfo) => i.trace.trace_ids;
  // None invented: every id in any record is one a client set.
  for (const { info } of records) {
    for (const t of traceIdsOf(info)) expect(known.trace, `trace id ${t}`).toContain(t);
    if (info.trace.span_id !== null) expect(known.spans).toContain(info.trace.span_id);
    if (info.trace.parent_span_id !== null) expect(known.parents).toContain(info.trace.parent_span_id);
    if (info.trace.x_request_id_0 !== null) expect(known.requestIds).toContain(info.trace.x_request_id_0);
    for (const id of attrs(info, "message_id")) expect(known.messageIds).toContain(id);
    for (const id of attrs(info, "RequestID")) expect(known.requestIds).toContain(id);
  }
  if (!complete) return;
  // Every id found: each message's trace ids, message ids and RequestIDs in a Produce request of its topic.
  for (const m of truth.sent) {
    const ids = idsOf(m);
    const logs = produces.filter((r) => r.info.req.domain === m.topic || attr(r.info, "topic_count") !== undefined);
    const where = `${truth.scenario} ${m.topic} ${m.key}`;
    for (const t of ids.trace) expect(logs.some((r) => traceIdsOf(r.info).includes(t)), `${where} trace ${t}`).toBe(true);
    for (const id of ids.messageIds) expect(logs.some((r) => attrs(r.info, "message_id").includes(id)), `${where} message id ${id}`).toBe(true);
    for (const id of ids.requestIds) expect(logs.some((r) => attrs(r.info, "RequestID").includes(id)), `${where} request id ${id}`).toBe(true);
  }
}

let host: WasmHost;
beforeAll(async () => {
  host = await WasmHost.load([join(root, "build", "kafka.wasm")]);
});

function loadTruth(name: string): Truth {
  return JSON.parse(readFileSync(join(fixtures, `${name}.json`), "utf8")) as Truth;
}

describe("committed captures of real clients", () => {
  for (const name of SCENARIOS) {
    describe(name, () => {
      const truth = loadTruth(name);
      const pcap = join(fixtures, `${name}.pcap`);

      it("finds every id the clients set, and no other (whole payloads)", async () => {
        const { records } = await replayKafka(host, pcap, 65535);
        expect(truth.sent.length).toBeGreaterThan(0);
        checkIds(truth, records, true);
      });

      it("names the versions the broker allowed", async () => {
        const { records } = await replayKafka(host, pcap, 65535);
        for (const [apiKey, max] of truth.apiVersions) {
          const api = apiKey === 0 ? "Produce" : "Fetch";
          const versions = new Set(records.filter((r) => r.request && r.info.req.req_type === api).map((r) => r.info.req.version));
          expect([...versions], api).toEqual([String(max)]);
        }
        // Every request has a client id and is answered (paired by correlation id within its flow).
        const requests = records.filter((r) => r.request);
        for (const r of requests) expect(attr(r.info, "client_id"), r.info.req.req_type).toMatch(/\S/);
        const answered = requests.filter((q) => records.some((a) => !a.request && a.flow === q.flow && a.info.request_id === q.info.request_id));
        expect(answered.length).toBeGreaterThanOrEqual(requests.length - 2); // a consumer's last long-poll may be unanswered
      });

      it("reads gzip batches and the records' count", async () => {
        const { records } = await replayKafka(host, pcap, 65535);
        const gzip = producesOf(records).filter((r) => attr(r.info, "compression") === "gzip");
        expect(gzip.length).toBeGreaterThan(0);
        for (const r of gzip) {
          expect(attr(r.info, "records_not_decoded")).toBeUndefined();
          expect(attr(r.info, "records_cut_off")).toBeUndefined();
          expect(Number(attr(r.info, "message_id_count"))).toBe(Number(attr(r.info, "record_count")));
        }
      });

      it("finds consumed messages' ids in Fetch responses", async () => {
        const { records } = await replayKafka(host, pcap, 65535);
        const fetched = fetchRespOf(records);
        const consumedIds = new Set(fetched.flatMap((r) => attrs(r.info, "message_id")));
        if (truth.consumed === 0) return;
        const subscribed = truth.sent.filter((m) => m.acked && m.topic.startsWith("orders"));
        if (truth.consumed < subscribed.length) {
          expect(consumedIds.size).toBeGreaterThan(0);
          return;
        }
        for (const m of subscribed) for (const id of idsOf(m).messageIds) expect(consumedIds, `${name} ${id}`).toContain(id);
      });

      it("says when a request was cut by a 1024-byte payload limit, inventing nothing", async () => {
        const { records } = await replayKafka(host, pcap, 1024);
        checkIds(truth, records, false);
        const cut = producesOf(records).filter((r) => attr(r.info, "message_cut_off") !== undefined);
        const long = producesOf((await replayKafka(host, pcap, 65535)).records).filter((r) => r.info.req_len! + 4 > 1024);
        expect(cut.length).toBe(long.length);
        for (const r of cut) {
          expect(Number(attr(r.info, "records_cut_off") ?? "0") + Number(attr(r.info, "message_id_count") ?? "0")).toBeGreaterThan(0);
        }
      });
    });
  }

  it("maps injected broker errors to status, code and name", async () => {
    const truth = loadTruth("errors");
    const { records } = await replayKafka(host, join(fixtures, "errors.pcap"), 65535);
    const responses = records.filter((r) => !r.request && r.info.resp.code !== null && r.info.resp.code !== 0);
    const byCode = new Map(responses.map((r) => [r.info.resp.code, r.info.resp]));
    for (const [, code] of truth.injectedErrors) expect(byCode.has(code), `code ${code}`).toBe(true);
    expect(byCode.get(6)).toMatchObject({ status: "server_error", exception: "NOT_LEADER_OR_FOLLOWER" });
    expect(byCode.get(29)).toMatchObject({ status: "client_error", exception: "TOPIC_AUTHORIZATION_FAILED" });
  });
});

describe.skipIf(trafficToolsMissing() !== null)("traffic made now", () => {
  let dir = "";
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("kafkajs Produce v7 / Fetch v11 through the mock broker", async () => {
    dir = mkdtempSync(join(tmpdir(), "kafka-traffic-"));
    const truth = await runScenario("v7", dir);
    expect(truth.sent.filter((m) => m.acked).length).toBe(18);
    const { records, claimed } = await replayKafka(host, join(dir, "v7.pcap"), 65535);
    expect(claimed).toBeGreaterThanOrEqual(2);
    checkIds(truth, records, true);
  }, 60_000);
});
