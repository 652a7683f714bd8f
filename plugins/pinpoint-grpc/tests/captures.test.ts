// build/pinpoint-grpc.wasm replayed through the host simulator on real captures:
// pinpoint-node-agent traffic captured from the connection start and from its middle
// (checked against what the collector stand-in received), and DeepFlow's own HTTP/2
// captures, which are not Pinpoint traffic and must not be claimed.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DEEPFLOW_HTTP, FIXTURES, ensureBuilt, expectedSpans, received, replay, rowConsistent, rowMatches, type Row } from "./support.ts";

beforeAll(() => {
  ensureBuilt();
}, 120_000);

const spans = expectedSpans();
const appOfAgent = new Map(received.received.map((r) => [r.metadata.agentid, r.metadata.applicationname]));
const startOfAgent = new Map(received.received.map((r) => [r.metadata.agentid, r.metadata.starttime]));

/** Rows must never show values the agents did not send. */
function expectNothingWrong(rows: Row[]) {
  for (const row of rows) {
    if (row.trace_id || row.span_id) {
      const match = spans.filter((e) => rowConsistent(row, e));
      expect(match.length, `row ${row.trace_id} ${row.span_id} matches no received span`).toBeGreaterThan(0);
    }
    const agent = row.attrs.agent_id;
    if (agent !== undefined) {
      expect(appOfAgent.has(agent)).toBe(true);
      if (row.attrs.application_name !== undefined) expect(row.attrs.application_name).toBe(appOfAgent.get(agent));
      if (row.attrs.agent_start_time !== undefined) expect(row.attrs.agent_start_time).toBe(startOfAgent.get(agent));
    }
    if (row.request_domain) expect([...appOfAgent.values()]).toContain(row.request_domain);
    if (row.request_domain && agent !== undefined) expect(row.request_domain).toBe(appOfAgent.get(agent));
    if (row.request_resource) expect(received.received.map((r) => r.path)).toContain(row.request_resource);
    if (row.endpoint) expect(received.received.map((r) => r.path)).toContain("/" + row.endpoint);
    if (row.attrs.socket_id !== undefined) {
      // A response-only row (its request was cut away) names its call by endpoint only.
      const path = row.request_resource || "/" + row.endpoint;
      const sent = received.received.filter((r) => r.path === path && r.metadata.agentid === agent).map((r) => r.metadata.socketid);
      expect(sent).toContain(row.attrs.socket_id);
    }
  }
}

describe("pinpoint-node-agent traffic captured from the connection start", () => {
  let rows: Row[];
  beforeAll(async () => {
    const r = await replay(join(FIXTURES, "pinpoint-full.pcap"));
    rows = r.rows;
    expect(r.summary.flows.claimed).toBe(r.summary.flows.tcp);
    expect(r.summary.plugins[0].hooks.parse_payload.failures).toBe(0);
  });

  it("shows every span message the collector received, once, with its transaction id, span ids and application", () => {
    expect(spans.length).toBeGreaterThanOrEqual(21);
    for (const e of spans) {
      const found = rows.filter((row) => rowMatches(row, e));
      expect(found.length, `${e.kind} ${e.traceId} ${e.spanId}`).toBe(1);
      const row = found[0];
      expect(row.request_domain).toBe(e.applicationName);
      expect(row.attrs.agent_id).toBe(e.agentId);
      expect(row.request_type).toBe("SendSpan");
      expect(row.request_resource).toBe("/v1.Span/SendSpan");
      expect(row.endpoint).toBe("v1.Span/SendSpan");
      expect(row.attrs.hpack_state).toBeUndefined();
    }
    expect(rows.filter((r) => r.request_type === "SendSpan").length).toBe(spans.length);
  });

  it("every application name and agent the collector saw appears as request_domain / agent_id", () => {
    for (const [agent, app] of appOfAgent) {
      expect(rows.some((r) => r.request_domain === app && r.attrs.agent_id === agent && r.attrs.agent_start_time === startOfAgent.get(agent))).toBe(true);
    }
  });

  it("one record per gRPC message of each service, unary calls paired with their grpc-status", () => {
    const messages = received.received.filter((r) => r.message !== null);
    for (const path of new Set(messages.map((r) => r.path))) {
      const got = rows.filter((r) => r.request_resource === path).length;
      const want = messages.filter((r) => r.path === path).length;
      // Stats flushed after the capture stopped are not in it; everything else is.
      if (path === "/v1.Stat/SendAgentStat") expect(got).toBeLessThanOrEqual(want);
      else expect(got, path).toBe(want);
    }
    const unary = rows.filter((r) => r.request_type === "RequestAgentInfo" || r.request_type === "RequestApiMetaData");
    expect(unary.length).toBe(7);
    for (const r of unary) {
      expect(r.type).toBe(2); // request and response merged into a session
      expect(r.response_code).toBe(0);
      expect(r.response_status).toBe(0);
    }
    const api = unary.filter((r) => r.request_type === "RequestApiMetaData").map((r) => r.attrs.api_info).sort();
    expect(api).toEqual(["Asynchronous Invocation", "Asynchronous Invocation", "Node Server Process", "Node Server Process", "fixture.late.route"]);
  });

  it("shows nothing that was not sent", () => {
    expectNothingWrong(rows);
  });

  it("cut to smaller payload truncations (packets and reassembled streams): fewer or partial records, never wrong values", async () => {
    for (const mode of ["packet", "stream"] as const) {
      for (const cut of [64, 100, 150, 200, 256, 300, 512]) {
        for (const file of ["pinpoint-full.pcap", "pinpoint-midstream.pcap"]) {
          const r = await replay(join(FIXTURES, file), { payloadTruncation: cut, mode });
          expect(r.summary.plugins[0].hooks.parse_payload.failures).toBe(0);
          expectNothingWrong(r.rows);
        }
      }
    }
    const r = await replay(join(FIXTURES, "pinpoint-full.pcap"), { payloadTruncation: 200 });
    expect(r.rows.filter((x) => x.trace_id).length).toBeGreaterThan(spans.length / 2);
  });

  it("replayed as reassembled streams (eBPF-like): the same span records", async () => {
    const r = await replay(join(FIXTURES, "pinpoint-full.pcap"), { mode: "stream", payloadTruncation: 65535 });
    expectNothingWrong(r.rows);
    for (const e of spans) expect(r.rows.filter((row) => rowMatches(row, e)).length).toBe(1);
  });
});

describe("pinpoint-node-agent traffic captured from the middle of its connections", () => {
  let rows: Row[];
  const window = received.captures["pinpoint-midstream.pcap"];
  beforeAll(async () => {
    const r = await replay(join(FIXTURES, "pinpoint-midstream.pcap"));
    rows = r.rows;
    expect(r.summary.flows.claimed).toBe(r.summary.flows.tcp);
  });

  it("yields no wrong values", () => {
    expect(rows.length).toBeGreaterThan(0);
    expectNothingWrong(rows);
  });

  it("finds the span messages sent during the capture from their content, marked hpack_state=incomplete", () => {
    const during = spans.filter((e) => e.t > window.start && e.t < window.end);
    expect(during.length).toBeGreaterThanOrEqual(12);
    for (const e of during) {
      const found = rows.filter((row) => rowMatches(row, e));
      expect(found.length, `${e.kind} ${e.traceId} ${e.spanId}`).toBe(1);
      // The stream's HEADERS were sent before the capture: no path, no application, said so.
      expect(found[0].attrs.hpack_state).toBe("incomplete");
      expect(found[0].request_domain).toBe("");
      expect(found[0].attrs.agent_id).toBeUndefined();
    }
  });

  it("a unary call on a connection whose HPACK table predates the capture: literal fields read, indexed ones unknown", () => {
    const late = rows.filter((r) => r.attrs.api_info === "fixture.late.route");
    expect(late.length).toBe(1);
    expect(late[0].attrs.hpack_state).toBe("incomplete");
    // agentid/applicationname/starttime were sent earlier on this connection, so they are indexed and unknown here.
    expect(late[0].attrs.agent_id).toBeUndefined();
    expect(late[0].request_domain).toBe("");
  });
});

describe("DeepFlow's HTTP/2 captures (not Pinpoint)", () => {
  for (const name of ["grpc-unary", "grpc-server-stream", "h2c_ascii", "http2-multi"]) {
    it(`${name}: no flow claimed`, async () => {
      const r = await replay(join(DEEPFLOW_HTTP, `${name}.pcap`));
      expect(r.summary.flows.tcp).toBeGreaterThan(0);
      expect(r.summary.plugins[0].hooks.check_payload.calls).toBeGreaterThan(0);
      expect(r.summary.flows.claimed).toBe(0);
      // No plugin row (l7_protocol 127, Custom); the agent's own HTTP/2 and gRPC rows are there.
      expect(r.rows.filter((x) => x.l7_protocol === 127)).toEqual([]);
    });
  }

  it("another gRPC service on a collector port is not claimed either (h2c_ascii moved to port 9993)", async () => {
    const bytes = movePort(readFileSync(join(DEEPFLOW_HTTP, "h2c_ascii.pcap")), 7070, 9993);
    const r = await replay(bytes);
    expect(r.summary.plugins[0].hooks.check_payload.calls).toBeGreaterThan(0);
    expect(r.summary.flows.claimed).toBe(0);
  });
});

/** Rewrites a TCP port in a classic Ethernet/IPv4 pcap (checksums are not checked by the replay). */
function movePort(pcap: Buffer, from: number, to: number): Buffer {
  const out = Buffer.from(pcap);
  expect(out.readUInt32LE(20)).toBe(1); // LINKTYPE_ETHERNET
  let at = 24;
  while (at + 16 <= out.length) {
    const caplen = out.readUInt32LE(at + 8);
    const frame = at + 16;
    if (out.readUInt16BE(frame + 12) === 0x0800 && out[frame + 23] === 6) {
      const tcp = frame + 14 + (out[frame + 14] & 0x0f) * 4;
      for (const off of [0, 2]) if (out.readUInt16BE(tcp + off) === from) out.writeUInt16BE(to, tcp + off);
    }
    at = frame + caplen;
  }
  return out;
}
