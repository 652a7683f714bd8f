// Result records (host_read_l7_protocol_info) in both encodings, against byte vectors
// built by hand from WasmPluginApi.proto / CustomInfo::from_legacy_protocol, and the
// agent's accept/reject rules (CustomInfo::try_from, prost).
import { describe, expect, it } from "vitest";
import {
  DIR_C2S,
  DIR_S2C,
  RecordDecodeError,
  decodeRecord,
  decodeRecords,
  encodeLegacyRecord,
  encodePbRecord,
  frameRecords,
  type AppInfo,
} from "../../sdk/result.ts";
import { AppRespStatus } from "../../sdk/schema.generated.ts";
import { hex, toHex } from "./support.ts";

const PB = "5042";

const reqVector = hex(
  PB +
    "08e707" + // req_len 999
    "108f4e" + // resp_len 9999
    "189a05" + // request_id 666
    "5209" + "1203474554" + "22022f78" + // req { type "GET", resource "/x" }
    "620f" + "0a027431" + "220172" + "32027430" + "32027431" + // trace { trace_id t1, x_request_id r, trace_ids [t0, t1] }
    "6a03746f79" + // protocol_str "toy"
    "a80101" + // is_end true
    "fa01060a016b120176" + // attributes [{k, v}]
    "8002ac02" + // biz_type 300
    "8a020142", // biz_code "B"
);

const reqMessage: AppInfo = {
  req_len: 999,
  resp_len: 9999,
  request_id: 666,
  req: { type: "GET", resource: "/x" },
  trace: { trace_id: "t1", x_request_id: "r", trace_ids: ["t0", "t1"] },
  protocol_str: "toy",
  is_end: true,
  attributes: [{ key: "k", val: "v" }],
  biz_type: 300,
  biz_code: "B",
};

const reject = (bytes: Uint8Array, dir: 0 | 1 = DIR_C2S) => () => decodeRecord(bytes, dir);

describe("protobuf records (\"PB\" + AppInfo)", () => {
  it("a request record decodes into the agent's fields", () => {
    const info = decodeRecord(reqVector, DIR_C2S);
    expect(info).toMatchObject({
      encoding: "pb",
      proto_str: "toy",
      req_len: 999,
      resp_len: 9999,
      request_id: 666,
      req: { version: "", req_type: "GET", domain: "", resource: "/x", endpoint: "" },
      resp: { status: "unknown", code: null },
      // trace_id is added to trace_ids only when not already there
      trace: { trace_ids: ["t0", "t1"], span_id: null, parent_span_id: null, x_request_id_0: "r", x_request_id_1: null, http_proxy_client: null },
      need_protocol_merge: true,
      is_req_end: true,
      is_resp_end: false,
      attributes: [{ key: "k", val: "v" }],
      biz_type: 44, // 300 as u8
      biz_code: "B",
      biz_scenario: null,
      is_async: null,
    });
  });

  it("the direction decides which end flag and which x_request_id", () => {
    const info = decodeRecord(reqVector, DIR_S2C);
    expect(info.is_req_end).toBe(false);
    expect(info.is_resp_end).toBe(true);
    expect(info.trace.x_request_id_0).toBeNull();
    expect(info.trace.x_request_id_1).toBe("r");
  });

  it("the encoder writes exactly the hand-built bytes", () => {
    expect(toHex(encodePbRecord(reqMessage))).toBe(toHex(reqVector));
  });

  it("a response record: status, negative code (10-byte varint), is_end false", () => {
    const bytes = hex(PB + "5a10" + "0803" + "10ffffffffffffffffff01" + "1a0165" + "a80100" + "6203220172");
    const info = decodeRecord(bytes, DIR_S2C);
    expect(info.resp).toEqual({ status: "server_error", code: -1, exception: "e", result: "", req_type: "", endpoint: "" });
    expect(info.need_protocol_merge).toBe(true);
    expect(info.is_resp_end).toBe(false);
    expect(info.trace.x_request_id_1).toBe("r");
    expect(toHex(encodePbRecord({ resp: { status: AppRespStatus.RESP_SERVER_ERROR, code: -1, exception: "e" }, trace: { x_request_id: "r" }, is_end: false }))).toBe(
      PB + "5a10" + "0803" + "10ffffffffffffffffff01" + "1a0165" + "6203220172" + "a80100",
    );
  });

  it("a response without a status, or with one outside AppRespStatus, is rejected", () => {
    expect(reject(hex(PB + "5a021005"))).toThrow(/resp status/);
    expect(reject(hex(PB + "5a020801"))).toThrow(/resp status/);
    expect(reject(hex(PB + "5a020806"))).toThrow(/resp status/);
    for (const s of Object.values(AppRespStatus)) expect(() => decodeRecord(encodePbRecord({ resp: { status: s } }), DIR_S2C)).not.toThrow();
  });

  it("oneof info: the last variant wins; the same variant twice merges", () => {
    const reqThenResp = decodeRecord(hex(PB + "52021200" + "5a020800"), DIR_C2S);
    expect(reqThenResp.resp.status).toBe("ok");
    const respThenReq = decodeRecord(hex(PB + "5a020800" + "5203120141"), DIR_C2S);
    expect(respThenReq.req.req_type).toBe("A");
    expect(respThenReq.resp.status).toBe("unknown");
    const merged = decodeRecord(hex(PB + "5203120141" + "52031a0144"), DIR_C2S);
    expect(merged.req).toMatchObject({ req_type: "A", domain: "D" });
    // A switch back starts the variant afresh: the first response's code does not come back.
    const respReqResp = decodeRecord(hex(PB + "5a0408001005" + "5203120141" + "5a020803"), DIR_S2C);
    expect(respReqResp.resp).toMatchObject({ status: "server_error", code: null });
    expect(respReqResp.req.req_type).toBe("");
    // Only the last variant's status is checked.
    expect(decodeRecord(hex(PB + "5a020806" + "5203120141"), DIR_C2S).req.req_type).toBe("A");
  });

  it("a repeated embedded message merges; a repeated scalar keeps the last", () => {
    const info = decodeRecord(hex(PB + "62030a0161" + "6203120173" + "6a0178" + "6a0179"), DIR_C2S);
    expect(info.trace.trace_ids).toEqual(["a"]);
    expect(info.trace.span_id).toBe("s");
    expect(info.proto_str).toBe("y");
  });

  it("unknown fields of every wire type are skipped, groups included", () => {
    const unknown =
      "f80605" + // field 111 varint
      "9306" + "0801" + "9406" + // field 98 group { field 1 varint }
      "9d06" + "01020304" + // field 99 fixed32
      "a106" + "0102030405060708" + // field 100 fixed64
      "ba0602aabb"; // field 103 bytes
    expect(decodeRecord(hex(PB + unknown + "6a0178"), DIR_C2S).proto_str).toBe("x");
  });

  it.each([
    ["a truncated varint", "08ff"],
    ["an 11-byte varint", "08" + "ff".repeat(10) + "01"],
    ["a 10th varint byte above 1", "08" + "ff".repeat(9) + "02"],
    ["a known field with the wrong wire type", "0a0100"],
    ["a string that is not UTF-8", "6a01ff"],
    ["field number 0", "0000"],
    ["wire type 6", "0e"],
    ["an end group with no start", "0c"],
    ["a group closed by another field's end", "9306" + "9407"],
    ["a length past the end", "6a0561"],
    ["an embedded field running past its message", "5202120541"],
    ["an unclosed group", "9306" + "0801"],
  ])("rejects %s", (_what, body) => {
    expect(reject(hex(PB + body))).toThrow(RecordDecodeError);
  });

  it("accepts a 10-byte varint ending in 1 (u32 keeps the low bits) and an empty AppInfo", () => {
    expect(decodeRecord(hex(PB + "08" + "ff".repeat(9) + "01"), DIR_C2S).req_len).toBe(0xffffffff);
    expect(decodeRecord(hex(PB), DIR_S2C)).toMatchObject({ encoding: "pb", proto_str: "", req_len: null, need_protocol_merge: false });
  });

  it("a leading BOM is kept as a character", () => {
    expect(decodeRecord(hex(PB + "6a04efbbbf41"), DIR_C2S).proto_str).toBe("\ufeffA");
  });

  it("every field survives encode → decode", () => {
    const m: AppInfo = {
      req_len: 1,
      resp_len: 2,
      request_id: 0xffffffff,
      resp: { status: AppRespStatus.RESP_CLIENT_ERROR, code: 404, exception: "nf", result: "r", type: "GET", endpoint: "/e" },
      trace: { trace_id: "T", span_id: "S", parent_span_id: "P", x_request_id: "X", http_proxy_client: "10.0.0.1", trace_ids: ["T0"] },
      protocol_str: "p",
      is_end: true,
      is_async: true,
      is_reversed: false,
      attributes: [{ key: "a", val: "" }, { key: "", val: "b" }],
      biz_type: 7,
      biz_code: "c",
      biz_scenario: "s",
      biz_response_code: "rc",
    };
    expect(decodeRecord(encodePbRecord(m), DIR_S2C)).toEqual({
      encoding: "pb",
      proto_str: "p",
      req_len: 1,
      resp_len: 2,
      request_id: 0xffffffff,
      req: { version: "", req_type: "", domain: "", resource: "", endpoint: "" },
      resp: { status: "client_error", code: 404, exception: "nf", result: "r", req_type: "GET", endpoint: "/e" },
      trace: { trace_ids: ["T0", "T"], span_id: "S", parent_span_id: "P", x_request_id_0: null, x_request_id_1: "X", http_proxy_client: "10.0.0.1" },
      need_protocol_merge: true,
      is_req_end: false,
      is_resp_end: true,
      attributes: [{ key: "a", val: "" }, { key: "", val: "b" }],
      biz_type: 7,
      biz_code: "c",
      biz_scenario: "s",
      biz_response_code: "rc",
      is_async: true,
      is_reversed: false,
    });
  });
});

const legacyReq = hex(
  "80000011" + // req_len 17 (top bit = present)
    "00000000" + // no resp_len
    "01" + "00000007" + // request_id 7
    "0003474554" + "000145" + "0000" + "00022f75" + // req_type GET, endpoint E, domain "", resource /u
    "0003746f79" + // protocol_str toy
    "81" + // needs merge, is end
    "01" + "000141" + "0000" + "000150" + // trace A, span "", parent P
    "01" + "00016b" + "000176" + // kv {k: v}
    "05", // biz_type
);

describe("legacy records", () => {
  it("client → server: request fields", () => {
    expect(decodeRecord(legacyReq, DIR_C2S)).toMatchObject({
      encoding: "legacy",
      req_len: 17,
      resp_len: null,
      request_id: 7,
      req: { version: "", req_type: "GET", endpoint: "E", domain: "", resource: "/u" },
      resp: { status: "unknown", code: null },
      proto_str: "toy",
      need_protocol_merge: true,
      is_req_end: true,
      is_resp_end: false,
      // an empty span id is kept (Some("")), unlike protobuf's absent field
      trace: { trace_ids: ["A"], span_id: "", parent_span_id: "P", x_request_id_0: null },
      attributes: [{ key: "k", val: "v" }],
      biz_type: 5,
    });
  });

  it("the encoder writes exactly the hand-built bytes", () => {
    const bytes = encodeLegacyRecord(
      {
        req_len: 17,
        request_id: 7,
        req: { req_type: "GET", endpoint: "E", domain: "", resource: "/u" },
        protocol_str: "toy",
        need_merge: true,
        is_end: true,
        trace: { trace_id: "A", span_id: "", parent_span_id: "P" },
        attributes: [{ key: "k", val: "v" }],
        biz_type: 5,
      },
      DIR_C2S,
    );
    expect(toHex(bytes)).toBe(toHex(legacyReq));
  });

  it("server → client: status, signed code, result, exception; bit 0 alone is no merge", () => {
    const bytes = hex("00000000" + "80000020" + "00" + "04" + "01fffffffe" + "0000" + "000178" + "0000" + "01" + "00" + "00" + "00");
    expect(decodeRecord(bytes, DIR_S2C)).toMatchObject({
      resp_len: 32,
      request_id: null,
      resp: { status: "client_error", code: -2, result: "", exception: "x" },
      need_protocol_merge: false,
      is_resp_end: false,
      trace: { trace_ids: [], span_id: null },
      attributes: [],
    });
    expect(toHex(encodeLegacyRecord({ resp_len: 32, resp: { status: AppRespStatus.RESP_CLIENT_ERROR, code: -2, exception: "x" }, is_end: true }, DIR_S2C))).toBe(toHex(bytes));
  });

  it("the same bytes read differently in each direction", () => {
    // A request record read as a response: the high byte of req_type's length reads as
    // status 0 (ok), the low byte (3) as has_code.
    expect(() => decodeRecord(legacyReq, DIR_S2C)).toThrow(/has_code/);
  });

  it("key/value pairs run until a str fails; biz_type is read where that left off", () => {
    const head = "00000000" + "00000000" + "00" + "0000000000000000" + "0000" + "00" + "00" + "01" + "00016b000176";
    // one trailing byte: biz_type
    expect(decodeRecord(hex(head + "09"), DIR_C2S)).toMatchObject({ attributes: [{ key: "k", val: "v" }], biz_type: 9 });
    // "" reads as a key, the value fails: the offset stays after the key
    expect(decodeRecord(hex(head + "000007"), DIR_C2S)).toMatchObject({ attributes: [{ key: "k", val: "v" }], biz_type: 7 });
    // a key length past the end: nothing read, biz_type is that length's first byte
    expect(decodeRecord(hex(head + "0105"), DIR_C2S).biz_type).toBe(1);
    // nothing left for biz_type
    expect(reject(hex(head))).toThrow(/biz_type/);
  });

  it("strings are decoded lossily (invalid UTF-8 → U+FFFD)", () => {
    const bytes = encodeLegacyRecord({ req: { resource: "x" } }, DIR_C2S);
    const bad = toHex(bytes).replace("000178", "0001ff");
    expect(decodeRecord(hex(bad), DIR_C2S).req.resource).toBe("\ufffd");
  });

  it.each([
    ["shorter than 9 bytes", "0000000000000000", DIR_C2S, /too short/],
    ["has_request_id 2", "000000000000000002" + "0000".repeat(5) + "000000", DIR_C2S, /request_id/],
    ["a request id cut short", "000000000000000001000000", DIR_C2S, /request id/],
    ["a request str cut short", "000000000000000000" + "0005", DIR_C2S, /parse request/],
    ["status 1", "000000000000000000" + "0100" + "00000000" + "0000" + "000000", DIR_S2C, /status/],
    ["has_code 2", "000000000000000000" + "0002", DIR_S2C, /has_code/],
    ["has_trace 2", "000000000000000000" + "0000".repeat(5) + "00" + "02", DIR_C2S, /trace/],
    ["has_kv 2", "000000000000000000" + "0000".repeat(5) + "00" + "00" + "02" + "00", DIR_C2S, /kv/],
  ])("rejects %s", (_what, body, dir, why) => {
    expect(reject(hex(body), dir as 0 | 1)).toThrow(why);
  });

  it("a response record too short for status/has_code is one the agent panics on", () => {
    for (const body of ["000000000000000000", "00000000000000000000", "00000000000000000100000007"]) {
      let err: unknown;
      try {
        decodeRecord(hex(body), DIR_S2C);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RecordDecodeError);
      expect((err as RecordDecodeError).agentPanics).toBe(true);
    }
  });
});

describe("record framing (u16 length + record, filling the buffer)", () => {
  const a = encodePbRecord({ protocol_str: "a" });
  const b = encodeLegacyRecord({ protocol_str: "b" }, DIR_C2S);

  it("decodes every record, in order, whatever their encodings", () => {
    const infos = decodeRecords(frameRecords([a, b]), DIR_C2S);
    expect(infos.map((i) => [i.encoding, i.proto_str])).toEqual([
      ["pb", "a"],
      ["legacy", "b"],
    ]);
    expect(toHex(frameRecords([a]))).toBe("0005" + toHex(a));
  });

  it.each([
    ["an empty buffer", ""],
    ["a lone byte", "00"],
    ["a length past the end", "0009" + "504200"],
    ["a trailing byte after a record", "0002" + "5042" + "00"],
    ["an empty record", "0000"],
  ])("rejects %s", (_what, bytes) => {
    expect(() => decodeRecords(hex(bytes), DIR_C2S)).toThrow(RecordDecodeError);
  });

  it("one bad record rejects all of them", () => {
    expect(() => decodeRecords(frameRecords([a, hex(PB + "5a020801"), b]), DIR_S2C)).toThrow(/resp status/);
  });
});
