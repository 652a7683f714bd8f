// Which api key and version each outstanding correlation id of a flow was, so that a
// response (which carries only the correlation id) can be decoded. Bounded in flows
// and in entries per flow; stored in flat arrays so that no per-flow object is kept.

const EMPTY: u32 = 0xffffffff;

export class Sessions {
  private slotOf: Map<u64, i32> = new Map<u64, i32>();
  private flowOf: StaticArray<u64>;
  private lastUse: StaticArray<u32>;
  private nextEntry: StaticArray<u8>;
  private corr: StaticArray<i32>;
  /** apiKey << 16 | version, EMPTY when free. */
  private api: StaticArray<u32>;
  private used: i32 = 0;
  private clock: u32 = 0;
  // The flow of the last call and its slot (-1: none): calls come flow after flow, mostly the same one.
  private lastFlow: u64 = 0;
  private lastSlot: i32 = -1;

  readonly perFlow: i32;

  constructor(public maxFlows: i32, perFlow: i32) {
    const per = perFlow < 1 ? 1 : perFlow > 255 ? 255 : perFlow;
    this.perFlow = per;
    this.flowOf = new StaticArray<u64>(maxFlows);
    this.lastUse = new StaticArray<u32>(maxFlows);
    this.nextEntry = new StaticArray<u8>(maxFlows);
    this.corr = new StaticArray<i32>(maxFlows * per);
    const api = new StaticArray<u32>(maxFlows * per);
    for (let i = 0; i < api.length; i++) unchecked(api[i] = EMPTY);
    this.api = api;
  }

  get flowCount(): i32 {
    return this.slotOf.size;
  }

  /** Outstanding entries over all flows. */
  get entryCount(): i32 {
    let n = 0;
    for (let i = 0; i < this.api.length; i++) if (unchecked(this.api[i]) != EMPTY) n++;
    return n;
  }

  /** Remembers a request; a repeated correlation id replaces the older entry. */
  remember(flowId: u64, correlationId: i32, apiKey: i32, version: i32): void {
    const slot = this.slotFor(flowId, true);
    const base = slot * this.perFlow;
    const packed = (<u32>(apiKey & 0xffff) << 16) | <u32>(version & 0xffff);
    for (let i = 0; i < this.perFlow; i++) {
      if (unchecked(this.api[base + i]) != EMPTY && unchecked(this.corr[base + i]) == correlationId) {
        unchecked(this.api[base + i] = packed);
        return;
      }
    }
    // A ring: the oldest entry gives way (its response never came, or came unseen).
    const at = <i32>unchecked(this.nextEntry[slot]);
    unchecked(this.corr[base + at] = correlationId);
    unchecked(this.api[base + at] = packed);
    unchecked(this.nextEntry[slot] = <u8>((at + 1) % this.perFlow));
  }

  /** The api (apiKey << 16 | version) of a correlation id, forgetting it; -1 when unknown. */
  take(flowId: u64, correlationId: i32): i64 {
    return this.find(flowId, correlationId, true);
  }

  /** The api of a correlation id, kept (a response whose rest is still to come); -1 when unknown. */
  peek(flowId: u64, correlationId: i32): i64 {
    return this.find(flowId, correlationId, false);
  }

  private find(flowId: u64, correlationId: i32, forget: bool): i64 {
    const slot = this.slotFor(flowId, false);
    if (slot < 0) return -1;
    const base = slot * this.perFlow;
    for (let i = 0; i < this.perFlow; i++) {
      const packed = unchecked(this.api[base + i]);
      if (packed != EMPTY && unchecked(this.corr[base + i]) == correlationId) {
        if (forget) unchecked(this.api[base + i] = EMPTY);
        return <i64>packed;
      }
    }
    return -1;
  }

  private slotFor(flowId: u64, create: bool): i32 {
    const tick = ++this.clock;
    if (this.lastSlot >= 0 && this.lastFlow == flowId) {
      unchecked(this.lastUse[this.lastSlot] = tick);
      return this.lastSlot;
    }
    if (this.slotOf.has(flowId)) {
      const slot = this.slotOf.get(flowId);
      unchecked(this.lastUse[slot] = tick);
      this.lastFlow = flowId;
      this.lastSlot = slot;
      return slot;
    }
    if (!create) return -1;
    let slot = this.used;
    if (slot < this.maxFlows) {
      this.used++;
    } else {
      // Flows end without telling the plugin: the least recently used one is forgotten.
      slot = 0;
      let oldest: u32 = 0;
      for (let i = 0; i < this.maxFlows; i++) {
        const age = tick - unchecked(this.lastUse[i]);
        if (age > oldest) {
          oldest = age;
          slot = i;
        }
      }
      this.slotOf.delete(unchecked(this.flowOf[slot]));
      const base = slot * this.perFlow;
      for (let i = 0; i < this.perFlow; i++) unchecked(this.api[base + i] = EMPTY);
    }
    unchecked(this.flowOf[slot] = flowId);
    unchecked(this.lastUse[slot] = tick);
    unchecked(this.nextEntry[slot] = 0);
    this.slotOf.set(flowId, slot);
    // Also when the slot was another flow's (the one forgotten).
    this.lastFlow = flowId;
    this.lastSlot = slot;
    return slot;
  }
}
