import { GrpcDeframer, GrpcMessageSink } from "../grpc";

// GrpcDeframer: messages cut across pieces, kept in the deframer's own (unmanaged) bytes
// until their end arrives, and those bytes freed. (Framing is also tested through
// tests/as/http2.ts by plugins/pinpoint-grpc/tests/http2.test.ts.)

/** A message of `n` bytes (byte i is `seed + i`), with its 5-byte prefix. */
function message(n: i32, seed: i32): Uint8Array {
  const m = new Uint8Array(5 + n);
  m[1] = <u8>(n >> 24);
  m[2] = <u8>(n >> 16);
  m[3] = <u8>(n >> 8);
  m[4] = <u8>n;
  for (let i = 0; i < n; i++) m[5 + i] = <u8>(seed + i);
  return m;
}

/** Notes each message handed over: its tag, length, whether whole, and whether its bytes are the ones sent. */
class Got extends GrpcMessageSink {
  log: string = "";
  seed: i32 = 0;
  onMessage(tag: u32, data: Uint8Array, start: i32, end: i32, length: u32, whole: bool, compressed: bool): void {
    let same = true;
    for (let i = start; i < end; i++) if (data[i] != <u8>(this.seed + i - start)) same = false;
    this.log += tag.toString() + ":" + length.toString() + "/" + (end - start).toString() + (whole ? " whole" : " part") + (same ? "" : " WRONG") + ";";
  }
}

/** Counts the messages handed over. */
class Count extends GrpcMessageSink {
  n: i32 = 0;
  onMessage(tag: u32, data: Uint8Array, start: i32, end: i32, length: u32, whole: bool, compressed: bool): void {
    this.n++;
  }
}

describe("GrpcDeframer: messages across pieces", () => {
  it("hands over a message kept across pieces whole, each deframer from bytes of its own", () => {
    const a = new GrpcDeframer(true);
    const b = new GrpcDeframer(true);
    const ma = message(3000, 7);
    const mb = message(300, 7);
    const got = new Got();
    got.seed = 7;
    // Interleaved: each keeps its part while the other is fed.
    a.push(ma, 0, 1000, true, got, 1);
    b.push(mb, 0, 100, true, got, 2);
    a.push(ma, 1000, 2000, false, got, 1);
    b.push(mb, 100, mb.length, false, got, 2);
    a.push(ma, 2000, ma.length, false, got, 1);
    expect<string>(got.log).toBe("2:300/300 whole;1:3000/3000 whole;");
    a.free();
    b.free();
  });

  it("keeps keepMax bytes of a long message, and hands over the prefix kept when bytes are lost", () => {
    const d = new GrpcDeframer(true, 100);
    const m = message(500, 3);
    const got = new Got();
    got.seed = 3;
    d.push(m, 0, 200, true, got, 5);
    d.push(m, 200, m.length, false, got, 5);
    d.push(m, 0, 60, true, got, 5);
    d.lose(got, 5);
    expect<string>(got.log).toBe("5:500/100 part;5:500/55 part;");
    d.free();
  });
});

describe("GrpcDeframer.free", () => {
  it("frees the deframer with the bytes it keeps: 10,000 made, fed and freed leave memory as it was", () => {
    const m = message(2000, 0);
    const got = new Count();
    const warm = new GrpcDeframer(true);
    warm.push(m, 0, 1500, true, got, 1);
    warm.free();
    const pages = memory.size();
    // Unfreed, 10,000 deframers keeping 2 KiB each would grow memory by ~20 MB.
    for (let i = 0; i < 10000; i++) {
      const d = new GrpcDeframer(true);
      d.push(m, 0, 1500, true, got, 1);
      d.free();
    }
    expect<i32>(memory.size()).toBe(pages);
  });

  it("gives back a large kept buffer once its message is handed over", () => {
    const m = message(2000, 0);
    const got = new Count();
    const d = new GrpcDeframer(true);
    d.push(m, 0, 1000, true, got, 1);
    d.push(m, 1000, m.length, false, got, 1);
    expect<i32>(d.footprint).toBe(48);
    const pages = memory.size();
    // Not given back, a buffer of 2 KiB made again for each of 10,000 messages would grow memory by ~20 MB.
    for (let i = 0; i < 10000; i++) {
      d.push(m, 0, 1000, true, got, 1);
      d.push(m, 1000, m.length, false, got, 1);
    }
    expect<i32>(memory.size()).toBe(pages);
    expect<i32>(got.n).toBe(10001);
    d.free();
  });
});
