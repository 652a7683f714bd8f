// Building and writing records: nested-message lengths, string fields of every length
// class, records reused through RecordPool, and TraceKeys' byte lookup.
import { beforeAll, describe, expect, it } from "vitest";
import { decodeRecords } from "../../sdk/result.ts";
import { loadHarness, type Harness } from "../support/as-harness.ts";
import { xorshift32 } from "../support/capture.ts";

let h: Harness;
const call = (name: string, ...args: number[]) => (h.exports[name] as (...a: number[]) => number)(...args);
const output = () => h.read(call("outPtr"), call("outLen"));

/** A varint at `at`: [value, bytes]. */
function varint(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  for (let i = 0, mul = 1; ; i++, mul *= 128) {
    v += (b[at + i] & 0x7f) * mul;
    if ((b[at + i] & 0x80) === 0) return [v, i + 1];
  }
}

beforeAll(() => {
  h = loadHarness("tests/as/records.ts");
}, 120_000);

describe("ByteWriter", () => {
  it("gives a nested message the length its body has, across varint sizes", () => {
    for (const size of [0, 1, 127, 128, 300, 16383, 16384, 70000]) {
      call("nested", size);
      const b = output();
      expect(b[0]).toBe((5 << 3) | 2);
      const [len, n] = varint(b, 1);
      expect(len, `size ${size}`).toBe(size);
      expect(b.length).toBe(1 + n + size);
      expect(b.subarray(1 + n).every((x) => x === 0x61)).toBe(true);
    }
  });

  it("writes string fields of every length class as UTF-8 with their byte length", () => {
    const pieces = ["a", "é", "✓", "𝄞", "\ud800"];
    for (let kind = 0; kind < pieces.length; kind++) {
      for (const units of [0, 1, 41, 42, 43, 44, 100, 5000]) {
        call("textField", kind, units);
        const b = output();
        const [len, n] = varint(b, 1);
        let s = "";
        for (let u = 0; u < units; u += pieces[kind].length) s += pieces[kind];
        // Node's encoder also turns a lone surrogate into U+FFFD.
        const want = Buffer.from(s);
        expect(b[0]).toBe((1 << 3) | 2);
        expect(len, `kind ${kind} units ${units}`).toBe(want.length);
        expect(Buffer.from(b.subarray(1 + n)).equals(want), `kind ${kind} units ${units}`).toBe(true);
      }
    }
  });
});

describe("RecordPool", () => {
  it("gives reused records in a new record's state, and keeps pushed pairs intact", () => {
    expect(call("poolRound", 0)).toBe(3);
    const big = decodeRecords(output(), 0);
    expect(big.map((r) => r.request_id)).toEqual([0, 1, 2]);
    expect(big[2].attributes).toHaveLength(21);
    expect(big[2].attributes[20]).toEqual({ key: "foreign", val: "kept" });
    expect(big[1].trace.trace_ids).toEqual(["T", "U"]);

    expect(call("poolRound", 1)).toBe(2);
    const bytes = output();
    const [a, b] = decodeRecords(bytes, 1);
    // Only what round 1 set: nothing left over from round 0.
    expect(a.request_id).toBe(7);
    expect(a.req_len).toBeNull();
    expect(a.resp.code).toBe(5);
    expect(a.attributes).toEqual([{ key: "one", val: "1" }]);
    expect(a.proto_str).toBe("");
    expect(a.need_protocol_merge).toBe(false);
    expect(a.biz_code).toBeNull();
    expect(a.trace.span_id).toBeNull();
    expect(b.request_id).toBeNull();
    expect(b.attributes).toEqual([]);
    expect(b.trace.span_id).toBe("only");
    expect(b.trace.trace_ids).toEqual([]);
    expect(call("foreignIntact")).toBe(1);
    // The two records are all there is: 2 + "PB" + fields each.
    expect(bytes.length).toBeLessThan(40);
  });
});

describe("TraceKeys.findBytes", () => {
  const lookup = (key: string) => {
    h.put(Buffer.from(key));
    call("lookup");
    return Buffer.from(output()).toString();
  };

  it("finds what find finds, case-insensitively, the earliest rule first", () => {
    for (const key of ["sw8", "SW8", "traceparent", "TraceParent", "Pinpoint-TraceID", "pinpoint-traceid", "_DUBBO_TRASACTION_ID",
      "X-Request-ID", "requestid", "EntryID", "clé", "CLé", "x-tag@home[1]",
      "a-key-longer-than-forty-eight-bytes-for-the-last-length-slot",
      "A-KEY-LONGER-THAN-FORTY-EIGHT-BYTES-FOR-THE-LAST-LENGTH-SLOT-TOO"]) {
      const [bytes, text] = lookup(key).split(",").map(Number);
      expect(bytes, key).toBeGreaterThanOrEqual(0);
      expect(bytes, key).toBe(text);
    }
  });

  it("finds nothing for other keys", () => {
    // "`" and "{" are "@" and "[" with the lower-case bit: only letters fold.
    for (const key of ["sw9", "traceparenT-", "Pinpoint-TraceI", "a-key-longer-than-forty-eight-bytes-for-the-last-length-slot-to", "clè",
      "x-tag`home{1}", "X-TAG@HOME[1\x7f"]) {
      expect(lookup(key), key).toBe("-1,-1");
    }
  });

  it("rebuilds its index when the keys change", () => {
    h.put(Buffer.from("X-TWO"));
    expect(call("lookupAfterChange")).toBe(10);
  });
});

describe("TraceCollector: values offered as bytes", () => {
  const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");
  const sw8 = (trace: string | Buffer, seg: string) => `1-${b64(trace)}-${b64(seg)}-3-c2Vydg==-aW5z-L2E=-MTI3LjAuMC4xOjgw`;
  const CASES: [string, Buffer, number][] = [
    ["Pinpoint keys", Buffer.from("Pinpoint-TraceID=app^1^5\nPinpoint-SpanID=11\nPinpoint-pSpanID=-1\nRequestID=req-9\nEntryID=e\nPinpoint-Flags=0"), 9],
    ["sw8 and traceparent", Buffer.from(`sw8=${sw8("tid.1", "seg.2")}\ntraceparent=00-4bf92f35-00f067aa-01\nPinpoint-TraceID=a^1^2`), 9],
    ["sw8 with ids not base64 / not UTF-8, short forms",
      Buffer.from(`sw8=1-no*base64-x-3-a-b\nsw8=${sw8(Buffer.from([0xff, 0xfe]), "s")}\nsw8=1-abc\ntraceparent=00\ntraceparent=00-t2`), 9],
    ["a batch: later lines only add trace ids", Buffer.from(
      "Pinpoint-TraceID=t1\nRequestID=r1\ntraceparent=00-t2-s-01\nPinpoint-TraceID=t1\nPinpoint-TraceID=t3\ntraceparent=00-t2-s-01\nPinpoint-TraceID=t4\nPinpoint-TraceID=t5"), 2],
    ["invalid UTF-8 values", Buffer.concat([Buffer.from("Pinpoint-TraceID="), Buffer.from([0x61, 0xed, 0xa0, 0x80]),
      Buffer.from("\nPinpoint-SpanID="), Buffer.from([0xc0, 0xaf]), Buffer.from("\nEntryID="), Buffer.from([0xf0, 0x9f, 0x98]),
      Buffer.from("\nPinpoint-TraceID="), Buffer.from([0x61, 0xed, 0xa0, 0x81])]), 9],
    ["empty values", Buffer.from("Pinpoint-TraceID=\nPinpoint-SpanID=\nPinpoint-pSpanID=\nRequestID=\nEntryID="), 9],
  ];

  for (const [label, input, plain] of CASES) {
    it(`gives the record text offers give: ${label}`, () => {
      h.put(input);
      call("collectRecord", 1, plain);
      const viaBytes = decodeRecords(output(), 0)[0];
      h.put(input);
      call("collectRecord", 0, plain);
      const viaText = decodeRecords(output(), 0)[0];
      expect(viaBytes).toEqual(viaText);
      expect(viaBytes.attributes.length + viaBytes.trace.trace_ids.length).toBeGreaterThan(0);
    });
  }

  it("ranks Pinpoint's Dubbo attachment keys right after the header names they stand for", () => {
    const rules = (dubbo: number) => {
      call("keyOrder", dubbo);
      return new TextDecoder().decode(output()).split("\n");
    };
    const common = rules(0);
    expect(common.some((r) => r.startsWith("_DUBBO_"))).toBe(false);
    const all = rules(1);
    expect(all.filter((r) => !r.startsWith("_DUBBO_"))).toEqual(common);
    const pairs: [string, string][] = [["Pinpoint-TraceID", "_DUBBO_TRASACTION_ID"], ["Pinpoint-SpanID", "_DUBBO_SPAN_ID"],
      ["Pinpoint-pSpanID", "_DUBBO_PARENT_SPAN_ID"], ["Pinpoint-Flags", "_DUBBO_FLAGS"], ["Pinpoint-pAppName", "_DUBBO_PARENT_APPLICATION_NAME"],
      ["Pinpoint-pAppType", "_DUBBO_PARENT_APPLICATION_TYPE"], ["Pinpoint-Host", "_DUBBO_HOST"]];
    for (const [header, attachment] of pairs) {
      const at = all.findIndex((r) => r.startsWith(`${header}:`));
      const [, role, attr] = all[at].split(":");
      expect(all[at + 1]).toBe(`${attachment}:${role}:${attr}`);
    }
    expect(all).toHaveLength(common.length + pairs.length);
  });

  describe("ids in their fields only", () => {
    const collect = (lines: string, asAttributes = false) => {
      h.put(Buffer.from(lines));
      call("collectFieldsOnly", asAttributes ? 1 : 0);
      const r = decodeRecords(output(), 0)[0];
      return { trace: r.trace, attrs: r.attributes.map((a) => `${a.key}=${a.val}`) };
    };

    it("does not repeat a value that landed in its field", () => {
      const r = collect("Pinpoint-TraceID=t1\nPinpoint-SpanID=s1\nPinpoint-pSpanID=p1\nRequestID=r1\nEntryID=e1\nPinpoint-TraceID=t2");
      expect(r.trace).toMatchObject({ trace_ids: ["t1", "t2"], span_id: "s1", parent_span_id: "p1", x_request_id_0: "r1" });
      expect(r.attrs).toEqual(["EntryID=e1"]);
    });

    it("keeps as attributes the values that lost their field, whichever came first", () => {
      // Pinpoint-SpanID ranks before _DUBBO_SPAN_ID; X-Request-ID before RequestID.
      for (const lines of ["Pinpoint-SpanID=a\n_DUBBO_SPAN_ID=b\nX-Request-ID=x\nRequestID=y", "_DUBBO_SPAN_ID=b\nPinpoint-SpanID=a\nRequestID=y\nX-Request-ID=x"]) {
        const r = collect(lines);
        expect(r.trace).toMatchObject({ span_id: "a", x_request_id_0: "x" });
        expect(r.attrs.sort()).toEqual(["Pinpoint-SpanID=b", "RequestID=y"]);
      }
      expect(collect("_DUBBO_SPAN_ID=a\nPinpoint-SpanID=a").attrs).toEqual([]);
    });

    it("keeps an sw8 value whole, once, when another key takes its span", () => {
      const value = "1-dGlk-c2Vn-3-a-b-c-d";
      const r = collect(`sw8=${value}\nPinpoint-SpanID=s1`);
      expect(r.trace).toMatchObject({ trace_ids: ["tid"], span_id: "s1" });
      expect(r.attrs).toEqual([`sw8=${value}`]);
    });

    it("adds the field values as attributes too when asked (for the custom-message hook)", () => {
      const r = collect("Pinpoint-TraceID=t1\nPinpoint-SpanID=s1\nPinpoint-pSpanID=p1\nRequestID=r1", true);
      expect(r.attrs.sort()).toEqual(["Pinpoint-SpanID=s1", "Pinpoint-TraceID=t1", "Pinpoint-pSpanID=p1", "RequestID=r1"]);
    });
  });

  it("lists every distinct trace id of a large batch once, in order, up to its bound", () => {
    // Ids of 40 bytes (no "-", which would end a traceparent's) that differ only at byte 12 (outside the bytes the hash samples),
    // ids that differ in length only, and repeats of both, shuffled.
    const next = xorshift32(3);
    const rnd = (n: number) => next() % n;
    const near = Array.from({ length: 90 }, (_, i) => `trace_${"0".repeat(6)}${String.fromCharCode(46 + i)}${"x".repeat(27)}`);
    const lengths = Array.from({ length: 20 }, (_, i) => "t".repeat(i + 1));
    const offered: string[] = [];
    for (let k = 0; k < 400; k++) offered.push(rnd(2) ? near[rnd(near.length)] : lengths[rnd(lengths.length)]);
    const distinct = [...new Set(offered)];
    const keys = ["Pinpoint-TraceID", "traceparent"];
    const lines = offered.map((id, k) => (k % 3 === 0 ? `${keys[1]}=00-${id}-s-01` : `${keys[0]}=${id}`)).join("\n");
    for (const limit of [1000, 50]) {
      h.put(Buffer.from(lines));
      call("collectTraceIds", limit);
      const r = decodeRecords(output(), 0)[0];
      const kept = distinct.slice(0, limit);
      expect(r.trace.trace_ids).toEqual(kept);
      const attr = (key: string) => r.attributes.find((a) => a.key === key)?.val;
      expect(attr("listed")).toBe(kept.join("\n"));
      // Every offer of an id past the bound is counted (an id offered twice, twice).
      expect(attr("dropped")).toBe(String(offered.filter((id) => !kept.includes(id)).length));
    }
    expect(distinct.length).toBeGreaterThan(50); // the bound was reached
  });

  it("keeps the first record's stand and adds only new trace ids in a batch", () => {
    h.put(CASES[3][1]);
    call("collectRecord", 1, 2);
    const r = decodeRecords(output(), 0)[0];
    expect(r.trace.trace_ids).toEqual(["t1", "t2", "t3"]);
    expect(r.trace.x_request_id_0).toBe("r1");
    // The record's own attributes come before those the collector fills in.
    expect(r.attributes).toEqual([{ key: "dropped", val: "2" }, { key: "Pinpoint-TraceID", val: "t1" }, { key: "RequestID", val: "r1" }]);
  });

  it("writes byte attribute values made valid, and reads them back as text", () => {
    const invalid = [0x61, 0xff, 0xe2, 0x9c, 0x62, 0xed, 0xa0, 0x80];
    // Short and long values: the pair is written in one go below 128 bytes.
    for (const bytes of [Buffer.from(invalid), Buffer.alloc(0), Buffer.alloc(118, 0x61), Buffer.alloc(123, 0x61), Buffer.alloc(300, 0x62),
      Buffer.concat([Buffer.alloc(100, 0x61), Buffer.from(invalid)])]) {
      h.put(bytes);
      expect(call("bytesAttribute"), `${bytes.length} bytes`).toBe(1);
      h.put(bytes);
      call("bytesAttribute");
      const [first] = decodeRecords(output().subarray(0, output().length / 2), 0);
      expect(first.attributes).toEqual([{ key: "k", val: new TextDecoder().decode(bytes) }]);
    }
  });
});
