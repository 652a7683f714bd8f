// The example plugin (plugins/http-hooks, built to build/http-hooks.wasm) through the
// host: every hook, both directions, IPv4 and IPv6 contexts, a process name, payloads
// longer than its buffers.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { L7_PROTOCOL } from "../../sdk/abi.ts";
import { WasmHost, type CallCtx } from "../../sdk/host.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const wasm = `${root}build/http-hooks.wasm`;
const NAME = "http-hooks.wasm";
const TOY = 200;

const client: CallCtx = { srcIp: "192.168.7.1", dstIp: "192.168.7.2", srcPort: 50123, dstPort: 9000, direction: 0, flowId: 11, time: 1_000_000 };
const server: CallCtx = { ...client, srcIp: client.dstIp, dstIp: client.srcIp, srcPort: client.dstPort, dstPort: client.srcPort, direction: 1 };
// eBPF view of the same exchange over IPv6, with a process name.
const client6: CallCtx = { srcIp: "2001:db8::10", dstIp: "2001:db8::20", srcPort: 50123, dstPort: 9000, direction: 0, ebpfType: 0, processName: "toy-client", flowId: 12 };
const server6: CallCtx = { ...client6, srcIp: client6.dstIp, dstIp: client6.srcIp, srcPort: 9000, dstPort: 50123, direction: 1, processName: "toy-server" };

const text = (s: string) => new TextEncoder().encode(s);

let host: WasmHost;

beforeAll(async () => {
  if (!existsSync(wasm)) execFileSync(process.execPath, ["--import", "tsx", "scripts/build-plugins.ts", "http-hooks"], { cwd: root, stdio: "inherit", timeout: 120_000 });
  host = await WasmHost.load([wasm]);
});

describe("check_payload / parse_payload: the toy protocol", () => {
  it.each([
    ["IPv4, packet capture", client, server],
    ["IPv6, eBPF with process names", client6, server6],
  ])("claims requests and responses (%s)", (_what, c, s) => {
    expect(host.checkPayload(c, text("TOY 7 GET /users\n"))).toEqual({ proto: TOY, msgType: 1, name: "Toy", instance: NAME });
    expect(host.checkPayload(s, text("TOY 7 0 fine\n"))).toEqual({ proto: TOY, msgType: 2, name: "Toy", instance: NAME });
    expect(host.checkPayload(c, text("GET / HTTP/1.1\r\n\r\n"))).toBeNull();
    expect(host.checkPayload(c, text("TOY x GET /\n"))).toBeNull();
    expect(host.checkPayload(c, text("TOY 7 GET /users"))).toBeNull(); // no newline yet
  });

  it.each([
    ["IPv4", client],
    ["IPv6", client6],
  ])("parses every request line of a segment (%s)", (_what, c) => {
    const records = host.parsePayload(c, text("TOY 7 GET /users\nTOY 8 PUT /x\n"), TOY)!;
    expect(records.map((r) => [r.request_id, r.req.req_type, r.req.resource, r.req.endpoint, r.req_len, r.proto_str])).toEqual([
      [7, "GET", "/users", "GET /users", 17, "Toy"],
      [8, "PUT", "/x", "PUT /x", 13, "Toy"],
    ]);
    expect(records[0]).toMatchObject({ encoding: "pb", resp_len: null, resp: { status: "unknown", code: null } });
  });

  it.each([
    ["IPv4", server],
    ["IPv6", server6],
  ])("parses responses with their status (%s)", (_what, s) => {
    const records = host.parsePayload(s, text("TOY 7 0 fine\nTOY 8 500 boom\nTOY 9 404 not found\n"), TOY)!;
    expect(records.map((r) => [r.request_id, r.resp.status, r.resp.code, r.resp.result, r.resp.exception, r.resp_len])).toEqual([
      [7, "ok", 0, "fine", "", 13],
      [8, "server_error", 500, "", "boom", 15],
      [9, "client_error", 404, "", "not found", 20],
    ]);
  });

  it("a payload that is not toy gives no records (abort with an error)", () => {
    expect(host.parsePayload(client, text("hello\n"), TOY)).toEqual([]);
  });

  it("a payload longer than buf_size is cut: only whole lines inside it are records", () => {
    const lines = Array.from({ length: 200 }, (_, i) => `TOY ${i} GET /item/${i}\n`).join("");
    expect(lines.length).toBeGreaterThan(4000);
    const small = host.parsePayload({ ...client, bufSize: 256 }, text(lines), TOY)!;
    const cut = lines.slice(0, 256);
    expect(small.length).toBe(cut.split("\n").length - 1);
    // A bigger buf_size than the plugin's buffer so far: it grows its buffer and sees all.
    const all = host.parsePayload({ ...client, bufSize: 8192 }, text(lines), TOY)!;
    expect(all.length).toBe(200);
    expect(all[199].req.resource).toBe("/item/199");
    // The agent's maximum: 65535 bytes of a 70 kB payload.
    const huge = "TOY 1 GET /" + "a".repeat(70_000) + "\n";
    expect(host.parsePayload({ ...client, bufSize: 65535 }, text(huge), TOY)).toEqual([]);
  });
});

describe("HTTP hooks", () => {
  const req = (headers: string) => text(`GET /api/orders?id=3 HTTP/1.1\r\nHost: shop\r\n${headers}\r\n`);
  const reqInfo = { path: "/api/orders?id=3", host: "shop", userAgent: "", referer: "" };

  it.each([
    ["IPv4", client],
    ["IPv6", client6],
  ])("on_http_req lifts X-Request-ID into the trace and attributes (%s)", (_what, c) => {
    const info = host.onHttpReq(c, req("X-Request-ID: abc-123\r\n"), reqInfo)!;
    expect(info.trace.x_request_id_0).toBe("abc-123");
    expect(info.attributes).toEqual([
      { key: "request_id", val: "abc-123" },
      { key: "http_path", val: "/api/orders?id=3" },
    ]);
    expect(info.resp.status).toBe("unknown");
    expect(host.lastInstance).toBe(NAME);
  });

  it("on_http_req without the header lets the agent keep its own record", () => {
    expect(host.onHttpReq(client, req("Accept: */*\r\n"), reqInfo)).toBeNull();
  });

  it.each([
    ["IPv4", server],
    ["IPv6", server6],
  ])("on_http_resp turns a 200 with a business error code into a server error (%s)", (_what, s) => {
    const payload = text("HTTP/1.1 200 OK\r\nX-Biz-Code: 1234\r\nContent-Length: 0\r\n\r\n");
    const info = host.onHttpResp({ ...s, l7: L7_PROTOCOL.HTTP1 }, payload, { code: 200, status: "ok", endpoint: "/api/orders" })!;
    expect(info.resp).toMatchObject({ status: "server_error", code: 1234, exception: "business error 1234" });
    expect(info.attributes).toEqual([{ key: "biz_code", val: "1234" }]);
  });

  it("on_http_resp leaves other responses alone", () => {
    expect(host.onHttpResp(server, text("HTTP/1.1 200 OK\r\nX-Biz-Code: 0\r\n\r\n"), { code: 200, status: "ok", endpoint: "" })).toBeNull();
    expect(host.onHttpResp(server, text("HTTP/1.1 500 Oops\r\nX-Biz-Code: 9\r\n\r\n"), { code: 500, status: "server_error", endpoint: "" })).toBeNull();
  });

  // The agent loses its context when a hook context read fails on a short buffer, so the
  // SDK must read these contexts once, into a buffer that holds the worst case.
  it("on_http_req with a context longer than 4 KiB (long URL) does not crash the agent", async () => {
    const fresh = await WasmHost.load([wasm]); // the plugin's buffers keep their size between calls
    const longPath = "/search?q=" + "x".repeat(5000);
    const info = fresh.onHttpReq(client, req("X-Request-ID: long\r\n"), { ...reqInfo, path: longPath });
    expect(fresh.lastPanic).toBeNull();
    expect(info?.trace.x_request_id_0).toBe("long");
  });
});

describe("on_custom_message", () => {
  it("tags the agent's Dubbo messages and ignores other types", () => {
    const info = host.onCustomMessage(client, text("dubbo bytes"), { hookPoint: 0, typeCode: L7_PROTOCOL.DUBBO, data: new Uint8Array(0) })!;
    expect(info.attributes).toEqual([
      { key: "custom_message_bytes", val: "0" },
      { key: "custom_message_type", val: "40" },
    ]);
    expect(host.onCustomMessage(client, new Uint8Array(0), { hookPoint: 0, typeCode: L7_PROTOCOL.NATS, data: text("x") })).toBeNull();
    expect(host.onCustomMessage(server6, new Uint8Array(0), { hookPoint: 0, typeCode: L7_PROTOCOL.DUBBO, data: text("12345") })?.attributes[0].val).toBe("5");
  });

  it("a custom message longer than 4 KiB does not crash the agent", async () => {
    const fresh = await WasmHost.load([wasm]);
    const info = fresh.onCustomMessage(client, new Uint8Array(0), { hookPoint: 0, typeCode: L7_PROTOCOL.DUBBO, data: new Uint8Array(6000) });
    expect(fresh.lastPanic).toBeNull();
    expect(info?.attributes[0].val).toBe("6000");
  });
});

describe("robustness", () => {
  it("never traps on random input in any hook", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
    host.resetCounters();
    for (let i = 0; i < 1500; i++) {
      const len = rand() * 4 + 40 + (i % 7);
      const payload = new Uint8Array(len);
      for (let j = 0; j < len; j++) payload[j] = rand();
      // Bias some inputs towards the toy and HTTP shapes.
      if (i % 3 === 0) payload.set(text(i % 2 ? "TOY " : "HTTP/1.1 200 OK\r\nX-Biz-Code: "), 0);
      const c = i % 2 ? client : server6;
      host.checkPayload(c, payload);
      host.parsePayload(c, payload, TOY);
      host.onHttpReq(client, payload, { path: "/", host: "", userAgent: "", referer: "" });
      host.onHttpResp(server, payload, { code: 200, status: "ok", endpoint: "" });
      host.onCustomMessage(client, payload, { hookPoint: 0, typeCode: 40, data: payload.subarray(0, 100) });
    }
    const c = host.counters()[0];
    expect(c.agentPanics).toBe(0);
    expect(Object.entries(c.hooks).map(([hook, k]) => [hook, k.calls, k.failures])).toEqual([
      ["check_payload", 1500, 0],
      ["parse_payload", 1500, 0],
      ["on_http_req", 1500, 0],
      ["on_http_resp", 1500, 0],
      ["on_custom_message", 1500, 0],
    ]);
  });
});
