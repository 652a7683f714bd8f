// Reads a capture in fixed-size chunks so that a multi-gigabyte file never sits in memory whole.
// Record bytes are handed out as views into the chunk buffer (no copy per packet); a view stays
// valid only until the next call that moves the window (peek/skip past the buffered data).
import { closeSync, openSync, readSync } from "node:fs";
import { Inflate } from "pako";
import { CaptureError } from "./frame.ts";

export interface ByteSource {
  /** Copies up to `length` bytes at file position `position` into `target[offset..]`; returns bytes read (0 at end). */
  read(target: Uint8Array, offset: number, length: number, position: number): number;
  close(): void;
}

export function fileSource(path: string): ByteSource {
  const fd = openSync(path, "r");
  return {
    read: (target, offset, length, position) => readSync(fd, target, offset, length, position),
    close: () => closeSync(fd),
  };
}

/**
 * A pipe or terminal (stdin, `tcpdump -w -`): read in order, never seeked. The reader only
 * moves forward; a position past what was read (a skipped block) is read and dropped.
 */
export function streamSource(fd: number, closeFd: boolean): ByteSource {
  let at = 0;
  const scratch = new Uint8Array(64 << 10);
  return {
    read(target, offset, length, position) {
      while (at < position) {
        const n = readSync(fd, scratch, 0, Math.min(scratch.length, position - at), null);
        if (n <= 0) return 0;
        at += n;
      }
      const n = readSync(fd, target, offset, length, null);
      at += n;
      return n;
    },
    close: () => {
      if (closeFd) closeSync(fd);
    },
  };
}

/**
 * The decompressed bytes of a gzip stream, inflated as they are asked for (pako's
 * incremental inflater), so that a large .pcap.gz never sits in memory whole.
 */
export function gunzipSource(compressed: ByteSource): ByteSource {
  const inflater = new Inflate();
  const ready: Uint8Array[] = [];
  let readyBytes = 0;
  inflater.onData = (chunk: Uint8Array) => {
    ready.push(chunk);
    readyBytes += chunk.length;
  };
  let ended = false;
  let failed = 0;
  inflater.onEnd = (status: number) => {
    ended = true;
    failed = status; // 0 at a clean end (pako's own onEnd would keep it as err)
  };
  const input = new Uint8Array(256 << 10);
  let inAt = 0;
  let at = 0; // decompressed bytes handed out or dropped
  let done = false;
  let truncatedAfter = -1;
  /** Inflates until there is output or the input ends; a cut stream throws once all its output was taken. */
  const more = (mayThrow: boolean): boolean => {
    while (readyBytes === 0 && !done) {
      const n = compressed.read(input, 0, input.length, inAt);
      inAt += n;
      if (n === 0) {
        done = true;
        if (ended) break;
        // A cut stream: pako hands out only full output chunks, the rest of what it inflated
        // waits in its output buffer. Hand that out; the error comes once it is taken.
        const strm = (inflater as unknown as { strm: { output: Uint8Array; next_out: number } }).strm;
        if (strm.next_out > 0) {
          ready.push(strm.output.slice(0, strm.next_out));
          readyBytes += strm.next_out;
          strm.next_out = 0;
        }
        truncatedAfter = inAt;
        break;
      }
      inflater.push(input.subarray(0, n), false);
      if (failed) throw new CaptureError(`gzip: ${inflater.msg || `corrupt data (zlib status ${failed})`} near compressed byte ${inAt}`, at, 0);
      if (ended) done = true;
    }
    if (readyBytes === 0 && truncatedAfter >= 0 && mayThrow) {
      throw new CaptureError(`gzip: the compressed data ends early, after ${truncatedAfter} bytes (${at} bytes inflated)`, at, 0);
    }
    return readyBytes > 0;
  };
  const take = (target: Uint8Array | null, offset: number, length: number): number => {
    let got = 0;
    // What this call already took is returned: the error, if any, comes with the next call.
    while (got < length && more(got === 0)) {
      const head = ready[0]!;
      const n = Math.min(head.length, length - got);
      target?.set(head.subarray(0, n), offset + got);
      if (n === head.length) ready.shift();
      else ready[0] = head.subarray(n);
      readyBytes -= n;
      got += n;
    }
    at += got;
    return got;
  };
  return {
    read(target, offset, length, position) {
      if (position > at && take(null, 0, position - at) < position - at) return 0;
      return take(target, offset, length);
    },
    close: () => compressed.close(),
  };
}

export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    read(target, offset, length, position) {
      const n = Math.max(0, Math.min(length, bytes.length - position));
      target.set(bytes.subarray(position, position + n), offset);
      return n;
    },
    close() {},
  };
}

const DEFAULT_CHUNK = 4 << 20;
/** A single record larger than this is treated as corruption rather than buffered. */
export const MAX_RECORD_BYTES = 256 << 20;

export class ChunkedReader {
  private buf: Buffer;
  /** The same memory as `buf` as a plain Uint8Array: its subarray() is cheaper than Buffer's. */
  private bytes: Uint8Array;
  private start = 0; // first unread byte in buf
  private end = 0; // one past the last valid byte in buf
  private bufFilePos = 0; // file position of buf[0]
  private eof = false;

  constructor(private readonly source: ByteSource, chunkSize = DEFAULT_CHUNK) {
    this.buf = Buffer.allocUnsafeSlow(chunkSize);
    this.bytes = new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  /** File offset of the next unread byte. */
  get position(): number {
    return this.bufFilePos + this.start;
  }

  /** Bytes of the file consumed so far (same as position). */
  get bytesRead(): number {
    return this.position;
  }

  /**
   * Returns a view of the next `n` bytes without consuming them, or null when the file ends first
   * (then `available()` tells how many bytes were left).
   */
  peek(n: number): Buffer | null {
    if (this.end - this.start < n && !this.fill(n)) return null;
    return this.buf.subarray(this.start, this.start + n);
  }

  /** Offset within `buffer` of the next unread byte, after ensuring `n` bytes are buffered. -1 if the file ends first. */
  ensure(n: number): number {
    if (this.end - this.start < n && !this.fill(n)) return -1;
    return this.start;
  }

  /** The current chunk buffer (valid together with an offset returned by `ensure`). */
  get buffer(): Buffer {
    return this.buf;
  }

  /** `buffer` as a plain Uint8Array (for views handed out per packet). */
  get plainBuffer(): Uint8Array {
    return this.bytes;
  }

  skip(n: number): void {
    const buffered = this.end - this.start;
    if (n <= buffered) {
      this.start += n;
      return;
    }
    // Skipping past the buffer (e.g. a huge unknown pcapng block): move the window without reading.
    this.bufFilePos = this.position + n;
    this.start = this.end = 0;
  }

  /** Bytes buffered from the current position; after a failed `peek(n)` these are all the bytes left in the file. */
  buffered(): number {
    return this.end - this.start;
  }

  atEnd(): boolean {
    return this.end === this.start && !this.fill(1);
  }

  close(): void {
    this.source.close();
  }

  /**
   * What is left of the input from here on (the bytes peeked but not consumed, then the
   * source), as a source of its own: for a decompressor that takes over from this reader.
   */
  rest(): ByteSource {
    const base = this.position;
    return {
      read: (target, offset, length, position) => {
        const at = position + base;
        const inBuf = at - this.bufFilePos;
        if (inBuf >= 0 && inBuf < this.end) {
          const n = Math.min(length, this.end - inBuf);
          target.set(this.bytes.subarray(inBuf, inBuf + n), offset);
          return n;
        }
        return this.source.read(target, offset, length, at);
      },
      close: () => this.source.close(),
    };
  }

  private fill(need: number): boolean {
    if (need > MAX_RECORD_BYTES) return false;
    if (this.eof && this.end - this.start < need) return false;
    if (this.start + need > this.buf.length) {
      // Slide the unread tail to the front; grow only when one record is larger than a chunk.
      const tail = this.end - this.start;
      if (need > this.buf.length) {
        const bigger = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2));
        this.buf.copy(bigger, 0, this.start, this.end);
        this.buf = bigger;
        this.bytes = new Uint8Array(bigger.buffer, bigger.byteOffset, bigger.length);
      } else {
        this.buf.copyWithin(0, this.start, this.end);
      }
      this.bufFilePos += this.start;
      this.start = 0;
      this.end = tail;
    }
    while (this.end - this.start < need) {
      const n = this.source.read(this.buf, this.end, this.buf.length - this.end, this.bufFilePos + this.end);
      if (n <= 0) {
        this.eof = true;
        return false;
      }
      this.end += n;
    }
    return true;
  }
}
