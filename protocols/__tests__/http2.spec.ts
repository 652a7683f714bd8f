import { H2Direction, H2Sink } from "../http2";
import { HeaderBlock, HPACK_OK } from "../hpack";
import { asciiCodes, bytes } from "../../assembly/__tests__/support";

// H2Direction.continues / markLost / seeking / inHeaderBlock: telling whether the next
// payload goes on from the last, and giving up what follows a payload. (Framing itself is
// tested through tests/as/http2.ts by plugins/pinpoint-grpc/tests/http2.test.ts.)

/** One frame: 9-byte header and payload, as byte values. */
function frame(type: i32, flags: i32, stream: i32, payload: i32[]): i32[] {
  const n = payload.length;
  const out: i32[] = [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, type, flags, (stream >> 24) & 0x7f, (stream >> 16) & 0xff, (stream >> 8) & 0xff, stream & 0xff];
  return out.concat(payload);
}

function filled(n: i32, v: i32): i32[] {
  const out: i32[] = [];
  for (let i = 0; i < n; i++) out.push(v);
  return out;
}

class Events extends H2Sink {
  log: string = "";
  onHeaders(streamId: u32, endStream: bool, block: HeaderBlock): void {
    this.log += "H" + streamId.toString() + (block.status == HPACK_OK ? "" : " cut") + ";";
  }
  onData(streamId: u32, data: Uint8Array, start: i32, end: i32, frameStart: bool): void {
    this.log += "D" + streamId.toString() + " " + (end - start).toString() + ";";
  }
  onDataLost(streamId: u32): void {
    this.log += "L" + streamId.toString() + ";";
  }
  onBytesLost(): void {
    this.log += "X;";
  }
}

const PREFACE = asciiCodes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const SETTINGS = frame(4, 0, 0, []);
// A DATA frame of 40 bytes on stream 1, and a WINDOW_UPDATE.
const DATA = frame(0, 0, 1, filled(40, 7));
const WINDOW = frame(8, 0, 0, [0, 0, 1, 0]);

/** A direction that has read the preface, SETTINGS and the first `k` bytes of DATA. */
function inData(k: i32, sink: Events): H2Direction {
  const d = new H2Direction();
  d.feed(bytes(PREFACE.concat(SETTINGS).concat(DATA.slice(0, k))), false, sink);
  return d;
}

describe("H2Direction.continues", () => {
  it("says nothing while seeking a frame boundary", () => {
    const d = new H2Direction();
    expect<bool>(d.seeking).toBe(true);
    expect<i32>(d.continues(bytes([1, 2, 3]))).toBe(1);
    d.feed(bytes(PREFACE.concat(SETTINGS)), false, new Events());
    expect<bool>(d.seeking).toBe(false);
  });

  it("1 where plausible frames follow the frame in progress, or it ends with the payload", () => {
    const e = new Events();
    const d = inData(20, e);
    expect<i32>(d.continues(bytes(DATA.slice(20).concat(WINDOW)))).toBe(1);
    expect<i32>(d.continues(bytes(DATA.slice(20)))).toBe(1);
    expect<string>(e.log).toBe("D1 11;");
  });

  it("-1 where bytes were lost: no plausible frame where the next one is due", () => {
    const d = inData(20, new Events());
    // One byte of the frame lost: the frame would end inside WINDOW's header.
    expect<i32>(d.continues(bytes(DATA.slice(21).concat(WINDOW).concat(WINDOW)))).toBe(-1);
    // A header cut by the payload's end that no frame header can begin (length over 16384).
    expect<i32>(d.continues(bytes(DATA.slice(20).concat([0xff, 0xff])))).toBe(-1);
  });

  it("0 when the payload cannot tell: the frame runs past it, or it ends inside a plausible header", () => {
    const d = inData(20, new Events());
    expect<i32>(d.continues(bytes(DATA.slice(20, 30)))).toBe(0);
    expect<i32>(d.continues(bytes(DATA.slice(20).concat(WINDOW.slice(0, 4))))).toBe(0);
  });

  it("a frame header begun in the last payload: the completed header must be plausible", () => {
    // The length (40) came in the last payload.
    const d = inData(3, new Events());
    expect<i32>(d.continues(bytes(DATA.slice(3)))).toBe(1);
    expect<i32>(d.continues(bytes(DATA.slice(3, 9)))).toBe(0);
    expect<i32>(d.continues(bytes(DATA.slice(3, 5)))).toBe(0);
    // Completed as type 0x0f: no frame a real peer sends.
    expect<i32>(d.continues(bytes([0x0f, 0, 0, 0, 0, 1]))).toBe(-1);
    expect<i32>(d.continues(bytes([0x0f]))).toBe(-1);
  });
});

describe("H2Direction.markLost", () => {
  it("ends the DATA frame in progress, forgets every stream's framing, and seeks a frame boundary", () => {
    const e = new Events();
    const d = inData(20, e);
    d.markLost(e);
    expect<string>(e.log).toBe("D1 11;L1;X;");
    expect<bool>(d.seeking).toBe(true);
    // The rest of the frame is not read as frames; the next frame boundary is.
    d.feed(bytes(DATA.slice(20)), false, e);
    d.feed(bytes(DATA), false, e);
    expect<string>(e.log).toBe("D1 11;L1;X;D1 40;");
  });

  it("decodes a header block in progress as cut", () => {
    const e = new Events();
    const d = new H2Direction();
    // HEADERS without END_HEADERS: ":method: GET" (static index 2), then CONTINUATION still to come.
    d.feed(bytes(PREFACE.concat(SETTINGS).concat(frame(1, 0, 3, [0x82]))), false, e);
    expect<bool>(d.inHeaderBlock).toBe(true);
    d.markLost(e);
    expect<bool>(d.inHeaderBlock).toBe(false);
    expect<string>(e.log).toBe("H3 cut;X;");
  });
});

describe("H2Direction.free", () => {
  it("frees the direction with its decoder, table and buffers: 10,000 made, fed and freed leave memory as it was", () => {
    // A header block cut across two payloads (the block buffer), a frame header cut (the
    // frame-header bytes), a literal with indexing (the HPACK table) and SETTINGS (control bytes).
    const block = frame(1, 4, 1, [0x40, 0x01, 0x61, 0x01, 0x62]);
    const all = PREFACE.concat(SETTINGS).concat(frame(4, 0, 0, [0, 5, 0, 0, 0x40, 0])).concat(block);
    const cutAt = all.length - 3;
    const first = bytes(all.slice(0, cutAt));
    const rest = bytes(all.slice(cutAt).concat(DATA.slice(0, 4)));
    const sink = new Events();
    const pages = memory.size();
    for (let i = 0; i < 10000; i++) {
      const d = new H2Direction();
      d.feed(first, false, sink);
      d.feed(rest, false, sink);
      if (i == 0) expect<i32>(d.hpack.count).toBe(1);
      d.free();
      sink.log = "";
    }
    expect<i32>(memory.size()).toBe(pages);
  });
});
