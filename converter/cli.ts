// pinpoint-otel: Pinpoint agent data → OpenTelemetry traces.
//   pinpoint-otel convert CAPTURE [--strict] [output options]   (a damaged capture: converted up to the damage)
//   pinpoint-otel serve [--host H] [--ports AGENT,STAT,SPAN] [--upstream HOST:PORT] [output options]
// Output options: --out FILE|- (OTLP JSON lines), --otlp URL [--otlp-json] [--no-gzip] [--batch N],
//                 --logs REQUEST_LOGS.jsonl (join), --tree (waterfall), --flush-ms N
import { createWriteStream, openSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseOptions, runCommand, type OptionSpecs } from "../cli/options.ts";
import { CaptureError, openCapture } from "../capture/open.ts";
import { UsageError } from "../sdk/errors.ts";
import { convertCapture } from "./capture-file.ts";
import { JsonLinesSink, OtlpHttpSink, OutputError, type SpanSink } from "./export.ts";
import { RequestLogJoin } from "./join.ts";
import { Pipeline } from "./pipeline.ts";
import { PinpointCollector, type ReceivedRequest } from "./serve.ts";
import { renderTrees } from "./tree.ts";
import type { OtelSpan } from "./otel-span.ts";

export const USAGE = `usage:
  pinpoint-otel convert CAPTURE [options]
  pinpoint-otel serve [--host 127.0.0.1] [--ports 9991,9992,9993] [--upstream HOST:PORT[,STAT,SPAN]] [options]
options:
  --out FILE|-        OTLP JSON, one ExportTraceServiceRequest per line (- = stdout)
  --otlp URL          OTLP/HTTP endpoint (http://host:4318); protobuf unless --otlp-json; gzip unless --no-gzip
  --batch N           spans per OTLP request, 1..100000 (512); convert --out: spans per line
  --logs FILE         request logs (JSONL from host-sim replay) to join by Pinpoint TraceID/SpanID
  --tree              print each trace as an indented waterfall
  --collector-ports   (convert) server ports of the collector connections, default 9991,9992,9993
  --strict            (convert) a damaged capture fails the run (exit 1) after what precedes the damage
                      is written; without it the damage is reported and the exit code stays 0
  --flush-ms N        emit a transaction after N ms without new data (2000; convert: capture time)
  --record FILE       (serve) also write every agent request as JSON lines (path, agent headers, base64 bytes)
exit codes: 0 done, 1 spans not delivered or output not written (or --strict and a damaged capture),
            2 bad arguments or input (unreadable, not a capture, not one readable record)`;

const COMMANDS = new Set(["convert", "serve"]);
/** Spans per OTLP request, and per line of convert --out, without --batch (OtlpHttpSink's default). */
const DEFAULT_BATCH = 512;

/** Every option of both commands, with its type and range (USAGE describes them). */
export const CONVERTER_OPTIONS = {
  out: { type: "string" },
  otlp: { type: "string" },
  "otlp-json": { type: "boolean" },
  "no-gzip": { type: "boolean" },
  batch: { type: "int", min: 1, max: 100_000 },
  logs: { type: "string" },
  tree: { type: "boolean" },
  host: { type: "string" },
  ports: { type: "string", default: "9991,9992,9993" },
  upstream: { type: "string" },
  "collector-ports": { type: "string", default: "9991,9992,9993" },
  "flush-ms": { type: "int", min: 1, max: 86_400_000, default: 2000 },
  record: { type: "string" },
  strict: { type: "boolean" },
} as const satisfies OptionSpecs;

/** Runs the command line; resolves to the exit code. User errors are one line on stderr, exit 2. */
export async function main(argv: string[]): Promise<number> {
  // parseOptions fails before positionals are known: name the command when it came first.
  const program = `pinpoint-otel${COMMANDS.has(argv[0] ?? "") ? ` ${argv[0]}` : ""}`;
  try {
    // A capture that cannot be opened at all (missing, empty, not a capture) is bad input too.
    return await runCommand(program, () => run(argv), [CaptureError]);
  } catch (e) {
    // Output that could not be written is a failed run, not a usage error.
    if (!(e instanceof OutputError)) throw e;
    process.stderr.write(`${program}: ${e.message}\n`);
    return 1;
  }
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, CONVERTER_OPTIONS);
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    // Asked for: stdout, exit 0; no command at all is a usage error.
    (values.help ? process.stdout : process.stderr).write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (!COMMANDS.has(command)) throw new UsageError(`unknown command ${JSON.stringify(command)} (convert or serve; --help lists the options)`);
  if (command === "convert" && rest.length !== 1) {
    throw new UsageError(rest.length ? `expects one CAPTURE, got ${rest.length}: ${rest.join(" ")}` : "missing CAPTURE (pinpoint-otel convert CAPTURE [options]; --help lists them)");
  }
  if (command === "serve" && rest.length) throw new UsageError(`takes no positional arguments, got ${rest.join(" ")}`);
  // Every option is checked before any file is opened or any work is done.
  const batchSize = values.batch;
  const flushMs = values["flush-ms"];
  const collectorPorts = parsePorts("collector-ports", values["collector-ports"]);
  const servePorts = parsePorts("ports", values.ports);
  const upstream = values.upstream ? parseUpstream(values.upstream) : undefined;
  if (values.otlp !== undefined) checkHttpUrl("otlp", values.otlp);
  const join = values.logs ? readable(values.logs, () => RequestLogJoin.fromFile(values.logs as string)) : undefined;
  // Opened before the outputs: a capture that is not one must not leave an emptied --out file.
  const capture = command === "convert" ? openCapture(rest[0]) : undefined;

  const sinks: SpanSink[] = [];
  try {
    // convert emits as it reads (see --flush-ms): lines of --batch spans, not one per emitted batch.
    const lineOptions = capture ? { spansPerLine: batchSize ?? DEFAULT_BATCH } : {};
    if (values.out) sinks.push(writable(values.out, () => new JsonLinesSink(values.out as string, lineOptions)));
  } catch (e) {
    capture?.close();
    throw e;
  }
  if (values.otlp) {
    sinks.push(
      new OtlpHttpSink({
        endpoint: values.otlp,
        encoding: values["otlp-json"] ? "json" : "protobuf",
        compression: values["no-gzip"] ? "none" : "gzip",
        batchSize,
      }),
    );
  }
  const log = values.out === "-" ? console.error : console.log;
  const treeSpans: OtelSpan[] = [];
  // convert runs on the capture's clock: transactions are emitted and forgotten as the capture's time
  // passes (--flush-ms), so memory follows the traffic in flight, not the length of the capture.
  const captureClock = { nowMs: 0 };
  const pipeline = capture
    ? new Pipeline(sinks, join, values.tree ? (spans) => treeSpans.push(...spans) : undefined, () => captureClock.nowMs, { sweepMs: 0 })
    : new Pipeline(sinks, join, values.tree ? (spans) => treeSpans.push(...spans) : undefined);
  const printTrees = (): void => {
    if (treeSpans.length) log(renderTrees(treeSpans.splice(0)));
  };

  if (capture) {
    const result = await convertCapture(capture, pipeline, collectorPorts, { flushMs, clock: captureClock });
    if (result.damage && result.frames === 0) {
      // Not one readable record (a capture header followed by garbage): nothing to convert.
      await pipeline.close();
      throw new UsageError(`no readable record in ${rest[0]}: ${result.damage.message}`);
    }
    // Damage ends the reading like the end of the file: what came before is converted and written.
    await pipeline.close();
    printTrees();
    for (const line of [result.summary, ...pipeline.report()]) console.error(line);
    if (result.damage) {
      console.error(`pinpoint-otel convert: ${rest[0]} is damaged, converted the ${result.frames} frames before it: ${result.damage.message}`);
      if (values.strict) return 1;
    }
    return failed(sinks) ? 1 : 0;
  }

  // serve: collect until SIGINT/SIGTERM.
  const [agentPort, statPort, spanPort] = servePorts;
  const collector = new PinpointCollector({ host: values.host, agentPort, statPort, spanPort, upstream });
  collector.on("request", (r: ReceivedRequest) => pipeline.request(r.path, r.header, r.data));
  const record = values.record ? writable(values.record, () => createWriteStream(values.record as string, { fd: openSync(values.record as string, "w") })) : undefined;
  if (record) collector.on("request", (r: ReceivedRequest) => record.write(`${JSON.stringify({ ...r, data: r.data.toString("base64") })}\n`));
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  let outputError: unknown;
  record?.on("error", (e: NodeJS.ErrnoException) => {
    outputError ??= new OutputError(`cannot write ${values.record}: ${e.code ?? e.message}`);
    stop();
  });
  try {
    await collector.start();
  } catch (e) {
    // A port in use or a host that is not local: the user's choice of --host/--ports.
    await collector.stop();
    record?.end();
    throw new UsageError(`cannot listen on ${values.host ?? "127.0.0.1"} ports ${servePorts.join(",")}: ${(e as Error).message}`);
  }
  console.error(`pinpoint-otel: collecting on ${values.host ?? "127.0.0.1"} agent=${collector.ports.agent} stat=${collector.ports.stat} span=${collector.ports.span}`);
  const timer = setInterval(() => {
    pipeline
      .flush({ idleMs: flushMs, giveUpMs: flushMs * 30 })
      .then(() => {
        printTrees();
        pipeline.asm.forget(flushMs * 60);
      })
      .catch((e: unknown) => {
        // The output failed (disk full, closed pipe): stop collecting, report it below.
        outputError ??= e;
        stop();
      });
  }, Math.max(50, Math.min(1000, flushMs / 2)));
  await stopped;
  clearInterval(timer);
  await collector.stop();
  if (record) await new Promise<void>((resolve) => record.end(() => resolve()));
  if (outputError) throw outputError;
  await pipeline.close();
  printTrees();
  for (const line of pipeline.report()) console.error(line);
  console.error(`collector: ${collector.stats.requests} requests, ${collector.stats.forwarded} forwarded, ${collector.stats.upstreamErrors} upstream errors`);
  return failed(sinks) ? 1 : 0;
}

function failed(sinks: SpanSink[]): boolean {
  return sinks.some((s) => s instanceof OtlpHttpSink && s.stats.failedSpans > 0);
}

function checkHttpUrl(name: string, v: string): void {
  let u: URL | undefined;
  try {
    u = new URL(v);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== "http:" && u.protocol !== "https:")) throw new UsageError(`--${name} must be an http:// or https:// URL, got ${JSON.stringify(v)}`);
}

/** Runs `open`; a file-system error (ENOENT, EACCES, EISDIR...) is the user's input, one line. */
function readable<T>(path: string, open: () => T): T {
  return fsOpen("read", path, open);
}

function writable<T>(path: string, open: () => T): T {
  return fsOpen("write", path, open);
}

function fsOpen<T>(verb: string, path: string, open: () => T): T {
  try {
    return open();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("E")) throw new UsageError(`cannot ${verb} ${path}: ${code}`);
    throw e;
  }
}

function parsePorts(name: string, s: string): number[] {
  const ports = s.split(",").map((p) => (/^\s*\d+\s*$/.test(p) ? Number(p) : NaN));
  if (ports.length !== 3 || ports.some((p) => !Number.isInteger(p) || p > 65535)) throw new UsageError(`--${name} expects three ports AGENT,STAT,SPAN, got ${JSON.stringify(s)}`);
  return ports;
}

/** host:port (the agent port; stat and span follow it as 9991/9992/9993 do) or host:agent,stat,span. */
function parseUpstream(s: string): { host: string; agentPort: number; statPort: number; spanPort: number } {
  const m = /^(.+):(\d+(?:,\d+,\d+)?)$/.exec(s);
  const ports = m ? m[2].split(",").map(Number) : [];
  if (!m || ports.some((p) => p < 1 || p > 65535 - (ports.length === 1 ? 2 : 0))) {
    throw new UsageError(`--upstream expects HOST:PORT or HOST:AGENT,STAT,SPAN, got ${JSON.stringify(s)}`);
  }
  const host = m[1].replace(/^\[(.*)\]$/, "$1");
  if (ports.length === 1) return { host, agentPort: ports[0], statPort: ports[0] + 1, spanPort: ports[0] + 2 };
  return { host, agentPort: ports[0], statPort: ports[1], spanPort: ports[2] };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
