// The DeepFlow agent's own test plugin (a TinyGo build of a Go SDK plugin, see
// tests/fixtures/host/README.md) run through the host with the parameters of the agent's
// agent/src/plugin/wasm/test.rs. The plugin compares every context field it receives
// with those parameters and traps on any difference, so a call that does not fail means
// the context bytes were right.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { HOOK_HTTP_REQ, HOOK_HTTP_RESP, HOOK_PAYLOAD_PARSE } from "../../sdk/abi.ts";
import { WasmHost, type CallCtx, type HostLogEntry } from "../../sdk/host.ts";

const NAME = "vm0";
const bytes = gunzipSync(readFileSync(new URL("../fixtures/host/agent-test-plugin.wasm.gz", import.meta.url)));

// get_req_param / get_resq_param of test.rs
const reqParam: CallCtx = {
  srcIp: "1.2.3.4",
  dstIp: "5.6.7.8",
  srcPort: 12345,
  dstPort: 8080,
  l4: 6,
  flowId: 1234567,
  direction: 0,
  ebpfType: 0,
  processName: "test_wasm",
  time: 12345678,
  bufSize: 999,
};
const respParam: CallCtx = { ...reqParam, srcIp: "5.6.7.8", dstIp: "1.2.3.4", srcPort: 8080, dstPort: 12345, direction: 1 };
// protobuf Req{domain, resource, type, endpoint} and Resp{status 999, result} of test.rs
const reqPayload = new Uint8Array([10, 6, 100, 111, 109, 97, 105, 110, 18, 8, 114, 101, 115, 111, 117, 114, 99, 101, 26, 4, 116, 121, 112, 101, 34, 8, 101, 110, 100, 112, 111, 105, 110, 116]);
const respPayload = new Uint8Array([8, 231, 7, 18, 6, 114, 101, 115, 117, 108, 116]);
const httpReq = new TextEncoder().encode("POST /test?a=1&b=2&c=test HTTP/1.1\r\nUser-Agent: deepflow\r\nreferer: aaa.com\r\nHost: abc.com\r\nContent-Type: application/json\r\n\r\n");
const httpResp = new TextEncoder().encode('HTTP/1.1 200 Ok\r\nContent-Type: application/json\r\n\r\n{"data":{"user_id":123, "name":"kkk"}}');
const reqInfo = { path: "/test?a=1&b=2&c=test", host: "abc.com", userAgent: "deepflow", referer: "aaa.com" };

describe("the agent's TinyGo test plugin", () => {
  let host: WasmHost;
  const logs: HostLogEntry[] = [];
  const failures = (hook: "check_payload" | "parse_payload" | "on_http_req" | "on_http_resp") => host.counters()[0].hooks[hook].failures;

  beforeAll(async () => {
    host = await WasmHost.load([{ name: NAME, bytes }], { onLog: (l) => logs.push(l) });
  });

  it("links through WASI, runs _start and reads its hook bitmap", () => {
    expect(host.pluginInfo()[0]).toMatchObject({ usesWasi: true, hookBitmap: HOOK_HTTP_REQ | HOOK_HTTP_RESP | HOOK_PAYLOAD_PARSE, customMessageHook: null });
    expect(logs).toContainEqual({ instance: NAME, level: "warn", source: "plugin", message: "wasm register parser" });
  });

  it("check_payload: the plugin accepts every context field and claims proto 1 \"test\"", () => {
    expect(host.checkPayload(reqParam, reqPayload)).toEqual({ proto: 1, msgType: 1, name: "test", instance: NAME });
    expect(failures("check_payload")).toBe(0);
  });

  it.each([
    ["flow id", { flowId: 1234568 }],
    ["process name", { processName: "" }],
    ["buf size", { bufSize: 1000 }],
    ["time", { time: 12345679 }],
    ["eBPF type", { ebpfType: 255 }],
    ["source port", { srcPort: 1 }],
  ])("check_payload: a different %s makes the plugin trap (a failure, no claim)", (_what, change) => {
    const before = failures("check_payload");
    expect(host.checkPayload({ ...reqParam, ...change }, reqPayload)).toBeNull();
    expect(failures("check_payload")).toBe(before + 1);
  });

  it("parse_payload: it aborts with records in the 2023 legacy layout, which today's agent refuses", () => {
    logs.length = 0;
    // [] (abort, no records kept), not null (nobody aborted)
    expect(host.parsePayload(reqParam, reqPayload, 1)).toEqual([]);
    expect(host.parsePayload(respParam, respPayload, 1)).toEqual([]);
    expect(failures("parse_payload")).toBe(0);
    // protocol_str joined the legacy layout in 2024 (agent commit ec65abb9c)
    const refusals = logs.filter((l) => l.source === "host").map((l) => l.message);
    expect(refusals).toEqual([
      expect.stringMatching(/host_read_l7_protocol_info .*l7_protocol_str/),
      expect.stringMatching(/host_read_l7_protocol_info .*l7_protocol_str/),
    ]);
    // The plugin checks l7 = 1 inside parse_payload.
    expect(host.parsePayload(reqParam, reqPayload, 2)).toBeNull();
    expect(failures("parse_payload")).toBe(1);
  });

  it("on_http_req: the plugin accepts path, host, user agent, referer and payload (l7 0, as in 2023)", () => {
    const before = failures("on_http_req");
    host.onHttpReq({ ...reqParam, l7: 0 }, httpReq, reqInfo);
    expect(failures("on_http_req")).toBe(before);
    host.onHttpReq({ ...reqParam, l7: 0 }, httpReq, { ...reqInfo, referer: "bbb.com" });
    expect(failures("on_http_req")).toBe(before + 1);
    // Today's agent sends the HTTP record's proto (20); this 2023 plugin insists on 0.
    host.onHttpReq(reqParam, httpReq, reqInfo);
    expect(failures("on_http_req")).toBe(before + 2);
  });

  it("on_http_resp: the plugin accepts code 200 / ok and the body", () => {
    const before = failures("on_http_resp");
    host.onHttpResp({ ...respParam, l7: 0 }, httpResp, { code: 200, status: "ok", endpoint: "/test" });
    expect(failures("on_http_resp")).toBe(before);
    host.onHttpResp({ ...respParam, l7: 0 }, httpResp, { code: 200, status: "server_error", endpoint: "" });
    expect(failures("on_http_resp")).toBe(before + 1);
    expect(host.counters()[0].hooks.on_http_resp.memSize).toBeGreaterThan(0);
  });
});
