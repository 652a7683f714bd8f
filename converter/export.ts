// Where converted spans go: OTLP/HTTP to a collector, or OTLP JSON lines to a file / stdout.
import { createWriteStream, openSync, type WriteStream } from "node:fs";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { encodeJsonBytes, encodeProtobuf } from "./otlp.ts";
import type { OtelSpan } from "./otel-span.ts";

const gzipAsync = promisify(gzip);

export interface SpanSink {
  write(spans: OtelSpan[]): Promise<void>;
  /** Sends whatever is buffered and waits for it. */
  close(): Promise<void>;
  report(): string;
}

/** Output that could not be written (disk full, closed pipe); the message names the file. */
export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OutputError";
  }
}

export interface JsonLinesOptions {
  /**
   * Lines of exactly this many spans (the last one fewer), whatever the batches written: a long
   * `convert` emits as it goes, in many small batches. Default: one line per write.
   */
  spansPerLine?: number;
}

/** One ExportTraceServiceRequest (OTLP/JSON) per line. */
export class JsonLinesSink implements SpanSink {
  private readonly stream: WriteStream | NodeJS.WriteStream;
  private lines = 0;
  private spans = 0;
  private error: OutputError | undefined;
  private buffer: OtelSpan[] = [];

  /** Opens (truncates) the file now: a path that cannot be written throws here, before any work. */
  constructor(
    private readonly path: string,
    private readonly options: JsonLinesOptions = {},
  ) {
    this.stream = path === "-" ? process.stdout : createWriteStream(path, { fd: openSync(path, "w") });
    // Without a listener a failed write (ENOSPC, EPIPE) would crash the process; write() reports it.
    this.stream.on("error", (e: Error) => this.failed(e));
  }

  async write(spans: OtelSpan[]): Promise<void> {
    if (spans.length === 0) return;
    if (this.error) throw this.error;
    const per = this.options.spansPerLine;
    if (per === undefined) return this.writeLine(spans);
    for (const s of spans) this.buffer.push(s);
    while (this.buffer.length >= per) await this.writeLine(this.buffer.splice(0, per));
  }

  private async writeLine(spans: OtelSpan[]): Promise<void> {
    const line = encodeJsonBytes(spans, true);
    this.lines++;
    this.spans += spans.length;
    if (this.stream.write(line)) return;
    // A stream that failed never drains: wait for whichever comes first.
    await new Promise<void>((resolve, reject) => {
      const done = (e?: Error): void => {
        this.stream.off("drain", done);
        this.stream.off("error", done);
        if (e) reject(this.failed(e));
        else resolve();
      };
      this.stream.once("drain", done);
      this.stream.once("error", done);
    });
  }

  async close(): Promise<void> {
    if (this.buffer.length && !this.error) await this.writeLine(this.buffer.splice(0));
    if (this.stream !== process.stdout) {
      await new Promise<void>((resolve) =>
        (this.stream as WriteStream).end((err?: Error | null) => {
          if (err) this.failed(err);
          resolve();
        }),
      );
    }
    if (this.error) throw this.error;
  }

  report(): string {
    return `wrote ${this.spans} spans in ${this.lines} requests`;
  }

  private failed(e: Error): OutputError {
    const name = this.path === "-" ? "standard output" : this.path;
    this.error ??= new OutputError(`cannot write ${name}: ${(e as NodeJS.ErrnoException).code ?? e.message}`);
    return this.error;
  }
}

export interface OtlpHttpOptions {
  /** Collector base URL (http://host:4318) or the full traces URL. */
  endpoint: string;
  encoding?: "protobuf" | "json";
  compression?: "gzip" | "none";
  /** Spans per request. */
  batchSize?: number;
  /** A partial batch is sent this long after its first span arrived. */
  lingerMs?: number;
  maxAttempts?: number;
  /** First retry delay; doubles each attempt, capped by maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export interface OtlpHttpStats {
  requests: number;
  sentSpans: number;
  retries: number;
  failedRequests: number;
  failedSpans: number;
  lastError?: string;
}

const RETRYABLE = new Set([429, 502, 503, 504]);

/** OTLP/HTTP exporter: batches, compresses, retries on 429/502/503/504 and network errors. */
export class OtlpHttpSink implements SpanSink {
  readonly stats: OtlpHttpStats = { requests: 0, sentSpans: 0, retries: 0, failedRequests: 0, failedSpans: 0 };
  private readonly url: string;
  private readonly opts: Required<Omit<OtlpHttpOptions, "headers">> & { headers: Record<string, string> };
  private buffer: OtelSpan[] = [];
  private chain: Promise<void> = Promise.resolve();
  private linger: NodeJS.Timeout | undefined;

  constructor(options: OtlpHttpOptions) {
    this.opts = {
      encoding: "protobuf",
      compression: "gzip",
      batchSize: 512,
      lingerMs: 200,
      maxAttempts: 5,
      initialDelayMs: 500,
      maxDelayMs: 30_000,
      timeoutMs: 10_000,
      headers: {},
      ...options,
    };
    const u = new URL(options.endpoint);
    if (u.pathname === "/" || u.pathname === "") u.pathname = "/v1/traces";
    this.url = u.toString();
  }

  async write(spans: OtelSpan[]): Promise<void> {
    for (const s of spans) {
      this.buffer.push(s);
      if (this.buffer.length >= this.opts.batchSize) this.enqueue();
    }
    if (this.buffer.length && !this.linger) this.linger = setTimeout(() => this.enqueue(), this.opts.lingerMs);
  }

  async close(): Promise<void> {
    if (this.buffer.length) this.enqueue();
    await this.chain;
  }

  report(): string {
    const s = this.stats;
    const failed = s.failedSpans ? `, FAILED ${s.failedSpans} spans in ${s.failedRequests} requests (${s.lastError})` : "";
    return `sent ${s.sentSpans} spans in ${s.requests} requests to ${this.url}, ${s.retries} retries${failed}`;
  }

  private enqueue(): void {
    clearTimeout(this.linger);
    this.linger = undefined;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.chain = this.chain.then(() => this.send(batch));
  }

  private async send(batch: OtelSpan[]): Promise<void> {
    const json = this.opts.encoding === "json";
    let body: Uint8Array = json ? encodeJsonBytes(batch) : encodeProtobuf(batch);
    const headers: Record<string, string> = { "content-type": json ? "application/json" : "application/x-protobuf", ...this.opts.headers };
    if (this.opts.compression === "gzip") {
      body = await gzipAsync(body);
      headers["content-encoding"] = "gzip";
    }
    let delay = this.opts.initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      this.stats.requests++;
      let retryAfterMs: number | undefined;
      let error: string;
      try {
        const res = await fetch(this.url, { method: "POST", headers, body: body as unknown as RequestInit["body"], signal: AbortSignal.timeout(this.opts.timeoutMs) });
        await res.arrayBuffer();
        if (res.ok) {
          this.stats.sentSpans += batch.length;
          return;
        }
        error = `HTTP ${res.status}`;
        if (!RETRYABLE.has(res.status)) return this.fail(batch, error);
        retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
      } catch (e) {
        error = (e as Error).message;
      }
      if (attempt >= this.opts.maxAttempts) return this.fail(batch, `${error} after ${attempt} attempts`);
      this.stats.retries++;
      const wait = Math.min(this.opts.maxDelayMs, retryAfterMs ?? delay);
      await new Promise((r) => setTimeout(r, wait));
      delay = Math.min(this.opts.maxDelayMs, delay * 2);
    }
  }

  private fail(batch: OtelSpan[], error: string): void {
    this.stats.failedRequests++;
    this.stats.failedSpans += batch.length;
    this.stats.lastError = error;
  }
}

/** Retry-After: delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
