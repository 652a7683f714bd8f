// Traffic between amqplib and a real rabbitmq-server, replayed through the plugin as the
// agent would see it: the committed capture (tests/fixtures/amqp/rabbitmq.pcap) always,
// and a fresh one from a broker started here when rabbitmq-server, tcpdump and root are
// available. Expectations come from the generator's manifest (what the clients set and
// received), never from the plugin.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replayCapture, type ReplaySummary } from "../../../sdk/replay.ts";
import type { FlowLogRow } from "../../../sdk/row.ts";
import { brokerMissing } from "../../../tests/fixtures/amqp/broker.ts";
import { runScenario, type Manifest, type Published } from "../../../tests/fixtures/amqp/traffic.ts";
import { ensureBuilt } from "./session.ts";
import { canRun } from "../../../tests/support/tools.ts";

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "tests", "fixtures", "amqp");
const TYPE_REQUEST = 0;
const TYPE_RESPONSE = 1;
const STATUS_OK = 0;
const STATUS_CLIENT_ERROR = 4;

interface Replayed {
  manifest: Manifest;
  /** Replayed with the largest payload truncation: whole frames. */
  rows: FlowLogRow[];
  summary: ReplaySummary;
  /** Replayed with the agent's default truncation (1024 bytes). */
  cutRows: FlowLogRow[];
  cutSummary: ReplaySummary;
}

async function replay(pcap: string, manifest: Manifest): Promise<Replayed> {
  const plugin = ensureBuilt();
  const rows: FlowLogRow[] = [];
  const cutRows: FlowLogRow[] = [];
  const summary = await replayCapture({ capture: pcap, plugins: [plugin], payloadTruncation: 65535, onRow: (r) => rows.push(r) });
  const cutSummary = await replayCapture({ capture: pcap, plugins: [plugin], onRow: (r) => cutRows.push(r) });
  return { manifest, rows, summary, cutRows, cutSummary };
}

const attr = (row: FlowLogRow, name: string) => {
  const i = row.attribute_names.indexOf(name);
  return i < 0 ? null : row.attribute_values[i];
};

/** What the plugin should lift from a message, worked out from what the client set. */
function expectedIds(p: Published) {
  const h = p.idHeaders;
  const messageId = (p.properties.messageId as string | undefined) ?? null;
  let traceId = h["Pinpoint-TraceID"] ?? null;
  let spanId = h["Pinpoint-SpanID"] ?? null;
  if (h.traceparent) [, traceId, spanId] = h.traceparent.split("-");
  if (h.sw8) {
    const parts = h.sw8.split("-");
    traceId = Buffer.from(parts[1], "base64").toString();
    spanId = `${Buffer.from(parts[2], "base64").toString()}-${parts[3]}`;
  }
  return {
    messageId,
    traceId,
    spanId,
    parentSpanId: h["Pinpoint-pSpanID"] ?? null,
    requestId: h.RequestID ?? h["X-Request-ID"] ?? messageId,
  };
}

function checkMessage(row: FlowLogRow, p: Published, side: "0" | "1") {
  const ids = expectedIds(p);
  expect(attr(row, "message_id")).toBe(ids.messageId);
  expect(row.trace_id || null).toBe(ids.traceId);
  expect(row.span_id || null).toBe(ids.spanId);
  expect(row.parent_span_id || null).toBe(ids.parentSpanId);
  expect((side === "0" ? row.x_request_id_0 : row.x_request_id_1) || null).toBe(ids.requestId);
  expect(attr(row, "body_size")).toBe(String(p.bodySize));
  // Publish and Deliver hold them in domain / resource; Get-Ok (a reply) in attributes.
  if (row.request_type === "Basic.Get") {
    expect([attr(row, "exchange"), attr(row, "routing_key")]).toEqual([p.exchange, p.routingKey]);
  } else {
    expect([row.request_domain, row.request_resource, attr(row, "exchange"), attr(row, "routing_key")]).toEqual([p.exchange, p.routingKey, null, null]);
  }
  for (const [prop, name] of [["correlationId", "correlation_id"], ["appId", "app_id"], ["type", "type"]]) {
    expect(attr(row, name), name).toBe(p.properties[prop] === undefined ? null : String(p.properties[prop]));
  }
  for (const key of ["Pinpoint-Flags", "Pinpoint-pAppName", "EntryID"]) expect(attr(row, key), key).toBe(p.idHeaders[key] ?? null);
  // A RequestID is an attribute only when its value is not the one in x_request_id.
  const otherRequestIds = [p.idHeaders.RequestID, p.idHeaders["X-Request-ID"]].filter((v) => v !== undefined && v !== ids.requestId);
  expect(attr(row, "RequestID")).toBe(otherRequestIds[0] ?? null);
}

function defineChecks(get: () => Replayed) {
  const find = (rows: FlowLogRow[], pred: (r: FlowLogRow) => boolean) => {
    const found = rows.filter(pred);
    expect(found).toHaveLength(1);
    return found[0];
  };

  it("replays without a failed call", () => {
    for (const s of [get().summary, get().cutSummary]) {
      for (const p of s.plugins) for (const h of Object.values(p.hooks)) expect(h.failures).toBe(0);
      expect(s.flows.claimed).toBe(2);
    }
  });

  it("every publish has its Basic.Publish record with the ids the client set", () => {
    const { manifest, rows } = get();
    expect(manifest.published.length).toBeGreaterThan(5);
    for (const p of manifest.published) {
      const row = find(rows, (r) => r.request_type === "Basic.Publish" && r.request_resource === p.routingKey);
      expect(row.type).toBe(TYPE_REQUEST);
      expect([row.request_domain, row.request_resource, row.endpoint]).toEqual([p.exchange, p.routingKey, `${p.exchange}/${p.routingKey}`]);
      checkMessage(row, p, "0");
    }
  });

  it("every delivery and basic.get answer carries the same ids", () => {
    const { manifest, rows } = get();
    const byKey = new Map(manifest.published.map((p) => [p.routingKey, p]));
    expect(manifest.received.filter((r) => r.how === "deliver").length).toBe(manifest.published.filter((p) => p.outcome === "delivered").length);
    for (const m of manifest.received) {
      const p = byKey.get(m.routingKey)!;
      expect(p.properties.messageId ?? null).toBe(m.messageId);
      if (m.how === "deliver") {
        const row = find(rows, (r) => r.request_type === "Basic.Deliver" && r.request_resource === m.routingKey);
        expect(row.type).toBe(TYPE_RESPONSE);
        expect(attr(row, "consumer_tag")).toBe(m.consumerTag);
        expect(attr(row, "delivery_tag")).toBe(String(m.deliveryTag));
        checkMessage(row, p, "1");
      } else {
        const row = find(rows, (r) => r.request_type === "Basic.Get" && r.response_result === "Basic.GetOk");
        expect(row.response_status).toBe(STATUS_OK);
        expect(row.response_duration).toBeGreaterThan(0);
        checkMessage(row, p, "1");
      }
    }
  });

  it("basic.get on an empty queue pairs with Get-Empty", () => {
    const { manifest, rows } = get();
    expect(manifest.getEmpty).toBe(1);
    expect(rows.filter((r) => r.request_type === "Basic.Get" && r.response_result === "Basic.GetEmpty")).toHaveLength(1);
  });

  it("a body spanning several frames", () => {
    const { manifest, rows } = get();
    const large = manifest.published.filter((p) => p.bodySize > 2 * manifest.frameMax);
    expect(large).toHaveLength(1);
    const sizes = rows.filter((r) => r.request_resource === large[0].routingKey && attr(r, "body_size") !== null);
    expect(sizes.map((r) => [r.request_type, attr(r, "body_size")]).sort()).toEqual(
      [["Basic.Deliver", String(large[0].bodySize)], ["Basic.Publish", String(large[0].bodySize)]]);
  });

  it("an unroutable mandatory publish comes back as Basic.Return 312 with its ids", () => {
    const { manifest, rows } = get();
    expect(manifest.returned).toHaveLength(1);
    const back = manifest.returned[0];
    const row = find(rows, (r) => r.request_type === "Basic.Return");
    expect([row.response_code, row.response_status, row.response_exception]).toEqual([back.code, STATUS_CLIENT_ERROR, back.text]);
    expect(attr(row, "message_id")).toBe(back.messageId);
  });

  it("a publish to a missing exchange: the broker's Channel.Close 404 with its text", () => {
    const { manifest, rows } = get();
    expect(manifest.channelClose.code).toBe(404);
    const row = find(rows, (r) => r.response_result === "Channel.Close" && r.response_code === 404);
    expect(row.response_status).toBe(STATUS_CLIENT_ERROR);
    expect(row.response_exception).toBe(manifest.channelClose.text);
    expect(attr(row, "failed_method")).toBe("Basic.Publish");
  });

  it("publisher confirms: Confirm.Select pairs, the broker acks", () => {
    const { manifest, rows } = get();
    expect(rows.filter((r) => r.request_type === "Confirm.Select" && r.response_result === "Confirm.SelectOk")).toHaveLength(1);
    expect(rows.filter((r) => r.request_type === "Basic.Ack" && r.type === TYPE_RESPONSE)).toHaveLength(manifest.confirms);
  });

  it("heartbeats both ways", () => {
    const { rows } = get();
    expect(rows.filter((r) => r.request_type === "Heartbeat" && r.type === TYPE_REQUEST).length).toBeGreaterThan(0);
    expect(rows.filter((r) => r.request_type === "Heartbeat" && r.type === TYPE_RESPONSE).length).toBeGreaterThan(0);
  });

  it("synchronous requests pair with their replies and nothing times out", () => {
    const { rows, summary } = get();
    expect(summary.sessions.timedOut).toBe(0);
    const pairs = rows.filter((r) => r.response_result && r.response_result !== r.request_type);
    expect(pairs.length).toBeGreaterThan(20);
    for (const r of pairs) expect(r.response_duration, r.request_type).toBeGreaterThan(0);
  });

  it("invents no id, whole frames or payloads cut at 1024 bytes", () => {
    const { manifest, rows, cutRows } = get();
    const all = manifest.published.map(expectedIds);
    const known = {
      message: new Set(all.map((x) => x.messageId).filter(Boolean)),
      trace: new Set(all.map((x) => x.traceId).filter(Boolean)),
      span: new Set(all.map((x) => x.spanId).filter(Boolean)),
      parent: new Set(all.map((x) => x.parentSpanId).filter(Boolean)),
      request: new Set(all.map((x) => x.requestId).filter(Boolean)),
    };
    let seen = 0;
    for (const r of [...rows, ...cutRows]) {
      const message = attr(r, "message_id");
      if (message !== null) expect(known.message).toContain(message);
      for (const t of r.trace_ids) expect(known.trace).toContain(t);
      if (r.span_id) expect(known.span).toContain(r.span_id);
      if (r.parent_span_id) expect(known.parent).toContain(r.parent_span_id);
      for (const x of [r.x_request_id_0, r.x_request_id_1]) if (x) expect(known.request).toContain(x);
      if (message !== null) seen++;
    }
    expect(seen).toBeGreaterThan(10);
    // Cut payloads still give the small messages whole.
    const small = manifest.published.filter((p) => p.bodySize < 100 && p.properties.messageId);
    for (const p of small) {
      expect(cutRows.some((r) => attr(r, "message_id") === p.properties.messageId), String(p.properties.messageId)).toBe(true);
    }
  });
}

describe("committed capture: tests/fixtures/amqp/rabbitmq.pcap", () => {
  let data: Replayed;
  beforeAll(async () => {
    const manifest = JSON.parse(readFileSync(join(FIXTURES, "rabbitmq.json"), "utf8")) as Manifest;
    data = await replay(join(FIXTURES, "rabbitmq.pcap"), manifest);
  }, 120_000);
  defineChecks(() => data);
});

function liveMissing(): string | null {
  const broker = brokerMissing();
  if (broker) return broker;
  try {
    execFileSync("which", ["tcpdump"], { stdio: "pipe" });
  } catch {
    return "tcpdump is not installed";
  }
  if (process.getuid && process.getuid() !== 0) return "capturing on lo needs root";
  return null;
}

describe.runIf(canRun("live RabbitMQ test", liveMissing()))("live: amqplib against a rabbitmq-server started here", () => {
  let data: Replayed;
  let dir = "";
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "amqp-live-"));
    const manifest = await runScenario("rabbitmq", dir);
    data = await replay(join(dir, "rabbitmq.pcap"), manifest);
  }, 150_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  defineChecks(() => data);
});
