// Soak: thousands of distinct agents against `serve`'s bounded state. Each agent sends its agent info,
// metadata and two transactions (one complete, one chunk whose span never comes), as the Pinpoint
// agent does, then goes silent. The tracked state must stay under the configured bounds, memory with
// it, and after an idle period past the TTLs the state must be gone, its pending trees emitted.
//  - 20,000 agents in process, through Pipeline.request (what `serve` calls for every gRPC request),
//    with a test clock so that "idle" is exact;
//  - 2,000 agents over real gRPC on loopback with the agent's own generated clients and a real clock.
import { createRequire } from "node:module";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AssemblerLimits } from "../../converter/assembler.ts";
import type { OtelSpan } from "../../converter/otel-span.ts";
import { Pipeline, type PipelineStats } from "../../converter/pipeline.ts";
import { PinpointCollector, type ReceivedRequest } from "../../converter/serve.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- the agent's generated classes are untyped */
const require = createRequire(import.meta.url);
// The agent's own generated code: messages encoded, and calls made, as a real agent does.
const services: any = require("pinpoint-node-agent/lib/data/grpc/Service_grpc_pb");
const spanPb: any = require("pinpoint-node-agent/lib/data/grpc/Span_pb");
const statPb: any = require("pinpoint-node-agent/lib/data/grpc/Stat_pb");

const START = 1_700_000_000_000;
const APIS = 3;

/** Forced GC: vitest's forks are not started with --expose-gc, V8 can still be asked for it. */
function findGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
}
const gc = findGc();
const heapMb = (): number => {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

/** One agent's requests (path, bytes); its identity travels in the headers, as with a real agent. */
function agentMessages(agentId: string): { path: string; data: Buffer; message: any }[] {
  const info = new statPb.PAgentInfo();
  info.setHostname(`host-${agentId}`);
  info.setIp("10.0.0.1");
  info.setPid(4242);
  info.setServicetype(1400);
  info.setAgentversion("0.8.7");
  info.setVmversion("v20.0.0");
  const out: { path: string; data: Buffer; message: any }[] = [{ path: "/v1.Agent/RequestAgentInfo", message: info, data: Buffer.alloc(0) }];
  for (let id = 1; id <= APIS; id++) {
    const m = new spanPb.PApiMetaData();
    m.setApiid(id);
    m.setApiinfo(`com.example.${agentId.replace(/-/g, "_")}.Service${id}.handle(java.lang.String request, int attempt)`);
    m.setLine(10 * id);
    out.push({ path: "/v1.Metadata/RequestApiMetaData", message: m, data: Buffer.alloc(0) });
  }
  const sql = new spanPb.PSqlMetaData();
  sql.setSqlid(1);
  sql.setSql(`SELECT * FROM orders_${agentId.length} WHERE id = ?`);
  out.push({ path: "/v1.Metadata/RequestSqlMetaData", message: sql, data: Buffer.alloc(0) });
  const str = new spanPb.PStringMetaData();
  str.setStringid(1);
  str.setStringvalue("java.lang.IllegalStateException");
  out.push({ path: "/v1.Metadata/RequestStringMetaData", message: str, data: Buffer.alloc(0) });
  // 64-bit fields are strings in the agent's generated code (jstype = JS_STRING).
  const txId = (sequence: number): any => {
    const t = new spanPb.PTransactionId();
    t.setAgentid(agentId);
    t.setAgentstarttime(String(START));
    t.setSequence(String(sequence));
    return t;
  };
  const event = (sequence: number, apiId: number): any => {
    const e = new spanPb.PSpanEvent();
    e.setSequence(sequence);
    e.setDepth(1);
    e.setStartelapsed(1);
    e.setEndelapsed(2);
    e.setServicetype(1011);
    e.setApiid(apiId);
    return e;
  };
  // Transaction 1 is complete; transaction 2 is a chunk whose span never comes: pending until dropped.
  const s = new spanPb.PSpan();
  s.setVersion(1);
  s.setTransactionid(txId(1));
  s.setSpanid("101");
  s.setParentspanid("-1");
  s.setStarttime(String(START + 1000));
  s.setElapsed(10);
  s.setApiid(1);
  s.setServicetype(1400);
  s.setSpaneventList([event(0, 2), event(1, 3)]);
  const spanMsg = new spanPb.PSpanMessage();
  spanMsg.setSpan(s);
  out.push({ path: "/v1.Span/SendSpan", message: spanMsg, data: Buffer.alloc(0) });
  const c = new spanPb.PSpanChunk();
  c.setVersion(1);
  c.setTransactionid(txId(2));
  c.setSpanid("102");
  c.setKeytime(String(START + 2000));
  c.setSpaneventList([event(0, 2)]);
  const chunkMsg = new spanPb.PSpanMessage();
  chunkMsg.setSpanchunk(c);
  out.push({ path: "/v1.Span/SendSpan", message: chunkMsg, data: Buffer.alloc(0) });
  for (const m of out) m.data = Buffer.from(m.message.serializeBinary());
  return out;
}

interface Counted {
  roots: number;
  orphanEvents: number;
  spans: number;
}

function counter(): { counted: Counted; observe: (spans: OtelSpan[]) => void } {
  // Counts only: holding the spans would be the test's own memory growth.
  const counted: Counted = { roots: 0, orphanEvents: 0, spans: 0 };
  return {
    counted,
    observe: (spans) => {
      counted.spans += spans.length;
      for (const s of spans) {
        if (s.attributes["pinpoint.sequence"] === undefined) counted.roots++;
        else if (s.attributes["pinpoint.span_missing"]) counted.orphanEvents++;
      }
    },
  };
}

type Peaks = Pick<PipelineStats, "agents" | "metadataEntries" | "transactions" | "backlogSpans">;

function track(peaks: Peaks, s: PipelineStats): void {
  peaks.agents = Math.max(peaks.agents, s.agents);
  peaks.metadataEntries = Math.max(peaks.metadataEntries, s.metadataEntries);
  peaks.transactions = Math.max(peaks.transactions, s.transactions);
  peaks.backlogSpans = Math.max(peaks.backlogSpans, s.backlogSpans);
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function report(name: string, figures: Record<string, unknown>): void {
  console.log(`${name}: ${JSON.stringify(figures)}`);
}

describe("soak: 20,000 agents through the pipeline entry point", () => {
  const AGENTS = 20_000;
  const limits: Partial<AssemblerLimits> = { maxAgents: 1000, maxMetadataEntries: 5000, maxMetadataPerCache: 2, maxTransactions: 1500, agentTtlMs: 60_000, transactionTtlMs: 30_000 };
  let pipeline: Pipeline | undefined;

  afterAll(async () => {
    await pipeline?.close();
  });

  it("stays under the bounds and the heap bound, and after idle drops everything, emitting every pending tree", async () => {
    let now = START;
    const { counted, observe } = counter();
    pipeline = new Pipeline([], undefined, observe, () => now, { limits, sweepMs: 25 });
    const before = heapMb();
    const peaks: Peaks = { agents: 0, metadataEntries: 0, transactions: 0, backlogSpans: 0 };
    let peakHeap = before;
    const t0 = Date.now();
    for (let i = 0; i < AGENTS; i++) {
      const header = { agentId: `agent-${i}`, applicationName: `app-${i % 50}`, agentStartTime: START };
      for (const m of agentMessages(header.agentId)) pipeline.request(m.path, header, m.data);
      now += 1; // one agent a millisecond: 20 s of clock, within the TTLs
      if (i % 500 === 499) {
        track(peaks, pipeline.stats());
        // serve flushes every second or so; the backlog of dropped pending trees goes out there.
        await pipeline.flush({ idleMs: 1_000_000 });
        if (i % 5000 === 4999) peakHeap = Math.max(peakHeap, heapMb());
      }
    }
    const loadMs = Date.now() - t0;
    const loaded = pipeline.stats();
    track(peaks, loaded);
    const afterLoad = heapMb();

    now += 60_001; // idle past both TTLs: the timer sweeps
    await until(() => pipeline?.stats().agents === 0 && pipeline.stats().transactions === 0, 10_000, "the sweep timer to drop the expired state");
    await pipeline.flush(); // nothing left to flush: every tree came out through the bounds
    const idle = pipeline.stats();
    const afterIdle = heapMb();
    report("in-process", { agents: AGENTS, loadMs, peaks, loaded, idle, counted, heapMb: { before, peak: peakHeap, afterLoad, afterIdle }, gc: !!gc });

    expect(pipeline.ingestStats).toMatchObject({ messages: AGENTS * (APIS + 5), malformed: 0, unknownAgent: 0 });
    expect(peaks.agents).toBeLessThanOrEqual(1000);
    expect(peaks.metadataEntries).toBeLessThanOrEqual(5000);
    expect(peaks.transactions).toBeLessThanOrEqual(1500);
    expect(loaded.agentsEvicted).toBeGreaterThanOrEqual(AGENTS - 1000);
    expect(loaded.metadataEvicted).toBe(AGENTS * (APIS - 2));
    expect(loaded.transactionsEvicted).toBe(2 * AGENTS - loaded.transactions);
    expect(idle).toMatchObject({ agents: 0, metadataEntries: 0, transactions: 0, backlogSpans: 0, agentsExpired: AGENTS - loaded.agentsEvicted });
    // Nothing silently dropped: every transaction came out once, its chunk events as span_missing.
    expect(idle.pendingEvicted + idle.pendingExpired).toBe(2 * AGENTS);
    expect(counted).toEqual({ roots: AGENTS, orphanEvents: AGENTS, spans: AGENTS * 4 });
    // With every limit at Infinity the same 20,000 agents peak at about +128 MB of heap (Node 20).
    expect(peakHeap - before).toBeLessThan(gc ? 40 : 150);
    expect(afterIdle - before).toBeLessThan(gc ? 5 : 100);
  }, 45_000);
});

describe("soak: 2,000 agents over real gRPC", () => {
  const AGENTS = 2000;
  const CONCURRENCY = 64;
  const limits: Partial<AssemblerLimits> = { maxAgents: 500, maxMetadataEntries: 1600, maxMetadataPerCache: 2, maxTransactions: 600, agentTtlMs: 1000, transactionTtlMs: 1000 };
  let collector: PinpointCollector;
  let pipeline: Pipeline;
  const clients: grpc.Client[] = [];
  const { counted, observe } = counter();

  beforeAll(async () => {
    pipeline = new Pipeline([], undefined, observe, undefined, { limits, sweepMs: 100 });
    collector = new PinpointCollector({ agentPort: 0, statPort: 0, spanPort: 0 });
    collector.on("request", (r: ReceivedRequest) => pipeline.request(r.path, r.header, r.data));
    await collector.start();
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await collector?.stop();
    await pipeline?.close();
  });

  function call(client: any, method: string, message: any, md: grpc.Metadata): Promise<void> {
    return new Promise((resolve, reject) => client[method](message, md, { deadline: Date.now() + 10_000 }, (err: Error | null) => (err ? reject(err) : resolve())));
  }

  async function sendAgent(i: number, agentClient: any, metadataClient: any, spanClient: any): Promise<void> {
    const agentId = `grpc-agent-${i}`;
    const md = new grpc.Metadata();
    md.set("agentid", agentId);
    md.set("applicationname", `app-${i % 20}`);
    md.set("starttime", String(START));
    const messages = agentMessages(agentId);
    await call(agentClient, "requestAgentInfo", messages[0].message, md);
    const methods: Record<string, string> = {
      "/v1.Metadata/RequestApiMetaData": "requestApiMetaData",
      "/v1.Metadata/RequestSqlMetaData": "requestSqlMetaData",
      "/v1.Metadata/RequestStringMetaData": "requestStringMetaData",
    };
    await Promise.all(messages.filter((m) => methods[m.path]).map((m) => call(metadataClient, methods[m.path], m.message, md)));
    await new Promise<void>((resolve, reject) => {
      const stream = spanClient.sendSpan(md, { deadline: Date.now() + 10_000 }, (err: Error | null) => (err ? reject(err) : resolve()));
      for (const m of messages.filter((x) => x.path === "/v1.Span/SendSpan")) stream.write(m.message);
      stream.end();
    });
  }

  it("stays under the bounds over the wire, and after idle holds nothing and has emitted every tree", async () => {
    const target = `127.0.0.1:${collector.ports.agent}`;
    const agentClient = new services.AgentClient(target, grpc.credentials.createInsecure());
    const metadataClient = new services.MetadataClient(target, grpc.credentials.createInsecure());
    const spanClient = new services.SpanClient(`127.0.0.1:${collector.ports.span}`, grpc.credentials.createInsecure());
    clients.push(agentClient, metadataClient, spanClient);
    await sendAgent(-1, agentClient, metadataClient, spanClient); // warm up: code loaded, connections open
    await until(() => pipeline.stats().agents === 0 && pipeline.stats().transactions === 0, 10_000, "the warm-up agent to expire");
    const base = { ...counted };
    const before = heapMb();
    const peaks: Peaks = { agents: 0, metadataEntries: 0, transactions: 0, backlogSpans: 0 };
    const sampler = setInterval(() => track(peaks, pipeline.stats()), 10);
    const t0 = Date.now();
    let next = 0;
    let peakHeap = before;
    try {
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < AGENTS) {
            const i = next++;
            await sendAgent(i, agentClient, metadataClient, spanClient);
            if (i % 500 === 499) await pipeline.flush({ idleMs: 1_000_000 }); // drain the backlog, as serve's flush timer does
          }
        }),
      );
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed / 2 ** 20);
    } finally {
      clearInterval(sampler);
    }
    const loadMs = Date.now() - t0;
    const loaded = pipeline.stats();
    track(peaks, loaded);
    const afterLoad = heapMb();
    await until(() => pipeline.stats().agents === 0 && pipeline.stats().transactions === 0, 15_000, "the TTLs to drop every agent and transaction");
    await pipeline.flush();
    const idle = pipeline.stats();
    const afterIdle = heapMb();
    const roots = counted.roots - base.roots;
    const orphanEvents = counted.orphanEvents - base.orphanEvents;
    report("gRPC", { agents: AGENTS, loadMs, peaks, loaded, idle, roots, orphanEvents, requests: collector.stats.requests, heapMb: { before, peakNoGc: peakHeap, afterLoad, afterIdle }, gc: !!gc });

    expect(collector.stats.requests).toBe((AGENTS + 1) * (APIS + 5));
    expect(pipeline.ingestStats).toMatchObject({ messages: (AGENTS + 1) * (APIS + 5), malformed: 0, unknownAgent: 0 });
    expect(peaks.agents).toBeLessThanOrEqual(500);
    expect(peaks.metadataEntries).toBeLessThanOrEqual(1600);
    expect(peaks.transactions).toBeLessThanOrEqual(600);
    expect(idle.agentsEvicted + idle.agentsExpired).toBe(AGENTS + 1);
    expect(idle.pendingEvicted + idle.pendingExpired).toBe(2 * (AGENTS + 1));
    expect(idle).toMatchObject({ agents: 0, metadataEntries: 0, transactions: 0, backlogSpans: 0 });
    expect(roots).toBe(AGENTS);
    expect(orphanEvents).toBe(AGENTS);
    expect(afterLoad - before).toBeLessThan(gc ? 30 : 150);
    expect(afterIdle - before).toBeLessThan(gc ? 8 : 100);
  }, 50_000);
});
