// The codec library's AMQP 0-9-1 codec (protocols/amqp.ts) through its harness (tests/as/amqp.ts),
// fed with frames and tables encoded by amqplib and checked against amqplib's decoder.
import { beforeAll, describe, expect, it } from "vitest";
import { loadHarness, type Harness } from "../../../tests/support/as-harness.ts";
import { PROTOCOL_HEADER, amqplibModule, body, contentHeader, decodeTable, method, table } from "./wire.ts";

let h: Harness;
const call = (name: string, ...args: number[]) => (h.exports[name] as (...a: number[]) => number)(...args);
const run = (name: string, input: Uint8Array, ...args: number[]): string => {
  h.put(input);
  call(name, ...args);
  return Buffer.from(h.read(call("outPtr"), call("outLen"))).toString();
};

beforeAll(() => {
  h = loadHarness("tests/as/amqp.ts");
}, 120_000);

// Every field type RabbitMQ and amqplib know, through amqplib's explicit-type notation.
const EVERY_TYPE: Record<string, unknown> = {
  str: "text with \"quotes\" and é",
  yes: true,
  no: false,
  i8: { "!": "int8", value: -5 },
  u8: { "!": "uint8", value: 250 },
  i16: { "!": "int16", value: -30000 },
  u16: { "!": "uint16", value: 65000 },
  i32: { "!": "int32", value: -2000000000 },
  u32: { "!": "uint32", value: 4000000000 },
  i64: { "!": "int64", value: -9007199254740991 },
  f32: { "!": "float", value: 3.14 },
  f64: 2.718281828,
  dec: { "!": "decimal", value: { places: 3, digits: 12345 } },
  dec0: { "!": "decimal", value: { places: 6, digits: 42 } },
  ts: { "!": "timestamp", value: 1700000000 },
  void: null,
  bytes: Buffer.from("printable-id-1"),
  raw: Buffer.from([0, 1, 0xfe, 0xff]),
  arr: ["a", 1, [true, null], { k: "v" }],
  nested: { inner: { deeper: { id: "n-1", n: 7 } }, list: [] },
};

/** The codec's JSON-like rendering, computed from amqplib's decoded values. */
function render(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "string") return quote(Buffer.from(v));
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Buffer.isBuffer(v)) return quote(v.every((b) => b >= 0x20 && b <= 0x7e) ? v : Buffer.from("0x" + v.toString("hex")));
  if (Array.isArray(v)) return "[" + v.map(render).join(",") + "]";
  const o = v as Record<string, unknown>;
  if (o["!"] === "decimal") {
    const { places, digits } = o.value as { places: number; digits: number };
    const s = String(digits).padStart(places + 1, "0");
    return places ? s.slice(0, s.length - places) + "." + s.slice(s.length - places) : s;
  }
  if (o["!"] === "timestamp") return String(o.value);
  return "{" + Object.entries(o).map(([k, x]) => quote(Buffer.from(k)) + ":" + render(x)).join(",") + "}";
}

function quote(b: Buffer): string {
  let s = "\"";
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += "\\" + String.fromCharCode(c);
    else if (c < 0x20) s += "\\u00" + c.toString(16).padStart(2, "0");
    else s += "%" + c.toString(16).padStart(2, "0");
  }
  return decodeURIComponent(s) + "\"";
}

describe("field tables (RabbitMQ's type letters)", () => {
  it("renders every field type as amqplib decodes it", () => {
    const bytes = table(EVERY_TYPE);
    expect(run("tableText", bytes)).toBe(render(decodeTable(bytes)));
  });

  it("gives top-level values as plain text and integers", () => {
    const lines = run("tableEntries", table(EVERY_TYPE)).split("\n");
    const ids = new Map<string, string>();
    const raws = new Map<string, string>();
    const byKey = new Map(lines.slice(0, -1).map((l) => {
      const [key, tag, int, text, id, raw] = l.split("\t");
      ids.set(key, id);
      raws.set(key, raw);
      return [key, { tag, int, text }];
    }));
    expect(lines.at(-1)).toBe("cut=0 bad=0");
    expect(byKey.get("str")).toEqual({ tag: "S", int: "0", text: "text with \"quotes\" and é" });
    expect(byKey.get("i8")).toEqual({ tag: "b", int: "-5", text: "-5" });
    expect(byKey.get("u8")).toEqual({ tag: "B", int: "250", text: "250" });
    expect(byKey.get("i16")).toEqual({ tag: "s", int: "-30000", text: "-30000" });
    expect(byKey.get("u16")).toEqual({ tag: "u", int: "65000", text: "65000" });
    expect(byKey.get("i32")).toEqual({ tag: "I", int: "-2000000000", text: "-2000000000" });
    expect(byKey.get("u32")).toEqual({ tag: "i", int: "4000000000", text: "4000000000" });
    expect(byKey.get("i64")).toEqual({ tag: "l", int: "-9007199254740991", text: "-9007199254740991" });
    expect(byKey.get("f32")?.text).toBe(String(Math.fround(3.14)));
    expect(byKey.get("dec")).toMatchObject({ tag: "D", text: "12.345" });
    expect(byKey.get("dec0")).toMatchObject({ tag: "D", text: "0.000042" });
    expect(byKey.get("ts")).toEqual({ tag: "T", int: "1700000000", text: "1700000000" });
    expect(byKey.get("void")).toEqual({ tag: "V", int: "0", text: "" });
    expect(byKey.get("yes")).toEqual({ tag: "t", int: "1", text: "true" });
    expect(byKey.get("bytes")).toMatchObject({ tag: "x", text: "printable-id-1" });
    expect(byKey.get("raw")).toMatchObject({ tag: "x", text: "0x0001feff" });
    expect(byKey.get("nested")?.text).toBe("{\"inner\":{\"deeper\":{\"id\":\"n-1\",\"n\":7}},\"list\":[]}");
    // idText: the same as text for what can be an id, nothing for floats, void and structures.
    for (const [key, { text }] of byKey) {
      const noId = ["f32", "f64", "void", "arr", "nested"].includes(key);
      expect(ids.get(key), key).toBe(noId ? "-" : text);
      // isRawText: the value's own bytes are its text for strings and printable byte arrays only.
      expect(raws.get(key), key).toBe(["str", "bytes"].includes(key) ? text : "-");
    }
  });

  it("keeps the whole entries of a table cut anywhere, and never more", () => {
    const bytes = table(EVERY_TYPE);
    const full = run("tableEntries", bytes).split("\n").slice(0, -1);
    for (let n = 0; n < bytes.length; n++) {
      const lines = run("tableEntries", bytes.subarray(0, n)).split("\n");
      const entries = lines.slice(0, -1);
      expect(entries).toEqual(full.slice(0, entries.length));
      expect(lines.at(-1)).toBe("cut=1 bad=0");
    }
  });

  it("stops at an unknown type letter (the spec's 'U' short string is not RabbitMQ's)", () => {
    const bad = Buffer.from([0, 0, 0, 5, 1, 0x61, 0x55, 0, 5]);
    expect(run("tableEntries", bad)).toBe("cut=0 bad=1");
    expect(run("tableText", bad)).toBe("{…}");
  });

  it("bounds nesting when rendering", () => {
    let v: Record<string, unknown> = { id: "x" };
    for (let i = 0; i < 200; i++) v = { n: v };
    const text = run("tableText", table(v));
    expect(text.startsWith("{\"n\":{\"n\":")).toBe(true);
    expect(text).toContain("…");
    expect(text.length).toBeLessThan(200);
  });
});

describe("content header properties", () => {
  it("walks all 14 basic properties by their flag bits", () => {
    const props = {
      contentType: "application/json", contentEncoding: "gzip", headers: { RequestID: "r-1", n: 5 },
      deliveryMode: 2, priority: 9, correlationId: "corr-1", replyTo: "reply-q", expiration: "60000",
      messageId: "msg-1", timestamp: 1700000001, type: "order.created", userId: "guest", appId: "shop", clusterId: "c1",
    };
    const frame = contentHeader(1, 1234, props);
    expect(run("contentHeader", frame.subarray(7, frame.length - 1)).split("\n")).toEqual([
      "60 0 1234 65532",
      "content_type=application/json", "content_encoding=gzip", "headers={\"RequestID\":\"r-1\",\"n\":5}",
      "delivery_mode=2", "priority=9", "correlation_id=corr-1", "reply_to=reply-q", "expiration=60000",
      "message_id=msg-1", "timestamp=1700000001", "type=order.created", "user_id=guest", "app_id=shop", "cluster_id=c1",
    ]);
  });

  it("reports a cut header and keeps the properties before the cut", () => {
    const frame = contentHeader(1, 10, { messageId: "msg-1", appId: "shop" });
    const payload = frame.subarray(7, frame.length - 1);
    expect(run("contentHeader", payload.subarray(0, payload.length - 2)).split("\n")).toEqual(["60 0 10 136", "message_id=msg-1", "cut"]);
    expect(run("contentHeader", payload.subarray(0, 5))).toBe("0 0 0 0\ncut");
  });
});

describe("frames and methods", () => {
  it("names methods as the agent does, with kind and sender", () => {
    const frames = [
      method("QueueDeclare", 1, { queue: "q" }), method("QueueDeclareOk", 1, { queue: "q", messageCount: 0, consumerCount: 0 }),
      method("BasicPublish", 1, { exchange: "x" }), contentHeader(1, 2, {}), body(1, "hi"),
      method("ExchangeUnbindOk", 2), method("ConfirmSelect", 3, { nowait: false }),
    ];
    const named = ["Queue.Declare 1 1", "Queue.DeclareOk 2 2", "Basic.Publish 3 1", "", "", "Exchange.UnbindOk 2 2", "Confirm.Select 1 1"];
    expect(run("frames", Buffer.concat(frames)).split("\n")).toEqual(
      frames.map((f, i) => `${f[0]} ${f.readUInt16BE(1)} ${f.length - 8} 1 ${named[i]}`));
  });

  it("knows every 0-9-1 method amqplib knows, and no others", () => {
    const defs = amqplibModule<Record<string, unknown>>("defs.js");
    const known = new Set<number>();
    for (const [name, id] of Object.entries(defs)) {
      // Access (class 30) was dropped from 0-9-1; amqplib still encodes it, the agent does not name it.
      if (typeof id !== "number" || id < 65536 || !/^[A-Z][a-z]+[A-Z]/.test(name) || name.startsWith("Access")) continue;
      known.add(id);
      const info = run("methodInfo", new Uint8Array(0), id >>> 16, id & 0xffff);
      const [klass, ...rest] = name.split(/(?=[A-Z])/);
      expect(info.split(" ")[0], name).toBe(`${klass}.${rest.join("")}`);
    }
    expect(known.size).toBe(64);
    for (let c = 0; c < 100; c++) {
      for (let m = 0; m < 130; m++) {
        if (!known.has((c << 16) | m)) expect(run("methodInfo", new Uint8Array(0), c, m), `${c}/${m}`).toBe("");
      }
    }
  });

  it("reports a frame that runs past the bytes", () => {
    const f = method("BasicPublish", 1, { exchange: "x" });
    const size = f.length - 8;
    expect(run("frames", Buffer.concat([f, f.subarray(0, 10)]))).toBe(`1 1 ${size} 1 Basic.Publish 3 1\npartial 1 ${size}`);
    expect(run("frames", PROTOCOL_HEADER.subarray(0, 6))).toBe("");
  });
});
