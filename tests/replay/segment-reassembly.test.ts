// `--packet-segmentation-reassembly PORTS` (ReplayOptions.packetSegmentationReassembly): the
// agent's inputs.cbpf.preprocess.packet_segmentation_reassembly. On TCP flows with either port
// listed, a payload segment that continues the previous one of the same direction is fed joined
// to it — two adjacent segments, as the agent's unit test shows (flow_node.rs,
// test_packet_segmentation_reassembly) — and other flows are fed as before. What the plugins
// receive is read off the host (every parse_payload call) and checked against tshark's reading
// of the captures.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOOK_HTTP_REQ, HOOK_HTTP_RESP } from "../../sdk/abi.ts";
import { main } from "../../host-sim/cli.ts";
import { UsageError } from "../../sdk/errors.ts";
import { parsePortList } from "../../sdk/flow/segmentation-reassembly.ts";
import { WasmHost, type CallCtx, type PluginSource } from "../../sdk/host.ts";
import type { FlowLogRow } from "../../sdk/row.ts";
import { formatSummary } from "../../host-sim/replay.ts";
import { replayCapture, type ReplayOptions, type ReplaySummary } from "../../sdk/replay.ts";
import { root, shippedPlugins } from "../support/coexist.ts";
import { claimAllPlugin } from "./claim-all.ts";
import { epochToMicros, tsharkFields } from "./tshark.ts";
import { ACK, FIN, pcapOf, RST } from "../support/pcap-writer.ts";

/** One payload as the plugins received it (parse_payload; claim-all claims every flow). */
interface Fed {
  srcPort: number;
  dstPort: number;
  timeUs: number;
  bytes: Uint8Array;
}

let claimAll: PluginSource;
beforeAll(async () => {
  claimAll = await claimAllPlugin();
});

/** Replays with a host whose parse_payload records each payload before the plugins see it. */
async function replayFed(o: Omit<ReplayOptions, "host" | "plugins">, plugins: PluginSource[] = [claimAll]) {
  const host = await WasmHost.load(plugins);
  const fed: Fed[] = [];
  const parse = host.parsePayload.bind(host);
  host.parsePayload = (ctx: CallCtx, payload: Uint8Array, proto: number) => {
    fed.push({ srcPort: ctx.srcPort, dstPort: ctx.dstPort, timeUs: Number(ctx.time ?? 0), bytes: payload.slice() });
    return parse(ctx, payload, proto);
  };
  const rows: FlowLogRow[] = [];
  const s = await replayCapture({ ...o, host, onRow: (r) => rows.push(r) });
  return { s, fed, rows };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const key = (f: Fed) => `${f.timeUs} ${f.srcPort}>${f.dstPort} ${f.bytes.length} ${hex(f.bytes)}`;
const keys = (fed: Fed[]) => fed.map(key).sort();
const onPorts = (ports: Set<number>) => (f: Fed) => ports.has(f.srcPort) || ports.has(f.dstPort);

// ---------------------------------------------------------------------------------------
// Captures made here: Ethernet / IPv4 / TCP, one frame per segment (PSH|ACK unless flags say otherwise).

/** Deterministic bytes, different for each `seed`. */
function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 131 + i * 7) & 0xff;
  return b;
}
const cat = (...a: Uint8Array[]) => new Uint8Array(Buffer.concat(a));

describe("the option's ports", () => {
  it("are read as the agent reads them: ports and inclusive ranges", () => {
    const set = parsePortList(["20880", 9092, "2000-2010", " 7000 - 7002 ", "0"], "test");
    for (const p of [20880, 9092, 2000, 2005, 2010, 7000, 7002, 0]) expect(set.has(p), String(p)).toBe(true);
    for (const p of [1999, 2011, 20881, 7003, 65535]) expect(set.has(p), String(p)).toBe(false);
    expect(set.size).toBe(1 + 1 + 11 + 3 + 1);
    expect(parsePortList(["1-65535"], "test").size).toBe(65535);
  });

  it("an entry the agent would skip is a usage error here", () => {
    for (const bad of ["70000", "http", "", "10-5", "1-2-3", "-5", "1.5", "0x50"]) {
      expect(() => parsePortList([bad], "test"), bad).toThrow(UsageError);
    }
  });

  it("replayCapture refuses bad entries, and the option with --mode stream", async () => {
    const capture = pcapOf([{ timeUs: 1, src: ["10.0.0.1", 1000], dst: ["10.0.0.2", 2000], seq: 1, payload: bytes(4, 1) }]);
    await expect(replayCapture({ capture, plugins: [claimAll], packetSegmentationReassembly: ["99999"] })).rejects.toThrow(UsageError);
    await expect(replayCapture({ capture, plugins: [claimAll], mode: "stream", packetSegmentationReassembly: [2000] })).rejects.toThrow(/packet mode only/);
    // Empty: off, as the agent's default [].
    const off = await replayCapture({ capture, plugins: [claimAll], packetSegmentationReassembly: [] });
    expect(off.payload.segmentation).toBeNull();
  });
});

describe("how segments are joined", () => {
  it("the agent's own test vector: three contiguous segments, joined as 1st+2nd and 2nd+3rd; the plugins get 1st+2nd and the 3rd", async () => {
    // As agent/resources/test/flow_generator/tcp-segment.pcap: 10.1.23.21:45878 → 10.1.23.22:5201,
    // three ACK segments of 1448 bytes from seq 2204875669; the agent's test expects two packets
    // of 2896 bytes, the first with byte 1447 from segment 1 and byte 1448 from segment 2. The
    // second starts at a byte already parsed: the agent's L4 check drops it as a retransmission.
    const seq = 2204875669;
    const s = [bytes(1448, 1), bytes(1448, 2), bytes(1448, 3)];
    const capture = pcapOf(s.map((payload, i) => ({
      timeUs: 1_724_500_000_000_000 + i * 6, src: ["10.1.23.21", 45878], dst: ["10.1.23.22", 5201], seq: seq + i * 1448, flags: ACK, payload,
    })));
    const on = await replayFed({ capture, packetSegmentationReassembly: [5201] });
    expect(on.fed.map((f) => f.bytes.length)).toEqual([2896, 1448]);
    expect(hex(on.fed[0]!.bytes)).toBe(hex(cat(s[0]!, s[1]!)));
    expect(hex(on.fed[1]!.bytes)).toBe(hex(s[2]!));
    // The joined packet is the earlier one grown: its time and TCP sequence number.
    expect(on.fed.map((f) => f.timeUs)).toEqual([1_724_500_000_000_000, 1_724_500_000_000_012]);
    expect(on.rows.map((r) => [r.captured_request_byte, r.req_tcp_seq])).toEqual([[2896, seq], [1448, seq + 2896]]);
    expect(on.s.payload.segmentation).toEqual({ ports: "5201", flows: 1, joined: 1, alone: 1, overlapping: 1 });
    expect(formatSummary(on.s)).toContain("segments  packet_segmentation_reassembly 5201: 1 flows, 1 payloads of two segments joined, 1 segments fed alone, 1 overlapping joins dropped as retransmissions");

    const off = await replayFed({ capture });
    expect(off.fed.map((f) => hex(f.bytes))).toEqual(s.map(hex));
    expect(off.s.payload.segmentation).toBeNull();
    expect(formatSummary(off.s)).not.toContain("segments  ");
    // A port the flow does not use: fed as without the option.
    const other = await replayFed({ capture, packetSegmentationReassembly: ["5202-6000", 45877] });
    expect(other.fed.map((f) => hex(f.bytes))).toEqual(s.map(hex));
    expect(other.s.payload.segmentation).toMatchObject({ flows: 0, joined: 0, alone: 0, overlapping: 0 });
  });

  it("either port of the flow selects it, the client's as well as the server's", async () => {
    const a = bytes(10, 1), b = bytes(10, 2);
    const capture = pcapOf([
      { timeUs: 1, src: ["10.0.0.1", 40000], dst: ["10.0.0.2", 9000], seq: 100, payload: a },
      { timeUs: 2, src: ["10.0.0.1", 40000], dst: ["10.0.0.2", 9000], seq: 110, payload: b },
    ]);
    for (const port of [9000, 40000]) {
      const { fed } = await replayFed({ capture, packetSegmentationReassembly: [port] });
      expect(fed.map((f) => hex(f.bytes)), String(port)).toEqual([hex(cat(a, b))]);
    }
  });

  it("the other direction never joins, even where its sequence number happens to follow", async () => {
    const a = bytes(10, 1), r = bytes(10, 2);
    const capture = pcapOf([
      { timeUs: 1, src: ["10.0.0.1", 40000], dst: ["10.0.0.2", 9000], seq: 100, payload: a },
      { timeUs: 2, src: ["10.0.0.2", 9000], dst: ["10.0.0.1", 40000], seq: 110, payload: r },
    ]);
    const { fed, s } = await replayFed({ capture, packetSegmentationReassembly: [9000] });
    expect(fed.map((f) => [f.srcPort, hex(f.bytes)])).toEqual([[40000, hex(a)], [9000, hex(r)]]);
    expect(s.payload.segmentation).toMatchObject({ joined: 0, alone: 2 });
  });

  it("a segment nothing continues is fed alone: the other side speaking, a hole, FIN, the end of the flow", async () => {
    const C: [string, number] = ["10.0.0.1", 40000], S: [string, number] = ["10.0.0.2", 9000];
    const Q: [string, number] = ["10.0.0.3", 40001], O: [string, number] = ["10.0.0.4", 40002];
    const [A, B, R, Cc, D, E, F, X, Y, Z] = [100, 50, 30, 20, 40, 60, 70, 10, 10, 10].map((n, i) => bytes(n, i + 1)) as Uint8Array[];
    const capture = pcapOf([
      { timeUs: 1, src: C, dst: S, seq: 1000, payload: A },
      { timeUs: 2, src: S, dst: C, seq: 5000, flags: ACK }, // a pure ACK does not end the pairing
      { timeUs: 3, src: C, dst: S, seq: 1100, payload: B }, // continues A: A+B
      { timeUs: 4, src: S, dst: C, seq: 5000, payload: R }, // the other side: B (already fed) is let go
      { timeUs: 5, src: C, dst: S, seq: 1150, payload: Cc }, // R fed alone
      { timeUs: 6, src: C, dst: S, seq: 1300, payload: D }, // after a hole: C fed alone
      { timeUs: 7, src: C, dst: S, seq: 1300, payload: D }, // a retransmission: not fed, D still waits
      { timeUs: 8, src: C, dst: S, seq: 1340, payload: E }, // D+E
      { timeUs: 9, src: C, dst: S, seq: 1400, payload: F }, // E+F starts inside D+E: dropped; F waits
      { timeUs: 10, src: C, dst: S, seq: 1470, flags: FIN | ACK },
      { timeUs: 11, src: Q, dst: S, seq: 1, payload: Z }, // alone at the end of the capture
      { timeUs: 12, src: O, dst: ["10.0.0.2", 8000], seq: 1, payload: X }, // port 8000: not joined
      { timeUs: 13, src: O, dst: ["10.0.0.2", 8000], seq: 11, payload: Y },
    ]);
    const on = await replayFed({ capture, packetSegmentationReassembly: [9000] });
    expect(on.fed.map((f) => [f.timeUs, hex(f.bytes)])).toEqual([
      [1, hex(cat(A, B))],
      [4, hex(R)],
      [5, hex(Cc)],
      [6, hex(cat(D, E))],
      [9, hex(F)],
      [12, hex(X)],
      [13, hex(Y)],
      [11, hex(Z)],
    ]);
    expect(on.s.payload.retransmissionsSkipped).toBe(1);
    expect(on.s.payload.segmentation).toEqual({ ports: "9000", flows: 2, joined: 2, alone: 4, overlapping: 1 });
    expect(on.s.payload.payloads).toBe(8);

    const off = await replayFed({ capture });
    expect(off.fed.map((f) => f.timeUs)).toEqual([1, 3, 4, 5, 6, 8, 9, 11, 12, 13]);
    expect(off.s.payload.retransmissionsSkipped).toBe(1);
  });

  it("FIN or RST lets the held segment go at once, not when the flow leaves the table", async () => {
    const C: [string, number] = ["10.0.0.1", 40000], S: [string, number] = ["10.0.0.2", 9000];
    for (const flags of [RST, FIN | ACK]) {
      const capture = pcapOf([
        { timeUs: 1_000_000, src: C, dst: S, seq: 1, payload: bytes(20, 1) },
        { timeUs: 1_000_100, src: S, dst: C, seq: 1, payload: bytes(20, 2) },
        { timeUs: 1_000_200, src: C, dst: S, seq: 21, flags },
        { timeUs: 1_000_300, src: ["10.0.0.5", 40005], dst: ["10.0.0.2", 8000], seq: 1, payload: bytes(20, 3) },
      ]);
      const on = await replayFed({ capture, packetSegmentationReassembly: [9000] });
      // The response waited for what came next on its flow; the FIN/RST let it go.
      expect(on.fed.map((f) => f.timeUs), String(flags)).toEqual([1_000_000, 1_000_100, 1_000_300]);
      expect(on.rows.filter((r) => r.server_port === 9000).map((r) => r.type)).toEqual([2]);
      expect(on.s.payload.segmentation).toMatchObject({ joined: 0, alone: 2 });
    }
  });

  it("the merged payload is cut to the payload truncation like any other", async () => {
    const a = bytes(700, 1), b = bytes(700, 2);
    const capture = pcapOf([
      { timeUs: 1, src: ["10.0.0.1", 40000], dst: ["10.0.0.2", 9000], seq: 1, payload: a },
      { timeUs: 2, src: ["10.0.0.1", 40000], dst: ["10.0.0.2", 9000], seq: 701, payload: b },
    ]);
    const host = await WasmHost.load([claimAll]);
    const seen: number[] = [];
    const parse = host.parsePayload.bind(host);
    host.parsePayload = (ctx, payload, proto) => {
      seen.push(Math.min(payload.length, ctx.bufSize ?? 1024));
      return parse(ctx, payload, proto);
    };
    const rows: FlowLogRow[] = [];
    await replayCapture({ capture, host, packetSegmentationReassembly: [9000], onRow: (r) => rows.push(r) });
    // The plugins read 1024 of the 1400 bytes; the log says 1400 were captured.
    expect(seen).toEqual([1024]);
    expect(rows.map((r) => r.captured_request_byte)).toEqual([1400]);
  });
});

// ---------------------------------------------------------------------------------------
// Real captures, against tshark.

interface TsharkSeg {
  stream: string;
  timeUs: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  len: number;
  finOrRst: boolean;
  payload: string;
}

function tsharkSegs(path: string): TsharkSeg[] {
  const fields = ["tcp.stream", "frame.time_epoch", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.len", "tcp.flags.fin", "tcp.flags.reset", "tcp.payload"];
  return tsharkFields(path, fields, "tcp").map(([stream, t, sp, dp, seq, len, fin, rst, payload]) => ({
    stream: stream!, timeUs: epochToMicros(t!), srcPort: Number(sp), dstPort: Number(dp), seq: Number(seq), len: Number(len),
    finOrRst: fin === "1" || fin === "True" || rst === "1" || rst === "True", payload: (payload ?? "").replace(/:/g, ""),
  }));
}

/**
 * What the plugins should get for flows on `ports`, from tshark's fields: a segment that
 * continues the previous payload segment of its stream in the same direction goes out joined to
 * it; a segment nothing joined goes out alone when the other side sends data, a hole, FIN/RST or
 * the end of the capture ends its pairing. (The captures have no retransmissions.)
 */
function expectedFromTshark(segs: TsharkSeg[], ports: Set<number>): string[] {
  const out: string[] = [];
  const held = new Map<string, { seg: TsharkSeg; fed: boolean }>();
  const emit = (g: TsharkSeg, payload: string) => out.push(`${g.timeUs} ${g.srcPort}>${g.dstPort} ${payload.length / 2} ${payload}`);
  const release = (stream: string) => {
    const h = held.get(stream);
    if (h && !h.fed) emit(h.seg, h.seg.payload);
    held.delete(stream);
  };
  for (const g of segs) {
    if (!ports.has(g.srcPort) && !ports.has(g.dstPort)) continue;
    if (g.len > 0) {
      const h = held.get(g.stream);
      if (h && h.seg.srcPort === g.srcPort && ((h.seg.seq + h.seg.len) >>> 0) === g.seq) {
        // A join that would start inside the last one fed is a retransmission to the agent.
        if (!h.fed) emit(h.seg, h.seg.payload + g.payload);
        held.set(g.stream, { seg: g, fed: !h.fed });
      } else {
        release(g.stream);
        held.set(g.stream, { seg: g, fed: false });
      }
    }
    if (g.finOrRst) release(g.stream);
  }
  for (const stream of [...held.keys()]) release(stream);
  return out.sort();
}

/** Server ports of the flows the shipped plugins claim in a capture (read off their rows). */
async function claimedServerPorts(capture: string): Promise<Map<string, Set<number>>> {
  const byProto = new Map<string, Set<number>>();
  await replayCapture({
    capture: join(root, capture), plugins: shippedPlugins(),
    onRow: (r) => {
      if (!byProto.has(r.l7_protocol_str)) byProto.set(r.l7_protocol_str, new Set());
      byProto.get(r.l7_protocol_str)!.add(r.server_port);
    },
  });
  return byProto;
}

describe("on real captures (claim-all sees every payload)", () => {
  const CASES: Array<{ capture: string; proto: string; joins: boolean }> = [
    // A Dubbo request split over two segments (a server ACK between them), and responses
    // written one after the other.
    { capture: "tests/fixtures/dubbo/dubbo-hessian2.pcap", proto: "Dubbo", joins: true },
    // AMQP frames written back to back (Connection.TuneOk + Connection.Open, Basic.Ack, ...).
    { capture: "tests/fixtures/amqp/rabbitmq.pcap", proto: "AMQP", joins: true },
    // Kafka: every request and response is one segment, answered before the next: nothing to join.
    { capture: "tests/fixtures/kafka/v7.pcap", proto: "Kafka", joins: false },
    { capture: "tests/fixtures/kafka/rdkafka.pcap", proto: "Kafka", joins: false },
  ];

  it.each(CASES)("$capture: the configured server's flows get what tshark says; the rest is untouched", async ({ capture, proto, joins }) => {
    const path = join(root, capture);
    const ports = (await claimedServerPorts(capture)).get(proto)!;
    expect(ports.size).toBeGreaterThan(0);
    const off = await replayFed({ capture: path });
    const on = await replayFed({ capture: path, packetSegmentationReassembly: [...ports] });
    expect(on.s.payload.retransmissionsSkipped).toBe(0);
    const mine = onPorts(ports);
    expect(keys(on.fed.filter(mine))).toEqual(expectedFromTshark(tsharkSegs(path), ports));
    expect(keys(on.fed.filter((f) => !mine(f)))).toEqual(keys(off.fed.filter((f) => !mine(f))));
    const sg = on.s.payload.segmentation!;
    expect(sg.joined > 0).toBe(joins);
    expect(on.s.payload.payloads).toBe(sg.joined + sg.alone + off.fed.filter((f) => !mine(f)).length);
    if (!joins) {
      // Same payloads, same times: the same rows.
      expect(on.rows.map((r) => JSON.stringify(r)).sort()).toEqual(off.rows.map((r) => JSON.stringify(r)).sort());
    } else {
      expect(on.s.payload.payloads).toBeLessThan(off.s.payload.payloads);
    }
  });

  it("Dubbo: the request split over two segments reaches the plugins whole", async () => {
    const path = join(root, "tests/fixtures/dubbo/dubbo-hessian2.pcap");
    const server = [...(await claimedServerPorts("tests/fixtures/dubbo/dubbo-hessian2.pcap")).get("Dubbo")!][0]!;
    const segs = tsharkSegs(path).filter((g) => g.len > 0);
    // The split request (README there): a client segment holding the start of a frame longer
    // than itself (16-byte header, body length at offset 12), continued by the next one.
    const frameLen = (g: TsharkSeg) => (g.payload.startsWith("dabb") && g.len >= 16 ? 16 + Buffer.from(g.payload, "hex").readUInt32BE(12) : 0);
    const i = segs.findIndex((g, k) => k > 0 && g.dstPort === server && segs[k - 1]!.dstPort === server &&
      g.seq === segs[k - 1]!.seq + segs[k - 1]!.len && frameLen(segs[k - 1]!) > segs[k - 1]!.len);
    expect(i).toBeGreaterThan(0);
    const [first, second] = [segs[i - 1]!, segs[i]!];
    expect(frameLen(first)).toBeLessThanOrEqual(first.len + second.len);
    const off = await replayFed({ capture: path });
    const on = await replayFed({ capture: path, packetSegmentationReassembly: [server] });
    const at = (fed: Fed[], t: number) => fed.filter((f) => f.timeUs === t).map((f) => f.bytes.length);
    expect(at(off.fed, first.timeUs)).toEqual([first.len]);
    expect(at(off.fed, second.timeUs)).toEqual([second.len]);
    expect(at(on.fed, first.timeUs)).toEqual([first.len + second.len]);
    expect(at(on.fed, second.timeUs)).toEqual([]);
    expect(hex(on.fed.find((f) => f.timeUs === first.timeUs)!.bytes)).toBe(first.payload + second.payload);
  });

  it("mixed.pcap: only the flows on the listed port change", async () => {
    const capture = "tests/fixtures/mixed/mixed.pcap";
    const path = join(root, capture);
    const byProto = await claimedServerPorts(capture);
    const dubbo = byProto.get("Dubbo")!;
    expect(dubbo.size).toBe(1);
    const off = await replayFed({ capture: path });
    const on = await replayFed({ capture: path, packetSegmentationReassembly: [...dubbo].map(String) });
    const mine = onPorts(dubbo);
    expect(keys(on.fed.filter(mine))).toEqual(expectedFromTshark(tsharkSegs(path), dubbo));
    expect(keys(on.fed.filter(mine))).not.toEqual(keys(off.fed.filter(mine)));
    expect(keys(on.fed.filter((f) => !mine(f)))).toEqual(keys(off.fed.filter((f) => !mine(f))));
    expect(on.s.payload.segmentation).toMatchObject({ flows: 1 });
    expect(on.s.payload.segmentation!.joined).toBeGreaterThan(0);
    // Rows of the other servers: the same.
    const others = (rows: FlowLogRow[]) => rows.filter((r) => !dubbo.has(r.server_port)).map((r) => JSON.stringify(r)).sort();
    expect(others(on.rows)).toEqual(others(off.rows));
  });
});

describe("the shipped plugins with the option on for their ports", () => {
  const CAPTURES = [
    "tests/fixtures/dubbo/dubbo-hessian2.pcap",
    "tests/fixtures/amqp/rabbitmq.pcap",
    "tests/fixtures/kafka/v3.pcap",
    "tests/fixtures/kafka/v5.pcap",
    "tests/fixtures/kafka/v7.pcap",
    "tests/fixtures/kafka/rdkafka.pcap",
    "tests/fixtures/kafka/errors.pcap",
    "tests/fixtures/pinpoint/pinpoint-full.pcap",
    "tests/fixtures/mixed/mixed.pcap",
  ];

  it.each(CAPTURES)("%s: rows of every protocol, no plugin fails", async (capture) => {
    const byProto = await claimedServerPorts(capture);
    const ports = [...byProto.values()].flatMap((s) => [...s]);
    expect(ports.length).toBeGreaterThan(0);
    const rows: FlowLogRow[] = [];
    const s: ReplaySummary = await replayCapture({
      capture: join(root, capture), plugins: shippedPlugins(), packetSegmentationReassembly: ports, onRow: (r) => rows.push(r),
    });
    expect(s.notLoaded).toEqual([]);
    expect(s.stalls).toEqual([]);
    expect(s.payload.segmentation!.flows).toBeGreaterThan(0);
    for (const p of s.plugins) {
      expect(p.agentPanics, p.name).toBe(0);
      for (const [hook, h] of Object.entries(p.hooks)) expect(h.failures, `${p.name} ${hook}`).toBe(0);
    }
    expect(rows.length).toBeGreaterThan(0);
    const protos = new Set(rows.map((r) => r.l7_protocol_str));
    expect(protos).toEqual(new Set(byProto.keys()));
    for (const proto of protos) {
      const n = s.messages.byProtocol[proto]!;
      expect(n.requests + n.responses, proto).toBeGreaterThan(0);
    }
  });

  it("deployed together they still give each plugin's rows alone (mixed.pcap)", async () => {
    const capture = join(root, "tests/fixtures/mixed/mixed.pcap");
    const ports = [...(await claimedServerPorts("tests/fixtures/mixed/mixed.pcap")).values()].flatMap((s) => [...s]);
    const claimed = new Set<number>();
    const rowsOf = async (plugins: PluginSource[]) => {
      const rows: string[] = [];
      await replayCapture({ capture, plugins, packetSegmentationReassembly: ports, onRow: (r) => rows.push(JSON.stringify(r)), onFlowEnd: (f) => f.claimedBy !== "" && claimed.add(f.flowId) });
      return rows;
    };
    const plugins = shippedPlugins();
    const alone: string[] = [];
    // The agent's own HTTP/1 and HTTP/2 rows (l7_protocol 20, 21, 41) are no plugin's: once, as the
    // plugins hooking HTTP make them, on the flows no plugin claims alone (pinpoint-grpc's are its own).
    const isHttp = (r: string) => [20, 21, 41, 49].includes((JSON.parse(r) as { l7_protocol: number }).l7_protocol);
    const flowId = (r: string) => (JSON.parse(r) as { flow_id: number }).flow_id;
    for (const p of plugins) alone.push(...(await rowsOf([p])).filter((r) => !isHttp(r)));
    const claimedAlone = new Set(claimed);
    const info = (await WasmHost.load(plugins)).pluginInfo();
    alone.push(...(await rowsOf(plugins.filter((p) => (info.find((i) => i.name === p.name)!.hookBitmap & (HOOK_HTTP_REQ | HOOK_HTTP_RESP)) !== 0n))).filter((r) => isHttp(r) && !claimedAlone.has(flowId(r))));
    expect((await rowsOf(plugins)).sort()).toEqual(alone.sort());
    expect((await rowsOf([...plugins].reverse())).sort()).toEqual(alone.sort());
  });
});

describe("command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "replay-sr-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("--packet-segmentation-reassembly PORTS: the summary says what was joined; bad values exit 2 with one line", async () => {
    const wasm = join(dir, "claim-all.wasm");
    writeFileSync(wasm, (claimAll as { bytes: Uint8Array }).bytes);
    const capture = join(root, "tests/fixtures/dubbo/dubbo-hessian2.pcap");
    const port = String([...(await claimedServerPorts("tests/fixtures/dubbo/dubbo-hessian2.pcap")).get("Dubbo")!][0]);
    const run = async (...args: string[]): Promise<{ code: number; stderr: string }> => {
      const stderr: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
      try {
        return { code: await main(["replay", capture, "--plugin", wasm, "--out", join(dir, "rows.jsonl"), "--no-progress", ...args]), stderr: stderr.join("") };
      } finally {
        process.stderr.write = write;
      }
    };
    const ok = await run("--packet-segmentation-reassembly", `20880,${port},9000-9010`);
    expect(ok.code).toBe(0);
    const sg = (await replayCapture({ capture, plugins: [claimAll], packetSegmentationReassembly: ["20880", port, "9000-9010"] })).payload.segmentation!;
    expect(sg.joined).toBeGreaterThan(0);
    expect(ok.stderr).toContain(`segments  packet_segmentation_reassembly 20880,${port},9000-9010: 1 flows, ${sg.joined} payloads of two segments joined, ${sg.alone} segments fed alone`);
    for (const bad of [["--packet-segmentation-reassembly", "70000"], ["--packet-segmentation-reassembly", ""], ["--packet-segmentation-reassembly", "9-1"],
      ["--packet-segmentation-reassembly", port, "--mode", "stream"]]) {
      const r = await run(...bad);
      expect(r.code, bad.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), bad.join(" ")).toHaveLength(1);
      expect(r.stderr).toMatch(/^host-sim replay: --packet-segmentation-reassembly/);
    }
    const help: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (help.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      await main(["replay", "--help"]);
    } finally {
      process.stdout.write = write;
    }
    expect(help.join("")).toContain("--packet-segmentation-reassembly PORTS");
  });
});
