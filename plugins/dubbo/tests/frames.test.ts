// Frames no capture here carries: other serializations (fastjson2, kryo's UTF-8 string
// form, ones the plugin only names), and frames that are not Dubbo at all.
import { beforeAll, describe, expect, it } from "vitest";
import { join, resolve } from "node:path";
import { WasmHost, type CallCtx } from "../../../sdk/host.ts";
import { attrs } from "./drive.ts";

const wasm = join(resolve(import.meta.dirname, "..", "..", ".."), "build", "dubbo.wasm");
const PROTO = 140;
const c2s: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 20880, direction: 0, flowId: 11, bufSize: 1024 };

function frame(flag: number, status: number, id: bigint, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0xdabb, 0);
  h[2] = flag;
  h[3] = status;
  h.writeBigUInt64BE(id, 4);
  h.writeUInt32BE(body.length, 12);
  return Buffer.concat([h, body]);
}

/** fastjson2 (Dubbo's FastJson2ObjectOutput.writeUTF): u32 length, then a JSONB string. */
function fastjson2String(s: string): Buffer {
  const jsonb = s.length <= 0x78 - 0x49 ? Buffer.concat([Buffer.from([0x49 + s.length]), Buffer.from(s)]) : Buffer.concat([Buffer.from([0x79, 0x48]), Buffer.alloc(4), Buffer.from(s)]);
  if (jsonb[0] === 0x79) jsonb.writeUInt32BE(s.length, 2);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(jsonb.length);
  return Buffer.concat([len, jsonb]);
}

/** kryo Output.writeString: ASCII with the last byte's high bit set, or a UTF-8 length varint then UTF-8. */
function kryoString(s: string): Buffer {
  if (/^[\x20-\x7e]{2,}$/.test(s)) {
    const b = Buffer.from(s);
    b[b.length - 1] |= 0x80;
    return b;
  }
  const utf8 = Buffer.from(s);
  let v = s.length + 1;
  const out = [0x80 | (v & 0x3f) | (v > 0x3f ? 0x40 : 0)];
  v >>>= 6;
  while (v > 0) {
    out.push((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>>= 7;
  }
  return Buffer.concat([Buffer.from(out), utf8]);
}

let host: WasmHost;

beforeAll(async () => {
  host = await WasmHost.load([wasm]);
});

function parse(payload: Buffer, ctx: CallCtx = c2s) {
  const claim = host.checkPayload(ctx, payload);
  return { claim, records: host.parsePayload(ctx, payload, PROTO) ?? [] };
}

describe("other serializations", () => {
  it("fastjson2: the four head strings", () => {
    const body = Buffer.concat(["2.0.2", "com.example.UserService", "1.2.0", "queryUserInfoDetail", "Ljava/lang/Long;"].map(fastjson2String));
    const { claim, records } = parse(frame(0xc0 | 23, 0, 7n, body));
    expect(claim).toMatchObject({ proto: PROTO, msgType: 1, name: "Dubbo" });
    expect(records).toHaveLength(1);
    expect(records[0].req).toEqual({ version: "2.0.2", req_type: "queryUserInfoDetail", domain: "com.example.UserService", resource: "com.example.UserService", endpoint: "com.example.UserService/queryUserInfoDetail" });
    expect(attrs(records[0], "serialization_id")).toEqual(["FASTJSON2"]);
    expect(attrs(records[0], "service_version")).toEqual(["1.2.0"]);
  });

  it("kryo: ASCII and UTF-8 string forms, and attachment pairs after the head", () => {
    const pair = (k: string, v: string) => Buffer.concat([Buffer.from([0x03, 0x01]), kryoString(k), Buffer.from([0x03, 0x01]), kryoString(v)]);
    const body = Buffer.concat([
      kryoString("2.7.8"), kryoString("com.example.Ünïcode"), kryoString("1"), kryoString("find"),
      Buffer.from("arguments the plugin does not decode"),
      Buffer.from([0x01, 0x04]), pair("path", "com.example.Ünïcode"), pair("_DUBBO_TRASACTION_ID", "agent^1700000000000^9"), pair("RequestID", "req-9"),
    ]);
    const { records } = parse(frame(0xc0 | 8, 0, 8n, body));
    expect(records).toHaveLength(1);
    const r = records[0];
    expect(r.req).toMatchObject({ version: "2.7.8", req_type: "find", domain: "com.example.Ünïcode" });
    expect(attrs(r, "service_version")).toEqual(["1"]);
    expect(attrs(r, "serialization_id")).toEqual(["KRYO"]);
    expect(r.trace.trace_ids).toEqual(["agent^1700000000000^9"]);
    expect(r.trace.x_request_id_0).toBe("req-9");
  });

  it("serializations it cannot read: the header-level record, named", () => {
    const { claim, records } = parse(frame(0xc0 | 22, 0, 9n, Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63])));
    expect(claim).not.toBeNull();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ request_id: 9, req_len: 5 });
    expect(records[0].req.req_type).toBe("");
    expect(attrs(records[0], "serialization_id")).toEqual(["PROTOBUF"]);
  });
});

describe("not Dubbo", () => {
  it("refuses other bytes, responses with unknown status, and Hessian2 requests whose body does not start with a string", () => {
    for (const p of [
      Buffer.from("GET / HTTP/1.1\r\n\r\n"),
      Buffer.from([0xda, 0xbb, 0xc2, 0x00]), // short
      frame(0x02, 99, 1n, Buffer.from([0x91])), // a response status Dubbo does not have
      frame(0xc0, 0, 1n, Buffer.from([0x05])), // serialization id 0
      frame(0xc2, 0, 1n, Buffer.from([0x91, 0x91])), // Hessian2 request starting with an int
      frame(0xc2, 5, 1n, Buffer.from([0x05, 0x32])), // a request with a status
    ]) {
      expect(host.checkPayload(c2s, p)).toBeNull();
    }
  });

  it("a claimed flow's payload that does not start a frame gives no record", () => {
    const ctx = { ...c2s, flowId: 12 };
    expect(host.parsePayload(ctx, Buffer.from("some continuation bytes"), PROTO)).toEqual([]);
  });
});
