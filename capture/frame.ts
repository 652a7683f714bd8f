// What a capture-file reader yields: one link-layer frame with its metadata.

export class CaptureError extends Error {
  constructor(
    message: string,
    /** File offset of the bad record/block. */
    readonly offset: number,
    /** 1-based number of the record/block that is bad (records read before it are good). */
    readonly record: number,
  ) {
    super(message);
    this.name = "CaptureError";
  }
}

/** One frame. Readers reuse a single Frame object: copy what you keep before calling next() again. */
export class Frame {
  /** The reader's buffer holding this frame at [start, end) (valid until the next next()). */
  chunk: Uint8Array = new Uint8Array(0);
  start = 0;
  end = 0;
  /** LINKTYPE_* of the interface this frame came from. */
  linkType = 0;
  /** Capture time in microseconds since the epoch (what the agent's parse context carries). */
  timeUs = 0;
  /** Length of the frame on the wire (>= the captured length when the capture was cut by snaplen). */
  wireLength = 0;
  /** pcapng interface id (0 for pcap). */
  interfaceId = 0;
  /** 1-based frame number, as Wireshark numbers them. */
  number = 0;
  /** File offset of the record/block holding this frame. */
  offset = 0;

  /** Captured bytes, a view into the reader's buffer (valid until the next next()). */
  get data(): Uint8Array {
    return this.chunk.subarray(this.start, this.end);
  }
}

export interface CaptureReader {
  readonly format: "pcap" | "pcapng";
  /** Next frame, or null at the end. Throws CaptureError on a truncated/corrupt record; frames before it stay valid. */
  next(): Frame | null;
  /** Bytes consumed so far. */
  readonly bytesRead: number;
  close(): void;
}

export function newFrame(): Frame {
  return new Frame();
}

/** Converts a 64-bit tick count (high/low u32 halves) in `unitsPerSecond` to whole microseconds. */
export function ticksToMicros(high: number, low: number, unitsPerSecond: number): number {
  if (unitsPerSecond === 1_000_000) return high * 0x1_0000_0000 + low;
  // Other resolutions overflow 2^53 as plain numbers (ns since 1970 is ~1.7e18): divide exactly in BigInt.
  const ticks = (BigInt(high) << 32n) | BigInt(low);
  return Number((ticks * 1_000_000n) / BigInt(unitsPerSecond));
}
