// The codec library's Kafka codec (protocols/kafka.ts) on bytes made by an independent
// encoder (kafkajs' protocol encoders) and on the agent's captures.
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DecodedPacket, decodeFrame, openCapture } from "../../capture/open.ts";
import { loadHarness, type Harness } from "../support/as-harness.ts";

const require = createRequire(import.meta.url);
interface KjsEncoder { buffer: Buffer }
type Entry = { key?: string | null; value: string; headers?: Record<string, string>; timestamp?: number };
const { RecordBatch } = require("kafkajs/src/protocol/recordBatch/v0") as { RecordBatch: (o: object) => Promise<KjsEncoder> };
const Record = require("kafkajs/src/protocol/recordBatch/record/v0") as (o: object) => object;
const MessageSet = require("kafkajs/src/protocol/messageSet") as (o: object) => KjsEncoder & { size(): number };
const { Types: Codec, lookupCodec } = require("kafkajs/src/protocol/message/compression") as {
  Types: { None: number; GZIP: number };
  lookupCodec: (c: number) => { compress(e: KjsEncoder): Promise<Buffer> };
};
const request = require("kafkajs/src/protocol/request") as (o: object) => Promise<KjsEncoder>;
const produce = require("kafkajs/src/protocol/requests/produce") as { protocol: (o: { version: number }) => (a: object) => { request: object } };

let h: Harness;
const call = (name: string, ...args: number[]) => (h.exports[name] as (...a: number[]) => number)(...args);
const output = () => Buffer.from(h.read(call("outPtr"), call("outLen"))).toString();
function recordSet(bytes: Uint8Array, size = bytes.length, maxInflate = 1 << 20) {
  h.put(bytes);
  call("recordSet", size, maxInflate);
  const [summary, ...items] = output().split("|");
  const [batches, declared, decoded, notDecoded, compression, cut, bad, legacy, txn] = summary.split(" ");
  return {
    batches: +batches, declared: +declared, decoded: +decoded, notDecoded: +notDecoded, compression,
    cut: cut === "cut", bad: bad === "bad", legacy: legacy === "legacy", txn: txn === "txn", items: items.filter((x) => x),
  };
}

beforeAll(() => {
  h = loadHarness("tests/as/kafka.ts");
}, 120_000);

const entries = (n: number, tag: string): Entry[] => Array.from({ length: n }, (_, i) => ({
  key: `${tag}-k${i}`,
  value: `value ${i}`.repeat(3),
  headers: { "message-id": `${tag}-m${i}`, traceparent: `00-${String(i).padStart(32, "0")}-${String(i).padStart(16, "0")}-01` },
}));
const listed = (es: Entry[]) => es.flatMap((e) => [`key=${e.key}`, ...Object.entries(e.headers ?? {}).map(([k, v]) => `h:${k}=${v}`)]);

async function batch(es: Entry[], compression = Codec.None, transactional = false): Promise<Buffer> {
  const records = es.map((e, i) => Record({ offsetDelta: i, key: e.key == null ? null : Buffer.from(e.key), value: Buffer.from(e.value), headers: e.headers }));
  return (await RecordBatch({ compression, records, transactional, lastOffsetDelta: es.length - 1 })).buffer;
}

async function legacySet(es: Entry[], version: 0 | 1, compression = Codec.None): Promise<Buffer> {
  const plain = MessageSet({ messageVersion: version, compression: Codec.None, entries: es.map((e) => ({ ...e, timestamp: 1 })) });
  if (compression === Codec.None) return plain.buffer;
  const value = await lookupCodec(compression).compress(MessageSet({ messageVersion: version, compression, entries: es.map((e) => ({ ...e, timestamp: 1 })) }));
  return MessageSet({ messageVersion: version, entries: [{ compression, timestamp: 1, value }] }).buffer;
}

describe("record batch v2", () => {
  it("reads keys and headers of every record", async () => {
    const es = entries(10, "a");
    const r = recordSet(await batch(es));
    expect(r).toMatchObject({ batches: 1, declared: 10, decoded: 10, notDecoded: 0, compression: "-", cut: false, bad: false, legacy: false });
    expect(r.items).toEqual(listed(es));
  });

  it("decompresses gzip batches", async () => {
    const es = entries(7, "g");
    const r = recordSet(await batch(es, Codec.GZIP));
    expect(r).toMatchObject({ batches: 1, declared: 7, decoded: 7, compression: "gzip", cut: false, bad: false });
    expect(r.items).toEqual(listed(es));
  });

  it("reads several batches, null keys, transactional flags", async () => {
    const a = entries(2, "x");
    const b: Entry[] = [{ key: null, value: "v", headers: { RequestID: "r-1" } }];
    const r = recordSet(Buffer.concat([await batch(a), await batch(b, Codec.GZIP, true)]));
    expect(r).toMatchObject({ batches: 2, declared: 3, decoded: 3, compression: "gzip", txn: true });
    expect(r.items).toEqual([...listed(a), "key=<null>", "h:RequestID=r-1"]);
  });

  it("bounds decompression and says what it could not read", async () => {
    const es = entries(50, "big");
    const r = recordSet(await batch(es, Codec.GZIP), undefined, 300);
    expect(r.decoded).toBeLessThan(50);
    expect(r.cut).toBe(true);
    expect(listed(es).slice(0, r.items.length)).toEqual(r.items);
  });

  it("reads what lies before a cut, and says it was cut", async () => {
    const es = entries(10, "c");
    for (const compression of [Codec.None, Codec.GZIP]) {
      const whole = await batch(es, compression);
      for (let cut = 0; cut < whole.length; cut += 5) {
        const r = recordSet(whole.subarray(0, cut), whole.length);
        expect(r.cut).toBe(true);
        expect(r.bad).toBe(false);
        // Items are a prefix of the whole list, except that a record's key may be cut after it began.
        expect(listed(es).slice(0, r.items.length)).toEqual(r.items);
        // (A gzip batch cut near its end may still hold every record's bytes.)
        if (compression === Codec.None) expect(r.decoded).toBeLessThan(10);
      }
    }
  });

  it("reports codecs it does not decode without guessing", async () => {
    const whole = await batch(entries(3, "s"));
    // Attributes (int16 at offset 21): codec 2 = snappy, 3 = lz4, 4 = zstd.
    for (const [codec, name] of [[2, "snappy"], [3, "lz4"], [4, "zstd"]] as const) {
      const b = Buffer.from(whole);
      b.writeInt16BE(codec, 21);
      const r = recordSet(b);
      expect(r).toMatchObject({ batches: 1, declared: 3, decoded: 0, notDecoded: 3, compression: name });
      expect(r.items).toEqual([]);
    }
  });
});

describe("legacy message sets", () => {
  for (const version of [0, 1] as const) {
    it(`magic ${version}: keys, plain and gzip`, async () => {
      const es = entries(4, `l${version}`).map((e) => ({ ...e, headers: undefined }));
      const plain = recordSet(await legacySet(es, version));
      expect(plain).toMatchObject({ batches: 0, declared: 4, decoded: 4, legacy: true, compression: "-" });
      expect(plain.items).toEqual(es.map((e) => `key=${e.key}`));
      const gz = recordSet(await legacySet(es, version, Codec.GZIP));
      expect(gz).toMatchObject({ declared: 4, decoded: 4, legacy: true, compression: "gzip" });
      expect(gz.items).toEqual(es.map((e) => `key=${e.key}`));
    });
  }
});

describe("request headers", () => {
  it("reads headers of kafkajs Produce requests v0-v7", async () => {
    for (let version = 0; version <= 7; version++) {
      const req = produce.protocol({ version })({
        acks: -1, timeout: 1000, compression: Codec.None,
        topicData: [{ topic: "t", partitions: [{ partition: 0, messages: [{ key: "k", value: "v" }] }] }],
      }).request;
      const bytes = (await request({ correlationId: 1234 + version, clientId: "kjs", request: req })).buffer;
      h.put(bytes);
      expect(call("requestHeader", 0)).toBe(1);
      expect(output()).toBe(`0 ${version} ${1234 + version} kjs 17 ${bytes.length}`);
    }
  });

  it("reads flexible request headers (tagged fields) from the agent's captures", () => {
    const dir = resolve(import.meta.dirname, "..", "fixtures", "deepflow", "kafka");
    const first = (file: string) => {
      const rd = openCapture(resolve(dir, file));
      const p = new DecodedPacket();
      for (let f = rd.next(); f; f = rd.next()) if (decodeFrame(f, p) && p.payloadLength > 0) return Uint8Array.from(p.payload());
      throw new Error("no payload");
    };
    h.put(first("00-produce-v9.pcap"));
    expect(call("requestHeader", 0)).toBe(1);
    // size 4 + header 8 + client id 2+16 + empty tag section 1.
    expect(output()).toBe("0 9 47 console-producer 31 156");
    h.put(first("18-api-versions-v3.pcap"));
    expect(call("requestHeader", 0)).toBe(1);
    expect(output()).toBe("18 3 2 adminclient-1 28 53");
  });

  it("reads request header v0 (no client id), which only ControlledShutdown v0 sends", () => {
    // size 12: api key 7, version 0, correlation id 900, broker id 3.
    h.put(Buffer.from([0, 0, 0, 12, 0, 7, 0, 0, 0, 0, 3, 0x84, 0, 0, 0, 3]));
    expect(call("requestHeader", 0)).toBe(1);
    expect(output()).toBe("7 0 900 <null> 12 16");
    // ControlledShutdown v1 has a client id (header v1), as every other request.
    h.put(Buffer.from([0, 0, 0, 19, 0, 7, 0, 1, 0, 0, 3, 0x85, 0, 3, 0x62, 0x2d, 0x31, 0, 0, 0, 3]));
    expect(call("requestHeader", 0)).toBe(1);
    expect(output()).toBe("7 1 901 b-1 17 23");
  });

  it("refuses what is not a request header", () => {
    const bad = [
      Buffer.from([0, 0, 0, 20, 0, 200, 0, 0, 0, 0, 0, 1, 0, 1, 0x41]), // api key 200
      Buffer.from([0, 0, 0, 20, 0, 0, 0, 99, 0, 0, 0, 1, 0, 1, 0x41]), // Produce v99
      Buffer.from([0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0x41, 0x07]), // control byte in client id
      Buffer.from([0x7f, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 1, 0x41]), // size beyond 100 MiB
      Buffer.from([0, 0, 0, 20, 0, 0, 0, 3, 0, 0]), // cut inside the header
      Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ];
    for (const b of bad) {
      h.put(b);
      expect(call("requestHeader", 0), b.toString("hex")).toBe(0);
    }
  });
});

describe("tables", () => {
  const apiOf = (key: number, version: number) => {
    call("api", key, version);
    return output();
  };
  const errorOf = (code: number) => {
    call("error", code);
    return output();
  };
  it("names apis and knows their flexible versions", () => {
    expect(apiOf(0, 8)).toBe("Produce classic -");
    expect(apiOf(0, 9)).toBe("Produce flexible tags");
    expect(apiOf(1, 12)).toBe("Fetch flexible tags");
    expect(apiOf(18, 3)).toBe("ApiVersions flexible -");
    expect(apiOf(17, 1)).toBe("SaslHandshake classic -");
    expect(apiOf(93, 0)).toBe("GetReplicaLogInfo flexible tags");
    expect(apiOf(94, 0)).toBe(" classic -");
  });

  it("names errors and knows which are retriable", () => {
    expect(errorOf(-1)).toBe("UNKNOWN_SERVER_ERROR -");
    expect(errorOf(0)).toBe("NONE -");
    expect(errorOf(6)).toBe("NOT_LEADER_OR_FOLLOWER retriable");
    expect(errorOf(29)).toBe("TOPIC_AUTHORIZATION_FAILED -");
    expect(errorOf(99)).toBe(" -");
    expect(errorOf(128)).toBe("INVALID_REGULAR_EXPRESSION -");
    expect(errorOf(5000)).toBe(" -");
  });
});

describe("text out of untrusted bytes", () => {
  it("keeps valid UTF-8 and replaces what Rust's from_utf8 would refuse", () => {
    const cases: [number[], string][] = [
      [[...Buffer.from("héllo ✓ 𝄞")], "héllo ✓ 𝄞"],
      [[0xed, 0xa0, 0x80], "\ufffd\ufffd\ufffd"], // a surrogate
      [[0xc0, 0xaf], "\ufffd\ufffd"], // overlong
      [[0xf4, 0x90, 0x80, 0x80], "\ufffd\ufffd\ufffd\ufffd"], // beyond U+10FFFF
      [[0x61, 0xe2, 0x9c], "a\ufffd"], // cut sequence: one replacement, as Rust's from_utf8_lossy
      [[0xff, 0x61], "\ufffda"],
    ];
    for (const [bytes, want] of cases) {
      h.put(Uint8Array.from(bytes));
      expect(call("lossy")).toBe(1);
      const got = output();
      expect(got).toBe(want);
      // What the agent does with a string: Rust's strict decoding (TextDecoder fatal mode).
      expect(() => new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(got))).not.toThrow();
    }
  });
});
