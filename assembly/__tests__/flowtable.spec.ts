import { FlowTable, mix } from "../flow/table";

/** The flows of the table from the least recently used on, by walking the LRU list. */
function lruOrder(t: FlowTable): u64[] {
  const out: u64[] = [];
  for (let s = t.oldest; s >= 0; ) {
    out.push(t.flowOf(s));
    s = t.newer(s);
  }
  return out;
}

describe("FlowTable", () => {
  it("gives a flow a zeroed slot once, and finds it again", () => {
    const t = new FlowTable(8, 24);
    expect<i32>(t.find(7)).toBe(-1);
    const s = t.open(7);
    expect<bool>(t.created).toBe(true);
    expect<u64>(load<u64>(t.data(s))).toBe(0);
    expect<u64>(load<u64>(t.data(s), 16)).toBe(0);
    store<u64>(t.data(s), 0x1234, 8);
    expect<i32>(t.open(7)).toBe(s);
    expect<bool>(t.created).toBe(false);
    expect<i32>(t.find(7)).toBe(s);
    expect<u64>(load<u64>(t.data(s), 8)).toBe(0x1234);
    expect<i32>(t.size).toBe(1);
    expect<u64>(t.flowOf(s)).toBe(7);
  });

  it("evicts the least recently used flow, found or opened", () => {
    const t = new FlowTable(4, 8);
    for (let f: u64 = 1; f <= 4; f++) t.open(f);
    t.find(1);
    t.open(3);
    t.open(5);
    expect<i64>(t.evictions).toBe(1);
    expect<u64>(t.evictedFlow).toBe(2);
    expect<i32>(t.find(2)).toBe(-1);
    t.open(6);
    expect<u64>(t.evictedFlow).toBe(4);
    expect<u64[]>(lruOrder(t)).toStrictEqual([1, 3, 5, 6]);
    expect<i32>(t.size).toBe(4);
  });

  it("reuses an evicted or freed slot zeroed", () => {
    const t = new FlowTable(2, 16);
    const a = t.open(10);
    store<u64>(t.data(a), 99);
    t.open(11);
    const c = t.open(12);
    expect<i32>(c).toBe(a);
    expect<u64>(load<u64>(t.data(c))).toBe(0);
    store<u64>(t.data(c), 5);
    t.free(c);
    expect<i32>(t.find(12)).toBe(-1);
    expect<i32>(t.size).toBe(1);
    const d = t.open(13);
    expect<i32>(d).toBe(c);
    expect<u64>(load<u64>(t.data(d))).toBe(0);
    expect<i32>(t.find(11)).toBeGreaterThanOrEqual(0);
  });

  it("keeps flows whose ids share an index position apart, through frees", () => {
    // Ids whose home in the first index (2048 positions) is the same: one probe chain.
    const same: u64[] = [];
    const home = <i32>mix(1) & 2047;
    for (let k: u64 = 1; same.length < 40; k++) if ((<i32>mix(k) & 2047) == home) same.push(k);
    const t = new FlowTable(100, 8);
    for (let i = 0; i < same.length; i++) store<i32>(t.data(t.open(same[i])), i);
    // Free every third (backward-shift deletion keeps the rest reachable).
    for (let i = 0; i < same.length; i += 3) t.free(t.find(same[i]));
    for (let i = 0; i < same.length; i++) {
      const s = t.find(same[i]);
      if (i % 3 == 0) expect<i32>(s).toBe(-1);
      else expect<i32>(load<i32>(t.data(s))).toBe(i);
    }
    // Ids that differ only in their high bits.
    const u = new FlowTable(16, 0);
    for (let i: u64 = 0; i < 16; i++) u.open((i << 40) | 1);
    for (let i: u64 = 0; i < 16; i++) expect<u64>(u.flowOf(u.find((i << 40) | 1))).toBe((i << 40) | 1);
  });

  it("holds 100k flows, finds each, and stays within its stated memory bound under churn", () => {
    const cap = 100_000;
    const t = new FlowTable(cap, 40);
    for (let f: u64 = 0; f < <u64>cap; f++) store<u64>(t.data(t.open(f * 7919 + 3)), f);
    expect<i32>(t.size).toBe(cap);
    expect<i64>(t.evictions).toBe(0);
    // Counted, then checked once: an expect per flow would make the spec slow.
    let wrong = 0;
    for (let f: u64 = 0; f < <u64>cap; f++) if (load<u64>(t.data(t.find(f * 7919 + 3))) != f) wrong++;
    expect<i32>(wrong).toBe(0);
    const full = t.memoryBytes;
    // Slot + index per flow, plus at most one partly used chunk of 1024 slots.
    expect<i64>(full).toBeLessThanOrEqual(<i64>cap * <i64>t.bytesPerFlow + 1024 * 56);
    expect<i32>(t.bytesPerFlow).toBe(72);
    // 200k more flows: each evicts the oldest, in order, and memory does not grow.
    for (let f: u64 = 0; f < 200_000; f++) {
      t.open(f + (1 << 40));
      if (t.evictedFlow != (f < <u64>cap ? f * 7919 + 3 : (f - <u64>cap) + (1 << 40))) wrong++;
    }
    expect<i32>(wrong).toBe(0);
    expect<i64>(t.evictions).toBe(200_000);
    expect<i32>(t.size).toBe(cap);
    expect<i64>(t.memoryBytes).toBe(full);
    for (let f: u64 = 100_000; f < 200_000; f++) if (t.find(f + (1 << 40)) < 0) wrong++;
    expect<i32>(wrong).toBe(0);
  });

  it("allocates slots for the flows kept, not for its capacity", () => {
    const t = new FlowTable(1 << 17, 256);
    expect<i64>(t.memoryBytes).toBe(4);
    for (let f: u64 = 0; f < 10; f++) t.open(f);
    // One chunk of 1024 slots and the whole index (2^18 slot numbers).
    expect<i64>(t.memoryBytes).toBe(1024 * (16 + 256) + (1 << 20));
    for (let f: u64 = 10; f < 2000; f++) t.open(f);
    expect<i64>(t.memoryBytes).toBe(2048 * (16 + 256) + (1 << 20));
  });
});
