// Per-flow state, keyed by the agent's flow id. One plugin instance serves every flow (the
// agent's per-flow WasmLog holds no plugin state and calls the shared param.wasm_vm:
// agent/src/flow_generator/protocol_logs/plugin/wasm.rs) and is never told that a flow
// ended, so state is bounded in flows and the least recently used flow gives way to a new
// one: the flow quiet the longest is the likeliest to have ended.
//
// A slot holds one flow: a 16-byte header (flow id, LRU links) and `dataBytes` of the
// plugin's own, zeroed when the slot is given to a flow. Slots live in unmanaged memory
// (heap.alloc, 1024 slots a chunk, allocated as the table first fills them), so the garbage
// collector never walks them: its cost does not grow with the flows kept. A plugin whose
// state is managed keeps it in an array indexed by slot (then it is walked, of course).
//
// Memory: 16 + dataBytes (rounded up to 8) per slot in use, allocated 1024 slots at a time
// as flows come (nothing for slots never used; a full table does not grow), and an index
// of 8 to 16 bytes per flow of capacity (open addressing over slot numbers, at most half
// full), allocated with the first flow: at most bytesPerFlow per flow of capacity, plus
// one chunk. find, open, free and eviction are O(1)
// (expected: linear probing with backward-shift deletion, no tombstones).

const HEADER: usize = 16;
const CHUNK_SHIFT: i32 = 10;
const NONE: i32 = -1;

/** A flow id spread over the index (the agent's ids are sequential-ish); exported for the specs. */
// @ts-expect-error: decorator
@inline export function mix(k: u64): u64 {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccd;
  k ^= k >> 33;
  return k;
}

function emptyIndex(n: i32): StaticArray<i32> {
  const a = new StaticArray<i32>(n);
  memory.fill(changetype<usize>(a), 0xff, <usize>n << 2);
  return a;
}

export class FlowTable {
  readonly capacity: i32;
  readonly dataBytes: i32;
  private stride: usize;
  private chunkSlots: i32;
  private chunks: StaticArray<usize>;
  private index: StaticArray<i32>;
  private mask: i32;
  private maxIndex: i32;
  /** Slots handed out so far (slots below this exist); freed ones are reused first. */
  private made: i32 = 0;
  private freeList: i32 = NONE;
  private count: i32 = 0;
  /** Most recently used slot. */
  private head: i32 = NONE;
  /** Least recently used slot: the next to go. */
  private tail: i32 = NONE;
  /** Set by open: the slot was given to the flow now (its data zeroed). */
  created: bool = false;
  /** Flows forgotten to make room, in all. */
  evictions: i64 = 0;
  /** Set by open when it evicted: the flow forgotten. */
  evictedFlow: u64 = 0;

  constructor(capacity: i32, dataBytes: i32) {
    if (capacity < 1) capacity = 1;
    const chunkSlots = min(capacity, 1 << CHUNK_SHIFT);
    // Index at most half full: a power of two at least twice the capacity.
    let max = 16;
    while (max < capacity * 2) max <<= 1;
    this.capacity = capacity;
    this.dataBytes = dataBytes;
    this.stride = (HEADER + <usize>dataBytes + 7) & ~<usize>7;
    this.chunkSlots = chunkSlots;
    this.chunks = new StaticArray<usize>((capacity + chunkSlots - 1) / chunkSlots);
    this.maxIndex = max;
    // Made whole with the first flow (a grown index would cost module bytes to rehash).
    this.index = emptyIndex(1);
    this.mask = 0;
  }

  /** Flows kept now. */
  get size(): i32 {
    return this.count;
  }

  /** Bytes of memory the table holds now (slot chunks and index). */
  get memoryBytes(): i64 {
    let chunks = 0;
    for (let i = 0; i < this.chunks.length; i++) if (unchecked(this.chunks[i]) != 0) chunks++;
    return <i64>chunks * <i64>this.chunkSlots * <i64>this.stride + (<i64>this.index.length << 2);
  }

  /** Bytes per flow of capacity at most (its slot, and its share of the index). */
  get bytesPerFlow(): i32 {
    return <i32>this.stride + 16;
  }

  /** The flow's slot, made most recently used; -1 when the flow has none. */
  find(flowId: u64): i32 {
    const slot = this.lookup(flowId);
    if (slot < 0) return NONE;
    this.touch(slot);
    return slot;
  }

  /**
   * The flow's slot, made most recently used; given to it when it has none (`created`
   * true, data zeroed), taken from the least recently used flow when the table is full.
   */
  open(flowId: u64): i32 {
    const found = this.find(flowId);
    if (found >= 0) {
      this.created = false;
      return found;
    }
    let slot: i32 = NONE;
    if (this.count >= this.capacity) {
      slot = this.tail;
      this.evictedFlow = this.flowOf(slot);
      this.evictions++;
      this.free(slot);
    }
    if (this.freeList >= 0) {
      slot = this.freeList;
      this.freeList = load<i32>(this.header(slot), 12);
    } else {
      slot = this.made++;
      const c = slot >> CHUNK_SHIFT;
      if (unchecked(this.chunks[c]) == 0) unchecked((this.chunks[c] = heap.alloc(<usize>this.chunkSlots * this.stride)));
    }
    const h = this.header(slot);
    store<u64>(h, flowId);
    memory.fill(h + HEADER, 0, <usize>this.dataBytes);
    this.count++;
    if (this.mask == 0) {
      this.index = emptyIndex(this.maxIndex);
      this.mask = this.maxIndex - 1;
    }
    this.place(slot, flowId);
    this.linkFront(slot);
    this.created = true;
    return slot;
  }

  /** Forgets the flow of a slot (its slot is reused). */
  free(slot: i32): void {
    const flowId = this.flowOf(slot);
    this.unplace(flowId);
    this.unlink(slot);
    store<i32>(this.header(slot), this.freeList, 12);
    this.freeList = slot;
    this.count--;
  }

  /** The plugin's bytes of a slot (`dataBytes` of them, 8-aligned). */
  @inline data(slot: i32): usize {
    return this.header(slot) + HEADER;
  }

  @inline flowOf(slot: i32): u64 {
    return load<u64>(this.header(slot));
  }

  /** The least recently used slot (-1: none). */
  get oldest(): i32 {
    return this.tail;
  }

  /** The slot used just after `slot` (towards the newest; -1: none): walks from `oldest`. */
  newer(slot: i32): i32 {
    return load<i32>(this.header(slot), 8);
  }

  private header(slot: i32): usize {
    return unchecked(this.chunks[slot >> CHUNK_SHIFT]) + <usize>(slot & ((1 << CHUNK_SHIFT) - 1)) * this.stride;
  }

  private lookup(flowId: u64): i32 {
    const mask = this.mask;
    let i = <i32>mix(flowId) & mask;
    while (true) {
      const slot = unchecked(this.index[i]);
      if (slot < 0) return NONE;
      if (this.flowOf(slot) == flowId) return slot;
      i = (i + 1) & mask;
    }
    return NONE;
  }

  private place(slot: i32, flowId: u64): void {
    const mask = this.mask;
    let i = <i32>mix(flowId) & mask;
    while (unchecked(this.index[i]) >= 0) i = (i + 1) & mask;
    unchecked((this.index[i] = slot));
  }

  /** Removes a flow from the index, moving back the entries after it that probed past it. */
  private unplace(flowId: u64): void {
    const mask = this.mask;
    let i = <i32>mix(flowId) & mask;
    while (this.flowOf(unchecked(this.index[i])) != flowId) i = (i + 1) & mask;
    let j = i;
    while (true) {
      j = (j + 1) & mask;
      const slot = unchecked(this.index[j]);
      if (slot < 0) break;
      const home = <i32>mix(this.flowOf(slot)) & mask;
      // The entry at j may move to the hole at i unless its home lies cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        unchecked((this.index[i] = slot));
        i = j;
      }
    }
    unchecked((this.index[i] = NONE));
  }

  // The LRU list: prev (towards the newest) at 8, next (towards the oldest) at 12.
  private touch(slot: i32): void {
    if (this.head == slot) return;
    this.unlink(slot);
    this.linkFront(slot);
  }

  private linkFront(slot: i32): void {
    const h = this.header(slot);
    store<i32>(h, NONE, 8);
    store<i32>(h, this.head, 12);
    if (this.head >= 0) store<i32>(this.header(this.head), slot, 8);
    else this.tail = slot;
    this.head = slot;
  }

  private unlink(slot: i32): void {
    const h = this.header(slot);
    const prev = load<i32>(h, 8);
    const next = load<i32>(h, 12);
    if (prev >= 0) store<i32>(this.header(prev), next, 12);
    else this.head = next;
    if (next >= 0) store<i32>(this.header(next), prev, 8);
    else this.tail = prev;
  }
}
