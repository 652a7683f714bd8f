// Replay behaviour on the small real captures of tests/fixtures/capture (README there): link
// types give the same logs, retransmissions are not fed twice, requests pair by request_id,
// packet vs stream mode, inference limits, traps, filters, broken files, the command line.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../host-sim/cli.ts";
import type { PluginSource } from "../../sdk/host.ts";
import type { FlowLogRow } from "../../sdk/row.ts";
import { replayCapture, type ReplayOptions, type ReplaySummary } from "../../sdk/replay.ts";
import { LogMessageType } from "../../sdk/session.ts";
import { claimAllPlugin } from "./claim-all.ts";
import { tsharkFields } from "./tshark.ts";

const FIX = join(import.meta.dirname, "../fixtures/capture");
const DEEPFLOW = join(import.meta.dirname, "../fixtures/deepflow");
const TOY_PLUGIN = join(import.meta.dirname, "../../build/http-hooks.wasm");

async function replay(o: ReplayOptions): Promise<{ s: ReplaySummary; rows: FlowLogRow[] }> {
  const rows: FlowLogRow[] = [];
  const s = await replayCapture({ ...o, onRow: (r) => rows.push(r) });
  return { s, rows };
}

let claimAll: PluginSource;
beforeAll(async () => {
  claimAll = await claimAllPlugin();
});

describe("link types and file formats", () => {
  // What does not depend on the capture run: ports, times and ids differ between runs.
  const shape = (r: FlowLogRow) => [r.type, r.protocol, r.is_ipv4, r.direction_source, r.request_type, r.response_status, r.captured_request_byte, r.captured_response_byte];
  const SAME_TRAFFIC = ["v4.pcapng", "v4-nanos.pcap", "v4-nanos.pcapng", "v4-big-endian.pcap", "v4-big-endian.pcapng", "v4-rawip.pcap",
    "v4-dlt-raw-12.pcap", "v4-null.pcap", "v4-loop.pcap", "v4-vlan.pcap", "v4-qinq.pcap", "v4-extra-blocks.pcapng", "any-sll.pcap", "any-sll2.pcap"];

  it("every variant of the v4 traffic gives the logs of v4.pcap", async () => {
    const base = await replay({ capture: join(FIX, "v4.pcap"), plugins: [claimAll] });
    // 1 TCP connection (2 request/response exchanges) + 1 UDP query/answer: 3 sessions.
    expect(base.s.flows).toMatchObject({ total: 2, tcp: 1, udp: 1 });
    expect(base.rows.map((r) => r.type)).toEqual([2, 2, 2]);
    expect(base.s.flows.directionSource).toEqual({ "syn-ack": 1, "plugin-request": 1 });
    for (const file of SAME_TRAFFIC) {
      const v = await replay({ capture: join(FIX, file), plugins: [claimAll] });
      expect(v.rows.map(shape), file).toEqual(base.rows.map(shape));
      if (!file.startsWith("any-")) {
        // Same run of traffic: identical rows, times and flow ids included.
        expect(v.rows, file).toEqual(base.rows);
      }
    }
  });

  it("Simple Packet Blocks carry no time: no response is later than its request, nothing pairs", async () => {
    const { s, rows } = await replay({ capture: join(FIX, "v4-simple.pcapng"), plugins: [claimAll] });
    expect(s.messages.records).toBe(6);
    expect(s.sessions.paired).toBe(0);
    expect(rows.length).toBe(6);
  });

  it("several interfaces in one pcapng: flows of both, the second run's servers known from the first", async () => {
    const { s, rows } = await replay({ capture: join(FIX, "multi-interface.pcapng"), plugins: [claimAll] });
    expect(s.flows.total).toBe(4);
    expect(s.sessions.paired).toBe(6);
    expect(rows.every((r) => r.type === LogMessageType.Session)).toBe(true);
    // Flows to 127.0.0.1:47001/47002 of the second capture skip check_payload (inference cache).
    expect(s.payload.checkCalls).toBe(2);
    expect(s.payload.flowsFromCache).toBe(2);
  });

  it("IPv6, IPv4 options and IPv6 extension headers are replayed; fragments are counted, not fed", async () => {
    const { s, rows } = await replay({ capture: join(FIX, "lo-ethernet.pcap"), plugins: [claimAll] });
    // tshark -r lo-ethernet.pcap -q -z conv,tcp / conv,udp: 4 TCP + 1 UDP conversations (+ the fragmented datagram)
    expect(s.flows).toMatchObject({ total: 5, tcp: 4, udp: 1 });
    expect(s.capture.skipped).toEqual({ fragment: 2 });
    expect(s.sessions.paired).toBe(6);
    expect(rows.filter((r) => r.is_ipv4 === 0).length).toBe(2);
    expect(new Set(rows.map((r) => r.server_port))).toEqual(new Set([47001, 47002, 47003, 47004, 47006]));
  });
});

describe("feeding like the agent", () => {
  it("does not feed retransmitted segments twice (duplicated UDP datagrams are fed: no sequence numbers)", async () => {
    const path = join(FIX, "v4-duplicated.pcap");
    const retransmitted = tsharkFields(path, ["frame.number"], "tcp.analysis.retransmission and tcp.len > 0").length;
    expect(retransmitted).toBe(4);
    const { s, rows } = await replay({ capture: path, plugins: [claimAll] });
    expect(s.payload.retransmissionsSkipped).toBe(retransmitted);
    const tcpRows = rows.filter((r) => r.protocol === 6);
    expect(tcpRows.map((r) => r.type)).toEqual([2, 2]);
    // UDP: query, query, answer, answer. The second query replaces the first (sent alone), pairs
    // with the first answer; the second answer waits and is flushed as a timeout.
    const udp = rows.filter((r) => r.protocol === 17).map((r) => [r.type, r.response_status]);
    expect(udp).toEqual([[0, 5], [2, 0], [1, 2]]);
  });

  it("a new connection on the same 5-tuple is a new flow, even when the first one's end was not captured", async () => {
    // tshark -r v4-port-reuse.pcap -T fields -e tcp.stream -Y tcp | sort -u   → 0 1 ("TCP Port numbers reused")
    const { s, rows } = await replay({ capture: join(FIX, "v4-port-reuse.pcap"), plugins: [claimAll] });
    expect(s.flows).toMatchObject({ total: 3, tcp: 2, udp: 1 });
    expect(s.payload.retransmissionsSkipped).toBe(0);
    const tcp = rows.filter((r) => r.protocol === 6);
    expect(tcp.map((r) => r.type)).toEqual([2, 2, 2, 2]);
    expect(new Set(tcp.map((r) => r.flow_id)).size).toBe(2);
  });

  it("pairs requests and responses by request_id, out of order (toy protocol, plugins/http-hooks)", async () => {
    expect(existsSync(TOY_PLUGIN), "build/http-hooks.wasm missing: run npm run build").toBe(true);
    const { s, rows } = await replay({ capture: join(FIX, "toy.pcap"), plugins: [TOY_PLUGIN] });
    expect(rows.slice(0, 3).map((r) => [r.type, r.request_id, r.request_type, r.request_resource, r.response_code])).toEqual([
      [2, 2, "PUT", "/b", 0],
      [2, 1, "GET", "/a", 0],
      [2, 3, "GET", "/missing", 404],
    ]);
    expect(rows[2]!.response_status).toBe(4); // client error
    expect(rows[2]!.response_exception).toBe("not-found");
    // Request 4 came in two writes, request 5 in three segments: no segment holds a whole toy
    // line, so their responses stay alone and are flushed as timeouts.
    expect(rows.slice(3).map((r) => [r.type, r.request_id, r.response_status])).toEqual([[1, 4, 2], [1, 5, 2]]);
    expect(s.sessions.paired).toBe(3);
    // RRT is response time minus request time, per request id.
    const times = tsharkFields(join(FIX, "toy.pcap"), ["frame.time_epoch", "tcp.payload"], "tcp.len > 0");
    const sent = (line: string) => {
      const hex = Buffer.from(line).toString("hex");
      const row = times.find((t) => t[1]!.replace(/:/g, "").startsWith(hex))!;
      return Math.round(Number(row[0]) * 1e6);
    };
    expect(rows[0]!.response_duration).toBe(sent("TOY 2 0 stored") - sent("TOY 2 PUT"));
  });

  it("stream mode reassembles a request TCP cut into segments; pipelined messages keep their own times", async () => {
    const packet = await replay({ capture: join(FIX, "toy.pcap"), plugins: [TOY_PLUGIN], payloadTruncation: 4096 });
    const { s, rows } = await replay({ capture: join(FIX, "toy.pcap"), plugins: [TOY_PLUGIN], mode: "stream", payloadTruncation: 4096 });
    expect(s.sessions.paired).toBe(4);
    const big = rows.find((r) => r.request_id === 5)!;
    expect(big).toMatchObject({ type: LogMessageType.Session, request_type: "POST", response_result: "big", captured_request_byte: 1513 });
    expect(big.request_resource).toBe("/" + "x".repeat(1500));
    // Requests 1-3 were written one by one (PSH each): same sessions and RRTs as packet mode.
    const byId = (list: FlowLogRow[], id: number) => list.find((r) => r.request_id === id && r.type === LogMessageType.Session);
    for (const id of [1, 2, 3]) expect(byId(rows, id)).toEqual(byId(packet.rows, id));
    // Request 4 was two writes: still two payloads, as in packet mode.
    expect(rows.find((r) => r.request_id === 4)).toMatchObject({ type: LogMessageType.Response, response_status: 2 });
    // 3 single-segment requests, 2 pieces of request 4, request 5 whole, 5 responses.
    expect(s.payload.stream).toEqual({ chunks: 11, gaps: 0, gapBytes: 0, firstGaps: [] });
  });

  it("stream mode reports a segment the capture lost and goes on after it", async () => {
    // toy-lost-segment.pcap: toy.pcap without frame 6, the 13 bytes of "TOY 2 PUT /b\n".
    const { s, rows } = await replay({ capture: join(FIX, "toy-lost-segment.pcap"), plugins: [TOY_PLUGIN], mode: "stream", payloadTruncation: 4096 });
    expect(s.payload.stream!.gaps).toBe(1);
    expect(s.payload.stream!.firstGaps).toEqual([{ flowId: rows[0]!.flow_id, from: "client", offset: 13, bytes: 13 }]);
    expect(rows.filter((r) => r.type === LogMessageType.Session).map((r) => r.request_id).sort()).toEqual([1, 3, 5]);
    expect(rows.find((r) => r.request_id === 2)).toMatchObject({ type: LogMessageType.Response, response_status: 2 });
  });

  it("payload truncation: cut to 8 bytes no toy line is whole, so nothing is claimed", async () => {
    const { s } = await replay({ capture: join(FIX, "toy.pcap"), plugins: [TOY_PLUGIN], payloadTruncation: 8 });
    // tshark -r toy.pcap -Y 'tcp.len > 0' | wc -l  → 13 payloads, each checked
    expect(s.payload.checkCalls).toBe(13);
    expect(s.payload.claims).toBe(0);
    expect(s.messages.records).toBe(0);
  });

  it("stops asking after inference_max_retries failures, for the server of the flow", async () => {
    const never = await claimAllPlugin({ claim: false });
    const amqp = join(DEEPFLOW, "amqp/amqp1.pcap");
    const all = await replay({ capture: amqp, plugins: [never] });
    expect(all.s.payload.checkCalls).toBe(37);
    // With 3 retries: a first failure is stored with count 0, the 5th makes it 4 > 3: the flow
    // stops; the second connection to 5672 starts skipped.
    const limited = await replay({ capture: amqp, plugins: [never], inferenceMaxRetries: 3 });
    expect(limited.s.payload.checkCalls).toBe(5);
    expect(limited.s.payload.skippedInferenceLimit).toBe(32);
  });

  it("a plugin that traps is counted and the replay goes on", async () => {
    const trapping = await claimAllPlugin({ trapOnResponse: true });
    const { s, rows } = await replay({ capture: join(FIX, "v4.pcap"), plugins: [trapping] });
    expect(s.plugins[0]!.hooks.parse_payload.failures).toBe(3);
    expect(s.payload.parseUnanswered).toBe(3);
    expect(s.messages.requests).toBe(3);
    expect(rows.every((r) => r.type === 0)).toBe(true);
  });

  it("a second plugin gets the payloads the first one does not claim", async () => {
    const never = await claimAllPlugin({ claim: false, name: "never" });
    const { s, rows } = await replay({ capture: join(FIX, "v4.pcap"), plugins: [never, claimAll] });
    expect(s.sessions.paired).toBe(3);
    expect(rows.every((r) => r.l7_protocol_str === "claim-all")).toBe(true);
    expect(s.plugins.map((p) => p.hooks.check_payload.calls)).toEqual([2, 2]);
  });
});

describe("options", () => {
  it("--filter keeps matching packets only", async () => {
    const v6 = await replay({ capture: join(FIX, "lo-ethernet.pcap"), plugins: [claimAll], filter: "host ::1" });
    expect(v6.s.flows.total).toBe(2);
    expect(v6.rows.every((r) => r.ip_0 === "::1")).toBe(true);
    const udp = await replay({ capture: join(FIX, "v4.pcap"), plugins: [claimAll], filter: "udp and dst port 47002 or src port 47002" });
    expect(udp.s.flows).toMatchObject({ total: 1, udp: 1 });
    expect(udp.s.capture.filteredOut).toBe(12);
    const none = await replay({ capture: join(FIX, "v4.pcap"), plugins: [claimAll], filter: "not (tcp or udp)" });
    expect(none.s.flows.total).toBe(0);
  });

  it("--limit stops after N packets", async () => {
    const { s } = await replay({ capture: join(FIX, "v4.pcap"), plugins: [claimAll], limit: 5 });
    expect(s.capture.packets).toBe(5);
    expect(s.messages.records).toBe(1);
  });

  it("a truncated capture reports where and keeps what came before", async () => {
    const { s, rows } = await replay({ capture: join(FIX, "bad-truncated-record.pcap"), plugins: [claimAll] });
    expect(s.capture.error).toMatch(/record #6 at offset 462/);
    expect(s.capture.packets).toBe(5);
    expect(rows.length).toBe(1);
  });
});

describe("command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "replay-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes JSON lines to --out and the summary to stderr; bad options exit 2", async () => {
    const wasm = join(dir, "claim-all.wasm");
    writeFileSync(wasm, (claimAll as { bytes: Uint8Array }).bytes);
    const out = join(dir, "rows.jsonl");
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(["replay", join(FIX, "v4.pcap"), "--plugin", wasm, "--out", out]);
    } finally {
      process.stderr.write = write;
    }
    expect(code).toBe(0);
    const rows = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as FlowLogRow);
    expect(rows.map((r) => r.type)).toEqual([2, 2, 2]);
    expect(rows[0]).toHaveProperty("x_request_id_0");
    expect(stderr.join("")).toMatch(/sessions\s+3 rows: 3 request\/response pairs/);

    const silence = process.stderr.write.bind(process.stderr);
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      expect(await main(["replay", join(FIX, "v4.pcap"), "--plugin", wasm, "--mode", "bogus"])).toBe(2);
      expect(await main(["replay", join(FIX, "v4.pcap")])).toBe(2);
      expect(await main(["replay", join(FIX, "v4.pcap"), "--plugin", wasm, "--filter", "port x"])).toBe(2);
      expect(await main(["replay", join(FIX, "README.md"), "--plugin", wasm])).toBe(2);
      expect(await main(["replay", join(FIX, "v4.pcap"), "--plugin", wasm, "--out", join(dir, "no/such/dir.jsonl")])).toBe(2);
      // A damaged capture: rows up to the damage, exit code 1.
      expect(await main(["replay", join(FIX, "bad-caplen.pcap"), "--plugin", wasm, "--out", join(dir, "bad.jsonl")])).toBe(1);
    } finally {
      process.stderr.write = silence;
    }
  });
});
