// The agent's own Dubbo captures (tests/fixtures/deepflow/dubbo): the plugin, in
// both modes, must log what the agent's built-in parser logs (the .result files:
// one DubboInfo line per payload-carrying packet).
import { beforeAll, describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { WasmHost } from "../../../sdk/host.ts";
import { replayCapture } from "../../../sdk/replay.ts";
import type { FlowLogRow } from "../../../sdk/row.ts";
import { hookSegments } from "./drive.ts";
import { tcpSegments } from "../../../tests/support/capture.ts";

const root = resolve(import.meta.dirname, "..", "..", "..");
const captures = resolve(root, "tests", "fixtures", "deepflow", "dubbo");
const wasm = join(root, "build", "dubbo.wasm");

interface Expected {
  msgType: string;
  requestId: number;
  dubboVersion: string;
  service: string;
  serviceVersion: string;
  method: string;
  statusCode: number | null;
  traceIds: string[];
  spanId: string;
  isDubbo: boolean;
}

/** Reads the agent's debug-printed DubboInfo lines. */
function readResult(path: string): Expected[] {
  return readFileSync(path, "utf8").split("\n").filter((l) => l.startsWith("DubboInfo")).map((line) => {
    const str = (name: string) => new RegExp(`\\b${name}: "([^"]*)"`).exec(line)?.[1] ?? "";
    const status = /status_code: Some\((\d+)\)/.exec(line);
    return {
      msgType: /msg_type: (\w+)/.exec(line)![1],
      requestId: Number(/request_id: (\d+)/.exec(line)![1]),
      dubboVersion: str("dubbo_version"),
      service: str("service_name"),
      serviceVersion: str("service_version"),
      method: str("method_name"),
      statusCode: status ? Number(status[1]) : null,
      traceIds: [...(/trace_ids: PrioFields\(\[(.*?)\]\)/.exec(line)?.[1] ?? "").matchAll(/field: "([^"]*)"/g)].map((m) => m[1]),
      spanId: /span_id: PrioField \{ prio: \d+, field: "([^"]*)"/.exec(line)?.[1] ?? "",
      isDubbo: line.trimEnd().endsWith("is_dubbo: true"),
    };
  });
}

/** Every capture with the agent's result for it (the agent's test names dubbo_hessian2.pcap's result dubbo_hessian.result). */
const pairs: Array<[string, string]> = (existsSync(captures) ? readdirSync(captures) : [])
  .filter((f) => f.endsWith(".pcap"))
  .sort()
  .map((pcap): [string, string] => {
    const base = pcap.replace(/\.pcap$/, "");
    const result = [`${base}.result`, `${base.replace(/2$/, "")}.result`].find((r) => existsSync(join(captures, r)));
    if (!result) throw new Error(`no .result for ${pcap} in ${captures}`);
    return [pcap, result];
  });

let host: WasmHost;

beforeAll(async () => {
  host = await WasmHost.load([wasm]);
});

describe("agent captures, custom-protocol mode (host-sim replay)", () => {
  it("has captures to check", () => {
    expect(pairs.length).toBeGreaterThanOrEqual(3);
  });

  for (const [pcap, result] of pairs) {
    it(`${pcap}: same service, method, versions, request id, status, trace as the agent`, async () => {
      const expected = readResult(join(captures, result));
      const rows: FlowLogRow[] = [];
      const summary = await replayCapture({ capture: join(captures, pcap), plugins: [wasm], onRow: (r) => rows.push(r) });
      expect(summary.messages.records).toBe(expected.length);
      const requests = expected.filter((e) => e.msgType === "Request");
      // One session per request, paired with its response by request id.
      expect(rows).toHaveLength(requests.length);
      for (const e of requests) {
        const row = rows.find((r) => r.request_id === e.requestId >>> 0);
        expect(row, `request ${e.requestId}`).toBeDefined();
        expect(row!).toMatchObject({
          l7_protocol_str: "Dubbo", version: e.dubboVersion, request_type: e.method, request_domain: e.service,
          request_resource: e.service, endpoint: `${e.service}/${e.method}`, trace_ids: e.traceIds, span_id: e.spanId,
        });
        expect(row!.attribute_values[row!.attribute_names.indexOf("service_version")]).toBe(e.serviceVersion);
        const resp = expected.find((x) => x.msgType === "Response" && x.requestId === e.requestId);
        if (resp) {
          expect(row!.type).toBe(2);
          expect(row!.response_code).toBe(resp.statusCode);
          expect(row!.response_status).toBe(resp.statusCode === 20 ? 0 : 3);
        }
      }
    });
  }
});

describe("agent captures, custom-message hook mode", () => {
  for (const [pcap, result] of pairs) {
    it(`${pcap}: adds ids only, keeps the agent's status`, () => {
      const expected = readResult(join(captures, result));
      const hooked = hookSegments(host, tcpSegments(join(captures, pcap)), 9);
      expect(hooked.length).toBe(expected.length);
      for (let i = 0; i < hooked.length; i++) {
        const { record } = hooked[i];
        const e = expected[i];
        if (e.msgType === "Response") {
          // Whatever the plugin answers, the status must be what the agent computed.
          if (record) expect(record.resp.status).toBe(e.statusCode === 20 ? "ok" : "server_error");
          continue;
        }
        if (e.traceIds.length === 0) {
          expect(record).toBeNull();
          continue;
        }
        expect(record).not.toBeNull();
        expect(record!.trace.trace_ids).toEqual(e.traceIds);
        expect(record!.trace.span_id ?? "").toBe(e.spanId);
        // The hook does not rewrite what the agent parsed itself.
        expect(record!.req).toEqual({ version: "", req_type: "", domain: "", resource: "", endpoint: "" });
      }
    });
  }
});
