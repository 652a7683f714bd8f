// A protocol author who forgets to check the context cannot break the other plugins: the
// greedy plugin (tests/as/greedy-plugin.ts) aborts with a record in every hook body, and
// the SDK keeps what is not its own from reaching those bodies. First through the
// simulator, loaded before every shipped plugin; then by calling its exports directly,
// as a host that skips nothing would (the agent's own bitmap and subscription checks
// are not what protects the other plugins here).
import { parseIp } from "../../capture/address.ts";
import { beforeAll, describe, expect, it } from "vitest";
import {
  L4_TCP, L4_UDP, L7_PROTOCOL, serializeCustomMessageCtx, serializeHttpReqCtx, serializeHttpRespCtx,
  writeCtxBase,
} from "../../sdk/abi.ts";
import { WasmHost, type CallCtx } from "../../sdk/host.ts";
import { decodeRecords } from "../../sdk/result.ts";
import { buildTestPlugin } from "../support/as-harness.ts";
import { replayRows, rowsAlone, shippedPlugins, type Module } from "../support/coexist.ts";

const GREEDY_PROTO = 99;
const text = (s: string) => new TextEncoder().encode(s);
let greedy: Module;

beforeAll(async () => {
  greedy = { name: "greedy.wasm", bytes: await buildTestPlugin("tests/as/greedy-plugin.ts") };
}, 120_000);

describe("a greedy plugin loaded first", () => {
  it.each([
    "tests/fixtures/dubbo/dubbo-hessian2.pcap",
    "tests/fixtures/kafka/v7.pcap",
    "tests/fixtures/amqp/rabbitmq.pcap",
    "tests/fixtures/pinpoint/pinpoint-full.pcap",
    "tests/fixtures/capture/toy.pcap",
  ])("%s: the other plugins' rows are unchanged", async (capture) => {
    const shipped = shippedPlugins();
    const expected = await rowsAlone(capture, shipped);
    expect(expected.length).toBeGreaterThan(0);
    expect(await replayRows(capture, [greedy, ...shipped])).toEqual(expected);
  });

  it("still parses its own protocol, and only that", async () => {
    const host = await WasmHost.load([greedy]);
    const ctx: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 7000, direction: 0 };
    expect(host.pluginInfo()[0]!.protocol).toEqual({ proto: GREEDY_PROTO, l4: L4_TCP, name: "Greedy" });
    expect(host.checkPayload(ctx, text("GREEDY 1"))).toMatchObject({ proto: GREEDY_PROTO, msgType: 1, name: "Greedy" });
    expect(host.checkPayload(ctx, text("\xda\xbb dubbo"))).toBeNull();
    expect(host.parsePayload(ctx, text("GREEDY 1"), GREEDY_PROTO)![0]!.attributes).toEqual([{ key: "greedy", val: "parse_payload" }]);
    // Another plugin's protocol number: "next", whatever the payload.
    for (const proto of [140, 150, 160, 170, 200, 1, 255]) expect(host.parsePayload(ctx, text("GREEDY 1"), proto)).toBeNull();
    // Its protocol on an L4 it did not declare.
    expect(host.checkPayload({ ...ctx, l4: L4_UDP }, text("GREEDY 1"))).toBeNull();
    expect(host.parsePayload({ ...ctx, l4: L4_UDP }, text("GREEDY 1"), GREEDY_PROTO)).toBeNull();
    const counters = host.counters()[0]!.hooks;
    expect(counters.parse_payload).toMatchObject({ calls: 9, answered: 1, failures: 0 });
  });
});

/** The greedy module instantiated bare: each call's context is whatever the test sets. */
async function bare() {
  const module = await WebAssembly.compile(greedy.bytes as Uint8Array<ArrayBuffer>);
  const state: { ctx: Uint8Array; payload: Uint8Array; info: Uint8Array; records: number } = {
    ctx: new Uint8Array(0), payload: new Uint8Array(0), info: new Uint8Array(0), records: 0,
  };
  // Set once the instance exists; the imports only run after that.
  const mem: { current?: WebAssembly.Memory } = {};
  const copy = (bytes: Uint8Array) => (ptr: number, len: number) => {
    if (len < bytes.length) return 0;
    new Uint8Array(mem.current!.buffer, ptr, bytes.length).set(bytes);
    return bytes.length;
  };
  const deepflow = {
    wasm_log: () => {},
    vm_read_ctx_base: (p: number, l: number) => copy(state.ctx)(p, l),
    vm_read_payload: (p: number, l: number) => copy(state.payload)(p, l),
    vm_read_http_req_info: (p: number, l: number) => copy(state.info)(p, l),
    vm_read_http_resp_info: (p: number, l: number) => copy(state.info)(p, l),
    vm_read_custom_message_info: (p: number, l: number) => copy(state.info)(p, l),
    host_read_l7_protocol_info: (p: number, l: number) => {
      state.records += decodeRecords(new Uint8Array(mem.current!.buffer, p, l), 0).length;
      return 1;
    },
    host_read_str_result: () => 1,
  };
  const instance = await WebAssembly.instantiate(module, { deepflow });
  const ex = instance.exports as Record<string, () => number>;
  mem.current = instance.exports.memory as WebAssembly.Memory;
  ex._start!();
  const setCtx = (l4: number, l7: number) => {
    const buf = new Uint8Array(512);
    const n = writeCtxBase(buf, {
      srcIp: "", dstIp: "", srcPort: 40000, dstPort: 7000, l4, l7, ebpfType: 255, time: 0, direction: 0, processName: "", flowId: 1, bufSize: 1024,
    }, parseIp("10.0.0.1"), parseIp("10.0.0.2"), new Uint8Array(0));
    state.ctx = buf.slice(0, n);
  };
  return { ex, state, setCtx };
}

describe("the SDK's own guards, called directly", () => {
  it("HTTP hooks it did not ask for answer next without running its code", async () => {
    const { ex, state, setCtx } = await bare();
    setCtx(L4_TCP, L7_PROTOCOL.HTTP1);
    state.info = serializeHttpReqCtx({ path: "/", host: "h", userAgent: "ua", referer: "" });
    expect(ex.on_http_req!()).toBe(0);
    state.info = serializeHttpRespCtx({ code: 200, status: "ok", endpoint: "" }, 1024)!;
    expect(ex.on_http_resp!()).toBe(0);
    expect(state.records).toBe(0);
  });

  it("custom messages reach it only for the type code it subscribed to", async () => {
    const { ex, state, setCtx } = await bare();
    setCtx(L4_TCP, 0);
    for (const typeCode of [40, 106, 107, L7_PROTOCOL.NATS | 0x10000]) {
      state.info = serializeCustomMessageCtx({ hookPoint: 0, typeCode, data: new Uint8Array(0) });
      expect(ex.on_custom_message!(), `type code ${typeCode}`).toBe(0);
    }
    state.info = serializeCustomMessageCtx({ hookPoint: 1, typeCode: L7_PROTOCOL.NATS, data: new Uint8Array(0) });
    expect(ex.on_custom_message!()).toBe(0);
    expect(state.records).toBe(0);
    state.info = serializeCustomMessageCtx({ hookPoint: 0, typeCode: L7_PROTOCOL.NATS, data: new Uint8Array(0) });
    expect(ex.on_custom_message!()).toBe(1);
    expect(state.records).toBe(1);
  });

  it("parse_payload of another protocol, or of its own on another L4, answers next", async () => {
    const { ex, state, setCtx } = await bare();
    state.payload = text("GREEDY 1");
    for (const [l4, l7] of [[L4_TCP, 140], [L4_TCP, 0], [L4_UDP, GREEDY_PROTO]] as const) {
      setCtx(l4, l7);
      expect(ex.parse_payload!(), `l4 ${l4}, l7 ${l7}`).toBe(0);
    }
    expect(state.records).toBe(0);
    setCtx(L4_TCP, GREEDY_PROTO);
    expect(ex.parse_payload!()).toBe(1);
    expect(state.records).toBe(1);
  });
});
