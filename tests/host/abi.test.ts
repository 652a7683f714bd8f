// Context serializers against vectors computed by hand from the ABI doc
// (../shared/design/deepflow-wasm-abi.md) and the agent's vm.rs, and the decoding of
// export return values (abi_export.rs).
import { parseIp } from "../../capture/address.ts";
import { describe, expect, it } from "vitest";
import {
  CUSTOM_MESSAGE_HOOK_ALL,
  ctxBaseSize,
  customMessageHookMatches,
  decodeAbortReturn,
  decodeCheckPayloadReturn,
  readHookBitmap,
  serializeCtxBase,
  serializeCustomMessageCtx,
  serializeHttpReqCtx,
  serializeHttpRespCtx,
  type ParseCtx,
} from "../../sdk/abi.ts";
import { hex, toHex } from "./support.ts";

// The parameters of the agent's own plugin tests (agent/src/plugin/wasm/test.rs).
const agentTestCtx: ParseCtx = {
  srcIp: "1.2.3.4",
  dstIp: "5.6.7.8",
  srcPort: 12345,
  dstPort: 8080,
  l4: 6,
  l7: 0,
  ebpfType: 0,
  time: 12345678,
  direction: 0,
  processName: "test_wasm",
  flowId: 1234567,
  bufSize: 999,
};

describe("vm_read_ctx_base layout", () => {
  it("IPv4 with a process name: 8 + 28 + name bytes", () => {
    const bytes = serializeCtxBase(agentTestCtx);
    expect(bytes.length).toBe(36 + 9);
    expect(toHex(bytes)).toBe(
      [
        "04", // ip version
        "01020304", "05060708", // src, dst
        "3039", "1f90", // 12345, 8080
        "06", "00", "00", // TCP, l7 0, eBPF tracepoint
        "0000000000bc614e", // time 12345678 µs
        "00", // client → server
        "09", "746573745f7761736d", // "test_wasm"
        "000000000012d687", // flow id 1234567
        "03e7", // buf size 999
      ].join(""),
    );
  });

  it("IPv6, UDP, server → client, packet capture (no name), 64-bit values", () => {
    const bytes = serializeCtxBase({
      srcIp: "2001:db8::1",
      dstIp: "fe80::a:b",
      srcPort: 53,
      dstPort: 65535,
      l4: 17,
      l7: 200,
      ebpfType: 255,
      time: 0x0123456789abcdefn,
      direction: 1,
      processName: "",
      flowId: 0xfedcba9876543210n,
      bufSize: 65535,
    });
    expect(bytes.length).toBe(32 + 28);
    expect(toHex(bytes)).toBe(
      [
        "06",
        "2001" + "0db8" + "0000".repeat(5) + "0001",
        "fe80" + "0000".repeat(5) + "000a" + "000b",
        "0035", "ffff", // 53, 65535
        "11", "c8", "ff", // UDP, l7 200, no eBPF
        "0123456789abcdef",
        "01", // server → client
        "00", // no process name
        "fedcba9876543210",
        "ffff",
      ].join(""),
    );
  });

  it("a multi-byte UTF-8 process name is counted in bytes", () => {
    const bytes = serializeCtxBase({ ...agentTestCtx, processName: "nginx·w" });
    expect(bytes.length).toBe(ctxBaseSize(4, 8));
    expect(bytes[25]).toBe(8);
    expect(new TextDecoder().decode(bytes.subarray(26, 34))).toBe("nginx·w");
  });

  it("raw IP bytes and text give the same bytes; mixed families are refused", () => {
    const raw = serializeCtxBase({ ...agentTestCtx, srcIp: hex("01020304"), dstIp: hex("05060708") });
    expect(toHex(raw)).toBe(toHex(serializeCtxBase(agentTestCtx)));
    expect(() => serializeCtxBase({ ...agentTestCtx, dstIp: "::1" })).toThrow(/both be IPv4 or both IPv6/);
    expect(() => serializeCtxBase({ ...agentTestCtx, l4: 1 })).toThrow(/TCP/);
    expect(() => serializeCtxBase({ ...agentTestCtx, processName: "x".repeat(256) })).toThrow(/1-byte length/);
  });
});

describe("parseIp", () => {
  it.each([
    ["0.0.0.0", "00000000"],
    ["255.255.255.255", "ffffffff"],
    ["::", "00".repeat(16)],
    ["::1", "00".repeat(15) + "01"],
    ["1::", "0001" + "00".repeat(14)],
    ["::ffff:10.0.0.1", "00".repeat(10) + "ffff0a000001"],
    ["2001:DB8:0:0:1:0:0:1", "20010db8000000000001000000000001"],
  ])("%s", (text, bytes) => expect(toHex(parseIp(text))).toBe(bytes));

  it.each(["", "1.2.3", "1.2.3.256", "01.2.3.4", "1:2:3:4:5:6:7", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "::g", "1.2.3.4:80"])(
    "refuses %j",
    (text) => expect(() => parseIp(text)).toThrow(/not an IP/),
  );
});

describe("HTTP contexts", () => {
  it("request: four strs (path, host, user agent, referer)", () => {
    const bytes = serializeHttpReqCtx({ path: "/a?b", host: "h.io", userAgent: "", referer: "r" });
    expect(toHex(bytes)).toBe("0004" + "2f613f62" + "0004" + "682e696f" + "0000" + "0001" + "72");
  });

  it("response: code and status, then the endpoint only if the plugin's buffer has room", () => {
    const resp = { code: 599, status: "server_error" as const, endpoint: "/api" };
    expect(serializeHttpRespCtx(resp, 2)).toBeNull(); // MIN_BUF_SIZE is 3
    expect(toHex(serializeHttpRespCtx(resp, 3)!)).toBe("025703"); // an old plugin's 3-byte buffer
    expect(toHex(serializeHttpRespCtx(resp, 8)!)).toBe("025703"); // one byte short of the endpoint
    expect(toHex(serializeHttpRespCtx(resp, 9)!)).toBe("025703" + "0004" + "2f617069");
    expect(toHex(serializeHttpRespCtx({ code: 0, status: "unknown", endpoint: "" }, 5)!)).toBe("0000050000");
    expect(toHex(serializeHttpRespCtx({ code: 200, status: "ok", endpoint: "" }, 4)!)).toBe("00c800");
  });
});

describe("custom-message context", () => {
  it("u16 hook point, u32 type code, u32 length, the bytes", () => {
    const bytes = serializeCustomMessageCtx({ hookPoint: 0, typeCode: 104, data: hex("0a0161") });
    expect(toHex(bytes)).toBe("0000" + "00000068" + "00000003" + "0a0161");
    expect(toHex(serializeCustomMessageCtx({ hookPoint: 2, typeCode: 40, data: new Uint8Array(0) }))).toBe("0002000000280000" + "0000");
  });

  it("hook matching: exact hook point and type code, or any of bits 48..63", () => {
    const dubbo = (0n << 32n) | 40n;
    expect(customMessageHookMatches(dubbo, 0, 40)).toBe(true);
    expect(customMessageHookMatches(dubbo, 0, 104)).toBe(false);
    expect(customMessageHookMatches(dubbo, 1, 40)).toBe(false);
    // The Go SDK's "response" variant sets bit 16; the agent never sends it.
    expect(customMessageHookMatches(dubbo | (1n << 16n), 0, 40)).toBe(false);
    expect(customMessageHookMatches(CUSTOM_MESSAGE_HOOK_ALL, 2, 7)).toBe(true);
    expect(customMessageHookMatches(1n << 63n, 0, 5)).toBe(true);
  });

  it("hook bitmap is a big-endian u128", () => {
    expect(readHookBitmap(hex("e0000000000000000000000000000001"))).toBe((1n << 127n) | (1n << 126n) | (1n << 125n) | 1n);
  });
});

describe("export return values", () => {
  it.each([
    [0, { proto: 0 }],
    [1, { proto: 1, msgType: 1 }],
    [255, { proto: 255, msgType: 1 }],
    [0x0105, { proto: 5, msgType: 1 }],
    [0x0205, { proto: 5, msgType: 2 }],
    [0x0200, { proto: 0 }], // proto 0 is "not mine" whatever the type
    [-256, { proto: 0 }],
  ])("check_payload %i", (v, want) => expect(decodeCheckPayloadReturn(v)).toEqual(want));

  it.each([0x0305, 0x10105, -1, 0x7fffffff])("check_payload %i is an error", (v) => {
    expect(decodeCheckPayloadReturn(v)).toHaveProperty("error");
  });

  it("parse_payload and hooks: 1 abort, 0 next, anything else an error", () => {
    expect(decodeAbortReturn(1)).toBe(true);
    expect(decodeAbortReturn(0)).toBe(false);
    expect(decodeAbortReturn(2)).toHaveProperty("error");
    expect(decodeAbortReturn(-1)).toHaveProperty("error");
  });
});
