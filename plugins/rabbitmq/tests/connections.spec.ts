import { Connections, MAX_WAITING, Stream } from "../stream";
import { L7ProtocolInfo } from "../../../assembly/index";
import { MAX_PENDING_STREAMS } from "../config";

// A connection's channels awaiting a reply and its flags are its slot's bytes (stream.ts),
// which no collection walks; content records wait in a few managed Streams. These specs
// hold that a connection is forgotten once nothing in it waits, that a slot given to
// another connection (after eviction or release) answers none of the old one's channels,
// and that Streams of content records go back when their records leave.

/** Parks one record of `channel` in this direction, as the plugin does when a content header is due. */
function parkOne(c: Connections, slot: i32, fromClient: bool, channel: u32): bool {
  const st = c.park(c.data(slot), fromClient);
  if (st === null) return false;
  st.waiting.push(new L7ProtocolInfo());
  st.channels.push(channel);
  return true;
}

/** Takes this direction's parked records out, emptying its Stream as the plugin's swap does; how many. */
function unparkAll(c: Connections, slot: i32, fromClient: bool): i32 {
  const st = c.unpark(c.data(slot), fromClient);
  if (st === null) return 0;
  const n = st.waiting.length;
  st.waiting = [];
  st.channels = [];
  return n;
}

describe("RabbitMQ connections", () => {
  it("remember the channels awaiting a reply, each once, the oldest forgotten first", () => {
    const c = new Connections(8);
    const s = c.open(100);
    c.await(c.data(s), 1);
    c.await(c.data(s), 1);
    c.await(c.data(s), 65535);
    expect<bool>(c.answer(c.data(s), 1)).toBe(true);
    expect<bool>(c.answer(c.data(s), 1)).toBe(false);
    expect<bool>(c.answer(c.data(s), 65535)).toBe(true);
    for (let ch: u32 = 1; ch <= <u32>MAX_WAITING + 2; ch++) c.await(c.data(s), ch);
    expect<bool>(c.answer(c.data(s), 1)).toBe(false);
    expect<bool>(c.answer(c.data(s), 2)).toBe(false);
    for (let ch: u32 = <u32>MAX_WAITING + 2; ch >= 3; ch--) expect<bool>(c.answer(c.data(s), ch)).toBe(true);
    c.release(s, c.data(s));
    expect<i32>(c.size).toBe(0);
  });

  it("keep a connection while a channel waits or a direction is lost, and forget it then", () => {
    const c = new Connections(8);
    const s = c.open(100);
    c.await(c.data(s), 7);
    c.setLost(c.data(s), false);
    c.release(s, c.data(s));
    expect<i32>(c.find(100)).toBe(s);
    c.answer(c.data(s), 7);
    c.release(s, c.data(s));
    expect<i32>(c.size).toBe(1);
    expect<bool>(c.takeLost(c.data(s), true)).toBe(false);
    expect<bool>(c.takeLost(c.data(s), false)).toBe(true);
    expect<bool>(c.takeLost(c.data(s), false)).toBe(false);
    c.release(s, c.data(s));
    expect<i32>(c.size).toBe(0);
    expect<i32>(c.find(100)).toBe(-1);
  });

  it("give a forgotten connection's slot to the next one clean: no old channel answered, nothing lost", () => {
    const c = new Connections(2);
    const a = c.open(1);
    c.await(c.data(a), 5);
    c.setLost(c.data(a), true);
    c.open(2);
    // Full: connection 1, the least recently used, gives its slot to connection 3.
    const s = c.open(3);
    expect<i32>(s).toBe(a);
    expect<i32>(c.find(1)).toBe(-1);
    expect<bool>(c.answer(c.data(s), 5)).toBe(false);
    expect<bool>(c.takeLost(c.data(s), true)).toBe(false);
    c.release(s, c.data(s));
    expect<i32>(c.find(3)).toBe(-1);
    // Released, not evicted: the same.
    const b = c.open(4);
    c.await(c.data(b), 9);
    c.answer(c.data(b), 9);
    c.await(c.data(b), 6);
    c.answer(c.data(b), 6);
    c.release(b, c.data(b));
    const d = c.open(5);
    expect<i32>(d).toBe(b);
    expect<bool>(c.answer(c.data(d), 9)).toBe(false);
    expect<bool>(c.answer(c.data(d), 6)).toBe(false);
  });

  it("hand content records' Streams back when their records leave, or their connection is forgotten", () => {
    const c = new Connections(2);
    const s = c.open(1);
    expect<bool>(parkOne(c, s, true, 1)).toBe(true);
    expect<bool>(parkOne(c, s, false, 1)).toBe(true);
    expect<i32>(c.pendingStreams).toBe(2);
    c.release(s, c.data(s));
    expect<i32>(c.find(1)).toBe(s);
    expect<i32>(unparkAll(c, s, true)).toBe(1);
    expect<i32>(unparkAll(c, s, true)).toBe(0);
    expect<i32>(c.pendingStreams).toBe(1);
    c.release(s, c.data(s));
    expect<i32>(c.size).toBe(1);
    expect<i32>(unparkAll(c, s, false)).toBe(1);
    c.release(s, c.data(s));
    expect<i32>(c.size).toBe(0);
    expect<i32>(c.pendingStreams).toBe(0);
    // Forgotten with records waiting: its Streams go back empty, and the slot's next
    // connection has none.
    const a = c.open(10);
    parkOne(c, a, false, 3);
    c.open(11);
    const b = c.open(12);
    expect<i32>(b).toBe(a);
    expect<i32>(c.pendingStreams).toBe(0);
    expect<i32>(unparkAll(c, b, false)).toBe(0);
    const st = c.park(c.data(b), false) as Stream;
    expect<i32>(st.waiting.length).toBe(0);
    expect<i32>(st.channels.length).toBe(0);
  });

  it("let at most MAX_PENDING_STREAMS directions hold content records at once", () => {
    const c = new Connections(MAX_PENDING_STREAMS + 8);
    for (let f: u64 = 1; f <= <u64>MAX_PENDING_STREAMS; f++) expect<bool>(parkOne(c, c.open(f), true, 1)).toBe(true);
    const last = c.open(0);
    expect<bool>(parkOne(c, last, true, 1)).toBe(false);
    unparkAll(c, c.find(1), true);
    expect<bool>(parkOne(c, last, true, 1)).toBe(true);
    expect<i32>(c.pendingStreams).toBe(MAX_PENDING_STREAMS);
  });
});
