// A plain OTLP/HTTP test receiver: decodes ExportTraceServiceRequest with the official OpenTelemetry
// definitions (the generated protobuf root that @opentelemetry/otlp-transformer 0.52 ships).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { gunzipSync } from "node:zlib";

const require = createRequire(import.meta.url);
/* eslint-disable @typescript-eslint/no-explicit-any */
const root: any = require("otlp-official-protos/build/src/generated/root.js");
const ExportTraceServiceRequest: any = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
/* eslint-enable @typescript-eslint/no-explicit-any */

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP enum: 1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER. */
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  status: { code: number; message: string };
  events: { name: string; attributes: Record<string, unknown> }[];
}

export function decodeExportRequest(body: Uint8Array): ReceivedSpan[] {
  const req = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), { longs: String, bytes: String, defaults: true });
  const out: ReceivedSpan[] = [];
  const b64hex = (s: string): string => Buffer.from(s, "base64").toString("hex");
  for (const rs of req.resourceSpans) {
    const resource = kv(rs.resource?.attributes ?? []);
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans)
        out.push({
          traceId: b64hex(s.traceId),
          spanId: b64hex(s.spanId),
          parentSpanId: b64hex(s.parentSpanId),
          name: s.name,
          kind: s.kind,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: kv(s.attributes),
          resource,
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? "" },
          events: (s.events ?? []).map((e: { name: string; attributes: { key: string; value: Record<string, unknown> }[] }) => ({ name: e.name, attributes: kv(e.attributes) })),
        });
  }
  return out;
}

function kv(list: { key: string; value: Record<string, unknown> }[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const { key, value } of list) {
    const v = value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue;
    o[key] = typeof v === "string" && value.intValue !== undefined && value.intValue === v ? Number(v) : v;
  }
  return o;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  requests: { contentType: string; encoding: string }[];
  /** Status codes to answer with, in order, before answering 200 (for retry tests). */
  failures: { status: number; retryAfter?: string }[];
  /** OTLP/JSON request bodies, parsed. */
  jsonRequests: { resourceSpans: { scopeSpans: { spans: { traceId: string; spanId: string; parentSpanId?: string; name: string }[] }[] }[] }[];
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const r: Omit<OtlpReceiver, "url" | "close"> = { spans: [], requests: [], failures: [], jsonRequests: [] };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const encoding = String(req.headers["content-encoding"] ?? "");
      r.requests.push({ contentType: String(req.headers["content-type"]), encoding });
      const fail = r.failures.shift();
      if (fail) {
        res.writeHead(fail.status, fail.retryAfter ? { "retry-after": fail.retryAfter } : {});
        res.end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (encoding === "gzip") body = gunzipSync(body);
      if (String(req.headers["content-type"]).includes("json")) r.jsonRequests.push(JSON.parse(body.toString("utf8")));
      else r.spans.push(...decodeExportRequest(body));
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    ...r,
    get spans() {
      return r.spans;
    },
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  } as OtlpReceiver;
}
