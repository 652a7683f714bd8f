// Content across frames and segments, from a real broker: amqplib against rabbitmq-server
// with frame_max 4096 and 131072, on a network of MTU 1500 (every frame longer than 1448
// bytes in several TCP segments): bodies of several body frames, content headers whose
// headers table spans segments (its ids in the last ones), both at once, basic.get of one.
// The committed capture (fixtures/large.pcap.gz, made by fixtures/generate-large.ts) always,
// and a fresh one when rabbitmq-server, tcpdump, unshare, ip, ethtool and root are there.
// Whole segments: every message's rows carry its ids; payloads the agent cut at 1024 bytes:
// rows with what was seen, never an id of another message or made of other bytes.
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { replayCapture } from "../../../sdk/replay.ts";
import type { FlowLogRow } from "../../../sdk/row.ts";
import { tcpSegments } from "../../../tests/support/capture.ts";
import { canRun } from "../../../tests/support/tools.ts";
import { FRAME_MAX, generateLarge, largeTrafficMissing, type LargeManifest, type LargeMessage } from "./fixtures/generate-large.ts";
import { ensureBuilt } from "./session.ts";

const FIXTURES = join(import.meta.dirname, "fixtures");

interface Replayed {
  manifest: LargeManifest;
  pcap: string;
  /** Whole segments (no payload is longer than 1448 bytes). */
  rows: FlowLogRow[];
  /** The agent's default payload truncation, 1024 bytes. */
  cutRows: FlowLogRow[];
}

async function replay(pcap: string, manifest: LargeManifest): Promise<Replayed> {
  const plugins = [ensureBuilt()];
  const rows: FlowLogRow[] = [];
  const cutRows: FlowLogRow[] = [];
  await replayCapture({ capture: pcap, plugins, payloadTruncation: 65535, onRow: (r) => rows.push(r) });
  await replayCapture({ capture: pcap, plugins, onRow: (r) => cutRows.push(r) });
  return { manifest, pcap, rows, cutRows };
}

const attr = (row: FlowLogRow, name: string) => {
  const i = row.attribute_names.indexOf(name);
  return i < 0 ? null : row.attribute_values[i]!;
};

/** The ids a message's rows must show, worked out from what the client set. */
function expected(m: LargeMessage) {
  const h = m.idHeaders;
  let traceId = h["Pinpoint-TraceID"] ?? null;
  let spanId = h["Pinpoint-SpanID"] ?? null;
  if (h.traceparent) [, traceId, spanId] = h.traceparent.split("-") as [string, string, string];
  return {
    message_id: m.properties.messageId,
    correlation_id: m.properties.correlationId,
    app_id: m.properties.appId,
    body_size: String(m.bodySize),
    trace_id: traceId,
    span_id: spanId,
    parent_span_id: h["Pinpoint-pSpanID"] ?? null,
    x_request_id: h.RequestID ?? m.properties.messageId,
  };
}

/** What a row shows of those ids (null: not there). */
function shown(row: FlowLogRow) {
  return {
    message_id: attr(row, "message_id"),
    correlation_id: attr(row, "correlation_id"),
    app_id: attr(row, "app_id"),
    body_size: attr(row, "body_size"),
    trace_id: row.trace_ids[0] ?? null,
    span_id: row.span_id || null,
    parent_span_id: row.parent_span_id || null,
    x_request_id: row.x_request_id_0 || row.x_request_id_1 || null,
  };
}

/** The message a row is about, by exchange and routing key (null: a row of no message). */
function messageOf(manifest: LargeManifest, row: FlowLogRow): LargeMessage | null {
  const [exchange, key] = row.request_type === "Basic.Get"
    ? [attr(row, "exchange"), attr(row, "routing_key")]
    : [row.request_domain, row.request_resource];
  return manifest.messages.find((m) => m.exchange === exchange && m.routingKey === key) ?? null;
}

/**
 * `segmentsKnown`: the committed capture, where each Publish starts a segment. In a fresh
 * capture the client's writes may coalesce so that a small message's Publish lies past byte
 * 1024 of a segment, where the agent's cut takes it away: only "never wrong" holds there.
 */
function defineChecks(get: () => Replayed, segmentsKnown: boolean) {
  it("has content across frames and segments with frame_max 4096 and 131072", () => {
    const { manifest, pcap } = get();
    expect(manifest.maxSegment).toBeLessThanOrEqual(1448);
    expect(Math.max(...tcpSegments(pcap).map((s) => s.payload.length))).toBe(1448);
    for (const frameMax of FRAME_MAX) {
      const ms = manifest.messages.filter((m) => m.frameMax === frameMax);
      expect(ms.map((m) => m.label)).toEqual(["body", "headers", "both", "small", "polled"]);
      // Bodies of several body frames; headers tables of several segments (the largest 48 KB, over 33 segments).
      expect(ms.filter((m) => m.bodySize > frameMax).map((m) => m.label)).toEqual(["body", "both"]);
      expect(ms.filter((m) => m.headersSize > 2 * 1448).map((m) => m.label)).toEqual(["headers", "both", "polled"]);
      if (frameMax === 131072) expect(Math.min(...ms.filter((m) => m.headersSize > 1448).map((m) => m.headersSize))).toBeGreaterThan(33 * 1448);
      for (const m of ms) expect(m.receivedId).toBe(m.properties.messageId);
    }
  });

  it("replays without a failed call", async () => {
    const { pcap } = get();
    for (const payloadTruncation of [65535, 1024]) {
      const s = await replayCapture({ capture: pcap, plugins: [ensureBuilt()], payloadTruncation });
      for (const p of s.plugins) for (const h of Object.values(p.hooks)) expect(h.failures).toBe(0);
      expect(s.flows.claimed).toBe(4);
    }
  });

  it("whole segments: each message's Publish and Deliver (or Get-Ok) row carries all its ids", () => {
    const { manifest, rows } = get();
    for (const m of manifest.messages) {
      const mine = rows.filter((r) => messageOf(manifest, r) === m);
      const types = mine.map((r) => r.request_type).sort();
      expect(types, m.routingKey).toEqual(m.how === "get" ? ["Basic.Get", "Basic.Publish"] : ["Basic.Deliver", "Basic.Publish"]);
      for (const r of mine) expect(shown(r), `${m.frameMax} ${m.label} ${r.request_type}`).toEqual(expected(m));
    }
    // No other row shows an id.
    expect(rows.filter((r) => attr(r, "message_id") !== null)).toHaveLength(2 * manifest.messages.length);
  });

  it("payloads cut at 1024 bytes: rows with what was seen, never an id of another message", () => {
    const { manifest, cutRows } = get();
    let withIds = 0;
    for (const r of cutRows) {
      const got = Object.entries(shown(r)).filter(([, v]) => v !== null);
      if (got.length === 0 || (got.length === 1 && got[0]![0] === "body_size")) continue;
      withIds++;
      // A content header whose method frame was cut away has no routing key: its ids must all be one message's.
      const m = messageOf(manifest, r);
      const candidates = m ? [m] : manifest.messages;
      const fits = candidates.filter((c) => got.every(([k, v]) => expected(c)[k as keyof ReturnType<typeof expected>] === v));
      expect(fits.length, `${r.request_type} ${r.request_domain} ${r.request_resource}: ${JSON.stringify(got)}`).toBeGreaterThan(0);
    }
    // Messages whose method and content header fit the cut come whole, large bodies or not;
    // the others' ids sit past the cut, at the end of their headers table.
    const whole = manifest.messages.filter((m) => m.headersSize < 512);
    expect(whole.map((m) => m.label)).toEqual(["body", "small", "body", "small"]);
    for (const m of whole) {
      const mine = cutRows.filter((r) => messageOf(manifest, r) === m);
      if (segmentsKnown) expect(mine.map((r) => r.request_type).sort()).toEqual(["Basic.Deliver", "Basic.Publish"]);
      for (const r of mine) expect(shown(r)).toEqual(expected(m));
    }
    if (segmentsKnown) expect(withIds).toBe(2 * whole.length);
  });
}

describe("committed capture: fixtures/large.pcap.gz", () => {
  let data: Replayed;
  beforeAll(async () => {
    const manifest = JSON.parse(readFileSync(join(FIXTURES, "large.json"), "utf8")) as LargeManifest;
    data = await replay(join(FIXTURES, "large.pcap.gz"), manifest);
  }, 120_000);
  defineChecks(() => data, true);
});

describe.runIf(canRun("live large-content RabbitMQ test", largeTrafficMissing()))("live: a fresh capture from a rabbitmq-server started here", () => {
  let data: Replayed;
  let dir = "";
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "amqp-large-"));
    const manifest = await generateLarge(dir);
    data = await replay(join(dir, "large.pcap.gz"), manifest);
  }, 150_000);
  let failed = false;
  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") failed = true;
  });
  afterAll(() => {
    if (!dir) return;
    // A fresh capture that fails is the evidence: kept (build/ is not committed), and named.
    if (failed) {
      const kept = join(import.meta.dirname, "..", "..", "..", "build", "failed-captures", basename(dir));
      cpSync(dir, kept, { recursive: true });
      console.error(`live large-content capture kept for a look: ${kept} (large.pcap.gz, large.json)`);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  defineChecks(() => data, false);
});
