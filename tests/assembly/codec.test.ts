// The SDK's basic codecs, driven through a compiled harness (tests/as/codec.ts).
import { beforeAll, describe, expect, it } from "vitest";
import protobuf from "protobufjs";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { root as repoRoot } from "../../scripts/compile.ts";
import { loadHarness, type Harness } from "../support/as-harness.ts";
import { xorshift32 } from "../support/capture.ts";

let h: Harness;
const call = (name: string, ...args: number[]) => (h.exports[name] as (...a: number[]) => number)(...args);
const output = () => Buffer.from(h.read(call("outPtr"), call("outLen")));
const run = (name: string, input: Uint8Array | string, ...args: number[]) => {
  h.put(typeof input === "string" ? Buffer.from(input) : input);
  const ok = call(name, ...args);
  return { ok, text: output().toString() };
};

// An independent decoder of the agent's AppInfo: protobufjs reading the checked-in proto.
const schema = protobuf.parse(readFileSync(join(repoRoot, "schema/WasmPluginApi.proto"), "utf8")).root;
const AppInfo = schema.lookupType("wasm_plugin.AppInfo");

beforeAll(() => {
  h = loadHarness("tests/as/codec.ts");
}, 120_000);

describe("ByteReader", () => {
  it("reads big-endian ints and varints", () => {
    const bytes = Uint8Array.from([7, 0x01, 0x02, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xac, 0x02, 0x03]);
    expect(run("readMixed", bytes)).toEqual({ ok: 0, text: "7,258,256,256,300,-2" });
  });

  it("reports short input instead of trapping", () => {
    expect(run("readMixed", Uint8Array.from([1, 2]))).toEqual({ ok: 1, text: "1,0,0,0,0,0" });
  });
});

describe("PbReader", () => {
  it("walks fields of every wire type", () => {
    const w = protobuf.Writer.create();
    w.uint32((1 << 3) | 0).uint64(150);
    w.uint32((2 << 3) | 2).string("hi");
    w.uint32((3 << 3) | 1).fixed64(5);
    w.uint32((4 << 3) | 5).fixed32(9);
    expect(run("walkProtobuf", w.finish())).toEqual({ ok: 0, text: "1:0=150;2:2=hi;3:1=5;4:5=9" });
  });

  it("stops at a length running past the end", () => {
    // The field header decodes; its value does not, so the walk ends marked bad.
    expect(run("walkProtobuf", Uint8Array.from([0x08, 0x01, 0x12, 0x05, 0x61]))).toEqual({ ok: 1, text: "1:0=1;2:2=" });
  });

  it("stops at field number zero and at bad wire types", () => {
    expect(run("walkProtobuf", Uint8Array.from([0x00, 0x01])).ok).toBe(1);
    expect(run("walkProtobuf", Uint8Array.from([0x0b, 0x01])).ok).toBe(1);
  });
});

describe("text and base64", () => {
  it("finds HTTP/1 headers case-insensitively and ignores cut lines", () => {
    const msg = "GET / HTTP/1.1\r\nHost: a\r\nx-request-id:  r-1 \r\nX-Cut: par";
    expect(run("header", "X-Request-ID" + msg, 12)).toEqual({ ok: 1, text: "r-1" });
    expect(run("header", "X-Cut" + msg, 5)).toEqual({ ok: 0, text: "" });
    expect(run("header", "Host" + "GET / HTTP/1.1\r\n\r\nHost: body", 4).ok).toBe(0);
  });

  it("decodes base64 with and without padding", () => {
    expect(run("base64", Buffer.from("trace-1.2").toString("base64"))).toEqual({ ok: 1, text: "trace-1.2" });
    expect(run("base64", "YWI")).toEqual({ ok: 1, text: "ab" });
    expect(run("base64", "a$b=").ok).toBe(0);
  });

  it("decodes base64 of every length as Node does, and refuses what is not base64", () => {
    const next = xorshift32(7);
    const rnd = (n: number) => next() % n;
    for (let len = 0; len < 40; len++) {
      // ASCII text, so that the decoded bytes are UTF-8 and come back as text.
      const text = Array.from({ length: len }, () => String.fromCharCode(32 + rnd(95))).join("");
      const padded = Buffer.from(text).toString("base64");
      expect(run("base64", padded)).toEqual({ ok: 1, text });
      expect(run("base64", padded.replace(/=+$/, ""))).toEqual({ ok: 1, text });
      if (padded.length === 0) continue;
      const at = rnd(padded.replace(/=+$/, "").length);
      // "=" is padding in the last group only.
      for (const bad of ["$", "-", "_", " ", "\u00e9", ...(at < padded.length - 4 ? ["="] : [])]) {
        expect(run("base64", padded.slice(0, at) + bad + padded.slice(at + 1)).ok, `${padded} with ${bad} at ${at}`).toBe(0);
      }
    }
    expect(run("base64", "YWJjZ").ok).toBe(0); // a group of one character
    expect(run("base64", "YQ===").ok).toBe(0); // three pads
  });
});

describe("result records", () => {
  it("encodes a request record as PB + AppInfo", () => {
    expect(call("sampleRecord", 0, 0, 0)).toBe(1);
    const rec = output();
    expect(rec.readUInt16BE(0)).toBe(rec.length - 2);
    expect(rec.subarray(2, 4).toString()).toBe("PB");
    const info = AppInfo.toObject(AppInfo.decode(rec.subarray(4)), { enums: String, defaults: false });
    expect(info).toEqual({
      reqLen: 10, respLen: 20, requestId: 7, protocolStr: "toy", isEnd: true, bizType: 3,
      req: { version: "2", type: "GET", domain: "d", resource: "/r", endpoint: "e" },
      trace: { traceId: "t", spanId: "s", parentSpanId: "p", xRequestId: "x", traceIds: ["t", "u"] },
      attributes: [{ key: "k", val: "v" }, { key: "é", val: "ü" }],
    });
  });

  it("encodes a response record with a negative code", () => {
    call("sampleRecord", 0, 1, 1);
    const info = AppInfo.toObject(AppInfo.decode(output().subarray(4)), { enums: String });
    expect(info.resp).toEqual({ status: "RESP_CLIENT_ERROR", code: -2, exception: "bad", result: "res" });
  });

  it("encodes the legacy form byte for byte", () => {
    call("sampleRecord", 1, 0, 0);
    const str = (s: string) => { const b = Buffer.from(s); return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]); };
    const body = Buffer.concat([
      Buffer.from([0x80, 0, 0, 10, 0x80, 0, 0, 20, 1, 0, 0, 0, 7]),
      str("GET"), str("e"), str("d"), str("/r"), str("toy"),
      Buffer.from([0x81, 1]), str("t"), str("s"), str("p"),
      Buffer.from([1]), str("k"), str("v"), str("é"), str("ü"), Buffer.from([3]),
    ]);
    const rec = output();
    expect(rec.readUInt16BE(0)).toBe(body.length);
    expect(rec.subarray(2).toString("hex")).toBe(body.toString("hex"));
  });
});

describe("trace keys", () => {
  it("maps Pinpoint Dubbo keys case-insensitively, with the RequestID", () => {
    const r = run("collect", "_dubbo_trasaction_id=app^1700000000000^5\n_DUBBO_SPAN_ID=11\n_DUBBO_PARENT_SPAN_ID=-1\nx-request-id=req-9\nEntryID=e-3\nother=zz");
    expect(r.ok).toBe(1);
    expect(r.text).toBe("trace=app^1700000000000^5;span=11;parent=-1;request=req-9;traces=app^1700000000000^5;"
      + "Pinpoint-TraceID:app^1700000000000^5;Pinpoint-SpanID:11;Pinpoint-pSpanID:-1;RequestID:req-9;EntryID:e-3");
  });

  it("formats sw8 and traceparent ids as the agent does, Pinpoint first", () => {
    const sw8 = `1-${Buffer.from("tid.1").toString("base64")}-${Buffer.from("seg.2").toString("base64")}-3-c2Vydg==-aW5z-L2E=-MTI3LjAuMC4xOjgw`;
    expect(run("collect", `sw8=${sw8}`).text).toBe(`trace=tid.1;span=seg.2-3;parent=-;request=-;traces=tid.1;sw8:${sw8}`);
    const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    expect(run("collect", `traceparent=${tp}\nPinpoint-TraceID=a^1^2`).text)
      .toBe(`trace=a^1^2;span=00f067aa0ba902b7;parent=-;request=-;traces=4bf92f3577b34da6a3ce929d0e0e4736,a^1^2;traceparent:${tp};Pinpoint-TraceID:a^1^2`);
  });

  it("finds nothing in unrelated keys", () => {
    expect(run("collect", "a=b\nc=d")).toEqual({ ok: 0, text: "trace=-;span=-;parent=-;request=-;traces=" });
  });
});
