// Frames cut across payloads, every way TCP and senders cut them, on the committed capture
// (amqplib against rabbitmq-server, frame_max 4096: tests/fixtures/amqp/rabbitmq.pcap). Each
// frame is cut at points in its head, arguments, properties, headers table and body and fed
// piece by piece, as the agent feeds segments, inside its message: a Publish / Deliver /
// Get-Ok / Return with its content header and body frames, or a frame alone. Uncut pieces
// are put together and give the same records as whole frames, with the piece that ends the
// frame; a piece the agent cut gives what it holds at once and the pieces after it give
// nothing; a lost piece never makes a record out of other bytes.
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { WasmHost, type CallCtx, type CustomInfo } from "../../../sdk/host.ts";
import { tcpSegments } from "../../../tests/support/capture.ts";
import { ensureBuilt } from "./session.ts";
import { amqplibModule, body, contentHeader, method } from "./wire.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const CAPTURE = join(root, "tests", "fixtures", "amqp", "rabbitmq.pcap");
const AMQP = 160;
const WHOLE = 65535;
const MSS = 1448;
const CONTENT_METHODS = new Set(["60.40", "60.50", "60.60", "60.71"]);

interface Frame {
  bytes: Buffer;
  type: number;
  channel: number;
  /** Class.method ids ("60.40") of a method frame, else "". */
  method: string;
  /** Offset in its direction's byte stream. */
  at: number;
}

/** One direction of one connection. */
interface Side {
  port: number;
  direction: 0 | 1;
  stream: Buffer;
  frames: Frame[];
}

/** A message (content method, content header, body frames) or a frame alone. */
type Unit = { side: Side; frames: Frame[] };

function sides(): Side[] {
  const out = new Map<string, Side>();
  for (const s of tcpSegments(CAPTURE)) {
    const port = s.direction === 0 ? s.srcPort : s.dstPort;
    const key = `${port}/${s.direction}`;
    let side = out.get(key);
    if (!side) out.set(key, (side = { port, direction: s.direction, stream: Buffer.alloc(0), frames: [] }));
    side.stream = Buffer.concat([side.stream, s.payload]);
  }
  for (const side of out.values()) {
    const st = side.stream;
    for (let at = st.subarray(0, 4).toString() === "AMQP" ? 8 : 0; at < st.length; ) {
      const type = st[at]!;
      const end = at + 8 + st.readUInt32BE(at + 3);
      const method = type === 1 ? `${st.readUInt16BE(at + 7)}.${st.readUInt16BE(at + 9)}` : "";
      side.frames.push({ bytes: st.subarray(at, end), type, channel: st.readUInt16BE(at + 1), method, at });
      at = end;
    }
  }
  return [...out.values()];
}

function unitsOf(side: Side): Unit[] {
  const units: Unit[] = [];
  for (const f of side.frames) {
    const last = units.at(-1);
    const inMessage = last && CONTENT_METHODS.has(last.frames[0]!.method) && (f.type === 2 || f.type === 3) && f.channel === last.frames[0]!.channel;
    if (inMessage) last.frames.push(f);
    else units.push({ side, frames: [f] });
  }
  return units;
}

let host: WasmHost;
let flow = 1;
let time = 1_000_000;
let all: Side[];
let units: Unit[];

beforeAll(async () => {
  host = await WasmHost.load([ensureBuilt()]);
  all = sides();
  units = all.flatMap(unitsOf);
}, 120_000);

function ctxOf(side: Side, flowId: number, bufSize: number): CallCtx {
  const client = { ip: "127.0.0.1", port: side.port };
  const broker = { ip: "127.0.0.1", port: 5672 };
  const [src, dst] = side.direction === 0 ? [client, broker] : [broker, client];
  return { srcIp: src.ip, dstIp: dst.ip, srcPort: src.port, dstPort: dst.port, direction: side.direction, flowId, bufSize, time: time++ };
}

/** Feeds pieces on a flow of their own; the records of each call. */
function feedRecords(side: Side, pieces: Uint8Array[], bufSizes: number[] = []): CustomInfo[][] {
  const id = flow++;
  return pieces.map((p, i) => host.parsePayload(ctxOf(side, id, bufSizes[i] ?? WHOLE), p, AMQP) ?? []);
}

const json = (calls: CustomInfo[][]) => calls.map((rs) => rs.map((r) => JSON.stringify(r)));
const feed = (side: Side, pieces: Uint8Array[], bufSizes: number[] = []) => json(feedRecords(side, pieces, bufSizes));

/** A unit's frames, one payload each: the records of each. */
const wholeFrames = (u: Unit) => feed(u.side, u.frames.map((f) => f.bytes));

const cutPoints = (n: number) => [...new Set([1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 20, 21, 22, 30, Math.floor(n / 3), Math.floor(n / 2), n - 30, n - 2, n - 1])]
  .filter((k) => k > 0 && k < n);

/** What a record says, field by field (lengths aside: a cut frame cannot know the rest's). */
function facts(r: CustomInfo): Map<string, string> {
  const m = new Map<string, string>();
  const put = (k: string, v: string | number | null | undefined) => {
    if (v !== null && v !== undefined && v !== "") m.set(k, String(v));
  };
  put("type", r.req.req_type || r.resp.req_type);
  put("domain", r.req.domain);
  put("resource", r.req.resource);
  put("endpoint", r.req.endpoint || r.resp.endpoint);
  put("code", r.resp.code);
  put("exception", r.resp.exception);
  put("result", r.resp.result);
  r.trace.trace_ids.forEach((t) => put(`trace_id ${t}`, t));
  put("span_id", r.trace.span_id);
  put("parent_span_id", r.trace.parent_span_id);
  put("x_request_id_0", r.trace.x_request_id_0);
  put("x_request_id_1", r.trace.x_request_id_1);
  for (const a of r.attributes) put(`@${a.key}`, a.val);
  return m;
}

/**
 * Whether every field of `r` is the same in one of `whole` (a record of the same frames fed
 * whole): what it says was seen, nothing made of other bytes. A content header whose method
 * went missing is named "Content-Header": its ids must still be those of one message.
 */
function seenIn(r: CustomInfo, whole: CustomInfo[]): boolean {
  const got = facts(r);
  const bare = got.get("type") === "Content-Header";
  return whole.some((w) => {
    const want = facts(w);
    return [...got].every(([k, v]) => (bare && k === "type") || want.get(k) === v);
  });
}

/**
 * Cases checked and those that failed, each failure named: a test reports how many of its
 * cases fail, not only the first.
 */
class Tally {
  checked = 0;
  failed: string[] = [];
  /** Whether `got` equals `want`; a failure is remembered under `what`. */
  same(got: unknown, want: unknown, what: string): void {
    this.checked++;
    if (JSON.stringify(got) !== JSON.stringify(want)) this.failed.push(what);
  }
  /** At least `min` cases checked, none failed (the first few named). */
  done(min: number): void {
    expect(this.checked).toBeGreaterThanOrEqual(min);
    expect({ failed: this.failed.length, of: this.checked, first: this.failed.slice(0, 5) }).toEqual({ failed: 0, of: this.checked, first: [] });
  }
}

/** Records that say anything not in `whole`, as text for the failure message. */
const unseen = (rs: CustomInfo[], whole: CustomInfo[]) => rs.filter((r) => !seenIn(r, whole)).map((r) => JSON.stringify([...facts(r)]));

// ---- an AMQP 0-9-1 grammar of its own, from amqplib's argument lists, to judge spliced frames ----

const amqplib = amqplibModule<Record<string, unknown>>("defs.js");
const defs = amqplib as unknown as { info(id: number): { args: Array<{ type: string }> } | undefined };
// Basic's properties, flag bit 15 down to 2.
const PROPERTIES = ["shortstr", "shortstr", "table", "octet", "octet", "shortstr", "shortstr", "shortstr", "shortstr", "timestamp", "shortstr", "shortstr", "shortstr", "shortstr"];
const FIXED: Record<string, number> = { octet: 1, short: 2, long: 4, longlong: 8, timestamp: 8 };
// RabbitMQ's field-value type letters: fixed sizes; S, x, F and A carry a u32 length.
const VALUE_SIZES: Record<string, number> = { t: 1, b: 1, B: 1, s: 2, u: 2, I: 4, i: 4, l: 8, f: 4, d: 8, D: 5, T: 8, V: 0 };

/** Bytes an argument of `type` takes at `at`, or -1 when it runs past `end` or is malformed. */
function argLen(type: string, b: Buffer, at: number, end: number): number {
  let n = FIXED[type] ?? -1;
  if (type === "shortstr") n = at < end ? 1 + b[at]! : -1;
  if (type === "longstr" || type === "table") n = at + 4 <= end ? 4 + b.readUInt32BE(at) : -1;
  if (n < 0 || at + n > end) return -1;
  return type === "table" && !fieldsOk(b, at + 4, at + n, true) ? -1 : n;
}

function fieldsOk(b: Buffer, at: number, end: number, keyed: boolean): boolean {
  while (at < end) {
    if (keyed) at += 1 + b[at]!;
    if (at >= end) return false;
    const tag = String.fromCharCode(b[at++]!);
    let n = VALUE_SIZES[tag] ?? -1;
    if ("SxFA".includes(tag)) n = at + 4 <= end ? 4 + b.readUInt32BE(at) : -1;
    if (n < 0 || at + n > end) return false;
    if ((tag === "F" || tag === "A") && !fieldsOk(b, at + 4, at + n, tag === "F")) return false;
    at += n;
  }
  return at === end;
}

/** Whether a whole frame is well-formed: a known method or Basic content header whose fields fill it exactly. */
function wellFormed(f: Buffer): boolean {
  const end = f.length - 1;
  if (f.length < 8 || f[end] !== 0xce || f.readUInt32BE(3) !== f.length - 8) return false;
  let at = 7;
  const fits = (type: string) => {
    const n = argLen(type, f, at, end);
    at += n;
    return n >= 0;
  };
  if (f[0] === 1) {
    if (end - at < 4) return false;
    let info;
    try {
      info = defs.info(f.readUInt32BE(7));
    } catch {
      return false;
    }
    if (!info) return false;
    at += 4;
    let bits = 0;
    for (const a of info.args) {
      if (a.type === "bit") {
        if (bits++ % 8 === 0) at++;
        continue;
      }
      bits = 0;
      if (!fits(a.type)) return false;
    }
    return at === end;
  }
  if (f[0] === 2) {
    if (end - at < 14 || f.readUInt16BE(at) !== 60 || f.readUInt16BE(at + 2) !== 0) return false;
    const flags = f.readUInt16BE(at + 12);
    at += 14;
    if (flags & 3) return false;
    for (let i = 0; i < PROPERTIES.length; i++) if (flags & (1 << (15 - i)) && !fits(PROPERTIES[i]!)) return false;
    return at === end;
  }
  return f[0] === 8 ? f.length === 8 : f[0] === 3;
}

describe("every method amqplib knows, put together from pieces", () => {
  type Arg = { name: string; type: string };
  const infos = () => Object.keys(amqplib)
    .filter((k) => k.startsWith("methodInfo"))
    .map((k) => amqplib[k] as { id: number; classId: number; methodId: number; name: string; args: Arg[] })
    // Class 30 (Access) is 0-8's, not 0-9-1's.
    .filter((i) => i.classId !== 30);
  // Arguments the plugin shows (as domain, resource, endpoint or an attribute), by amqplib's names.
  const SHOWN = new Set(["exchange", "source", "destination", "routingKey", "queue", "consumerTag", "deliveryTag", "messageCount", "consumerCount",
    "prefetchCount", "channelMax", "frameMax", "heartbeat", "virtualHost", "replyCode", "replyText", "type", "reason"]);
  // Update-Secret's reason is not shown (nor its secret).
  const shows = (method: string, arg: string) => SHOWN.has(arg) && method !== "ConnectionUpdateSecret";
  const client: Side = { port: 40000, direction: 0, stream: Buffer.alloc(0), frames: [] };

  function fields(args: Arg[], bits: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    args.forEach((a, i) => {
      out[a.name] = { octet: 7, short: 1000 + i, long: 100_000 + i, longlong: 10_000_000_000 + i, timestamp: 1_700_000_000 + i, bit: bits }[a.type]
        ?? (a.type === "shortstr" ? `${a.name}-${i}` : a.type === "longstr" ? Buffer.from(`long-${a.name}`) : { k: "v", n: 7 });
    });
    if ("classId" in out) [out.classId, out.methodId] = [60, 40];
    return out;
  }

  /** The frame, and what follows a content method so that its record comes out. */
  function frames(info: { name: string; classId: number; args: Arg[] }, bits: boolean): [Buffer, Buffer[]] {
    const channel = info.classId === 10 ? 0 : 1;
    const content = ["BasicPublish", "BasicReturn", "BasicDeliver", "BasicGetOk"].includes(info.name);
    return [method(info.name, channel, fields(info.args, bits)), content ? [contentHeader(channel, 1, { messageId: "m-1" }), body(channel, "x")] : []];
  }

  it("knows where each argument is: what it shows is what was sent, no-wait and bits included", () => {
    expect(infos().length).toBeGreaterThan(60);
    for (const info of infos()) {
      for (const bits of [true, false]) {
        const [f, tail] = frames(info, bits);
        const records = feedRecords(client, [f, ...tail]).flat();
        expect(records, info.name).toHaveLength(1);
        const text = JSON.stringify(records[0]);
        const sent = fields(info.args, bits);
        for (const a of info.args) if (shows(info.name, a.name)) expect(text, `${info.name}.${a.name}`).toContain(JSON.stringify(String(sent[a.name])).slice(1, -1));
        const attrs = Object.fromEntries(records[0]!.attributes.map((x) => [x.key, x.val]));
        for (const bit of ["redelivered", "multiple"]) if (info.args.some((a) => a.name === bit)) expect(attrs[bit], `${info.name}.${bit}`).toBe(bits ? "true" : undefined);
        // A client's request with no-wait set stands alone; without, it pairs by channel.
        if (info.args.some((a) => a.name === "nowait")) expect([info.name, records[0]!.is_async, records[0]!.request_id]).toEqual([info.name, bits ? true : null, bits ? null : 1]);
      }
    }
  });

  it("cut at every byte: the records of the whole frame; a byte lost in it: none made of other bytes", () => {
    const t = new Tally();
    for (const info of infos()) {
      const [f, tail] = frames(info, true);
      const whole = feed(client, [f, ...tail]);
      const wholeRecords = feedRecords(client, [f, ...tail]).flat();
      for (let k = 1; k < f.length; k++) {
        t.same(feed(client, [f.subarray(0, k), f.subarray(k), ...tail]), [[], ...whole], `${info.name} cut at ${k}`);
        // Byte k lost, and one more byte of a later frame (its end byte) in its place.
        const spliced = Buffer.concat([f.subarray(0, k), f.subarray(k + 1), Buffer.from([0xce])]);
        if (k >= 7 && k < f.length - 1 && !wellFormed(spliced)) {
          t.same(unseen(feedRecords(client, [f.subarray(0, k), f.subarray(k + 1), Buffer.from([0xce]), ...tail]).flat(), wholeRecords), [], `${info.name}, byte ${k} lost`);
        }
      }
    }
    t.done(2000);
  });
});

describe("frames cut across payloads (committed capture)", () => {
  it("has frames of every kind to cut", () => {
    // Two connections (consumer and publisher), both ways.
    expect(all).toHaveLength(4);
    const frames = all.flatMap((s) => s.frames);
    expect(frames.filter((f) => f.type === 1).length).toBeGreaterThan(80);
    // Content headers (the largest 667 bytes, with a headers table of every field type) and bodies.
    expect(frames.filter((f) => f.type === 2)).toHaveLength(16);
    expect(Math.max(...frames.filter((f) => f.type === 2).map((f) => f.bytes.length))).toBe(667);
    // frame_max 4096: a 20,000-byte body in five frames, both ways.
    expect(frames.filter((f) => f.type === 3 && f.bytes.length === 4096)).toHaveLength(8);
    expect(units.filter((u) => u.frames.length === 7)).toHaveLength(2);
  });

  it("two uncut pieces, cut anywhere in a frame: the records of whole frames, given with the last piece", () => {
    const t = new Tally();
    for (const u of units) {
      const whole = wholeFrames(u);
      u.frames.forEach((f, j) => {
        for (const k of cutPoints(f.bytes.length)) {
          const pieces = [...u.frames.slice(0, j).map((x) => x.bytes), f.bytes.subarray(0, k), f.bytes.subarray(k), ...u.frames.slice(j + 1).map((x) => x.bytes)];
          t.same(feed(u.side, pieces), [...whole.slice(0, j), [], whole[j], ...whole.slice(j + 1)],
            `frame ${j} (type ${f.type}, ${f.bytes.length} bytes) of a ${u.frames[0]!.method} cut at ${k}`);
        }
      });
    }
    t.done(1500);
  });

  it("the next frame in the same payload as the end of one: both records", () => {
    const t = new Tally();
    for (const side of all) {
      const whole = feed(side, side.frames.map((f) => f.bytes));
      for (let i = 0; i + 1 < side.frames.length; i++) {
        const [a, b] = [side.frames[i]!, side.frames[i + 1]!];
        for (const k of [1, 7, Math.floor(a.bytes.length / 2), a.bytes.length - 1]) {
          const pieces = [...side.frames.slice(0, i).map((f) => f.bytes), a.bytes.subarray(0, k), Buffer.concat([a.bytes.subarray(k), b.bytes]), ...side.frames.slice(i + 2).map((f) => f.bytes)];
          t.same(feed(side, pieces), [...whole.slice(0, i), [], [...whole[i]!, ...whole[i + 1]!], ...whole.slice(i + 2)],
            `frames ${i} and ${i + 1} of ${side.port}/${side.direction}, cut at ${k}`);
        }
      }
    }
    t.done(500);
  });

  /**
   * Each connection as the agent sees it on a network that cuts every payload into segments of
   * `size` bytes (both directions, in capture order, on one flow): every record of the whole
   * frames, each given with the segment that holds its frame's last byte.
   */
  function resegmented(size: number) {
    const t = new Tally();
    for (const port of new Set(all.map((s) => s.port))) {
      const both = all.filter((s) => s.port === port);
      const order = tcpSegments(CAPTURE).filter((s) => (s.direction === 0 ? s.srcPort : s.dstPort) === port);
      const run = (cutOf: (side: Side, at: number, n: number) => number[]) => {
        const id = flow++;
        const offsets = [0, 0];
        const got: Array<Array<[string, number]>> = [[], []];
        for (const s of order) {
          const side = both.find((x) => x.direction === s.direction)!;
          let at = offsets[s.direction]!;
          for (const end of cutOf(side, at, s.payload.length)) {
            for (const r of host.parsePayload(ctxOf(side, id, WHOLE), side.stream.subarray(at, end), AMQP) ?? []) got[s.direction]!.push([JSON.stringify(r), end]);
            at = end;
          }
          offsets[s.direction] = at;
        }
        return got;
      };
      // Whole frames: each payload cut at its frames' ends (and the protocol header's).
      const byFrame = run((side, at, n) => {
        const ends = side.frames.map((f) => f.at + f.bytes.length).filter((e) => e > at && e < at + n);
        return [...(at === 0 && side.direction === 0 ? [8] : []), ...ends, at + n];
      });
      const bySegment = run((_side, at, n) => {
        const ends: number[] = [];
        for (let e = at + size; e < at + n; e += size) ends.push(e);
        return [...ends, at + n];
      });
      for (const d of [0, 1]) {
        const want = byFrame[d]!;
        const got = bySegment[d]!;
        // The records of the whole frames, each from the segment that holds the last byte of the frame that completed it.
        const where = got.map(([, segmentEnd], i) => want[i] !== undefined && segmentEnd >= want[i]![1] && segmentEnd - size < want[i]![1]);
        t.same(got.map(([r]) => r), want.map(([r]) => r), `${port}/${d}: records`);
        t.same(where, want.map(() => true), `${port}/${d}: segments`);
      }
    }
    t.done(8);
  }

  it("in 1448-byte segments, as a 1500-byte MTU cuts them: the records of whole frames", () => resegmented(MSS));
  it("in 536-byte segments (the default MSS): the records of whole frames", () => resegmented(536));
  it("in 7-byte segments: the records of whole frames", () => resegmented(7));

  it("a payload the agent cut: what it holds at once, never a value it does not hold, nothing from the segments after it", () => {
    const t = new Tally();
    for (const u of units) {
      const stream = Buffer.concat(u.frames.map((f) => f.bytes));
      const whole = feedRecords(u.side, u.frames.map((f) => f.bytes)).flat();
      // The method and its content header, whole within the cut: the record is whole.
      const headEnd = u.frames.length > 1 ? u.frames[0]!.bytes.length + u.frames[1]!.bytes.length : u.frames[0]!.bytes.length;
      for (const bufSize of [16, 64, 256, 1024]) {
        if (stream.length <= bufSize) continue;
        // The sender's segments, of which the agent keeps bufSize bytes each.
        const segments: Buffer[] = [];
        for (let at = 0; at < stream.length; at += MSS) segments.push(stream.subarray(at, at + MSS));
        const got = feedRecords(u.side, segments, segments.map(() => bufSize));
        const what = `a ${u.frames[0]!.method || u.frames[0]!.type} of ${stream.length} bytes cut at ${bufSize}`;
        t.same(got[0]!.length, 1, `${what}: one record at once`);
        t.same(unseen(got[0]!, whole), [], `${what}: only what it holds`);
        if (headEnd <= bufSize) t.same(json([got[0]!]), json([whole]), `${what}: the whole record`);
        t.same(json(got.slice(1)).flat(), [], `${what}: nothing after`);
      }
    }
    t.done(250);
  });

  it("a piece the capture lost: the first piece's records when the next frame arrives, never one made of other bytes", () => {
    const t = new Tally();
    for (const u of units) {
      const next = units[units.indexOf(u) + 1];
      if (!next || next.side !== u.side) continue;
      u.frames.forEach((f, j) => {
        if (f.type === 3 || f.bytes.length < 24) return;
        const n = f.bytes.length;
        for (const [k1, k2] of [[10, 20], [Math.floor(n / 3), Math.floor(n / 2)], [n - 12, n - 4]] as const) {
          if (!(k1 > 0 && k1 < k2 && k2 < n)) continue;
          const before = u.frames.slice(0, j).map((x) => x.bytes);
          const after = [...u.frames.slice(j + 1).map((x) => x.bytes), next.frames[0]!.bytes];
          // What the agent would give for the first piece, had it cut the payload there.
          const firstOnly = feed(u.side, [...before, f.bytes.subarray(0, k1), ...after], [...before.map(() => WHOLE), k1]);
          // Piece 1, (piece 2 lost), piece 3, then the frames after.
          const got = feed(u.side, [...before, f.bytes.subarray(0, k1), f.bytes.subarray(k2), ...after]);
          t.same([got[before.length], got[before.length + 1], got.flat()], [[], [], firstOnly.flat()],
            `frame ${j} (type ${f.type}, ${n} bytes) of a ${u.frames[0]!.method}, ${k1}..${k2} lost`);
        }
      });
    }
    t.done(150);
  });

  it("a lost piece whose gap ends on a later frame's end byte: a spliced frame AMQP's grammar rejects gives no record of its bytes", () => {
    const t = new Tally();
    let wellFormedSplices = 0;
    for (const side of all) {
      const st = side.stream;
      const whole = feedRecords(side, side.frames.map((f) => f.bytes)).flat();
      const ends = side.frames.map((f) => f.at + f.bytes.length);
      side.frames.forEach((f, j) => {
        if (f.type === 3) return;
        const n = f.bytes.length;
        for (const k1 of new Set([7, 11, 15, Math.floor(n / 2), n - 2])) {
          if (k1 <= 0 || k1 >= n) continue;
          // Resume in a later frame, where the piece's frame would end on a real frame's end byte.
          for (const e of ends.filter((x) => x > f.at + n + 8).slice(0, 6)) {
            const r = e - (n - k1);
            if (r <= f.at + k1) continue;
            // Nothing can tell a splice that is itself a well-formed frame from the real one
            // (the agent gives no TCP sequence numbers): those are counted, not checked.
            if (wellFormed(Buffer.concat([f.bytes.subarray(0, k1), st.subarray(r, e)]))) {
              wellFormedSplices++;
              continue;
            }
            const pieces = [...side.frames.slice(Math.max(0, j - 3), j).map((x) => x.bytes), f.bytes.subarray(0, k1), st.subarray(r, Math.min(st.length, e + 2000))];
            t.same(unseen(feedRecords(side, pieces).flat(), whole), [],
              `frame ${j} of ${side.port}/${side.direction} (${f.method || f.type}), ${k1} bytes, then from ${r - f.at} past its start`);
          }
        }
      });
    }
    console.log(`spliced frames: ${t.checked} malformed (checked), ${wellFormedSplices} well-formed (cannot be told apart)`);
    t.done(1000);
  });
});
