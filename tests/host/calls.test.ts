// Hook calls with the agent's semantics (WasmVm::on_* in host.rs, the imports in
// abi_import.rs), driven through scriptable WAT plugins.
import { describe, expect, it } from "vitest";
import { serializeCtxBase, serializeCustomMessageCtx, serializeHttpReqCtx } from "../../sdk/abi.ts";
import type { CallCtx, HostLogEntry } from "../../sdk/host.ts";
import { DIR_C2S, DIR_S2C, encodeLegacyRecord, encodePbRecord, frameRecords } from "../../sdk/result.ts";
import { CTX_AT, DATA_AT, INFO_AT, PAYLOAD_AT, hex, loadScripts, toHex } from "./support.ts";

const v4: CallCtx = {
  srcIp: "10.1.2.3",
  dstIp: "10.9.8.7",
  srcPort: 40000,
  dstPort: 8080,
  direction: DIR_C2S,
  processName: "java",
  ebpfType: 1,
  time: 1_700_000_000_000_000,
  flowId: 42,
  bufSize: 512,
};
const v6: CallCtx = { srcIp: "fd00::2", dstIp: "fd00::1", srcPort: 8080, dstPort: 40000, direction: DIR_S2C, time: 5n, flowId: 2n ** 64n - 1n };
const bytes = (s: string) => new TextEncoder().encode(s);
const record = (name: string) => frameRecords([encodePbRecord({ protocol_str: name })]);

describe("contexts as the plugin receives them", () => {
  it("check_payload: IPv4 context with l7 0, and the payload", async () => {
    const { host, scripts } = await loadScripts([{}]);
    scripts[0].set({ CTX_LEN: 512, PAYLOAD_LEN: 512, CHECK_RET: 1 });
    host.checkPayload(v4, bytes("hello"));
    const want = serializeCtxBase({ ...v4, l4: 6, l7: 0, ebpfType: 1, time: v4.time!, processName: "java", flowId: 42, bufSize: 512 });
    expect(scripts[0].get("OUT_CTX")).toBe(want.length);
    expect(toHex(scripts[0].read(CTX_AT, want.length))).toBe(toHex(want));
    expect(scripts[0].get("OUT_PAYLOAD")).toBe(5);
    expect(scripts[0].read(PAYLOAD_AT, 5)).toEqual(bytes("hello"));
  });

  it("parse_payload: IPv6 context carries the claimed proto; defaults fill the rest", async () => {
    const { host, scripts } = await loadScripts([{}]);
    scripts[0].set({ CTX_LEN: 512, HOOK_RET: 1 });
    host.parsePayload(v6, bytes("x"), 77);
    const want = serializeCtxBase({ ...v6, l4: 6, l7: 77, ebpfType: 255, time: 5n, processName: "", flowId: v6.flowId!, bufSize: 1024 });
    expect(want.length).toBe(60);
    expect(toHex(scripts[0].read(CTX_AT, 60))).toBe(toHex(want));
  });

  it("vm_read_ctx_base: 0 for a short buffer or a pointer past memory; u32 overflow panics the agent", async () => {
    const logs: HostLogEntry[] = [];
    const { host, scripts } = await loadScripts([{}], { onLog: (l) => logs.push(l) });
    const need = serializeCtxBase({ ...v4, l4: 6, l7: 0, ebpfType: 1, time: 0, processName: "java", flowId: 0, bufSize: 0 }).length;
    scripts[0].set({ CTX_LEN: need - 1 });
    host.checkPayload(v4, bytes(""));
    expect(scripts[0].get("OUT_CTX")).toBe(0);
    scripts[0].set({ CTX_LEN: need });
    host.checkPayload(v4, bytes(""));
    expect(scripts[0].get("OUT_CTX")).toBe(need);
    scripts[0].set({ CTX_PTR: 131072 - need + 1, OUT_CTX: -7 });
    host.checkPayload(v4, bytes(""));
    expect(scripts[0].get("OUT_CTX")).toBe(0);
    expect(logs.some((l) => /memory overflow/.test(l.message))).toBe(true);
    scripts[0].set({ CTX_PTR: -16, CTX_LEN: 32, CHECK_RET: 1 });
    expect(host.checkPayload(v4, bytes(""))).toBeNull();
    expect(host.lastPanic).toMatch(/overflows u32/);
    expect(host.counters()[0].agentPanics).toBe(1);
  });

  it("vm_read_payload: -1 when the buffer is short, 0 past memory, payload cut to buf_size", async () => {
    const { host, scripts } = await loadScripts([{}]);
    scripts[0].set({ PAYLOAD_LEN: 4 });
    host.checkPayload(v4, bytes("abcde"));
    expect(scripts[0].get("OUT_PAYLOAD")).toBe(-1);
    scripts[0].set({ PAYLOAD_LEN: 5 });
    host.checkPayload(v4, bytes("abcde"));
    expect(scripts[0].get("OUT_PAYLOAD")).toBe(5);
    scripts[0].set({ PAYLOAD_PTR: 131070, PAYLOAD_LEN: 5 });
    host.checkPayload(v4, bytes("abcde"));
    expect(scripts[0].get("OUT_PAYLOAD")).toBe(0);
    // A payload longer than buf_size reaches the plugin cut, as the agent feeds it.
    scripts[0].set({ PAYLOAD_PTR: 0, PAYLOAD_LEN: 4096 });
    host.checkPayload({ ...v4, bufSize: 300 }, new Uint8Array(2000).fill(0x61));
    expect(scripts[0].get("OUT_PAYLOAD")).toBe(300);
  });

  it("writes land in grown memory", async () => {
    const { host, scripts } = await loadScripts([{}]);
    scripts[0].set({ GROW: 1, PAYLOAD_PTR: 131072 + 10, PAYLOAD_LEN: 100 });
    host.checkPayload(v4, bytes("grown"));
    expect(scripts[0].get("OUT_PAYLOAD")).toBe(5);
    expect(scripts[0].read(131072 + 10, 5)).toEqual(bytes("grown"));
    expect(host.counters()[0].hooks.check_payload.memSize).toBe(3 * 65536);
  });
});

describe("check_payload", () => {
  it("asks in load order; the first non-zero answer wins, later plugins are not called", async () => {
    const { host, scripts } = await loadScripts([{}, {}, {}]);
    scripts[0].set({ CHECK_RET: 0 });
    scripts[1].set({ CHECK_RET: 0x0207 }).name("second");
    scripts[2].set({ CHECK_RET: 0x0105 }).name("third");
    expect(host.checkPayload(v4, bytes("x"))).toEqual({ proto: 7, msgType: 2, name: "second", instance: "p1" });
    expect(scripts.map((s) => s.get("CALLS"))).toEqual([1, 1, 0]);
    expect(host.lastInstance).toBe("p1");
  });

  it("the name is whatever host_read_str_result last got in this call, even from another plugin", async () => {
    const logs: HostLogEntry[] = [];
    const { host, scripts } = await loadScripts([{}, {}, {}], { onLog: (l) => logs.push(l) });
    scripts[0].set({ CHECK_RET: 0 }).name("leaked");
    scripts[1].set({ CHECK_RET: 3 });
    expect(host.checkPayload(v4, bytes("x"))?.name).toBe("leaked");
    // Records in the slot are not a name.
    scripts[0].set({ STR_LEN: 0 }).result(record("r"));
    expect(host.checkPayload(v4, bytes("x"))?.name).toBe("");
    expect(logs.map((l) => l.message)).toContain("str result with unexpect type");
    // A str that does not fit its buffer is refused.
    scripts[0].set({ RESULT_LEN: 0 }).name("toolong").set({ STR_LEN: 5 });
    expect(host.checkPayload(v4, bytes("x"))?.name).toBe("");
    expect(scripts[0].get("OUT_STR")).toBe(0);
  });

  it("a trap or a bad value is a failure of that plugin; the next one is asked", async () => {
    const logs: HostLogEntry[] = [];
    const { host, scripts } = await loadScripts([{}, {}, {}], { onLog: (l) => logs.push(l) });
    scripts[0].set({ TRAP: 1, CHECK_RET: 1 });
    scripts[1].set({ CHECK_RET: 0x0309 });
    scripts[2].set({ CHECK_RET: 4 });
    expect(host.checkPayload(v4, bytes("x"))).toMatchObject({ proto: 4, instance: "p2" });
    const c = host.counters();
    expect(c[0].hooks.check_payload).toMatchObject({ calls: 1, failures: 1, memSize: 131072 });
    expect(c[1].hooks.check_payload).toMatchObject({ calls: 1, failures: 1 });
    expect(c[2].hooks.check_payload).toMatchObject({ calls: 1, failures: 0 });
    expect(logs.filter((l) => l.source === "host" && l.level === "error").map((l) => l.message)).toEqual([
      expect.stringMatching(/^vm call check_payload fail: unreachable/),
      "check_payload fail: vm call check_payload return unexpect value : 777",
    ]);
    // The trapped plugin keeps working.
    scripts[0].set({ TRAP: 0 });
    expect(host.checkPayload(v4, bytes("x"))).toMatchObject({ proto: 1, instance: "p0" });
  });

  it("execute_duration is kept only for calls whose value the agent accepts", async () => {
    // check_payload spins 3M iterations, then returns CHECK_RET.
    const spin = `(func (export "check_payload") (result i32) (local $i i32)
      (local.set $i (i32.const 3000000))
      (loop $l (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br_if $l (local.get $i)))
      (i32.load (i32.const 0)))`;
    const { host, scripts } = await loadScripts([{ omitExports: ["check_payload"], fields: spin }]);
    scripts[0].set({ CHECK_RET: 0x0309 });
    host.checkPayload(v4, bytes("x"));
    expect(host.counters()[0].hooks.check_payload).toMatchObject({ calls: 1, failures: 1, lastDurationUs: 0 });
    scripts[0].set({ CHECK_RET: 0 });
    host.checkPayload(v4, bytes("x"));
    expect(host.counters()[0].hooks.check_payload.lastDurationUs).toBeGreaterThan(0);
  });

  it("plugins without the payload-parse bit are skipped", async () => {
    const { host, scripts } = await loadScripts([{ bitmap: "e0" + "00".repeat(15) }, {}]);
    scripts[0].set({ CHECK_RET: 1 });
    scripts[1].set({ CHECK_RET: 2 });
    expect(host.checkPayload(v4, bytes("x"))?.proto).toBe(2);
    expect(host.parsePayload(v4, bytes("x"), 2)).toBeNull();
    expect(scripts[0].get("CALLS")).toBe(0);
  });
});

describe("parse_payload", () => {
  it("1 = abort with the records handed over; 0 = next; nobody aborts = null", async () => {
    const { host, scripts } = await loadScripts([{}, {}]);
    scripts[0].set({ HOOK_RET: 0 });
    scripts[1].set({ HOOK_RET: 1 }).result(frameRecords([encodePbRecord({ request_id: 1 }), encodeLegacyRecord({ request_id: 2 }, DIR_C2S)]));
    expect(host.parsePayload(v4, bytes("x"), 9)?.map((r) => [r.encoding, r.request_id])).toEqual([
      ["pb", 1],
      ["legacy", 2],
    ]);
    expect(host.lastInstance).toBe("p1");
    scripts[1].set({ HOOK_RET: 0 });
    expect(host.parsePayload(v4, bytes("x"), 9)).toBeNull();
  });

  it("abort without records gives an empty list", async () => {
    const { host, scripts } = await loadScripts([{}]);
    scripts[0].set({ HOOK_RET: 1 });
    expect(host.parsePayload(v4, bytes("x"), 9)).toEqual([]);
  });

  it("refused records: host_read_l7_protocol_info returns 0 and keeps nothing", async () => {
    const { host, scripts } = await loadScripts([{}]);
    scripts[0].set({ HOOK_RET: 1 }).result(frameRecords([encodePbRecord({ request_id: 1 }), encodePbRecord({ resp: {} })]));
    expect(host.parsePayload(v6, bytes("x"), 9)).toEqual([]);
    expect(scripts[0].get("OUT_L7")).toBe(0);
  });

  it("records from an earlier plugin that said 'next' reach the one that aborts, as in the agent", async () => {
    const { host, scripts } = await loadScripts([{}, {}]);
    scripts[0].set({ HOOK_RET: 0 }).result(record("early"));
    scripts[1].set({ HOOK_RET: 1 }).result(hex("0001ff")); // refused, so the earlier records stay
    expect(host.parsePayload(v4, bytes("x"), 9)?.map((r) => r.proto_str)).toEqual(["early"]);
  });

  it("the direction decides how records are read", async () => {
    const { host, scripts } = await loadScripts([{}]);
    scripts[0].set({ HOOK_RET: 1 }).result(frameRecords([encodePbRecord({ is_end: true, trace: { x_request_id: "x" } })]));
    expect(host.parsePayload(v4, bytes("x"), 9)?.[0]).toMatchObject({ is_req_end: true, trace: { x_request_id_0: "x" } });
    expect(host.parsePayload(v6, bytes("x"), 9)?.[0]).toMatchObject({ is_resp_end: true, trace: { x_request_id_1: "x" } });
  });

  it("a value other than 0/1 and a trap are failures; the next plugin is asked", async () => {
    const { host, scripts } = await loadScripts([{}, {}, {}]);
    scripts[0].set({ HOOK_RET: 2 });
    scripts[1].set({ HOOK_RET: 1, TRAP: 1 });
    scripts[2].set({ HOOK_RET: 1 }).result(record("ok"));
    expect(host.parsePayload(v4, bytes("x"), 9)?.map((r) => r.proto_str)).toEqual(["ok"]);
    expect(host.counters().map((c) => c.hooks.parse_payload.failures)).toEqual([1, 1, 0]);
  });
});

describe("HTTP hooks", () => {
  const req = { path: "/p?q=1", host: "example.com", userAgent: "curl/8", referer: "" };

  it("on_http_req: the request context, l7 = 20 by default, and the last record", async () => {
    const { host, scripts } = await loadScripts([{}]);
    scripts[0].set({ INFO_LEN: 4096, CTX_LEN: 512, HOOK_RET: 1 }).result(frameRecords([encodePbRecord({ protocol_str: "first" }), encodePbRecord({ protocol_str: "last" })]));
    expect(host.onHttpReq(v4, bytes("GET /p?q=1 HTTP/1.1\r\n\r\n"), req)?.proto_str).toBe("last");
    const want = serializeHttpReqCtx(req);
    expect(scripts[0].get("OUT_INFO")).toBe(want.length);
    expect(toHex(scripts[0].read(INFO_AT, want.length))).toBe(toHex(want));
    expect(scripts[0].read(CTX_AT + 14, 1)[0]).toBe(20); // l7 byte of an IPv4 context
    host.onHttpReq({ ...v4, l7: 0 }, bytes("x"), req);
    expect(scripts[0].read(CTX_AT + 14, 1)[0]).toBe(0);
  });

  it("abort without records gives null; 'next' asks the next plugin", async () => {
    const { host, scripts } = await loadScripts([{}, {}]);
    scripts[0].set({ HOOK_RET: 0 });
    scripts[1].set({ HOOK_RET: 1 });
    expect(host.onHttpReq(v4, bytes("x"), req)).toBeNull();
    expect(scripts.map((s) => s.get("CALLS"))).toEqual([1, 1]);
  });

  it("on_http_resp: the endpoint is sent only when the buffer has room", async () => {
    const { host, scripts } = await loadScripts([{}]);
    const resp = { code: 503, status: "server_error" as const, endpoint: "/api/v1" };
    scripts[0].set({ INFO_LEN: 3 });
    host.onHttpResp(v6, bytes("HTTP/1.1 503"), resp);
    expect(scripts[0].get("OUT_INFO")).toBe(3);
    expect(toHex(scripts[0].read(INFO_AT, 3))).toBe("01f703");
    scripts[0].set({ INFO_LEN: 3 + 2 + 7 });
    host.onHttpResp(v6, bytes("HTTP/1.1 503"), resp);
    expect(scripts[0].get("OUT_INFO")).toBe(12);
    expect(toHex(scripts[0].read(INFO_AT, 12))).toBe("01f703" + "0007" + toHex(bytes("/api/v1")));
  });

  it("reading another hook's context returns 0 and changes nothing", async () => {
    const logs: HostLogEntry[] = [];
    const { host, scripts } = await loadScripts([{}], { onLog: (l) => logs.push(l) });
    scripts[0].set({ INFO_KIND: 2, INFO_LEN: 4096, PAYLOAD_LEN: 100, HOOK_RET: 1 });
    expect(host.onHttpReq(v4, bytes("abc"), req)).toBeNull();
    expect(scripts[0].get("OUT_INFO")).toBe(0);
    expect(scripts[0].get("OUT_PAYLOAD")).toBe(3);
    expect(host.lastPanic).toBeNull();
    expect(logs.map((l) => l.message)).toContain("in_fn: vm_read_http_resp_info ctx type incorrect");
    // Also in check_payload, where there is no hook context at all.
    scripts[0].set({ INFO_KIND: 1, CHECK_RET: 5 });
    expect(host.checkPayload(v4, bytes("abc"))?.proto).toBe(5);
    expect(scripts[0].get("OUT_INFO")).toBe(0);
  });

  it("a short HTTP context buffer loses the agent's parse context: the next access panics it", async () => {
    const { host, scripts } = await loadScripts([{}, {}]);
    // The plugin then reads the payload: the agent unwraps a context it no longer has.
    scripts[0].set({ INFO_LEN: 10, PAYLOAD_LEN: 100, HOOK_RET: 0 });
    expect(host.onHttpReq(v4, bytes("abc"), req)).toBeNull();
    expect(host.lastPanic).toMatch(/vm_read_payload called after the agent lost its parse context/);
    expect(host.counters()[0].agentPanics).toBe(1);
    expect(scripts[1].get("CALLS")).toBe(0);
    // No further access, but another plugin hooks HTTP requests: set_ins_name panics.
    scripts[0].set({ PAYLOAD_LEN: 0 });
    expect(host.onHttpReq(v4, bytes("abc"), req)).toBeNull();
    expect(host.lastPanic).toMatch(/next plugin is called/);
    // Last plugin, says 'next': nothing else touches the context, no panic.
    scripts[1].set({ INFO_LEN: 2, HOOK_RET: 0 });
    scripts[0].set({ INFO_LEN: 4096 });
    expect(host.onHttpResp(v4, bytes("abc"), { code: 200, status: "ok", endpoint: "" })).toBeNull();
    expect(host.lastPanic).toBeNull();
    // ... but aborting makes the agent take the result: panic.
    scripts[1].set({ HOOK_RET: 1 });
    expect(host.onHttpResp(v4, bytes("abc"), { code: 200, status: "ok", endpoint: "" })).toBeNull();
    expect(host.lastPanic).toMatch(/result is read after/);
    // The host itself is fine afterwards.
    scripts[1].set({ INFO_LEN: 4096 }).result(record("fine"));
    expect(host.onHttpResp(v4, bytes("abc"), { code: 200, status: "ok", endpoint: "" })?.proto_str).toBe("fine");
  });

  it("a value other than 0/1 is a failure", async () => {
    const { host, scripts } = await loadScripts([{}]);
    scripts[0].set({ HOOK_RET: 7 }).result(record("x"));
    expect(host.onHttpReq(v4, bytes("x"), req)).toBeNull();
    expect(host.counters()[0].hooks.on_http_req).toMatchObject({ calls: 1, failures: 1 });
  });
});

describe("on_custom_message", () => {
  const msg = { hookPoint: 0, typeCode: 104, data: hex("0a03666f6f") };

  it("sends the message context and picks plugins by their custom-message hook", async () => {
    const { host, scripts } = await loadScripts([
      { customHook: "0000000000000028" }, // Dubbo only
      { customHook: null }, // hooks custom messages but registers no type: skipped
      { omitExports: ["on_custom_message"], customHook: "00ff000000000000" }, // no export: skipped
      { customHook: "00ff000000000000" }, // everything
    ]);
    for (const s of scripts) s.set({ INFO_LEN: 4096, CTX_LEN: 512, HOOK_RET: 1 }).result(record("m"));
    expect(host.onCustomMessage({ ...v4, l7: 99 }, bytes("PUB foo 3\r\nbar\r\n"), msg)?.proto_str).toBe("m");
    expect(scripts.map((s) => s.get("CALLS"))).toEqual([0, 0, 0, 1]);
    const want = serializeCustomMessageCtx(msg);
    expect(toHex(scripts[3].read(INFO_AT, want.length))).toBe(toHex(want));
    expect(scripts[3].read(CTX_AT + 14, 1)[0]).toBe(0); // l7 0, as VmOnCustomMessageCtx sends
    expect(host.onCustomMessage(v4, new Uint8Array(0), { ...msg, typeCode: 40 })).not.toBeNull();
    expect(scripts.map((s) => s.get("CALLS"))).toEqual([1, 0, 0, 1]);
  });

  it("a short buffer loses the context like the HTTP hooks", async () => {
    const { host, scripts } = await loadScripts([{ customHook: "00ff000000000000" }]);
    scripts[0].set({ INFO_LEN: 14, HOOK_RET: 1 });
    expect(host.onCustomMessage(v4, new Uint8Array(0), msg)).toBeNull();
    expect(host.lastPanic).toMatch(/result is read after/);
    scripts[0].set({ INFO_LEN: 15 }).result(record("ok"));
    expect(host.onCustomMessage(v4, new Uint8Array(0), msg)?.proto_str).toBe("ok");
  });
});

describe("wasm_log and records", () => {
  it("delivers plugin logs by level; bad ones become host messages", async () => {
    const logs: HostLogEntry[] = [];
    const { host, scripts } = await loadScripts([{}], { onLog: (l) => logs.push(l) });
    scripts[0].write(DATA_AT, bytes("héllo")).write(DATA_AT + 100, hex("ff"));
    for (const [ptr, len, level] of [
      [DATA_AT, 6, 0],
      [DATA_AT, 1, 2],
      [DATA_AT, 1, 9],
      [DATA_AT + 100, 1, 0],
      [131070, 5, 0],
    ]) {
      scripts[0].set({ LOG_PTR: ptr, LOG_LEN: len, LOG_LEVEL: level });
      host.checkPayload(v4, bytes(""));
    }
    expect(logs.map((l) => [l.source, l.level, l.message])).toEqual([
      ["plugin", "info", "héllo"],
      ["plugin", "error", "h"],
      ["host", "warn", "wasm log with unknown level: 9"],
      ["host", "error", "in_fn: wasm_log, log fail: invalid utf-8"],
      ["host", "error", "in_fn: wasm_log, read data from vm fail: out of bounds"],
    ]);
  });

  it("a legacy response record too short for its status panics the agent", async () => {
    const { host, scripts } = await loadScripts([{}]);
    scripts[0].set({ HOOK_RET: 1 }).result(frameRecords([hex("000000000000000000")]));
    expect(host.parsePayload(v6, bytes("x"), 1)).toBeNull();
    expect(host.lastPanic).toMatch(/agent panics \(index out of bounds\)/);
    // The same bytes as a request are merely refused.
    expect(host.parsePayload(v4, bytes("x"), 1)).toEqual([]);
    expect(host.lastPanic).toBeNull();
  });
});
