// Flow-level building blocks: TCP byte tracking (retransmissions, reassembly with gaps), the
// inference cache's counting, and --filter checked against tcpdump's own BPF on real captures.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DecodedPacket, decodeFrame, openCapture } from "../../capture/open.ts";
import { compileFilter } from "../../capture/filter.ts";
import { AppTable } from "../../sdk/flow/app-table.ts";
import { SeqTracker, StreamReassembler } from "../../capture/tcp-stream.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("SeqTracker", () => {
  it("tells retransmissions from new and hole-filling segments", () => {
    const t = new SeqTracker();
    expect(t.isRetransmission(1000, 10)).toBe(false);
    expect(t.isRetransmission(1000, 10)).toBe(true); // same bytes again
    expect(t.isRetransmission(1020, 10)).toBe(false); // leaves a hole 1010..1020
    expect(t.isRetransmission(1010, 10)).toBe(false); // fills it: new, not a retransmission
    expect(t.isRetransmission(1010, 10)).toBe(true);
    expect(t.isRetransmission(1025, 10)).toBe(false); // half old, half new
    expect(t.isRetransmission(900, 10)).toBe(false); // before the first byte seen: never fed
  });

  it("survives sequence-number wrap-around", () => {
    const t = new SeqTracker();
    expect(t.isRetransmission(0xffff_fff0, 32)).toBe(false);
    expect(t.isRetransmission(0x10, 8)).toBe(false);
    expect(t.isRetransmission(0xffff_fff8, 8)).toBe(true);
  });
});

describe("StreamReassembler", () => {
  function collect(maxPending = 1 << 20) {
    const out: Array<[string, number, number]> = [];
    const r = new StreamReassembler(maxPending, (b, t, seq) => out.push([text(b), t, seq]));
    return { r, out };
  }

  it("delivers in byte order, trims retransmitted bytes, keeps each piece's time and seq", () => {
    const { r, out } = collect();
    r.push(100, bytes("hello "), 1);
    r.push(112, bytes("!"), 3); // out of order
    r.push(106, bytes("world"), 2); // leaves 111 missing
    r.push(103, bytes("lo wor"), 4); // all old
    r.push(111, bytes("X!"), 5); // fills the hole and covers the waiting "!" (dropped)
    expect(out).toEqual([["hello ", 1, 100], ["world", 2, 106], ["X!", 5, 111]]);
    expect(r.gapCount).toBe(0);
  });

  it("reports a hole that never fills when the flow ends, then delivers what waited", () => {
    const { r, out } = collect();
    r.push(0, bytes("abc"), 1);
    r.push(10, bytes("xyz"), 2);
    expect(out.map((o) => o[0])).toEqual(["abc"]);
    r.finish();
    expect(out.map((o) => o[0])).toEqual(["abc", "xyz"]);
    expect([r.gapCount, r.gapBytes, r.gaps]).toEqual([1, 7, [{ offset: 3, bytes: 7 }]]);
  });

  it("gives up on a hole when out-of-order bytes exceed the bound", () => {
    const { r, out } = collect(8);
    r.push(0, bytes("ab"), 1);
    r.push(5, bytes("12345"), 2);
    r.push(10, bytes("6789"), 3); // 9 bytes waiting > 8: skip the hole 2..5
    expect(out.map((o) => o[0])).toEqual(["ab", "12345", "6789"]);
    expect(r.gapBytes).toBe(3);
  });
});

describe("AppTable (inference cache)", () => {
  it("counts failures from 0, gives up past the limit, forgets after the TTL", () => {
    const t = new AppTable(2, 60);
    const key = "10.0.0.1|9000";
    expect(t.set(false, key, null, 100)).toBe(false); // stored with count 0
    expect(t.get(false, key, 100)).toBeUndefined(); // below the limit: keep inferring
    expect(t.set(false, key, null, 101)).toBe(false); // 1
    expect(t.set(false, key, null, 102)).toBe(false); // 2
    expect(t.get(false, key, 102)).toEqual({ protocol: null, unknownCount: 2, lastSec: 102 });
    expect(t.set(false, key, null, 103)).toBe(true); // 3 > 2: stop
    expect(t.get(false, key, 200)).toBeUndefined(); // 103 + 60 < 200: expired
    t.set(false, key, { proto: 7, name: "x", instance: "x.wasm" }, 300);
    expect(t.get(false, key, 301)?.protocol).toEqual({ proto: 7, name: "x", instance: "x.wasm" });
    expect(t.get(true, key, 301)).toBeUndefined(); // IPv6 is another table
  });
});

describe("--filter agrees with tcpdump", () => {
  const FILES = [join(import.meta.dirname, "../fixtures/capture/v4.pcap"), join(import.meta.dirname, "../fixtures/deepflow/amqp/amqp1.pcap")];
  const EXPRESSIONS = ["tcp", "udp", "port 47001", "src port 47001", "dst port 47002", "host 127.0.0.1 and udp", "not port 47001",
    "tcp and (port 47001 or port 47002)", "ip6", "ip", "net 127.0.0.0/8", "portrange 5000-6000", "host ::1", "dst host ::1 || src port 5672",
    "! tcp port 5672 && tcp"];

  for (const file of FILES) {
    it(file.split("/").slice(-2).join("/"), () => {
      const p = new DecodedPacket();
      for (const expr of EXPRESSIONS) {
        const f = compileFilter(expr);
        let ours = 0;
        const r = openCapture(file);
        for (let fr = r.next(); fr; fr = r.next()) if (decodeFrame(fr, p) && f(p)) ours++;
        r.close();
        const out = execFileSync("tcpdump", ["-n", "-r", file, `(${expr}) and (tcp or udp)`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
        const theirs = out.split("\n").filter((l) => l.length > 0).length;
        expect(ours, expr).toBe(theirs);
      }
    });
  }

  it("rejects what it does not understand, saying what", () => {
    expect(() => compileFilter("port")).toThrow(/bad port/);
    expect(() => compileFilter("host 300.1.1.1")).toThrow(/not an IP address/);
    expect(() => compileFilter("tcp and")).toThrow(/ends too early/);
    expect(() => compileFilter("(tcp")).toThrow(/missing \)/);
    expect(() => compileFilter("ether host 1")).toThrow(/unexpected "ether"/);
    expect(() => compileFilter("tcp udp")).toThrow(/unexpected "udp"/);
  });
});
