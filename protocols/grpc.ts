// gRPC length-prefixed messages (1 byte compressed flag, 4 bytes big-endian length,
// message) carried in one direction of one HTTP/2 stream, split across DATA frames and
// payloads in any way. Messages whose bytes were all seen are handed over whole; a long
// message keeps only its first `keepMax` bytes (enough for the fields protobuf writers
// put first), and a message interrupted by lost bytes is handed over as a prefix.

/** Largest message length believed when re-finding message boundaries (grpc's default receive limit). */
export const GRPC_MAX_PLAUSIBLE_MESSAGE: u32 = 4 << 20;

/** Status names of grpc-status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
const STATUS_NAMES: StaticArray<string> = [
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
  "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
];

export function grpcStatusName(code: i32): string {
  return code >= 0 && code < STATUS_NAMES.length ? unchecked(STATUS_NAMES[code]) : "UNKNOWN";
}

/** The caller's side of a deframer: one call per message. */
export class GrpcMessageSink {
  /**
   * `data[start, end)` holds the message's first bytes (all of them when `whole`);
   * `length` is its length on the wire. The bytes are only valid during the call.
   */
  onMessage(tag: u32, data: Uint8Array, start: i32, end: i32, length: u32, whole: bool, compressed: bool): void {}
}

// A message kept across pieces is handed over from here: one buffer serves every deframer,
// as a message's bytes are only valid during onMessage.
let handed = new Uint8Array(256);

/** The n bytes at ptr, copied into `handed`. */
function handOver(ptr: usize, n: i32): Uint8Array {
  if (handed.length < n) {
    let cap = handed.length;
    while (cap < n) cap <<= 1;
    handed = new Uint8Array(cap);
  }
  memory.copy(handed.dataStart, ptr, <usize>n);
  return handed;
}

/**
 * Unmanaged, as its kept bytes (as H2Direction): a collection does not walk the deframers
 * of every stream a plugin keeps. One made with `new` is freed by `free`, and not used after.
 */
@unmanaged export class GrpcDeframer {
  /** False while the position of the next message boundary is unknown. */
  synced: bool;
  /** Messages handed over. */
  messages: u32 = 0;
  // The 5-byte prefix as it arrives: flag byte, then the length accumulating big-endian.
  private prefixLen: i32 = 0;
  private flag: u32 = 0;
  private length: u32 = 0;
  private got: u32 = 0;
  private compressed: bool = false;
  // The first bytes of a message arriving in pieces (heap.alloc, made when first needed).
  private keep: usize = 0;
  private keepCap: i32 = 0;
  private keepLen: i32 = 0;
  /** Bytes kept of a message that does not arrive in one piece. */
  keepMax: i32;

  /**
   * @param synced whether the stream is read from its start (its HEADERS were seen)
   * @param keepMax bytes kept of a message that does not arrive in one piece
   */
  constructor(synced: bool, keepMax: i32 = 16384) {
    this.synced = synced;
    this.keepMax = keepMax;
  }

  /** Frees the deframer and the bytes it keeps: it is not to be used after. */
  free(): void {
    heap.free(this.keep);
    heap.free(changetype<usize>(this));
  }

  /** Approximate heap bytes held. */
  get footprint(): i32 {
    return 48 + this.keepCap;
  }

  /** A message is in progress (part of it seen). */
  get partial(): bool {
    return this.prefixLen > 0;
  }

  /** Feeds DATA content; `frameStart` when it begins a DATA frame (a boundary guess after loss). */
  push(data: Uint8Array, start: i32, end: i32, frameStart: bool, sink: GrpcMessageSink, tag: u32): void {
    if (!this.synced) {
      // Senders usually start a DATA frame with a message: take the boundary if its prefix is believable.
      if (!frameStart || end - start < 5) return;
      const flag = data[start];
      const len = (<u32>data[start + 1] << 24) | (<u32>data[start + 2] << 16) | (<u32>data[start + 3] << 8) | <u32>data[start + 4];
      if (flag > 1 || len > GRPC_MAX_PLAUSIBLE_MESSAGE) return;
      this.synced = true;
    }
    let pos = start;
    while (pos < end) {
      if (this.prefixLen < 5) {
        if (this.prefixLen == 0 && end - pos >= 5) {
          // The whole prefix is here: read in place.
          const p = data.dataStart + <usize>pos;
          this.flag = load<u8>(p);
          this.length = bswap<u32>(load<u32>(p, 1));
          this.prefixLen = 5;
          pos += 5;
        } else {
          while (this.prefixLen < 5 && pos < end) {
            const b = <u32>data[pos++];
            if (this.prefixLen == 0) {
              this.flag = b;
              this.length = 0;
            } else {
              this.length = (this.length << 8) | b;
            }
            this.prefixLen++;
          }
          if (this.prefixLen < 5) return;
        }
        this.compressed = this.flag != 0;
        this.got = 0;
        this.keepLen = 0;
        if (this.flag > 1) {
          // Not a message prefix: the framing was misread.
          this.reset(false);
          return;
        }
      }
      const want = this.length - this.got;
      const avail = <u32>(end - pos);
      if (this.got == 0 && want <= avail) {
        // The whole message is here: no copy.
        this.deliver(sink, tag, data, pos, pos + <i32>want, true);
        pos += <i32>want;
        continue;
      }
      const n = want < avail ? want : avail;
      this.stash(data, pos, <i32>n);
      this.got += n;
      pos += <i32>n;
      if (this.got == this.length) this.deliver(sink, tag, handOver(this.keep, this.keepLen), 0, this.keepLen, <u32>this.keepLen == this.length);
    }
  }

  /** Bytes of this stream were lost: a message in progress is handed over as the prefix it has. */
  lose(sink: GrpcMessageSink, tag: u32): void {
    if (this.prefixLen == 5 && this.keepLen > 0) this.deliver(sink, tag, handOver(this.keep, this.keepLen), 0, this.keepLen, false);
    this.reset(false);
  }

  private stash(data: Uint8Array, pos: i32, n: i32): void {
    const room = this.keepMax - this.keepLen;
    const take = n < room ? n : room;
    if (take <= 0) return;
    const need = this.keepLen + take;
    if (need > this.keepCap) {
      let cap = this.keepCap == 0 ? (this.keepMax < 256 ? this.keepMax : 256) : this.keepCap << 1;
      while (cap < need) cap <<= 1;
      this.keep = this.keep == 0 ? heap.alloc(<usize>cap) : heap.realloc(this.keep, <usize>cap);
      this.keepCap = cap;
    }
    memory.copy(this.keep + <usize>this.keepLen, data.dataStart + <usize>pos, <usize>take);
    this.keepLen = need;
  }

  private deliver(sink: GrpcMessageSink, tag: u32, data: Uint8Array, start: i32, end: i32, whole: bool): void {
    this.messages++;
    const length = this.length;
    const compressed = this.compressed;
    this.reset(true);
    sink.onMessage(tag, data, start, end, length, whole, compressed);
  }

  private reset(synced: bool): void {
    this.prefixLen = 0;
    this.got = 0;
    this.keepLen = 0;
    this.synced = synced;
    // A large buffer is not worth keeping per stream.
    if (this.keepCap > 1024) {
      heap.free(this.keep);
      this.keep = 0;
      this.keepCap = 0;
    }
  }
}
