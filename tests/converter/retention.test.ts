// Bounds on the assembler's state (agents, metadata, transaction trees): LRU caps, TTLs swept by a
// timer, counters, and what later data of a dropped agent or transaction turns into.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, MAX_AGENTS, TraceAssembler } from "../../converter/assembler.ts";
import type { AgentHeader, PSpanMsg } from "../../converter/messages.ts";
import type { OtelSpan } from "../../converter/otel-span.ts";
import { Pipeline } from "../../converter/pipeline.ts";
import { PApiMetaData, PSpanMessage, PStatMessage } from "../../converter/schema.ts";

const agent = (n: number): AgentHeader => ({ agentId: `agent-${n}`, applicationName: "app", agentStartTime: 1_700_000_000_000 });

function span(n: number, sequence: number, apiId = 0, fields: PSpanMsg = {}): PSpanMsg {
  return { version: 1, transactionId: { agentId: `agent-${n}`, agentStartTime: 1_700_000_000_000, sequence }, spanId: 1000 + sequence, parentSpanId: -1, startTime: 5000, elapsed: 3, apiId, serviceType: 1010, ...fields };
}

const api = (apiId: number) => ({ apiId, apiInfo: `com.example.Api${apiId}.call(int)` });
const roots = (spans: OtelSpan[]): OtelSpan[] => spans.filter((s) => s.attributes["pinpoint.sequence"] === undefined);

describe("agent state bounds", () => {
  it("keeps at most maxAgents, dropping the one heard from least recently, and counts it", () => {
    const a = new TraceAssembler(() => 0, { maxAgents: 3 });
    for (const n of [1, 2, 3]) a.addApiMetaData(agent(n), api(7));
    a.addApiMetaData(agent(1), api(8)); // agent 1 is now the most recent: agent 2 goes next
    a.addApiMetaData(agent(4), api(7));
    expect(a.retention()).toMatchObject({ agents: 3, metadataEntries: 4, agentsEvicted: 1 });
    a.addSpan(agent(1), span(1, 1, 8));
    a.addSpan(agent(2), span(2, 1, 7));
    const out = roots(a.flush());
    expect(out.find((s) => s.resource.attributes["pinpoint.agentId"] === "agent-1")?.name).toBe("com.example.Api8.call");
    // Agent 2's metadata went with it: its later span converts, unnamed, instead of failing.
    const orphan = out.find((s) => s.resource.attributes["pinpoint.agentId"] === "agent-2") as OtelSpan;
    expect(orphan.name).toBe("api#7");
    expect(orphan.attributes["pinpoint.unresolved"]).toBe(true);
    expect(a.retention().agentsEvicted).toBe(2); // agent 2 came back as a 4th agent: agent 3 went
  });

  it("caps each metadata cache of an agent, oldest entry first; a re-sent entry counts as new", () => {
    const a = new TraceAssembler(() => 0, { maxMetadataPerCache: 2 });
    a.addApiMetaData(agent(1), api(1));
    a.addApiMetaData(agent(1), api(2));
    a.addApiMetaData(agent(1), api(1)); // re-sent: api 2 is now the oldest
    a.addApiMetaData(agent(1), api(3));
    a.addStringMetaData(agent(1), { stringId: 1, stringValue: "java.lang.IllegalStateException" });
    expect(a.retention()).toMatchObject({ agents: 1, metadataEntries: 3, metadataEvicted: 1 });
    for (const [seq, id] of [[1, 1], [2, 2], [3, 3]]) a.addSpan(agent(1), span(1, seq, id));
    const names = roots(a.flush()).map((s) => s.name).sort();
    expect(names).toEqual(["api#2", "com.example.Api1.call", "com.example.Api3.call"]);
  });

  it("keeps all agents' metadata under maxMetadataEntries by dropping whole agents, never the one writing", () => {
    const a = new TraceAssembler(() => 0, { maxMetadataEntries: 5 });
    for (let id = 1; id <= 3; id++) a.addApiMetaData(agent(1), api(id));
    for (let id = 1; id <= 2; id++) a.addApiMetaData(agent(2), api(id));
    expect(a.retention()).toMatchObject({ agents: 2, metadataEntries: 5, agentsEvicted: 0 });
    a.addApiMetaData(agent(2), api(3));
    expect(a.retention()).toMatchObject({ agents: 1, metadataEntries: 3, agentsEvicted: 1 });
    for (let id = 4; id <= 9; id++) a.addApiMetaData(agent(2), api(id)); // alone, it is never dropped
    expect(a.retention()).toMatchObject({ agents: 1, metadataEntries: 9, agentsEvicted: 1 });
  });

  it("expires agents silent for agentTtlMs; stats and pings through the pipeline keep an agent alive", async () => {
    let now = 0;
    const p = new Pipeline([], undefined, undefined, () => now, { limits: { agentTtlMs: 1000 }, sweepMs: 0 });
    const apiBytes = PApiMetaData.encode(PApiMetaData.fromObject(api(5))).finish();
    p.request("/v1.Metadata/RequestApiMetaData", agent(1), apiBytes);
    p.request("/v1.Metadata/RequestApiMetaData", agent(2), apiBytes);
    now = 800;
    p.request("/v1.Stat/SendAgentStat", agent(1), PStatMessage.encode(PStatMessage.fromObject({})).finish());
    p.request("/v1.Stat/SendAgentStat", agent(3), PStatMessage.encode(PStatMessage.fromObject({})).finish()); // unknown: not created
    now = 1500;
    await p.sweep();
    expect(p.stats()).toMatchObject({ agents: 1, metadataEntries: 1, agentsExpired: 1, sweeps: 1 });
    p.request("/v1.Span/SendSpan", agent(1), PSpanMessage.encode(PSpanMessage.fromObject({ span: span(1, 1, 5) })).finish());
    p.request("/v1.Span/SendSpan", agent(2), PSpanMessage.encode(PSpanMessage.fromObject({ span: span(2, 1, 5) })).finish());
    const names = roots(await p.flush()).map((s) => `${s.resource.attributes["pinpoint.agentId"]} ${s.name}`).sort();
    expect(names).toEqual(["agent-1 com.example.Api5.call", "agent-2 api#5"]);
    expect(p.report()).toContain("state: 2 agents, 1 metadata entries, 2 transactions; dropped over the bounds: 0 agents, 0 metadata entries, 0 transactions (0 pending, emitted); expired: 1 agents, 0 transactions (0 pending, emitted)");
    await p.close();
  });

  it("a transaction held across its agent's drop names its later spans from the agent's new metadata", () => {
    const a = new TraceAssembler(() => 0, { maxAgents: 1 });
    a.addApiMetaData(agent(1), api(1));
    a.addSpanChunk(agent(1), { version: 1, transactionId: span(1, 1).transactionId, spanId: 1001, keyTime: 5001, spanEvent: [{ sequence: 0, depth: 1, startElapsed: 0, endElapsed: 1, serviceType: 1011, apiId: 1 }] });
    a.addApiMetaData(agent(2), api(1)); // agent 1 dropped
    a.addApiMetaData(agent(1), { apiId: 1, apiInfo: "com.example.Again.call()" }); // it re-registers
    a.addSpan(agent(1), span(1, 1, 1));
    const out = a.flush();
    expect(out.map((s) => s.name).sort()).toEqual(["com.example.Again.call", "com.example.Again.call"]);
  });

  it("rejects a limit below 1", () => {
    expect(() => new TraceAssembler(Date.now, { maxAgents: 0 })).toThrow(/maxAgents/);
    expect(() => new TraceAssembler(Date.now, { transactionTtlMs: Number.NaN })).toThrow(/transactionTtlMs/);
    expect(DEFAULT_LIMITS.maxAgents).toBe(MAX_AGENTS);
  });
});

describe("transaction tree bounds", () => {
  it("over maxTransactions drops the least recently updated; a pending one is emitted first, as final", () => {
    const a = new TraceAssembler(() => 0, { maxTransactions: 2 });
    a.addSpan(agent(1), span(1, 1));
    expect(roots(a.flush())).toHaveLength(1); // tx 1 emitted, held for late data
    // tx 2: a chunk whose span is still to come, so pending.
    a.addSpanChunk(agent(1), { version: 1, transactionId: span(1, 2).transactionId, spanId: 1002, keyTime: 6000, spanEvent: [{ sequence: 0, depth: 1, endElapsed: 2, serviceType: 1011 }] });
    expect(a.flush()).toEqual([]);
    a.addSpan(agent(1), span(1, 3)); // drops tx 1 (emitted): nothing to emit
    expect(a.retention()).toMatchObject({ transactions: 2, pendingTransactions: 2, transactionsEvicted: 1, pendingEvicted: 0, backlogSpans: 0 });
    a.addSpan(agent(1), span(1, 4)); // drops tx 2 (pending): its event is emitted without its span
    expect(a.retention()).toMatchObject({ transactions: 2, transactionsEvicted: 2, pendingEvicted: 1, backlogSpans: 1 });
    const out = a.flush({ idleMs: 60_000 }); // nothing is idle: only the backlog comes out
    expect(out).toHaveLength(1);
    expect(out[0].attributes["pinpoint.span_missing"]).toBe(true);
    expect(out[0].transactionId).toBe("agent-1^1700000000000^2");
    expect(a.stats.emittedSpans).toBe(2);
  });

  it("transactions of agents with the same start time and sequence stay apart when found, evicted and made again", () => {
    const a = new TraceAssembler(() => 0, { maxTransactions: 3 });
    const chunk = (n: number) => a.addSpanChunk(agent(n), { version: 1, transactionId: span(n, 7).transactionId, spanId: 1007, keyTime: 6000, spanEvent: [{ sequence: 0, depth: 1, endElapsed: 2, serviceType: 1011 }] });
    for (const n of [1, 2, 3]) a.addSpan(agent(n), span(n, 7));
    expect(roots(a.flush())).toHaveLength(3);
    chunk(1); // found, not made again: now the most recent
    expect(a.retention()).toMatchObject({ transactions: 3, transactionsEvicted: 0 });
    a.addSpan(agent(4), span(4, 7)); // evicts agent 2's, the least recently updated
    chunk(1);
    chunk(3);
    expect(a.retention()).toMatchObject({ transactions: 3, transactionsEvicted: 1 });
    chunk(2); // made afresh, evicting agent 4's
    expect(a.retention()).toMatchObject({ transactions: 3, transactionsEvicted: 2 });
    chunk(1);
    chunk(2);
    chunk(3);
    expect(a.retention()).toMatchObject({ transactions: 3, transactionsEvicted: 2 });
    // Agent 4's span evicted pending, agents 1 and 3's late events; agent 2's new one waits for its span.
    expect(new Set(a.flush().map((s) => s.transactionId))).toEqual(new Set([1, 3, 4].map((n) => `agent-${n}^1700000000000^7`)));
  });

  it("sweep drops transactions quiet for transactionTtlMs, emitting the pending ones", () => {
    let now = 0;
    const a = new TraceAssembler(() => now, { transactionTtlMs: 1000 });
    a.addSpan(agent(1), span(1, 1));
    a.flush();
    a.addSpanChunk(agent(1), { version: 1, transactionId: span(1, 2).transactionId, spanId: 1002, keyTime: 6000, spanEvent: [{ sequence: 0, depth: 1, endElapsed: 2, serviceType: 1011 }] });
    now = 600;
    a.addSpan(agent(1), span(1, 3));
    now = 1200;
    const out = a.sweep();
    // tx 1 (emitted) goes silently, tx 2 (pending) is emitted, tx 3 (600 ms old) stays.
    expect(out.map((s) => [s.transactionId, s.attributes["pinpoint.span_missing"]])).toEqual([["agent-1^1700000000000^2", true]]);
    expect(a.retention()).toMatchObject({ transactions: 1, pendingTransactions: 1, transactionsExpired: 2, pendingExpired: 1 });
    now = 1700;
    expect(roots(a.sweep())).toHaveLength(1); // tx 3
    expect(a.retention()).toMatchObject({ agents: 1, transactions: 0, transactionsExpired: 3, pendingExpired: 2 });
  });
});

describe("the pipeline's sweep timer", () => {
  it("sweeps by itself into the sinks, and stops on close", async () => {
    let now = 0;
    const written: OtelSpan[] = [];
    const sink = { write: async (s: OtelSpan[]) => void written.push(...s), close: async () => undefined, report: () => "" };
    const p = new Pipeline([sink], undefined, undefined, () => now, { limits: { agentTtlMs: 100, transactionTtlMs: 100 }, sweepMs: 10 });
    p.request("/v1.Span/SendSpan", agent(1), PSpanMessage.encode(PSpanMessage.fromObject({ span: span(1, 1) })).finish());
    now = 1000;
    for (let i = 0; i < 200 && p.stats().transactions > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(p.stats()).toMatchObject({ agents: 0, transactions: 0, agentsExpired: 1, pendingExpired: 1 });
    expect(roots(written)).toHaveLength(1);
    await p.close();
    const sweeps = p.stats().sweeps;
    expect(sweeps).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 60));
    expect(p.stats().sweeps).toBe(sweeps);
  });

  it("counts a sweep whose sink fails, and keeps sweeping", async () => {
    let now = 0;
    const sink = { write: async () => Promise.reject(new Error("sink down")), close: async () => undefined, report: () => "" };
    const p = new Pipeline([sink], undefined, undefined, () => now, { limits: { transactionTtlMs: 100 }, sweepMs: 10 });
    p.request("/v1.Span/SendSpan", agent(1), PSpanMessage.encode(PSpanMessage.fromObject({ span: span(1, 1) })).finish());
    now = 1000;
    for (let i = 0; i < 200 && p.stats().sweepFailures === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const sweeps = p.stats().sweeps;
    for (let i = 0; i < 200 && p.stats().sweeps === sweeps; i++) await new Promise((r) => setTimeout(r, 10));
    expect(p.stats()).toMatchObject({ sweepFailures: 1, lastSweepError: "sink down", transactions: 0 });
    expect(p.stats().sweeps).toBeGreaterThan(sweeps);
    await p.close();
  });

  it("never keeps the process alive: a pipeline left open lets node exit", () => {
    const script = `import { Pipeline } from ${JSON.stringify(join(import.meta.dirname, "../../converter/pipeline.ts"))};
      new Pipeline([], undefined, undefined, undefined, { sweepMs: 50 }); console.log("made");`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 20_000 });
    expect(r.error).toBeUndefined();
    expect(r.signal).toBeNull();
    expect(r.stdout).toContain("made");
    expect(r.status).toBe(0);
  });
});
