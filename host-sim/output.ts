// What a replay prints: its rows (../sdk/row.ts) as JSON lines or a readable table.
import { createWriteStream, openSync, type WriteStream } from "node:fs";
import { RESP_STATUS_CODE } from "../sdk/result.ts";
import { UsageError } from "../sdk/errors.ts";
import { isoMicrosValue, type FlowLogRow } from "../sdk/row.ts";
import { LogMessageType } from "../sdk/session.ts";

const TYPE_NAMES = ["request", "response", "session", "other"];
const STATUS_NAMES = new Map(Object.entries(RESP_STATUS_CODE).map(([k, v]) => [v, k]));

export interface RowWriter {
  write(row: FlowLogRow): void;
  /** True once the reader went away (stdout piped into `head`): stop producing rows. */
  readonly closed: boolean;
  /** A promise to wait on when the output is backed up (pipe full), else null. */
  backpressure(): Promise<void> | null;
  /** Resolves when everything is flushed (and the file closed). */
  close(): Promise<void>;
}


/** Opens --out now, so that a bad path is a clear error before any work. */
function openOutput(path: string): number {
  try {
    return openSync(path, "w");
  } catch (e) {
    throw new UsageError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

/** A flush once a chunk holds this many bytes. */
const CHUNK = 1 << 16;

/**
 * Writes lines as UTF-8 into a chunk of bytes, handed to the stream whole once it passes CHUNK
 * bytes, so that a big replay makes one write call per 64 KiB and no joined copy of the lines.
 */
function lineWriter(out: string | undefined, header?: string): {
  line(text: string): void;
  backpressure(): Promise<void> | null;
  close(): Promise<void>;
  readonly closed: boolean;
} {
  const file: WriteStream | null = out ? createWriteStream(out, { fd: openOutput(out) }) : null;
  const stream: NodeJS.WritableStream = file ?? process.stdout;
  // The stream keeps a chunk it is given until written, so each flush starts another.
  let buf: Buffer = Buffer.allocUnsafe(2 * CHUNK);
  let at = 0;
  let full = false;
  let closed = false;
  // A reader that closes the pipe early (EPIPE) ends the output quietly, as for other tools.
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE") throw e;
    closed = true;
  });
  // Chunks the stream has written, to reuse: a new 128 KiB chunk per flush is fresh memory to
  // fault in and, with the rows, most of what the collector is asked to free.
  const spare: Buffer[] = [];
  const flush = () => {
    const chunk = buf;
    if (at > 0 && !closed) {
      if (!stream.write(chunk.subarray(0, at), () => chunk.length === 2 * CHUNK && spare.push(chunk))) full = true;
    } else if (chunk.length === 2 * CHUNK) {
      spare.push(chunk);
    }
    buf = spare.pop() ?? Buffer.allocUnsafe(2 * CHUNK);
    at = 0;
  };
  const line = (text: string) => {
    // A UTF-16 code unit is at most 3 UTF-8 bytes; one more for the newline.
    const most = 3 * text.length + 1;
    if (at + most > buf.length) {
      if (at > 0) flush();
      if (most > buf.length) buf = Buffer.allocUnsafe(most);
    }
    at += buf.write(text, at);
    buf[at++] = 0x0a;
    if (at > CHUNK) flush();
  };
  if (header) line(header);
  return {
    get closed() {
      return closed;
    },
    line,
    backpressure() {
      if (!full || closed) return null;
      full = false;
      return new Promise((resolve) => {
        const done = () => {
          stream.off("drain", done);
          stream.off("error", done);
          resolve();
        };
        stream.once("drain", done);
        stream.once("error", done);
      });
    },
    close() {
      flush();
      if (!file) return Promise.resolve();
      return new Promise((resolve, reject) => {
        file.on("error", reject);
        file.end(() => resolve());
      });
    },
  };
}

export function jsonlWriter(out?: string): RowWriter {
  const w = lineWriter(out);
  return {
    write: (row) => w.line(JSON.stringify(row)),
    get closed() {
      return w.closed;
    },
    backpressure: () => w.backpressure(),
    close: () => w.close(),
  };
}

/** Characters a cell shows as a space, so that a row stays one line. */
const BREAKS = /[\r\n\t]/g;

function cell(text: string, width: number, whole = false): string {
  // Most values have no break: testing first spares a copy per cell.
  BREAKS.lastIndex = 0;
  const t = BREAKS.test(text) ? text.replace(BREAKS, " ") : text;
  if (t.length > width) return whole ? t : t.slice(0, width - 1) + "…";
  return t.padEnd(width);
}

/** The request column: the endpoint, else type, domain and resource, the empty ones left out. */
function requestText(r: FlowLogRow): string {
  if (r.endpoint) return r.endpoint;
  let s = r.request_type;
  if (r.request_domain) s = s ? `${s} ${r.request_domain}` : r.request_domain;
  if (r.request_resource) s = s ? `${s} ${r.request_resource}` : r.request_resource;
  return s;
}

/** Columns: name, width, value, and whether a longer value is shown whole (ids never lose digits). */
const TABLE_COLUMNS: Array<[string, number, (r: FlowLogRow) => string, boolean?]> = [
  ["time", 15, (r) => r.start_time.slice(r.start_time.indexOf("T") + 1, -1)], // a year may take 4 digits or a sign and 6
  ["type", 8, (r) => TYPE_NAMES[r.type] ?? String(r.type)],
  ["protocol", 16, (r) => r.l7_protocol_str], // the agent cuts names to 16 bytes
  ["client -> server", 36, (r) => `${r.ip_0}:${r.client_port} -> ${r.ip_1}:${r.server_port}`],
  ["req_id", 10, (r) => (r.request_id === null ? "" : String(r.request_id)), true],
  ["request", 36, requestText],
  ["status", 12, (r) => (r.type === LogMessageType.Request ? "" : STATUS_NAMES.get(r.response_status) ?? String(r.response_status))],
  ["code", 5, (r) => (r.response_code === null ? "" : String(r.response_code))],
  ["rrt(us)", 8, (r) => (r.type === LogMessageType.Request || r.type === LogMessageType.Response ? "" : String(r.response_duration))],
  ["exception", 24, (r) => r.response_exception],
  // The ids this toolkit exists to surface, last and whole.
  ["trace_id", 30, (r) => r.trace_id, true],
  ["span_id", 20, (r) => r.span_id, true],
  ["x_request_id", 14, (r) => r.x_request_id_0 || r.x_request_id_1, true],
];

/** The second of the last start_time read ("YYYY-MM-DDTHH:MM:SS.") and it in µs: rows come in time order, so most rows reuse it. */
let startSecond = "";
let startSecondUs = 0;

/** start_time ("...T12:34:56.123456Z") in µs since the epoch. */
function startUs(r: FlowLogRow): number {
  const t = r.start_time;
  if (t.length === 27 && t.charCodeAt(26) === 0x5a) {
    if (!t.startsWith(startSecond) || startSecond === "") {
      startSecond = t.slice(0, 20);
      startSecondUs = isoMicrosValue(startSecond + "000000Z");
    }
    let us = 0;
    for (let i = 20; i < 26; i++) {
      const d = t.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) return isoMicrosValue(t);
      us = us * 10 + d;
    }
    return startSecondUs + us;
  }
  // A year outside 0000-9999 (a corrupt capture's time): the general form.
  return isoMicrosValue(t);
}

/**
 * Rows in start-time order. The agent sends a session when it completes or times out, so a
 * request that times out comes after later ones; no row still to come can start more than
 * `windowUs` (the session timeout) before the latest start seen, so the rows older than that
 * are final and leave in order, and the buffer holds one window of rows at most.
 */
export function inTimeOrder(writer: RowWriter, windowUs: number): RowWriter {
  // Rows from `head` on wait, sorted; those before it have left (dropped in bulk, not one shift each).
  let held: Array<{ at: number; row: FlowLogRow }> = [];
  let head = 0;
  let latest = -Infinity;
  const release = (before: number) => {
    let i = head;
    while (i < held.length && held[i]!.at < before) writer.write(held[i++]!.row);
    if (i === head) return;
    head = i;
    if (head === held.length) {
      held = [];
      head = 0;
    } else if (head >= 1024 && head * 2 >= held.length) {
      held = held.slice(head);
      head = 0;
    }
  };
  return {
    write(row) {
      const at = startUs(row);
      if (at > latest) latest = at;
      // Kept sorted (stable for equal times): rows mostly come in order, so this is an append.
      let i = held.length;
      while (i > head && held[i - 1]!.at > at) i--;
      if (i === held.length) held.push({ at, row });
      else held.splice(i, 0, { at, row });
      release(latest - windowUs);
    },
    get closed() {
      return writer.closed;
    },
    backpressure: () => writer.backpressure(),
    async close() {
      // Every row left, even one whose time reads as NaN (not a time isoMicros wrote), which no bound lets out.
      for (let i = head; i < held.length; i++) writer.write(held[i]!.row);
      held = [];
      head = 0;
      await writer.close();
    },
  };
}

export function tableWriter(out?: string): RowWriter {
  const header = TABLE_COLUMNS.map(([name, width]) => cell(name, width)).join(" ").trimEnd();
  const w = lineWriter(out, header);
  return {
    write(row) {
      let line = "";
      for (let c = 0; c < TABLE_COLUMNS.length; c++) {
        const [, width, get, whole] = TABLE_COLUMNS[c]!;
        line += c === 0 ? cell(get(row), width, whole) : " " + cell(get(row), width, whole);
      }
      w.line(line.trimEnd());
    },
    get closed() {
      return w.closed;
    },
    backpressure: () => w.backpressure(),
    close: () => w.close(),
  };
}
