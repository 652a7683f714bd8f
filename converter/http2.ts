// gRPC requests out of the client→server byte stream of an HTTP/2 connection:
// HTTP/2 framing (RFC 9113), HPACK (RFC 7541, via hpack.js's decoder and table), gRPC
// length-prefixed messages. Only what an agent→collector connection needs; server→client bytes are
// not read.
//
// A stream whose capture starts mid-connection has lost the HPACK dynamic table: header fields that
// refer to it are reported unknown rather than guessed; frames are found again by looking for a run of
// plausible frame headers.
import { createRequire } from "node:module";
import { gunzipSync, inflateSync } from "node:zlib";
import {
  CONNECTION_PREFACE, FLAG_END_HEADERS, FLAG_END_STREAM, FLAG_PADDED, FLAG_PRIORITY, FRAME_CONTINUATION, FRAME_DATA, FRAME_GOAWAY, FRAME_HEADERS,
  FRAME_PING, FRAME_PRIORITY, FRAME_PUSH_PROMISE, FRAME_RST_STREAM, FRAME_SETTINGS, FRAME_WINDOW_UPDATE,
} from "../sdk/http/http2-frames.ts";

const require = createRequire(import.meta.url);
/* eslint-disable @typescript-eslint/no-explicit-any */
const hpack: any = require("hpack.js");
/* eslint-enable @typescript-eslint/no-explicit-any */

const PREFACE = Buffer.from(CONNECTION_PREFACE, "latin1");
const MAX_FRAME = 1 << 24;
const STATIC_TABLE_LENGTH = 61;
const MAX_GRPC_MESSAGE = 64 << 20;

export interface GrpcMessage {
  streamId: number;
  /** ":path", or undefined when the headers could not be decoded. */
  path: string | undefined;
  headers: Map<string, string>;
  /** Header fields lost with the HPACK state (capture started mid-connection). */
  unknownHeaders: number;
  data: Uint8Array;
  timeUs: number;
}

export interface Http2Stats {
  frames: number;
  messages: number;
  resyncs: number;
  /** Header fields that referred to an HPACK dynamic table entry we never saw. */
  unknownHeaderFields: number;
  badFrames: number;
  skippedBytes: number;
}

interface StreamState {
  /** Header block fragments (copies) while CONTINUATION frames are awaited. */
  headerBlock: Buffer[] | undefined;
  headers: Map<string, string>;
  unknownHeaders: number;
  headersDone: boolean;
  /** DATA payloads (copies) of the gRPC message under way, joined once it is complete. */
  pending: Buffer[];
  pendingBytes: number;
  /** Bytes the pending message needs (5 until its length prefix is read). */
  want: number;
}

const EMPTY = new Uint8Array(0);
/** Held bytes' storage kept for the next frame once emptied; a larger one (a big frame's) is let go. */
const KEEP_HELD = 16 << 10;

/** Bytes [from, to) of `src` copied: what is kept past the push must not be a view of reused bytes. */
function copyOf(src: Uint8Array, from: number, to: number): Buffer {
  const out = Buffer.allocUnsafe(to - from);
  out.set(new Uint8Array(src.buffer, src.byteOffset + from, to - from));
  return out;
}

function u24(b: Uint8Array, at: number): number {
  return (b[at] << 16) | (b[at + 1] << 8) | b[at + 2];
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

export class Http2RequestDecoder {
  readonly stats: Http2Stats = { frames: 0, messages: 0, resyncs: 0, unknownHeaderFields: 0, badFrames: 0, skippedBytes: 0 };
  /**
   * Bytes not yet framed, held across pushes: the decoder's own storage (pushed bytes are valid
   * during the call only), [0, heldLen). Frames are read by offset, from here or straight from the
   * pushed bytes when nothing is held; a frame's bytes are copied only where they are kept.
   */
  private held: Uint8Array = EMPTY;
  private heldLen = 0;
  /** Held bytes needed before framing can go on (an incomplete frame, or the undecided resync's). */
  private want = 0;
  private started = false;
  /** True when the connection start (preface) was seen, so the HPACK table is complete. */
  private hpackSynced = false;
  private readonly table = hpack.table.create({ maxSize: 4096 });
  private readonly streams = new Map<number, StreamState>();
  private continuationOf = 0;
  private needResync = false;

  constructor(private readonly onMessage: (m: GrpcMessage) => void) {
    // The encoder may raise its table up to what the server allows; accept any size update.
    this.table.protocolMaxSize = 1 << 30;
  }

  /**
   * Feeds the next client→server bytes, in order (gaps are handled by resync). `bytes` may be reused
   * by the caller after the call (the capture reader's buffer): whatever is kept is copied.
   */
  push(bytes: Uint8Array, timeUs: number): void {
    let src: Uint8Array;
    let end: number;
    if (this.heldLen === 0 && this.started && !this.needResync) {
      src = bytes;
      end = bytes.length;
    } else {
      this.hold(bytes, 0, bytes.length);
      // An incomplete frame is framed once its bytes are all held, not again at every push.
      if (this.heldLen < this.want) return;
      src = this.held;
      end = this.heldLen;
    }
    this.want = 0;
    let at = 0;
    if (!this.started) {
      const n = Math.min(end, PREFACE.length);
      let same = true;
      for (let i = 0; i < n; i++) if (src[i] !== PREFACE[i]) same = false;
      if (same && end < PREFACE.length) return;
      this.started = true;
      if (same) {
        this.hpackSynced = true;
        at = PREFACE.length;
      } else this.needResync = true;
    }
    at = this.drain(src, at, end, timeUs);
    if (src === this.held) {
      // Frames may have been read from here: compacted only now, after the last frame was handled.
      this.held.copyWithin(0, at, end);
      this.heldLen = end - at;
      if (this.heldLen === 0 && this.held.length > KEEP_HELD) this.held = EMPTY;
    } else if (at < end) this.hold(src, at, end);
  }

  /** Appends src[from, to) to the held bytes. */
  private hold(src: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (this.heldLen + n > this.held.length) {
      // Doubling: a large frame pushed in pieces is copied a bounded number of times, not once per piece.
      const grown = new Uint8Array(Math.max(this.held.length * 2, this.heldLen + n, 256));
      grown.set(this.held.subarray(0, this.heldLen));
      this.held = grown;
    }
    this.held.set(from === 0 && to === src.length ? src : src.subarray(from, to), this.heldLen);
    this.heldLen += n;
  }

  /** Marks a gap (lost bytes): frames are found again, and the HPACK state is no longer trusted. */
  gap(): void {
    this.held = EMPTY;
    this.heldLen = 0;
    this.want = 0;
    this.hpackSynced = false;
    this.started = true;
    this.needResync = true;
    this.streams.clear();
  }

  /** Handles the whole frames in src[at, end); returns where the unframed bytes start. */
  private drain(src: Uint8Array, at: number, end: number, timeUs: number): number {
    for (;;) {
      if (this.needResync) {
        const found = this.resync(src, at, end);
        if (found < 0) return -found - 1;
        at = found;
      }
      if (end - at < 9) {
        this.want = 9;
        return at;
      }
      const len = u24(src, at);
      const type = src[at + 3];
      const flags = src[at + 4];
      const streamId = u32(src, at + 5) & 0x7fffffff;
      if (!plausibleHeader(len, type, streamId)) {
        this.stats.badFrames++;
        this.needResync = true;
        continue;
      }
      if (end - at < 9 + len) {
        this.want = 9 + len;
        return at;
      }
      this.stats.frames++;
      this.frame(type, flags, streamId, src, at + 9, at + 9 + len, timeUs);
      at += 9 + len;
    }
  }

  /**
   * Skips to the first offset where three frame headers in a row (or one up to the end) make sense
   * and returns it; when there is none yet, returns -(where the bytes to keep start) - 1.
   */
  private resync(src: Uint8Array, from: number, end: number): number {
    for (let at = from; at + 9 <= end; at++) {
      let p = at;
      let ok = 0;
      while (ok < 3 && p + 9 <= end) {
        const len = u24(src, p);
        if (!plausibleHeader(len, src[p + 3], u32(src, p + 5) & 0x7fffffff) || len > 16384) break;
        p += 9 + len;
        ok++;
      }
      if (ok === 3 || (ok > 0 && p === end)) {
        if (at > from) this.stats.skippedBytes += at - from;
        this.stats.resyncs++;
        this.needResync = false;
        this.hpackSynced = false;
        return at;
      }
      if (ok > 0 && p > end) {
        this.want = p - from; // undecided: wait for the bytes the last plausible frame claims
        return -from - 1;
      }
    }
    // Keep the last 8 bytes: a frame header may straddle the next push.
    const keep = Math.min(8, end - from);
    this.stats.skippedBytes += end - from - keep;
    this.needResync = true;
    return -(end - keep) - 1;
  }

  private stream(id: number): StreamState {
    let s = this.streams.get(id);
    if (!s) {
      s = { headerBlock: undefined, headers: new Map(), unknownHeaders: 0, headersDone: false, pending: [], pendingBytes: 0, want: 5 };
      this.streams.set(id, s);
    }
    return s;
  }

  /** One frame, its payload src[from, to) (valid during the call only). */
  private frame(type: number, flags: number, streamId: number, src: Uint8Array, from: number, to: number, timeUs: number): void {
    if (this.continuationOf && type !== FRAME_CONTINUATION) this.continuationOf = 0;
    switch (type) {
      case FRAME_HEADERS: {
        if (streamId === 0) return;
        if (flags & FLAG_PADDED) {
          if (to - from < 1 || src[from] >= to - from) return;
          to -= src[from];
          from++;
        }
        if (flags & FLAG_PRIORITY) from = Math.min(from + 5, to);
        const s = this.stream(streamId);
        s.headerBlock = [copyOf(src, from, to)];
        if (flags & FLAG_END_HEADERS) this.headersComplete(streamId, s);
        else this.continuationOf = streamId;
        if (flags & FLAG_END_STREAM) this.streams.delete(streamId);
        return;
      }
      case FRAME_CONTINUATION: {
        const s = this.streams.get(streamId);
        if (!s?.headerBlock || this.continuationOf !== streamId) return;
        s.headerBlock.push(copyOf(src, from, to));
        if (flags & FLAG_END_HEADERS) {
          this.continuationOf = 0;
          this.headersComplete(streamId, s);
        }
        return;
      }
      case FRAME_DATA: {
        if (streamId === 0) return;
        let ok = true;
        if (flags & FLAG_PADDED) {
          if (to - from < 1 || src[from] >= to - from) ok = false;
          else {
            to -= src[from];
            from++;
          }
        }
        const s = this.stream(streamId);
        if (ok && to > from) this.grpcData(streamId, s, src, from, to, timeUs);
        if (flags & FLAG_END_STREAM) this.streams.delete(streamId);
        return;
      }
      case FRAME_RST_STREAM:
        this.streams.delete(streamId);
        return;
      default:
        // SETTINGS, PING, WINDOW_UPDATE, GOAWAY, PRIORITY: nothing the requests depend on.
        return;
    }
  }

  private headersComplete(streamId: number, s: StreamState): void {
    const parts = s.headerBlock ?? [];
    const block = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    s.headerBlock = undefined;
    const { headers, unknown } = this.decodeHeaderBlock(block);
    // Trailers (a second HEADERS on the stream) add fields; the first block holds the request.
    for (const [k, v] of headers) if (!s.headers.has(k)) s.headers.set(k, v);
    s.unknownHeaders += unknown;
    s.headersDone = true;
    void streamId;
  }

  private decodeHeaderBlock(block: Buffer): { headers: Map<string, string>; unknown: number } {
    const headers = new Map<string, string>();
    let unknown = 0;
    const d = hpack.decoder.create();
    d.push(block);
    try {
      while (!d.isEmpty()) {
        if (d.decodeBit()) {
          const index = d.decodeInt();
          const e = this.lookup(index);
          if (e) headers.set(e.name, e.value);
          else unknown++;
          continue;
        }
        const incremental = d.decodeBit();
        if (!incremental && d.decodeBit()) {
          this.table.updateSize(d.decodeInt());
          continue;
        }
        if (!incremental) d.decodeBit(); // never-indexed flag
        const nameIndex = d.decodeInt();
        let name: string | undefined;
        let nameSize = 0;
        if (nameIndex === 0) {
          const raw = d.decodeStr();
          nameSize = raw.length;
          name = hpack.utils.stringify(raw);
        } else {
          const e = this.lookup(nameIndex);
          name = e?.name;
          nameSize = e?.nameSize ?? 0;
        }
        const rawValue = d.decodeStr();
        const value: string = hpack.utils.stringify(rawValue);
        if (incremental) this.table.add(name ?? "", value, nameSize, rawValue.length);
        if (name !== undefined) headers.set(name, value);
        else unknown++;
      }
    } catch {
      unknown++;
    }
    this.stats.unknownHeaderFields += unknown;
    return { headers, unknown };
  }

  private lookup(index: number): { name: string; value: string; nameSize: number } | undefined {
    if (index <= 0) return undefined;
    if (index <= STATIC_TABLE_LENGTH) return this.table.lookup(index);
    // Entries added before the capture started are unknowable; never read a shifted table.
    if (!this.hpackSynced || index > this.table.length) return undefined;
    return this.table.lookup(index);
  }

  /** A DATA payload src[from, to) (valid during the call only): the gRPC messages it completes. */
  private grpcData(streamId: number, s: StreamState, src: Uint8Array, from: number, to: number, timeUs: number): void {
    if (s.pendingBytes > 0 || to - from < s.want) {
      // A message cut across frames: its pieces are kept (copied) and joined once it is complete.
      s.pending.push(copyOf(src, from, to));
      s.pendingBytes += to - from;
      if (s.pendingBytes < s.want) return;
      src = s.pending.length === 1 ? s.pending[0] : Buffer.concat(s.pending);
      from = 0;
      to = src.length;
      s.pending = [];
      s.pendingBytes = 0;
    }
    s.want = 5;
    while (to - from >= 5) {
      const compressed = src[from];
      const len = u32(src, from + 1);
      if (compressed > 1 || len > MAX_GRPC_MESSAGE) {
        // Not gRPC framing (or we joined mid-message): drop this stream's bytes.
        this.stats.badFrames++;
        return;
      }
      if (to - from < 5 + len) {
        s.want = 5 + len;
        break;
      }
      // The message is handed on as bytes of its own: decoders keep views of it (binary annotations).
      let msg: Uint8Array = copyOf(src, from + 5, from + 5 + len);
      from += 5 + len;
      if (compressed) {
        const enc = s.headers.get("grpc-encoding");
        try {
          // Capped like an uncompressed message: a few KB of corrupt or hostile input must not inflate to GBs.
          const opts = { maxOutputLength: MAX_GRPC_MESSAGE };
          msg = enc === "gzip" ? gunzipSync(msg, opts) : enc === "deflate" ? inflateSync(msg, opts) : msg;
        } catch {
          this.stats.badFrames++;
          continue;
        }
        if (enc !== "gzip" && enc !== "deflate") continue;
      }
      this.stats.messages++;
      this.onMessage({ streamId, path: s.headers.get(":path"), headers: s.headers, unknownHeaders: s.unknownHeaders, data: msg, timeUs });
    }
    if (to > from) {
      s.pending.push(copyOf(src, from, to));
      s.pendingBytes = to - from;
    }
  }
}

function plausibleHeader(len: number, type: number, streamId: number): boolean {
  if (len >= MAX_FRAME || type > FRAME_CONTINUATION) return false;
  switch (type) {
    case FRAME_SETTINGS:
      return streamId === 0 && len % 6 === 0;
    case FRAME_PING:
      return streamId === 0 && len === 8;
    case FRAME_GOAWAY:
      return streamId === 0 && len >= 8;
    case FRAME_WINDOW_UPDATE:
      return len === 4;
    case FRAME_RST_STREAM:
      return streamId !== 0 && len === 4;
    case FRAME_PRIORITY:
      return streamId !== 0 && len === 5;
    case FRAME_PUSH_PROMISE:
      return false; // never client → server
    default:
      return streamId !== 0;
  }
}
