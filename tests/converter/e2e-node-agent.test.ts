// End to end with the real pinpoint-node-agent: two instrumented HTTP services (front → back) report
// live to `pinpoint-otel serve` on free loopback ports; serve converts and exports OTLP/HTTP protobuf to
// a test receiver that decodes it with the official OpenTelemetry definitions.
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { traceIdOf } from "../../converter/ids.ts";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./support/otlp-receiver.ts";
import { start, until, type Child } from "./support/processes.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- the agent's generated classes are untyped */
const require = createRequire(import.meta.url);
// The agent's own generated classes: an independent decoder of what the collector received.
const spanPb: any = require("pinpoint-node-agent/lib/data/grpc/Span_pb");

const ROOT = join(import.meta.dirname, "../..");
const APP = join(import.meta.dirname, "e2e/app.cjs");
const SERVER = 2;
const CLIENT = 3;

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve(body));
    });
    req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

interface Recorded {
  path: string;
  header: { agentId: string; applicationName: string };
  data: string;
}

describe("pinpoint-node-agent → pinpoint-otel serve → OTLP", () => {
  let receiver: OtlpReceiver;
  let serve: Child;
  const apps: Child[] = [];
  let dir: string;
  let body = "";
  let recorded: Recorded[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pinpoint-otel-e2e-"));
    receiver = await startOtlpReceiver();
    serve = start(process.execPath, [join(ROOT, "bin/pinpoint-otel.mjs"), "serve", "--ports", "0,0,0", "--flush-ms", "300", "--otlp", receiver.url, "--record", join(dir, "requests.jsonl")]);
    const m = await serve.waitFor(/agent=(\d+) stat=(\d+) span=(\d+)/, 30_000);
    const env = {
      PINPOINT_COLLECTOR_IP: "127.0.0.1",
      PINPOINT_COLLECTOR_TCP_PORT: m[1],
      PINPOINT_COLLECTOR_STAT_PORT: m[2],
      PINPOINT_COLLECTOR_SPAN_PORT: m[3],
      PINPOINT_SAMPLING_RATE: "1",
    };
    const back = start(process.execPath, [APP], { ...env, PINPOINT_AGENT_ID: "back-1", PINPOINT_APPLICATION_NAME: "back" });
    apps.push(back);
    const backPort = (await back.waitFor(/listening (\d+)/, 20_000))[1];
    const front = start(process.execPath, [APP], { ...env, PINPOINT_AGENT_ID: "front-1", PINPOINT_APPLICATION_NAME: "front", DOWNSTREAM_URL: `http://127.0.0.1:${backPort}/data` });
    apps.push(front);
    const frontPort = (await front.waitFor(/listening (\d+)/, 20_000))[1];
    body = await get(`http://127.0.0.1:${frontPort}/hello`);
    const has = (service: string, kind: number): boolean => receiver.spans.some((s) => s.resource["service.name"] === service && s.kind === kind);
    await until(() => has("back", SERVER) && has("front", SERVER) && has("front", CLIENT), 20_000, "converted spans of both applications");
    for (const a of apps) await a.stop();
    expect(await serve.stop("SIGINT")).toBe(0);
    recorded = readFileSync(join(dir, "requests.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Recorded);
  }, 90_000);

  afterAll(async () => {
    for (const a of apps) await a.stop("SIGKILL");
    await serve?.stop("SIGKILL");
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("rebuilds the exact cross-application tree: front server span → http client event → back server span", () => {
    expect(body).toBe("front got: hello from back");
    const spans = receiver.spans;
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const frontServer = spans.filter((s) => s.kind === SERVER && s.resource["service.name"] === "front");
    const backServer = spans.filter((s) => s.kind === SERVER && s.resource["service.name"] === "back");
    expect(frontServer).toHaveLength(1);
    expect(backServer).toHaveLength(1);
    const root = frontServer[0];
    const callee = backServer[0];
    expect(root.parentSpanId).toBe("");
    const client = byId.get(callee.parentSpanId) as ReceivedSpan;
    expect(client, "the back span's parent is a converted span").toBeDefined();
    expect(client.kind).toBe(CLIENT);
    expect(client.name).toBe("GET");
    expect(client.resource["service.name"]).toBe("front");
    expect(String(client.attributes["url.full"])).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/data$/);
    expect(client.attributes["pinpoint.next_span_id"]).toBe(callee.attributes["pinpoint.span_id"]);
    // The client event hangs (through the agent's http.request and async invocation events) under the front span.
    const chain: string[] = [];
    for (let s: ReceivedSpan | undefined = client; s; s = byId.get(s.parentSpanId)) chain.push(`${s.name}/${s.kind}`);
    expect(chain).toEqual(["GET/3", "Asynchronous Invocation/1", "http.request/1", `${root.name}/2`]);
    expect(root.name).toBe("Node Server Process");
    expect(callee.name).toBe("Node Server Process");
    const tx = root.attributes["pinpoint.transaction_id"] as string;
    expect(tx).toMatch(/^front-1\^\d+\^\d+$/);
    expect(root.traceId).toBe(traceIdOf(tx));
    for (const s of spans.filter((x) => x.traceId === root.traceId)) expect(s.attributes["pinpoint.transaction_id"] ?? tx).toBe(tx);
    expect(callee.traceId).toBe(root.traceId);
    expect(callee.attributes["pinpoint.parent_application_name"]).toBe("front");
    expect(callee.resource["service.instance.id"]).toBe("back-1");
    expect(root.resource["pinpoint.agentId"]).toBe("front-1");
    expect(callee.attributes["url.path"]).toBe("/data");
    expect(root.attributes["url.path"]).toBe("/hello");
  });

  it("keeps the times the collector received, to the millisecond", () => {
    const spans = receiver.spans;
    const pspans = recorded
      .filter((r) => r.path === "/v1.Span/SendSpan")
      .map((r) => spanPb.PSpanMessage.deserializeBinary(Buffer.from(r.data, "base64")))
      .filter((m: any) => m.hasSpan())
      .map((m: any) => m.getSpan());
    expect(pspans.length).toBeGreaterThanOrEqual(2);
    for (const p of pspans) {
      const otel = spans.find((s) => s.kind === SERVER && s.attributes["pinpoint.span_id"] === String(p.getSpanid()));
      expect(otel, `span ${p.getSpanid()}`).toBeDefined();
      const startMs = Number(p.getStarttime());
      expect(Math.abs(Number((otel as ReceivedSpan).startNs / 1_000_000n) - startMs)).toBeLessThanOrEqual(1);
      expect(Math.abs(Number((otel as ReceivedSpan).endNs / 1_000_000n) - (startMs + p.getElapsed()))).toBeLessThanOrEqual(1);
    }
    // The client event came in an async chunk: keyTime + the first event's delta + its own delta.
    const chunks = recorded
      .filter((r) => r.path === "/v1.Span/SendSpan")
      .map((r) => spanPb.PSpanMessage.deserializeBinary(Buffer.from(r.data, "base64")))
      .filter((m: any) => m.hasSpanchunk())
      .map((m: any) => m.getSpanchunk());
    const withClient = chunks.find((c: any) => c.getSpaneventList().some((e: any) => e.getServicetype() === 9056));
    expect(withClient).toBeDefined();
    let t = Number(withClient.getKeytime());
    let clientStart = 0;
    let clientElapsed = 0;
    for (const e of withClient.getSpaneventList()) {
      t += e.getStartelapsed();
      if (e.getServicetype() === 9056) {
        clientStart = t;
        clientElapsed = e.getEndelapsed();
      }
    }
    const client = spans.find((s) => s.kind === CLIENT && s.name === "GET") as ReceivedSpan;
    expect(Math.abs(Number(client.startNs / 1_000_000n) - clientStart)).toBeLessThanOrEqual(1);
    expect(Math.abs(Number(client.endNs / 1_000_000n) - (clientStart + clientElapsed))).toBeLessThanOrEqual(1);
  });
});
