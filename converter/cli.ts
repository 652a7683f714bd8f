// pinpoint-otel: Pinpoint agent data → OpenTelemetry traces.
//   pinpoint-otel convert CAPTURE [output options]
//   pinpoint-otel serve [--host H] [--ports AGENT,STAT,SPAN] [--upstream HOST:PORT] [output options]
// Output options: --out FILE|- (OTLP JSON lines), --otlp URL [--otlp-json] [--no-gzip] [--batch N],
//                 --logs REQUEST_LOGS.jsonl (join), --tree (waterfall), --flush-ms N (serve)
import { createWriteStream } from "node:fs";
import { parseArgs } from "node:util";
import { JsonLinesSink, OtlpHttpSink, type SpanSink } from "./export.ts";
import { RequestLogJoin } from "./join.ts";
import { Pipeline } from "./pipeline.ts";
import { PinpointCollector, type ReceivedRequest } from "./serve.ts";
import { renderTrees } from "./tree.ts";
import type { OtelSpan } from "./otel-span.ts";

const USAGE = `usage:
  pinpoint-otel convert CAPTURE [options]
  pinpoint-otel serve [--host 127.0.0.1] [--ports 9991,9992,9993] [--upstream HOST:PORT[,STAT,SPAN]] [options]
options:
  --out FILE|-        OTLP JSON, one ExportTraceServiceRequest per line (- = stdout)
  --otlp URL          OTLP/HTTP endpoint (http://host:4318); protobuf unless --otlp-json; gzip unless --no-gzip
  --batch N           spans per OTLP request (512)
  --logs FILE         request logs (JSONL from host-sim replay) to join by Pinpoint TraceID/SpanID
  --tree              print each trace as an indented waterfall
  --collector-ports   (convert) server ports of the collector connections, default 9991,9992,9993
  --flush-ms N        (serve) emit a transaction after N ms without new data (2000)
  --record FILE       (serve) also write every agent request as JSON lines (path, agent headers, base64 bytes)`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: "string" },
      otlp: { type: "string" },
      "otlp-json": { type: "boolean" },
      "no-gzip": { type: "boolean" },
      batch: { type: "string" },
      logs: { type: "string" },
      tree: { type: "boolean" },
      host: { type: "string" },
      ports: { type: "string" },
      upstream: { type: "string" },
      "collector-ports": { type: "string" },
      "flush-ms": { type: "string" },
      record: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const sinks: SpanSink[] = [];
  if (values.out) sinks.push(new JsonLinesSink(values.out));
  if (values.otlp) {
    sinks.push(
      new OtlpHttpSink({
        endpoint: values.otlp,
        encoding: values["otlp-json"] ? "json" : "protobuf",
        compression: values["no-gzip"] ? "none" : "gzip",
        batchSize: values.batch ? Number(values.batch) : undefined,
      }),
    );
  }
  const log = values.out === "-" ? console.error : console.log;
  const join = values.logs ? RequestLogJoin.fromFile(values.logs) : undefined;
  const treeSpans: OtelSpan[] = [];
  const pipeline = new Pipeline(sinks, join, values.tree ? (spans) => treeSpans.push(...spans) : undefined);
  const printTrees = (): void => {
    if (treeSpans.length) log(renderTrees(treeSpans.splice(0)));
  };

  if (command === "convert") {
    const file = rest[0];
    if (!file) {
      console.error(USAGE);
      return 2;
    }
    const { convertCapture } = await import("./capture-file.ts");
    const ports = parsePorts(values["collector-ports"] ?? "9991,9992,9993");
    const captureStats = await convertCapture(file, pipeline, ports);
    await pipeline.close();
    printTrees();
    for (const line of [captureStats, ...pipeline.report()]) console.error(line);
    return failed(sinks) ? 1 : 0;
  }

  if (command === "serve") {
    const [agentPort, statPort, spanPort] = parsePorts(values.ports ?? "9991,9992,9993");
    const collector = new PinpointCollector({ host: values.host, agentPort, statPort, spanPort, upstream: values.upstream ? parseUpstream(values.upstream) : undefined });
    collector.on("request", (r: ReceivedRequest) => pipeline.request(r.path, r.header, r.data));
    const record = values.record ? createWriteStream(values.record) : undefined;
    if (record) collector.on("request", (r: ReceivedRequest) => record.write(`${JSON.stringify({ ...r, data: r.data.toString("base64") })}\n`));
    await collector.start();
    console.error(`pinpoint-otel: collecting on ${values.host ?? "127.0.0.1"} agent=${collector.ports.agent} stat=${collector.ports.stat} span=${collector.ports.span}`);
    const flushMs = Number(values["flush-ms"] ?? 2000);
    const timer = setInterval(() => {
      void pipeline.flush({ idleMs: flushMs, giveUpMs: flushMs * 30 }).then(() => {
        printTrees();
        pipeline.asm.forget(flushMs * 60);
      });
    }, Math.max(50, Math.min(1000, flushMs / 2)));
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    clearInterval(timer);
    await collector.stop();
    if (record) await new Promise<void>((resolve) => record.end(() => resolve()));
    await pipeline.close();
    printTrees();
    for (const line of pipeline.report()) console.error(line);
    console.error(`collector: ${collector.stats.requests} requests, ${collector.stats.forwarded} forwarded, ${collector.stats.upstreamErrors} upstream errors`);
    return failed(sinks) ? 1 : 0;
  }

  console.error(`unknown command ${command}\n${USAGE}`);
  return 2;
}

function failed(sinks: SpanSink[]): boolean {
  return sinks.some((s) => s instanceof OtlpHttpSink && s.stats.failedSpans > 0);
}

function parsePorts(s: string): number[] {
  const ports = s.split(",").map((p) => Number(p.trim()));
  if (ports.length !== 3 || ports.some((p) => !Number.isInteger(p) || p < 0 || p > 65535)) throw new Error(`expected three ports AGENT,STAT,SPAN, got "${s}"`);
  return ports;
}

/** host:port (the agent port; stat and span follow it as 9991/9992/9993 do) or host:agent,stat,span. */
function parseUpstream(s: string): { host: string; agentPort: number; statPort: number; spanPort: number } {
  const m = /^(.*):([\d,]+)$/.exec(s);
  if (!m) throw new Error(`--upstream expects HOST:PORT, got "${s}"`);
  const host = m[1].replace(/^\[(.*)\]$/, "$1");
  const ports = m[2].split(",").map(Number);
  if (ports.length === 1) return { host, agentPort: ports[0], statPort: ports[0] + 1, spanPort: ports[0] + 2 };
  if (ports.length === 3) return { host, agentPort: ports[0], statPort: ports[1], spanPort: ports[2] };
  throw new Error(`--upstream expects HOST:PORT or HOST:AGENT,STAT,SPAN, got "${s}"`);
}
