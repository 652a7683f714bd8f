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
  headerBlock: Buffer[] | undefined;
  headers: Map<string, string>;
  unknownHeaders: number;
  headersDone: boolean;
  /** DATA payloads of the gRPC message under way, joined once it is complete. */
  pending: Buffer[];
  pendingBytes: number;
  /** Bytes the pending message needs (5 until its length prefix is read). */
  want: number;
}

export class Http2RequestDecoder {
  readonly stats: Http2Stats = { frames: 0, messages: 0, resyncs: 0, unknownHeaderFields: 0, badFrames: 0, skippedBytes: 0 };
  /** Bytes not yet framed; always the decoder's own copy (pushed bytes are valid during the call only). */
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes pushed while an incomplete frame waits for `want` bytes: joined once, not at every push. */
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private want = 0;
  private started = false;
  /** True when the connection start (preface) was seen, so the HPACK table is complete. */
  private hpackSynced = false;
  private readonly table = hpack.table.create({ maxSize: 4096 });
  private readonly streams = new Map<number, StreamState>();
  private continuationOf = 0;

  constructor(private readonly onMessage: (m: GrpcMessage) => void) {
    // The encoder may raise its table up to what the server allows; accept any size update.
    this.table.protocolMaxSize = 1 << 30;
  }

  /**
   * Feeds the next client→server bytes, in order (gaps are handled by resync). `bytes` may be reused
   * by the caller after the call (the capture reader's buffer): whatever is kept is copied.
   */
  push(bytes: Uint8Array, timeUs: number): void {
    if (this.buf.length + this.queuedBytes + bytes.length < this.want) {
      // Joining at every push would copy a large frame once per segment (quadratic).
      this.queued.push(Buffer.from(bytes));
      this.queuedBytes += bytes.length;
      return;
    }
    this.buf = Buffer.concat([this.buf, ...this.queued, bytes]);
    this.queued = [];
    this.queuedBytes = 0;
    this.want = 0;
    if (!this.started) {
      if (this.buf.length < PREFACE.length && PREFACE.subarray(0, this.buf.length).equals(this.buf)) return;
      this.started = true;
      if (this.buf.subarray(0, PREFACE.length).equals(PREFACE)) {
        this.hpackSynced = true;
        this.buf = this.buf.subarray(PREFACE.length);
      } else if (!this.resync()) return;
    }
    this.drain(timeUs);
  }

  /** Marks a gap (lost bytes): frames are found again, and the HPACK state is no longer trusted. */
  gap(): void {
    this.buf = Buffer.alloc(0);
    this.queued = [];
    this.queuedBytes = 0;
    this.want = 0;
    this.hpackSynced = false;
    this.started = true;
    this.needResync = true;
    this.streams.clear();
  }

  private needResync = false;

  private drain(timeUs: number): void {
    for (;;) {
      if (this.needResync && !this.resync()) return;
      if (this.buf.length < 9) {
        this.want = 9;
        return;
      }
      const len = this.buf.readUIntBE(0, 3);
      const type = this.buf[3];
      const flags = this.buf[4];
      const streamId = this.buf.readUInt32BE(5) & 0x7fffffff;
      if (!plausibleHeader(len, type, streamId)) {
        this.stats.badFrames++;
        this.needResync = true;
        continue;
      }
      if (this.buf.length < 9 + len) {
        this.want = 9 + len;
        return;
      }
      const payload = this.buf.subarray(9, 9 + len);
      this.buf = this.buf.subarray(9 + len);
      this.stats.frames++;
      this.frame(type, flags, streamId, payload, timeUs);
    }
  }

  /** Skips to the first offset where three frame headers in a row (or one up to the end) make sense. */
  private resync(): boolean {
    for (let at = 0; at + 9 <= this.buf.length; at++) {
      let p = at;
      let ok = 0;
      while (ok < 3 && p + 9 <= this.buf.length) {
        const len = this.buf.readUIntBE(p, 3);
        if (!plausibleHeader(len, this.buf[p + 3], this.buf.readUInt32BE(p + 5) & 0x7fffffff) || len > 16384) break;
        p += 9 + len;
        ok++;
      }
      if (ok === 3 || (ok > 0 && p === this.buf.length)) {
        if (at > 0) this.stats.skippedBytes += at;
        this.stats.resyncs++;
        this.buf = this.buf.subarray(at);
        this.needResync = false;
        this.hpackSynced = false;
        return true;
      }
      if (ok > 0 && p > this.buf.length) {
        this.want = p; // undecided: wait for the bytes the last plausible frame claims
        return false;
      }
    }
    // Keep the last 8 bytes: a frame header may straddle the next push.
    const keep = Math.min(8, this.buf.length);
    this.stats.skippedBytes += this.buf.length - keep;
    this.buf = this.buf.subarray(this.buf.length - keep);
    this.needResync = true;
    return false;
  }

  private stream(id: number): StreamState {
    let s = this.streams.get(id);
    if (!s) {
      s = { headerBlock: undefined, headers: new Map(), unknownHeaders: 0, headersDone: false, pending: [], pendingBytes: 0, want: 5 };
      this.streams.set(id, s);
    }
    return s;
  }

  private frame(type: number, flags: number, streamId: number, payload: Buffer, timeUs: number): void {
    if (this.continuationOf && type !== FRAME_CONTINUATION) this.continuationOf = 0;
    switch (type) {
      case FRAME_HEADERS: {
        if (streamId === 0) return;
        let p = stripPadding(payload, flags);
        if (!p) return;
        if (flags & FLAG_PRIORITY) p = p.subarray(5);
        const s = this.stream(streamId);
        s.headerBlock = [p];
        if (flags & FLAG_END_HEADERS) this.headersComplete(streamId, s);
        else this.continuationOf = streamId;
        if (flags & FLAG_END_STREAM) this.streams.delete(streamId);
        return;
      }
      case FRAME_CONTINUATION: {
        const s = this.streams.get(streamId);
        if (!s?.headerBlock || this.continuationOf !== streamId) return;
        s.headerBlock.push(payload);
        if (flags & FLAG_END_HEADERS) {
          this.continuationOf = 0;
          this.headersComplete(streamId, s);
        }
        return;
      }
      case FRAME_DATA: {
        if (streamId === 0) return;
        const p = stripPadding(payload, flags);
        const s = this.stream(streamId);
        if (p && p.length) this.grpcData(streamId, s, p, timeUs);
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
    const block = Buffer.concat(s.headerBlock ?? []);
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

  private grpcData(streamId: number, s: StreamState, data: Buffer, timeUs: number): void {
    s.pending.push(data);
    s.pendingBytes += data.length;
    // A large message comes in many DATA frames: join them once it is complete, not at every frame.
    if (s.pendingBytes < s.want) return;
    let buf = s.pending.length === 1 ? s.pending[0] : Buffer.concat(s.pending);
    s.pending = [];
    s.pendingBytes = 0;
    s.want = 5;
    while (buf.length >= 5) {
      const compressed = buf[0];
      const len = buf.readUInt32BE(1);
      if (compressed > 1 || len > MAX_GRPC_MESSAGE) {
        // Not gRPC framing (or we joined mid-message): drop this stream's bytes.
        this.stats.badFrames++;
        return;
      }
      if (buf.length < 5 + len) {
        s.want = 5 + len;
        break;
      }
      let msg: Uint8Array = buf.subarray(5, 5 + len);
      buf = buf.subarray(5 + len);
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
    if (buf.length) {
      s.pending.push(buf);
      s.pendingBytes = buf.length;
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

function stripPadding(payload: Buffer, flags: number): Buffer | undefined {
  if (!(flags & FLAG_PADDED)) return payload;
  if (payload.length < 1) return undefined;
  const pad = payload[0];
  if (pad >= payload.length) return undefined;
  return payload.subarray(1, payload.length - pad);
}
