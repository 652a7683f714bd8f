// Which api key and version each outstanding correlation id of a flow was, so that a
// response (which carries only the correlation id) can be decoded. Kept in the SDK's
// FlowTable: per flow a slot of 8 + 8 * perFlow bytes in unmanaged memory (no garbage
// collection walks it), the least recently used flow forgotten when the table is full.
import { FlowTable } from "../../assembly/index";

export class Sessions {
  private table: FlowTable;
  readonly perFlow: i32;

  // Slot data: the ring's next entry (u8, padded to 8), then perFlow entries of
  // (correlation id i32, ~(apiKey << 16 | version) u32): 0, the zeroed slot's, is free.
  constructor(public maxFlows: i32, perFlow: i32) {
    const per = perFlow < 1 ? 1 : perFlow > 255 ? 255 : perFlow;
    this.perFlow = per;
    this.table = new FlowTable(maxFlows, 8 + 8 * per);
  }

  get flowCount(): i32 {
    return this.table.size;
  }

  /** Bytes of memory one flow's entries take at most (slot and index). */
  get bytesPerFlow(): i32 {
    return this.table.bytesPerFlow;
  }

  /** Remembers a request; a repeated correlation id replaces the older entry. */
  remember(flowId: u64, correlationId: i32, apiKey: i32, version: i32): void {
    const p = this.table.data(this.table.open(flowId));
    const stored = ~((<u32>(apiKey & 0xffff) << 16) | <u32>(version & 0xffff));
    const end = p + 8 + (<usize>this.perFlow << 3);
    for (let e = p + 8; e < end; e += 8) {
      if (load<u32>(e, 4) != 0 && load<i32>(e) == correlationId) {
        store<u32>(e, stored, 4);
        return;
      }
    }
    // A ring: the oldest entry gives way (its response never came, or came unseen).
    const at = <i32>load<u8>(p);
    const e = p + 8 + (<usize>at << 3);
    store<i32>(e, correlationId);
    store<u32>(e, stored, 4);
    store<u8>(p, <u8>((at + 1) % this.perFlow));
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
    const slot = this.table.find(flowId);
    if (slot < 0) return -1;
    const p = this.table.data(slot);
    const end = p + 8 + (<usize>this.perFlow << 3);
    for (let e = p + 8; e < end; e += 8) {
      const stored = load<u32>(e, 4);
      if (stored != 0 && load<i32>(e) == correlationId) {
        if (forget) store<u32>(e, 0, 4);
        return <i64>~stored;
      }
    }
    return -1;
  }
}
