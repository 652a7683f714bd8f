// The SDK's HTTP/2 framing and gRPC message codecs (protocols/http2.ts, grpc.ts)
// through their harness: DeepFlow's own HTTP/2 captures against the agent's .result
// files, then every frame type, padding, priority, CONTINUATION, splits at every byte,
// cut payloads and joining mid-connection.
import { createRequire } from "node:module";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { DecodedPacket, decodeFrame, openCapture } from "../../../capture/open.ts";
import { loadHarness, type Harness } from "../../../tests/support/as-harness.ts";
import { PREFACE, frame, grpcMessage } from "./frames.ts";

const require = createRequire(import.meta.url);
const hpack = require("hpack.js") as {
  compressor: { create(o: { table: { maxSize: number } }): { write(h: { name: string; value: string }[]): void; read(): Buffer | null } };
};

const CAPTURES = join(import.meta.dirname, "..", "..", "..", "tests", "fixtures", "deepflow", "http");

let h: Harness;
const call = (name: string, ...args: number[]) => (h.exports[name] as (...a: number[]) => number)(...args);

/** Feeds one payload; returns the event lines it produced. */
function feed(conn: number, dir: number, payload: Uint8Array, mayBeCut = false): string[] {
  h.put(payload);
  call("resetOutput");
  call("feed", conn, dir, mayBeCut ? 1 : 0);
  const text = Buffer.from(h.read(call("outPtr"), call("outLen"))).toString();
  return text.split("\n").filter((l) => l.length > 0);
}

function dirInfo(conn: number, dir: number) {
  call("resetOutput");
  call("dirInfo", conn, dir);
  const [sawStart, desyncs, dropped, hpackCount, invalidations] = Buffer.from(h.read(call("outPtr"), call("outLen"))).toString().trim().split(",");
  return { sawStart: sawStart === "true", desyncs: +desyncs, dropped: +dropped, hpackCount: +hpackCount, invalidations: +invalidations };
}

beforeAll(() => {
  h = loadHarness("tests/as/http2.ts");
}, 120_000);

// ---- DeepFlow's captures ----

interface StreamSeen {
  headers: Map<string, string>[];
  unknown: number;
  data: Set<number>; // directions with DATA
}

function replayCodec(file: string): Map<number, StreamSeen> {
  const reader = openCapture(file);
  const pkt = new DecodedPacket();
  const conns = new Map<string, { id: number; client: string }>();
  const streams = new Map<number, StreamSeen>();
  try {
    for (let frame = reader.next(); frame; frame = reader.next()) {
      if (!decodeFrame(frame, pkt) || pkt.status !== "ok" || pkt.payloadLength === 0) continue;
      const src = `${pkt.srcIp().join(".")}:${pkt.srcPort}`;
      const dst = `${pkt.dstIp().join(".")}:${pkt.dstPort}`;
      const key = [src, dst].sort().join("-");
      let c = conns.get(key);
      // The server's port is the lower one in all of these captures.
      if (!c) conns.set(key, (c = { id: call("newConn"), client: pkt.srcPort > pkt.dstPort ? src : dst }));
      const dir = src === c.client ? 0 : 1;
      for (const l of feed(c.id, dir, pkt.payload().slice())) {
        const [kind, sid, ...rest] = l.split(" ");
        const id = Number(sid);
        if (kind !== "H" && kind !== "D") continue;
        let s = streams.get(id);
        if (!s) streams.set(id, (s = { headers: [], unknown: 0, data: new Set() }));
        if (kind === "D") s.data.add(dir);
        else {
          const fields = new Map<string, string>();
          for (const f of rest) {
            const eq = f.indexOf("=");
            if (f.startsWith("unknown=")) s.unknown += Number(f.slice(8));
            else if (eq > 0 && !f.startsWith("status=")) fields.set(f.slice(0, eq), f.slice(eq + 1));
          }
          s.headers.push(fields);
        }
      }
    }
  } finally {
    reader.close();
  }
  return streams;
}

interface AgentRecord {
  stream: number | null;
  headers: boolean;
  path: string;
  method: string;
  status: number | null;
  grpcStatus: number | null;
}

function agentRecords(file: string): AgentRecord[] {
  return readFileSync(file, "utf8").trim().split("\n").map((l) => {
    const num = (re: RegExp) => {
      const m = re.exec(l);
      return m ? Number(m[1]) : null;
    };
    return {
      stream: num(/stream_id: Some\((\d+)\)/),
      headers: /headers_offset: Some/.test(l),
      path: /path: "([^"]*)"/.exec(l)![1],
      method: /method: (\w+)/.exec(l)![1],
      status: num(/[^_]status_code: Some\((\d+)\)/),
      grpcStatus: num(/grpc_status_code: Some\((\d+)\)/),
    };
  });
}

describe("DeepFlow's HTTP/2 captures", () => {
  for (const name of ["grpc-unary", "grpc-server-stream", "h2c_ascii", "http2-multi"]) {
    it(`${name}: the stream ids, :path, :status and grpc-status the agent recorded`, () => {
      const ours = replayCodec(join(CAPTURES, `${name}.pcap`));
      const agent = agentRecords(join(CAPTURES, `${name}.result`));
      const agentStreams = new Set(agent.filter((r) => r.stream !== null).map((r) => r.stream));
      expect(new Set(ours.keys())).toEqual(agentStreams);
      for (const r of agent) {
        if (r.stream === null) continue;
        const s = ours.get(r.stream)!;
        const all = (k: string) => s.headers.map((m) => m.get(k)).filter((v) => v !== undefined);
        if (r.headers && r.path !== "") expect(all(":path")).toContain(r.path);
        if (r.headers && r.path === "" && r.method !== "_ResponseHeader" && r.method !== "_ResponseData") {
          // The agent could not resolve this request's :path either (dynamic table entries from before
          // the capture): we report unknown fields and no path.
          expect(all(":path")).toEqual([]);
          expect(s.unknown).toBeGreaterThan(0);
        }
        if (r.headers && r.status !== null) expect(all(":status")).toContain(String(r.status));
        if (r.grpcStatus !== null) expect(all("grpc-status")).toContain(String(r.grpcStatus));
        if (r.method === "_RequestData") expect(s.data.has(0)).toBe(true);
        if (r.method === "_ResponseData" && !r.headers) expect(s.data.has(1)).toBe(true);
      }
    });
  }
});

// ---- synthetic frames ----

function newEncoder() {
  const c = hpack.compressor.create({ table: { maxSize: 4096 } });
  return (headers: [string, string][]) => {
    c.write(headers.map(([name, value]) => ({ name, value })));
    return c.read() ?? Buffer.alloc(0);
  };
}

/** A client connection: preface, SETTINGS, then requests with every framing variant. */
function clientBytes(): Buffer {
  const enc = newEncoder();
  const req = (path: string) => enc([[":method", "POST"], [":scheme", "http"], [":path", path], [":authority", "c:9993"],
    ["content-type", "application/grpc"], ["agentid", "agent-1"], ["applicationname", "app-1"], ["starttime", "1700000000000"]]);
  const parts: Buffer[] = [PREFACE, frame(4, 0, 0, [0, 4, 0, 1, 0, 0]), frame(8, 0, 0, [0, 0, 0x10, 0])];
  // Stream 1: plain HEADERS, one DATA with a whole message.
  parts.push(frame(1, 4, 1, req("/v1.Span/SendSpan")), frame(0, 0, 1, grpcMessage("first")));
  // Stream 3: padded + priority HEADERS, split into CONTINUATION; padded DATA; a message over two DATA frames.
  const block = req("/v1.Agent/RequestAgentInfo");
  const pad = 3;
  const head = Buffer.concat([Buffer.from([pad, 0x80, 0, 0, 1, 15]), block.subarray(0, 4), Buffer.alloc(pad)]);
  parts.push(frame(1, 0x08 | 0x20, 3, head), frame(9, 0, 3, block.subarray(4, 7)), frame(9, 4, 3, block.subarray(7)));
  const msg = grpcMessage("x".repeat(40));
  parts.push(frame(0, 0x08, 3, Buffer.concat([Buffer.from([2]), msg.subarray(0, 20), Buffer.alloc(2)])));
  parts.push(frame(0, 1, 3, msg.subarray(20)));
  // Connection and stream control frames.
  parts.push(frame(2, 0, 5, [0, 0, 0, 0, 16]), frame(6, 0, 0, Buffer.alloc(8)), frame(3, 0, 1, [0, 0, 0, 8]));
  parts.push(frame(7, 0, 0, [0, 0, 0, 3, 0, 0, 0, 0, 0x64, 0x62, 0x67]));
  return Buffer.concat(parts);
}

const EXPECTED_CLIENT = [
  "H 1 status=0 unknown=0 :method=POST :scheme=http :path=/v1.Span/SendSpan :authority=c:9993 content-type=application/grpc agentid=agent-1 applicationname=app-1 starttime=1700000000000",
  "M 1 5 5 whole",
  "H 3 status=0 unknown=0 :method=POST :scheme=http :path=/v1.Agent/RequestAgentInfo :authority=c:9993 content-type=application/grpc agentid=agent-1 applicationname=app-1 starttime=1700000000000",
  "M 3 40 40 whole",
  "E 3",
  "R 1 8",
  "G 3 0",
];

const semantic = (lines: string[]) => lines.filter((l) => !l.startsWith("D "));

describe("HTTP/2 framing", () => {
  it("reads every frame type, padding, priority and CONTINUATION", () => {
    const c = call("newConn");
    const lines = feed(c, 0, clientBytes());
    expect(semantic(lines)).toEqual(EXPECTED_CLIENT);
    // DATA content excludes pad length byte and padding.
    expect(lines.filter((l) => l.startsWith("D 3"))).toEqual(["D 3 20 start", "D 3 25 start"]);
    expect(dirInfo(c, 0)).toMatchObject({ sawStart: true, desyncs: 0, dropped: 0 });
  });

  it("gives the same result however the bytes are split into payloads (every split point)", () => {
    const bytes = clientBytes();
    for (let cut = 1; cut < bytes.length; cut++) {
      const c = call("newConn");
      const lines = [...feed(c, 0, bytes.subarray(0, cut)), ...feed(c, 0, bytes.subarray(cut))];
      expect(semantic(lines), `split at ${cut}`).toEqual(EXPECTED_CLIENT);
    }
  });

  it("gives the same result fed one byte at a time", () => {
    const bytes = clientBytes();
    const c = call("newConn");
    const lines: string[] = [];
    for (let i = 0; i < bytes.length; i++) lines.push(...feed(c, 0, bytes.subarray(i, i + 1)));
    expect(semantic(lines)).toEqual(EXPECTED_CLIENT);
  });

  it("a cut payload loses the rest of its frame, hands over the message prefix, and resumes at the next frame", () => {
    const enc = newEncoder();
    const c = call("newConn");
    feed(c, 0, Buffer.concat([PREFACE, frame(1, 4, 1, enc([[":path", "/v1.Span/SendSpan"]]))]));
    const big = grpcMessage("y".repeat(300));
    const data = frame(0, 0, 1, big);
    // The agent cut this payload at 100 bytes; the frame's remaining bytes never arrive.
    expect(semantic(feed(c, 0, data.subarray(0, 100), true))).toEqual([]);
    const next = Buffer.concat([frame(0, 0, 1, grpcMessage("after")), frame(1, 5, 1, enc([["grpc-status", "0"]]))]);
    expect(semantic(feed(c, 0, next))).toEqual(["L 1", "M 1 300 86 part", "X", "M 1 5 5 whole", "H 1 end status=0 unknown=0 grpc-status=0", "E 1"]);
    expect(dirInfo(c, 0)).toMatchObject({ desyncs: 1, dropped: 0 });
  });

  it("a payload that was as long as the buffer but not cut continues normally", () => {
    const enc = newEncoder();
    const c = call("newConn");
    feed(c, 0, Buffer.concat([PREFACE, frame(1, 4, 1, enc([[":path", "/p"]]))]));
    const data = frame(0, 0, 1, grpcMessage("z".repeat(150)));
    const both = Buffer.concat([data, frame(0, 0, 1, grpcMessage("next"))]);
    expect(semantic(feed(c, 0, both.subarray(0, 100), true))).toEqual([]);
    expect(semantic(feed(c, 0, both.subarray(100)))).toEqual(["M 1 150 150 whole", "M 1 4 4 whole"]);
    expect(dirInfo(c, 0).desyncs).toBe(0);
  });

  it("a cut header block keeps its leading fields, forgets the HPACK table and marks later references unknown", () => {
    const enc = newEncoder();
    const c = call("newConn");
    const first = enc([[":path", "/v1.Span/SendSpan"], ["agentid", "agent-1"]]);
    feed(c, 0, Buffer.concat([PREFACE, frame(1, 4, 1, first)]));
    expect(dirInfo(c, 0).hpackCount).toBe(2);
    const second = enc([[":path", "/v1.Stat/SendAgentStat"], ["agentid", "agent-1"], ["x-long", "v".repeat(200)]]);
    const f = frame(1, 4, 3, second);
    feed(c, 0, f.subarray(0, 30), true);
    const third = enc([["agentid", "agent-1"], [":path", "/v1.Span/SendSpan"]]);
    const lines = feed(c, 0, frame(1, 4, 5, third));
    expect(lines[0]).toMatch(/^H 3 status=1 unknown=0 :path=\/v1.Stat\/SendAgentStat agentid=agent-1$/);
    expect(lines[1]).toBe("X");
    // agentid is a reference into the forgotten table (hpack.js sends :path as a literal again).
    expect(lines[2]).toBe("H 5 status=0 unknown=1 :path=/v1.Span/SendSpan");
    expect(dirInfo(c, 0).invalidations).toBe(1);
  });

  it("a cut that fell between frames still loses what followed: later references are unknown, not shifted onto other entries", () => {
    const enc = newEncoder();
    const c = call("newConn");
    feed(c, 0, Buffer.concat([PREFACE, frame(1, 4, 1, enc([[":path", "/v1.Span/SendSpan"], ["x-a", "first"]]))]));
    // This payload held two HEADERS frames; the agent's buffer kept exactly the first one.
    const kept = frame(1, 4, 3, enc([["x-b", "second"]]));
    enc([["x-c", "lost"]]); // stream 5's block, never seen: it inserted x-c into the encoder's table
    expect(semantic(feed(c, 0, kept, true))).toEqual(["H 3 status=0 unknown=0 x-b=second"]);
    // Index 62 is x-c for the encoder; without the loss rule it would read as x-b.
    const lines = feed(c, 0, frame(1, 4, 7, Buffer.from([0xbe, 0xbf])));
    expect(lines).toEqual(["X", "H 7 status=0 unknown=2"]);
  });

  it("joining mid-connection: drops bytes until a frame boundary, then reads frames; unknown table entries stay unknown", () => {
    const enc = newEncoder();
    const full = Buffer.concat([
      PREFACE, frame(1, 4, 1, enc([[":path", "/v1.Span/SendSpan"], ["agentid", "agent-1"]])),
      frame(0, 0, 1, grpcMessage("m".repeat(64))),
    ]);
    const later = Buffer.concat([frame(0, 0, 1, grpcMessage("n".repeat(10))), frame(1, 4, 3, enc([[":path", "/v1.Span/SendSpan"], ["agentid", "agent-1"], ["te", "trailers"]]))]);
    const c = call("newConn");
    // The capture starts inside stream 1's DATA frame.
    expect(feed(c, 0, full.subarray(full.length - 20))).toEqual([]);
    expect(semantic(feed(c, 0, later))).toEqual(["M 1 10 10 whole", "H 3 status=0 unknown=2 te=trailers"]);
    expect(dirInfo(c, 0)).toMatchObject({ sawStart: false, dropped: 1 });
  });

  it("never trusts garbage: random bytes produce no header fields and no messages after a lost sync", () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const c = call("newConn");
    let events = 0;
    for (let i = 0; i < 500; i++) {
      const p = Uint8Array.from({ length: 1 + (rnd() % 200) }, rnd);
      events += feed(c, 0, p, true).filter((l) => l.startsWith("H") || l.startsWith("M")).length;
    }
    expect(events).toBeLessThan(5);
  });
});
