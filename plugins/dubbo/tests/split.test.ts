// Frames cut across payloads, every way TCP and senders cut them: each frame of the
// committed capture (real hessian.js traffic) is cut at points in its header and body and
// fed piece by piece, as the agent feeds segments. Uncut pieces are put back together and
// give the same record as the whole frame; a piece the agent cut gives what it holds and
// the pieces after it give nothing; a lost piece never makes a record out of other bytes.
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { WasmHost, type CallCtx } from "../../../sdk/host.ts";
import { tcpSegments } from "../../../tests/support/capture.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const wasm = join(root, "build", "dubbo.wasm");
const DUBBO = 140;
const WHOLE = 65535;

interface Frame {
  bytes: Uint8Array;
  direction: 0 | 1;
}

/** The capture's frames, from each direction's byte stream (one connection). */
function frames(): Frame[] {
  const out: Frame[] = [];
  for (const direction of [0, 1] as const) {
    const stream = Buffer.concat(tcpSegments(join(root, "tests/fixtures/dubbo/dubbo-hessian2.pcap")).filter((s) => s.direction === direction).map((s) => s.payload));
    for (let at = 0; at < stream.length; ) {
      const end = at + 16 + stream.readUInt32BE(at + 12);
      out.push({ bytes: stream.subarray(at, end), direction });
      at = end;
    }
  }
  return out;
}

let host: WasmHost;
let flow = 1;
let all: Frame[];

beforeAll(async () => {
  host = await WasmHost.load([wasm]);
  all = frames();
});

/** Feeds pieces on a flow of their own; the records of each call. */
function feed(f: Frame, pieces: Uint8Array[], bufSizes: number[] = []): string[][] {
  const ctx: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 20880, direction: f.direction, flowId: flow++ };
  return pieces.map((p, i) => (host.parsePayload({ ...ctx, bufSize: bufSizes[i] ?? WHOLE }, p, DUBBO) ?? []).map((r) => JSON.stringify(r)));
}

const cutPoints = (n: number) => [...new Set([1, 2, 7, 15, 16, 17, 40, Math.floor(n / 2), n - 1])].filter((k) => k > 0 && k < n);

describe("a frame cut across payloads", () => {
  it("has frames of every kind to cut", () => {
    // 45 requests (a heartbeat, 2.2 KB and 34.9 KB ones among them), 44 responses (none for the one-way call).
    expect(all.filter((f) => f.direction === 0)).toHaveLength(45);
    expect(all.filter((f) => f.direction === 1)).toHaveLength(44);
  });

  it("two uncut pieces, cut anywhere in the header or body: the record of the whole frame, given with the last piece", () => {
    let checked = 0;
    for (const f of all) {
      const [whole] = feed(f, [f.bytes]);
      expect(whole).toHaveLength(1);
      for (const k of cutPoints(f.bytes.length)) {
        expect(feed(f, [f.bytes.subarray(0, k), f.bytes.subarray(k)]), `cut at ${k} of ${f.bytes.length}`).toEqual([[], whole]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500);
  });

  it("in 1448-byte segments, as a 1500-byte MTU cuts it: the whole frame's record", () => {
    const large = all.filter((f) => f.bytes.length > 1448);
    expect(large).toHaveLength(2);
    for (const f of large) {
      const [whole] = feed(f, [f.bytes]);
      const pieces: Uint8Array[] = [];
      for (let at = 0; at < f.bytes.length; at += 1448) pieces.push(f.bytes.subarray(at, at + 1448));
      const got = feed(f, pieces);
      expect(got.at(-1)).toEqual(whole);
      expect(got.slice(0, -1).flat()).toEqual([]);
    }
  });

  it("the next frame in the same payload as the end of one: both records", () => {
    for (let i = 0; i + 1 < all.length; i++) {
      const [a, b] = [all[i]!, all[i + 1]!];
      if (a.direction !== b.direction) continue;
      const both = Buffer.concat([a.bytes, b.bytes]);
      const k = Math.floor(a.bytes.length / 2);
      const [[wa], [wb]] = [feed(a, [a.bytes]), feed(b, [b.bytes])];
      expect(feed(a, [both.subarray(0, k), both.subarray(k)])).toEqual([[], [...wa!, ...wb!]]);
    }
  });

  it("a piece the agent cut: a record of what it holds at once, nothing from the pieces after it", () => {
    for (const f of all.filter((x) => x.bytes.length > 1100)) {
      const first = f.bytes.subarray(0, 1024);
      const [alone] = feed(f, [first], [1024]);
      expect(alone).toHaveLength(1);
      // The agent cut the first segment at 1024 bytes; the next segments are continuations.
      const rest: Uint8Array[] = [];
      for (let at = 1448; at < f.bytes.length; at += 1448) rest.push(f.bytes.subarray(at, at + 1448));
      const got = feed(f, [first, ...rest], [1024, ...rest.map(() => 1024)]);
      expect(got[0]).toEqual(alone);
      expect(got.slice(1).flat()).toEqual([]);
    }
  });

  it("a piece the capture lost: the first piece's record when the next frame arrives, never one made of other bytes", () => {
    let checked = 0;
    for (let i = 0; i + 1 < all.length; i++) {
      const [a, b] = [all[i]!, all[i + 1]!];
      if (a.direction !== b.direction || a.bytes.length < 400) continue;
      const [k1, k2] = [200, 300];
      const [firstOnly] = feed(a, [a.bytes.subarray(0, k1)], [k1]); // what the first piece alone gives
      const [wb] = feed(b, [b.bytes]);
      // Piece 1, (piece 2 lost), piece 3, then the next frame.
      const got = feed(a, [a.bytes.subarray(0, k1), a.bytes.subarray(k2), b.bytes]);
      expect(got[0]).toEqual([]);
      expect(got[1]).toEqual([]);
      expect(got[2]).toEqual([...firstOnly!, ...wb!]);
      checked++;
    }
    expect(checked).toBeGreaterThan(30);
  });
});
