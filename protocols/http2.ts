// HTTP/2 framing (RFC 9113) for one direction of a connection seen as a sequence of
// payloads: packets cut to the agent's buffer size, segments that split frames, a
// capture that starts mid-connection. H2Direction keeps the carry-over between payloads
// (at most a 9-byte frame header and the header block being assembled), streams DATA
// through without buffering, assembles HEADERS + CONTINUATION into header blocks for
// its HPACK decoder, and re-finds frame boundaries after bytes were lost.
import { HeaderBlock, HpackDecoder, HPACK_DEFAULT_TABLE_SIZE, HPACK_TRUNCATED } from "./hpack";

export const FRAME_DATA: u8 = 0;
export const FRAME_HEADERS: u8 = 1;
export const FRAME_PRIORITY: u8 = 2;
export const FRAME_RST_STREAM: u8 = 3;
export const FRAME_SETTINGS: u8 = 4;
export const FRAME_PUSH_PROMISE: u8 = 5;
export const FRAME_PING: u8 = 6;
export const FRAME_GOAWAY: u8 = 7;
export const FRAME_WINDOW_UPDATE: u8 = 8;
export const FRAME_CONTINUATION: u8 = 9;

export const FLAG_END_STREAM: u8 = 0x1;
export const FLAG_ACK: u8 = 0x1;
export const FLAG_END_HEADERS: u8 = 0x4;
export const FLAG_PADDED: u8 = 0x8;
export const FLAG_PRIORITY: u8 = 0x20;

export const FRAME_HEADER_LEN: i32 = 9;
/** SETTINGS_MAX_FRAME_SIZE default; frames longer than this mean we lost sync. */
export const DEFAULT_MAX_FRAME_SIZE: i32 = 16384;

const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
export const PREFACE_LEN: i32 = 24;

/** Flags each frame type defines (RFC 9113 §6); anything else marks a misread frame. */
function allowedFlags(type: u8): u8 {
  switch (type) {
    case FRAME_DATA:
      return FLAG_END_STREAM | FLAG_PADDED;
    case FRAME_HEADERS:
      return FLAG_END_STREAM | FLAG_END_HEADERS | FLAG_PADDED | FLAG_PRIORITY;
    case FRAME_SETTINGS:
    case FRAME_PING:
      return FLAG_ACK;
    case FRAME_PUSH_PROMISE:
      return FLAG_END_HEADERS | FLAG_PADDED;
    case FRAME_CONTINUATION:
      return FLAG_END_HEADERS;
    default:
      return 0;
  }
}

/**
 * What a peer in sync may send (looser than plausibleFrameHeader: unknown types and
 * undefined flags are legal and ignored, RFC 9113 §4.1, §5.5).
 */
function validFrame(type: u8, length: i32, stream: u32, maxFrameSize: i32): bool {
  if (length > maxFrameSize) return false;
  switch (type) {
    case FRAME_SETTINGS:
      return stream == 0 && length % 6 == 0;
    case FRAME_PING:
      return stream == 0 && length == 8;
    case FRAME_GOAWAY:
      return stream == 0 && length >= 8;
    case FRAME_WINDOW_UPDATE:
      return length == 4;
    case FRAME_PRIORITY:
      return stream != 0 && length == 5;
    case FRAME_RST_STREAM:
      return stream != 0 && length == 4;
    case FRAME_DATA:
    case FRAME_HEADERS:
    case FRAME_PUSH_PROMISE:
    case FRAME_CONTINUATION:
      return stream != 0;
    default:
      return true;
  }
}

/**
 * Whether 9 bytes at `at` look like a frame header a real peer would send: a known
 * type with only its own flags, a length within `maxFrameSize` that the type allows,
 * and a stream id that is zero exactly for connection frames.
 */
export function plausibleFrameHeader(data: Uint8Array, at: i32, maxFrameSize: i32): bool {
  if (at < 0 || at + FRAME_HEADER_LEN > data.length) return false;
  const p = data.dataStart + <usize>at;
  const length = (<i32>load<u8>(p) << 16) | (<i32>load<u8>(p, 1) << 8) | <i32>load<u8>(p, 2);
  const type = load<u8>(p, 3);
  const flags = load<u8>(p, 4);
  const stream = bswap<u32>(load<u32>(p, 5)) & 0x7fffffff;
  if (type > FRAME_CONTINUATION || (flags & ~allowedFlags(type)) != 0) return false;
  if (type == FRAME_SETTINGS && (flags & FLAG_ACK) != 0 && length != 0) return false;
  return validFrame(type, length, stream, maxFrameSize);
}

/**
 * Whether data[start, end) reads as whole plausible frames, the last one allowed to run
 * past `end`. Needs at least one complete frame header.
 */
export function plausibleFrames(data: Uint8Array, start: i32, end: i32, maxFrameSize: i32): bool {
  if (end > data.length) end = data.length;
  let at = start;
  let frames = 0;
  while (at < end) {
    if (end - at < FRAME_HEADER_LEN) return frames > 0;
    if (!plausibleFrameHeader(data, at, maxFrameSize)) return false;
    const p = data.dataStart + <usize>at;
    const length = (<i32>load<u8>(p) << 16) | (<i32>load<u8>(p, 1) << 8) | <i32>load<u8>(p, 2);
    at += FRAME_HEADER_LEN + length;
    frames++;
  }
  return frames > 0;
}

/** How many leading bytes of data[at..end) match the client preface (24 = all of it). */
export function prefaceMatch(data: Uint8Array, at: i32, end: i32, from: i32 = 0): i32 {
  let n = from;
  let i = at;
  while (n < PREFACE_LEN && i < end) {
    if (<i32>data[i] != PREFACE.charCodeAt(n)) return -1;
    n++;
    i++;
  }
  return n;
}

/** What a direction's frames carry, stream by stream. Override what you need. */
export class H2Sink {
  /** A whole header block (HEADERS + CONTINUATION); `block` is reused after the call. */
  onHeaders(streamId: u32, endStream: bool, block: HeaderBlock): void {}
  /** A piece of a DATA frame's content; `frameStart` on the first piece of each frame. */
  onData(streamId: u32, data: Uint8Array, start: i32, end: i32, frameStart: bool): void {}
  /** After the last DATA (or HEADERS) of a stream flagged END_STREAM. */
  onEndStream(streamId: u32): void {}
  onRstStream(streamId: u32, errorCode: u32): void {}
  onGoaway(lastStreamId: u32, errorCode: u32): void {}
  /** Bytes of this stream's DATA were lost (cut payload): its message framing is unknown until re-found. */
  onDataLost(streamId: u32): void {}
  /** Bytes of unknown extent were lost in this direction: every stream's message framing is unknown until re-found. */
  onBytesLost(): void {}
}

// Control-frame payload bytes kept: RST_STREAM, GOAWAY's head, a SETTINGS frame's first 10 settings.
const CTL_KEEP: i32 = 60;
const SETTINGS_MAX_FRAME_SIZE: u32 = 5;

// Header blocks are handed to sinks one at a time: one list serves every direction.
const sharedHeaders = new HeaderBlock();
// A frame header begun in one payload and completed by the next (H2Direction.continues).
const headerScratch = new Uint8Array(FRAME_HEADER_LEN);

/**
 * Whether the first `n` (< 9) bytes of `h` can begin a plausible frame header, whatever
 * the bytes still to come: 0 when they can (nothing sure yet), -1 when they cannot.
 */
function headerBegins(h: Uint8Array, n: i32, maxFrameSize: i32): i32 {
  // Missing length bytes as 0 (shorter is always allowed), type and flags as DATA's 0, and
  // the stream id either 0 or not.
  memory.fill(h.dataStart + <usize>n, 0, <usize>(FRAME_HEADER_LEN - n));
  if (plausibleFrameHeader(h, 0, maxFrameSize)) return 0;
  h[FRAME_HEADER_LEN - 1] = 1;
  return plausibleFrameHeader(h, 0, maxFrameSize) ? 0 : -1;
}

// Frame-reading states.
const AT_HEADER: i32 = 0;
const IN_PAYLOAD: i32 = 1;

/**
 * Unmanaged (as its HPACK decoder and buffers): a collection does not walk a connection's
 * directions. One made with `new` is freed by `free`, and not used after.
 */
@unmanaged export class H2Direction {
  hpack: HpackDecoder;
  /** Frames longer than this are taken as lost sync. */
  maxFrameSize: i32 = DEFAULT_MAX_FRAME_SIZE;
  /** Most header-block bytes kept; a longer block is decoded as far as kept (and the table forgotten). */
  maxHeaderBlock: i32 = 16384;
  /** True once this direction began with the client preface or a server SETTINGS frame. */
  sawStart: bool = false;
  /** Payloads dropped because no frame boundary could be found in them. */
  dropped: i32 = 0;
  /** Times frame sync was lost. */
  desyncs: i32 = 0;
  /**
   * SETTINGS_MAX_FRAME_SIZE this direction's sender announced (-1: none seen): the limit
   * for frames in the other direction.
   */
  announcedMaxFrameSize: i32 = -1;

  private started: bool = false;
  private prefaceSeen: i32 = 0;
  private desync: bool = false;
  /** Loss was already handled since sync was last found. */
  private lost: bool = false;
  private state: i32 = AT_HEADER;
  // Frame header being collected (first 9 bytes), then small control-frame payloads: in
  // unmanaged memory (`release` frees it), so that collections do not walk it; made when first needed.
  private small: usize = 0;
  private hdrLen: i32 = 0;
  // The frame being read.
  private type: u8 = 0;
  private flags: u8 = 0;
  private stream: u32 = 0;
  private left: i32 = 0; // payload bytes still to come
  private prefixLeft: i32 = 0; // pad-length / priority / promised-id bytes still to skip
  private padPending: bool = false; // next payload byte is the pad length
  private padLen: i32 = 0;
  private contentLeft: i32 = -1; // -1 until the pad length is known
  private dataFrameStart: bool = false;
  private ctlLen: i32 = 0;
  // The header block being assembled, in unmanaged memory (as `small`).
  private block: usize = 0;
  private blockCap: i32 = 0;
  private blockLen: i32 = 0;
  private blockCut: bool = false;
  private blockStream: u32 = 0;
  private blockEndStream: bool = false;
  private blockPromise: bool = false;
  private inBlock: bool = false;

  constructor(hpackLimit: i32 = HPACK_DEFAULT_TABLE_SIZE) {
    this.hpack = new HpackDecoder(hpackLimit);
  }

  /** Back to a fresh direction (keeps buffers): for one-off reads such as claim checks. */
  reset(): void {
    this.hpack.reset();
    this.maxFrameSize = DEFAULT_MAX_FRAME_SIZE;
    this.sawStart = false;
    this.dropped = 0;
    this.desyncs = 0;
    this.announcedMaxFrameSize = -1;
    this.started = false;
    this.prefaceSeen = 0;
    this.desync = false;
    this.lost = false;
    this.state = AT_HEADER;
    this.hdrLen = 0;
    this.left = 0;
    this.ctlLen = 0;
    this.clearBlock();
    this.blockCut = false;
    this.inBlock = false;
  }

  /** Frees the direction and all it holds (its HPACK decoder, buffers): it is not to be used after. */
  free(): void {
    this.hpack.free();
    heap.free(this.small);
    heap.free(this.block);
    heap.free(changetype<usize>(this));
  }

  private smallBytes(): usize {
    if (this.small == 0) this.small = heap.alloc(FRAME_HEADER_LEN + CTL_KEEP);
    return this.small;
  }

  private clearBlock(): void {
    this.blockLen = 0;
  }

  private dropBlock(): void {
    heap.free(this.block);
    this.block = 0;
    this.blockCap = 0;
  }

  /** Approximate heap bytes held. */
  get footprint(): i32 {
    return 160 + this.blockCap + this.hpack.footprint;
  }

  /** Nothing read yet, or frame sync lost: the next payload fed must show where frames start. */
  get seeking(): bool {
    return !this.started || this.desync;
  }

  /** A header block (HEADERS, PUSH_PROMISE + CONTINUATION) is being assembled: its end is still to come. */
  get inHeaderBlock(): bool {
    return this.inBlock;
  }

  /**
   * Whether `data`, as the next payload, continues what this direction has read, by
   * whether plausible frames start where the frames read so far say the next header is
   * due: 1 when they do (or the frame in progress ends exactly with `data`), -1 when they
   * do not (bytes between the last payload and this one were lost: call markLost() before
   * feeding it), 0 when `data` cannot tell (the frame in progress runs past it, or it ends
   * inside the next frame header). 1 while seeking: feed() looks for frames itself.
   * Reads nothing, changes nothing.
   */
  continues(data: Uint8Array): i32 {
    if (this.desync || !this.started || (this.prefaceSeen > 0 && this.prefaceSeen < PREFACE_LEN)) return 1;
    const end = data.length;
    const h = headerScratch;
    let at = 0;
    if (this.state == IN_PAYLOAD) {
      at = this.left;
    } else if (this.hdrLen > 0) {
      // A frame header begun in the last payload: this one completes it.
      const n = min(FRAME_HEADER_LEN - this.hdrLen, end);
      memory.copy(h.dataStart, this.small, <usize>this.hdrLen);
      memory.copy(h.dataStart + <usize>this.hdrLen, data.dataStart, <usize>n);
      if (this.hdrLen + n < FRAME_HEADER_LEN) return headerBegins(h, this.hdrLen + n, this.maxFrameSize);
      if (!plausibleFrameHeader(h, 0, this.maxFrameSize)) return -1;
      at = n + ((<i32>h[0] << 16) | (<i32>h[1] << 8) | <i32>h[2]);
    }
    if (at >= end) return at == end ? 1 : 0;
    if (end - at >= FRAME_HEADER_LEN) return plausibleFrames(data, at, end, this.maxFrameSize) ? 1 : -1;
    // The next frame header is cut by this payload's end.
    memory.copy(h.dataStart, data.dataStart + <usize>at, <usize>(end - at));
    return headerBegins(h, end - at, this.maxFrameSize);
  }

  /**
   * Bytes of unknown extent follow the payload just fed (the agent cut it) or come
   * before the next one (continues() said so): the frame in progress ends as far as it
   * got (onDataLost hands a message prefix, a header block is decoded as cut), the HPACK
   * table and every stream's message framing are forgotten (onBytesLost), and the next
   * payload must show where frames start.
   */
  markLost(sink: H2Sink): void {
    this.loseSync(sink);
  }

  /**
   * Reads one payload of this direction. `mayBeCut`: the payload may have been cut
   * (it is as long as the agent's buffer), so the next one may not continue it.
   */
  feed(data: Uint8Array, mayBeCut: bool, sink: H2Sink): void {
    const end = data.length;
    let pos = 0;
    if (!this.started) {
      this.started = true;
      const m = prefaceMatch(data, 0, end);
      if (m > 0) {
        this.prefaceSeen = m;
        pos = m;
        if (m == PREFACE_LEN) this.sawStart = true;
      } else if (plausibleFrameHeader(data, 0, this.maxFrameSize) && data[3] == FRAME_SETTINGS && (data[4] & FLAG_ACK) == 0) {
        this.sawStart = true; // a server's connection preface
      } else {
        // Joined mid-connection: find a frame boundary first (nothing known yet, so nothing to lose).
        this.desync = true;
        this.lost = true;
      }
    } else if (this.prefaceSeen > 0 && this.prefaceSeen < PREFACE_LEN) {
      const m = prefaceMatch(data, 0, end, this.prefaceSeen);
      if (m < 0) {
        this.prefaceSeen = 0;
        this.desync = true;
      } else {
        pos = m - this.prefaceSeen;
        this.prefaceSeen = m;
        if (m == PREFACE_LEN) this.sawStart = true;
      }
    }
    if (this.desync) {
      pos = this.resync(data, pos, sink);
      if (pos < 0) {
        this.dropped++;
        return;
      }
    }
    while (pos < end) {
      if (this.state == AT_HEADER) {
        let header = data.dataStart + <usize>pos;
        if (this.hdrLen == 0 && end - pos >= FRAME_HEADER_LEN) {
          // The whole frame header is here: read in place.
          pos += FRAME_HEADER_LEN;
        } else {
          const take = min(FRAME_HEADER_LEN - this.hdrLen, end - pos);
          memory.copy(this.smallBytes() + <usize>this.hdrLen, header, <usize>take);
          this.hdrLen += take;
          pos += take;
          if (this.hdrLen < FRAME_HEADER_LEN) break;
          this.hdrLen = 0;
          header = this.small;
        }
        if (!this.beginFrame(header, sink)) {
          this.loseSync(sink);
          return;
        }
        if (this.left == 0) this.endFrame(sink);
      } else {
        pos = this.payload(data, pos, end, sink);
        if (this.left == 0) this.endFrame(sink);
      }
    }
    if (mayBeCut) {
      // What followed may be gone, even when the cut fell between frames: the next payload must prove continuity.
      this.desync = true;
    }
  }

  /** Where to resume in a payload after possible loss; -1 when no frame boundary fits. */
  private resync(data: Uint8Array, pos: i32, sink: H2Sink): i32 {
    const end = data.length;
    // Continuing the current frame is right when what follows it reads as frames: nothing was lost.
    if (this.state == IN_PAYLOAD && this.hdrLen == 0 && pos + this.left < end &&
      plausibleFrames(data, pos + this.left, end, this.maxFrameSize)) {
      this.desync = false;
      return pos;
    }
    // Otherwise anything may lie between the cut and this payload: frames of any stream,
    // whole header blocks (their HPACK insertions shift every index).
    if (!this.lost) this.lose(sink);
    if (!plausibleFrames(data, pos, end, this.maxFrameSize)) return -1;
    this.desync = false;
    this.lost = false;
    return pos;
  }

  /** Bytes of unknown extent are gone: the frame in progress, the HPACK table and every stream's message framing. */
  private lose(sink: H2Sink): void {
    this.abandon(sink);
    this.hpack.invalidate();
    sink.onBytesLost();
    this.lost = true;
  }

  /** Gives up the frame in progress: its stream loses data, a header block is decoded as far as it got. */
  private abandon(sink: H2Sink): void {
    this.desyncs++;
    if (this.state == IN_PAYLOAD && this.type == FRAME_DATA) sink.onDataLost(this.stream);
    if (this.inBlock) this.finishBlock(sink, true);
    this.state = AT_HEADER;
    this.hdrLen = 0;
    this.left = 0;
  }

  private loseSync(sink: H2Sink): void {
    this.lose(sink);
    this.desync = true;
  }

  /** Sets up the frame whose 9-byte header is at `h`; false when it cannot be a real frame. */
  private beginFrame(h: usize, sink: H2Sink): bool {
    const length = (<i32>load<u8>(h) << 16) | (<i32>load<u8>(h, 1) << 8) | <i32>load<u8>(h, 2);
    this.type = load<u8>(h, 3);
    this.flags = load<u8>(h, 4);
    this.stream = bswap<u32>(load<u32>(h, 5)) & 0x7fffffff;
    if (!validFrame(this.type, length, this.stream, this.maxFrameSize)) return false;
    if (this.inBlock && (this.type != FRAME_CONTINUATION || this.stream != this.blockStream)) {
      // A header block must continue without interleaving (RFC 9113 §6.10).
      this.finishBlock(sink, true);
      if (this.type == FRAME_CONTINUATION) return false;
    } else if (!this.inBlock && this.type == FRAME_CONTINUATION) {
      return false;
    }
    this.state = IN_PAYLOAD;
    this.left = length;
    this.ctlLen = 0;
    this.padLen = 0;
    this.padPending = false;
    this.prefixLeft = 0;
    this.contentLeft = length;
    const t = this.type;
    if (t == FRAME_DATA || t == FRAME_HEADERS || t == FRAME_PUSH_PROMISE) {
      if (this.flags & FLAG_PADDED) {
        this.padPending = true;
        this.contentLeft = -1;
      }
      if (t == FRAME_HEADERS && (this.flags & FLAG_PRIORITY)) this.prefixLeft = 5;
      if (t == FRAME_PUSH_PROMISE) this.prefixLeft = 4;
      if (!this.padPending) {
        this.contentLeft = length - this.prefixLeft;
        if (this.contentLeft < 0) return false;
      }
    }
    if (t == FRAME_HEADERS || t == FRAME_PUSH_PROMISE) {
      this.inBlock = true;
      this.clearBlock();
      this.blockCut = false;
      this.blockStream = this.stream;
      this.blockEndStream = (this.flags & FLAG_END_STREAM) != 0;
      this.blockPromise = t == FRAME_PUSH_PROMISE;
    }
    this.dataFrameStart = true;
    return true;
  }

  /** Consumes payload bytes of the current frame from data[pos, end); returns the new pos. */
  private payload(data: Uint8Array, pos: i32, end: i32, sink: H2Sink): i32 {
    const t = this.type;
    if (t == FRAME_DATA || t == FRAME_HEADERS || t == FRAME_PUSH_PROMISE || t == FRAME_CONTINUATION) {
      if (this.padPending && pos < end) {
        this.padLen = <i32>data[pos];
        pos++;
        this.left--;
        this.padPending = false;
        this.contentLeft = this.left - this.prefixLeft - this.padLen;
        if (this.contentLeft < 0) {
          // Padding longer than the frame: not a frame we can read.
          this.loseSync(sink);
          return end;
        }
      }
      if (this.prefixLeft > 0) {
        const n = min(this.prefixLeft, end - pos);
        this.prefixLeft -= n;
        this.left -= n;
        pos += n;
      }
      if (this.contentLeft > 0 && this.prefixLeft == 0 && !this.padPending) {
        const n = min(this.contentLeft, end - pos);
        if (n > 0) {
          if (t == FRAME_DATA) {
            sink.onData(this.stream, data, pos, pos + n, this.dataFrameStart);
            this.dataFrameStart = false;
          } else {
            this.appendBlock(data, pos, n);
          }
          this.contentLeft -= n;
          this.left -= n;
          pos += n;
        }
      }
      if (this.contentLeft == 0) {
        // Padding at the end.
        const n = min(this.left, end - pos);
        this.left -= n;
        pos += n;
      }
      return pos;
    }
    const n = min(this.left, end - pos);
    const keep = min(n, CTL_KEEP - this.ctlLen);
    if (keep > 0) {
      memory.copy(this.smallBytes() + <usize>(FRAME_HEADER_LEN + this.ctlLen), data.dataStart + <usize>pos, <usize>keep);
      this.ctlLen += keep;
    }
    this.left -= n;
    return pos + n;
  }

  private appendBlock(data: Uint8Array, pos: i32, n: i32): void {
    const room = this.maxHeaderBlock - this.blockLen;
    if (n > room) this.blockCut = true;
    const take = n < room ? n : room;
    if (take <= 0) return;
    const need = this.blockLen + take;
    if (need > this.blockCap) {
      let cap = this.blockCap == 0 ? 256 : this.blockCap;
      while (cap < need) cap <<= 1;
      this.block = this.block == 0 ? heap.alloc(<usize>cap) : heap.realloc(this.block, <usize>cap);
      this.blockCap = cap;
    }
    memory.copy(this.block + <usize>this.blockLen, data.dataStart + <usize>pos, <usize>take);
    this.blockLen = need;
  }

  private endFrame(sink: H2Sink): void {
    this.state = AT_HEADER;
    const t = this.type;
    if (t == FRAME_DATA) {
      if (this.flags & FLAG_END_STREAM) sink.onEndStream(this.stream);
      return;
    }
    if (t == FRAME_HEADERS || t == FRAME_PUSH_PROMISE || t == FRAME_CONTINUATION) {
      if (this.flags & FLAG_END_HEADERS) this.finishBlock(sink, false);
      return;
    }
    if (t != FRAME_SETTINGS && t != FRAME_RST_STREAM && t != FRAME_GOAWAY) return;
    // The frame's payload, as far as kept after its header.
    if (this.ctlLen == 0) return;
    const c = this.small + <usize>FRAME_HEADER_LEN;
    if (t == FRAME_SETTINGS && (this.flags & FLAG_ACK) == 0) {
      for (let i = 0; i + 6 <= this.ctlLen; i += 6) {
        const at = c + <usize>i;
        const v = bswap<u32>(load<u32>(at, 2));
        if (bswap<u16>(load<u16>(at)) == SETTINGS_MAX_FRAME_SIZE && v >= 16384 && v <= 0xffffff) this.announcedMaxFrameSize = <i32>v;
      }
    } else if (t == FRAME_RST_STREAM && this.ctlLen >= 4) {
      sink.onRstStream(this.stream, bswap<u32>(load<u32>(c)));
    } else if (t == FRAME_GOAWAY && this.ctlLen >= 8) {
      sink.onGoaway(bswap<u32>(load<u32>(c)) & 0x7fffffff, bswap<u32>(load<u32>(c, 4)));
    }
  }

  /** Decodes the assembled header block; `cut` when its end was never seen. */
  private finishBlock(sink: H2Sink, cut: bool): void {
    this.inBlock = false;
    const hb = sharedHeaders;
    if (this.block == 0) {
      hb.reset();
      if (this.blockLen == 0 && !cut && !this.blockCut) {
        // An empty block is valid (e.g. trailers with nothing in them).
      } else {
        hb.status = HPACK_TRUNCATED;
        this.hpack.invalidate();
      }
    } else {
      this.hpack.decodeAt(this.block, this.blockLen, hb);
      if ((cut || this.blockCut) && hb.status == 0) {
        // The block's tail never arrived: its insertions are unknown.
        hb.status = HPACK_TRUNCATED;
        this.hpack.invalidate();
      }
    }
    // Large one-off blocks should not pin memory.
    if (this.blockCap > 4096) this.dropBlock();
    this.blockLen = 0;
    if (!this.blockPromise) {
      sink.onHeaders(this.blockStream, this.blockEndStream, hb);
      if (this.blockEndStream && !cut) sink.onEndStream(this.blockStream);
    }
  }
}
