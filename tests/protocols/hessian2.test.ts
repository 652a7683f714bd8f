// The codec library's Hessian2 decoder (protocols/hessian2.ts) against bytes written by an
// independent encoder, hessian.js (v2), through the harness tests/as/hessian2.ts.
import { beforeAll, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { loadHarness, type Harness } from "../support/as-harness.ts";

const require = createRequire(import.meta.url);
// hessian.js ships without types.
const hessian = require("hessian.js") as {
  EncoderV2: new () => { write(v: unknown): void; get(): Buffer };
  DecoderV2: new (b: Buffer) => { read(withType?: boolean): unknown; position(): number };
};

let h: Harness;
const call = (name: string, ...args: number[]) => (h.exports[name] as (...a: number[]) => number)(...args);
const output = () => Buffer.from(h.read(call("outPtr"), call("outLen"))).toString();

const TRUNCATED = 1;
const BAD = 2;

function encode(...values: unknown[]): Buffer {
  const e = new hessian.EncoderV2();
  for (const v of values) e.write(v);
  return e.get();
}

/** What the harness makes of the bytes: JSON text and status. */
function render(bytes: Uint8Array): { status: number; text: string } {
  h.put(bytes);
  const status = call("render");
  return { status, text: output() };
}

function skipAll(bytes: Uint8Array, maxDepth = 32): { status: number; count: number; end: number } {
  h.put(bytes);
  const status = call("skipAll", maxDepth);
  const [count, end] = output().split(",").map(Number);
  return { status, count, end };
}

/** hessian.js's own reading of the bytes, in the harness's JSON conventions. */
function normalize(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return { $date: v.getTime() };
  if (Buffer.isBuffer(v)) return { $bin: v.toString("hex") };
  if (Array.isArray(v)) return v.map(normalize);
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    if ("$class" in o && "$" in o) {
      const cls = String(o.$class);
      const inner = o.$;
      if (Array.isArray(inner)) return inner.map(normalize);
      if (inner === null || typeof inner !== "object" || inner instanceof Date || Buffer.isBuffer(inner)) return normalize(inner);
      const fields = Object.fromEntries(Object.entries(inner as object).map(([k, x]) => [k, normalize(x)]));
      if (cls === "java.util.HashMap" || cls === "java.util.Map") return fields;
      return { $class: cls, $: fields };
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, normalize(x)]));
  }
  return v;
}

function hessianJsReads(bytes: Buffer): unknown[] {
  const d = new hessian.DecoderV2(bytes);
  const out: unknown[] = [];
  while (d.position() < bytes.length) out.push(normalize(d.read(true)));
  return out;
}

/** Encodes with hessian.js, decodes with ours and with hessian.js, and compares. */
function roundTrip(...values: unknown[]): unknown[] {
  const bytes = encode(...values);
  const ours = render(bytes);
  expect(ours.status).toBe(0);
  const parsed = JSON.parse(ours.text) as unknown[];
  expect(parsed).toEqual(hessianJsReads(bytes));
  const skipped = skipAll(bytes);
  expect(skipped).toEqual({ status: 0, count: values.length, end: bytes.length });
  return parsed;
}

const long = (v: number | string) => ({ $class: "long", $: v });

beforeAll(() => {
  h = loadHarness("tests/as/hessian2.ts");
}, 120_000);

describe("Hessian2Reader scalars", () => {
  it("null and booleans", () => {
    expect(roundTrip(null, true, false)).toEqual([null, true, false]);
  });

  it("ints in every width", () => {
    const ints = [0, -16, 47, -17, 48, -2048, 2047, -2049, 2048, -262144, 262143, -262145, 262144, 2 ** 31 - 1, -(2 ** 31)];
    expect(roundTrip(...ints)).toEqual(ints);
    // Every width was really used.
    const tags = ints.map((i) => encode(i)[0]);
    expect(new Set(tags.map((t) => (t >= 0x80 && t <= 0xbf ? 1 : t >= 0xc0 && t <= 0xcf ? 2 : t >= 0xd0 && t <= 0xd7 ? 3 : t)))).toEqual(
      new Set([1, 2, 3, 0x49]),
    );
  });

  it("longs in every width", () => {
    const longs = [0, -8, 15, -9, 16, -2048, 2047, -262144, 262143, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 40)];
    expect(roundTrip(...longs.map(long))).toEqual(longs);
    const tags = new Set(longs.map((v) => encode(long(v))[0]));
    for (const t of [0xe0, 0x38 + 4, 0x59, 0x4c]) expect([...tags].some((x) => x === t || (t === 0x3c && x >= 0x38 && x <= 0x3f))).toBe(true);
  });

  it("64-bit longs beyond double precision", () => {
    const r = render(encode(long("9223372036854775807"), long("-9223372036854775808")));
    expect(r).toEqual({ status: 0, text: "[9223372036854775807,-9223372036854775808]" });
  });

  it("doubles in every width", () => {
    const doubles = [0, 1, -128, 127, -32768, 32767, 1.5, 0.001, -2.25, 3.141592653589793, 1e100, -1e-7];
    expect(roundTrip(...doubles.map((v) => ({ $class: "double", $: v })))).toEqual(doubles);
  });

  it("dates in millisecond and minute form", () => {
    const dates = [new Date(1699999980000), new Date(1700000000123), new Date(0), new Date(-86400000)];
    expect(encode(dates[0])[0]).toBe(0x4b);
    expect(encode(dates[1])[0]).toBe(0x4a);
    expect(roundTrip(...dates)).toEqual(dates.map((d) => ({ $date: d.getTime() })));
  });
});

describe("Hessian2Reader strings", () => {
  it("every length form, chunks, non-ASCII and surrogate pairs", () => {
    const strings = [
      "", "a", "x".repeat(31), "x".repeat(32), "y".repeat(1023), "y".repeat(1024), "héllo wörld", "中文字符串",
      "a😀b", "😀".repeat(20), "z".repeat(0x8000 + 5),
      // A surrogate pair right at hessian.js's 0x8000-unit chunk boundary.
      "q".repeat(0x7fff) + "😀" + "tail",
      "€".repeat(40000),
    ];
    const parsed = roundTrip(...strings);
    expect(parsed).toEqual(strings);
    // The long ones really were chunked ('R').
    expect(encode(strings[10])[0]).toBe(0x52);
  });

  it("standard UTF-8 for supplementary characters (4-byte form, two units)", () => {
    expect(render(Uint8Array.from([0x02, 0xf0, 0x9f, 0x98, 0x80]))).toEqual({ status: 0, text: '["😀"]' });
  });

  it("a chunk that is not followed by a string is not Hessian2", () => {
    // 'R' len 1 "a" then an int.
    expect(render(Uint8Array.from([0x52, 0x00, 0x01, 0x61, 0x91])).status).toBe(BAD);
    // 'R' at the end of input: cut, not bad.
    expect(render(Uint8Array.from([0x52, 0x00, 0x01, 0x61])).status).toBe(TRUNCATED);
  });

  it("ASCII strings are found in place; others are declined untouched", () => {
    const bytes = encode("path", "x".repeat(40), "y".repeat(2000), "é", 7, "a😀", "z".repeat(0x8000 + 1));
    h.put(bytes);
    expect(call("asciiSpans")).toBe(0);
    // 1-byte tag, 2-byte tag (0x30..0x33), 'S' with 2 length bytes; non-ASCII, non-string and chunked strings declined.
    expect(output()).toBe(`1+4,7+40,50+2000,-,-,-,-`);
    // Cut: declined, so the caller's own reading reports it.
    h.put(bytes.subarray(0, 30));
    expect(call("asciiSpans")).toBe(TRUNCATED);
  });

  it("invalid UTF-8 lead bytes are not Hessian2", () => {
    expect(render(Uint8Array.from([0x01, 0xff])).status).toBe(BAD);
  });
});

describe("Hessian2Reader binary", () => {
  it("every length form and chunks", () => {
    const blobs = [0, 1, 15, 16, 1023, 1024, 4093, 10000].map((n) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) & 0xff)));
    expect(roundTrip(...blobs)).toEqual(blobs.map((b) => ({ $bin: b.toString("hex") })));
    expect(encode(blobs[7])[0]).toBe(0x41);
  });
});

describe("Hessian2Reader lists, maps, objects", () => {
  it("untyped and typed fixed lists, short and long", () => {
    const values = [
      [], [1, 2, 3], Array.from({ length: 20 }, (_, i) => i),
      { $class: "[int", $: [1, 2, 3] },
      { $class: "[string", $: ["a", "b", "c", "d", "e", "f", "g", "h", "i"] },
      // A type name used again becomes a type reference.
      { $class: "[string", $: ["j"] },
      [[1, [2, [3, []]]], "x"],
    ];
    roundTrip(...values);
    expect(encode(values[3])[0]).toBe(0x73);
    expect(encode(values[4])[0]).toBe(0x56);
  });

  it("variable-length lists, typed and untyped (hand-built: hessian.js writes fixed ones)", () => {
    // 'U' type "[int" 1 2 'Z'  'W' "a" 'Z'
    const bytes = Uint8Array.from([0x55, 0x04, 0x5b, 0x69, 0x6e, 0x74, 0x91, 0x92, 0x5a, 0x57, 0x01, 0x61, 0x5a]);
    expect(render(bytes)).toEqual({ status: 0, text: '[[1,2],["a"]]' });
    expect(skipAll(bytes)).toEqual({ status: 0, count: 2, end: bytes.length });
  });

  it("untyped maps with string and non-string keys", () => {
    roundTrip({ a: 1, b: "x", c: { d: [true, null] } }, new Map<unknown, unknown>([[1, "a"], [2, "b"]]));
  });

  it("typed maps with a type reference (hand-built)", () => {
    // 'M' "T" "k" 1 'Z'   'M' typeref 0  "k" 2 'Z'
    const bytes = Uint8Array.from([0x4d, 0x01, 0x54, 0x01, 0x6b, 0x91, 0x5a, 0x4d, 0x90, 0x01, 0x6b, 0x92, 0x5a]);
    expect(render(bytes)).toEqual({ status: 0, text: '[{"k":1},{"k":2}]' });
    expect(skipAll(bytes)).toEqual({ status: 0, count: 2, end: bytes.length });
    // A type reference to a type never defined.
    expect(render(Uint8Array.from([0x4d, 0x91, 0x5a])).status).toBe(BAD);
  });

  it("objects with class definitions, reused classes and the long class-reference form", () => {
    const objs: unknown[] = [];
    for (let i = 0; i < 20; i++) objs.push({ $class: `com.example.C${i}`, $: { id: long(i), name: `n${i}`, tags: ["t"] } });
    // Every class again: instances refer to definitions 0..19 (>= 16 needs 'O' + int).
    for (let i = 0; i < 20; i++) objs.push({ $class: `com.example.C${i}`, $: { id: long(100 + i), name: "again", tags: [] } });
    objs.push({ $class: "com.example.Outer", $: { inner: { $class: "com.example.C3", $: { id: long(7), name: "in", tags: [] } } } });
    const bytes = encode(...objs);
    expect(bytes.includes(Buffer.from([0x4f, 0x90 + 16]))).toBe(true);
    roundTrip(...objs);
  });

  it("back-references: shared and circular values", () => {
    const shared = { $class: "com.x.S", $: { v: 1 } };
    expect(render(encode([shared, shared]))).toEqual({ status: 0, text: '[[{"$class":"com.x.S","$":{"v":1}},{"$ref":1}]]' });
    const node: { $class: string; $: { name: string; next: unknown } } = { $class: "com.x.Node", $: { name: "n", next: null } };
    node.$.next = node;
    const bytes = encode(node);
    expect(render(bytes)).toEqual({ status: 0, text: '[{"$class":"com.x.Node","$":{"name":"n","next":{"$ref":0}}}]' });
    expect(skipAll(bytes)).toEqual({ status: 0, count: 1, end: bytes.length });
  });

  it("an object of a class never defined is not Hessian2", () => {
    expect(render(Uint8Array.from([0x60])).status).toBe(BAD);
    expect(render(Uint8Array.from([0x4f, 0x95])).status).toBe(BAD);
  });
});

describe("Hessian2Reader on bad and cut input", () => {
  const sample = () =>
    encode(
      { $class: "com.example.Order", $: { id: long(2 ** 40), who: "ünïcødé 😀", when: new Date(1700000000123), items: [1, 2.5, "x"], blob: Buffer.alloc(40, 1) } },
      new Map<unknown, unknown>([["k", "v".repeat(2000)], ["n", null]]),
      "z".repeat(0x8000 + 3),
    );

  it("every prefix of valid input is reported cut, never bad, and never traps", () => {
    const bytes = sample();
    const full = skipAll(bytes);
    expect(full.status).toBe(0);
    let cut = 0;
    for (let n = 0; n < bytes.length; n += n < 400 ? 1 : 97) {
      const prefix = bytes.subarray(0, n);
      const r = skipAll(prefix);
      expect(r.status & BAD).toBe(0);
      expect(r.end).toBeLessThanOrEqual(n);
      if (r.status === TRUNCATED) cut++;
      expect(render(prefix).status & BAD).toBe(0);
    }
    expect(cut).toBeGreaterThan(300);
  });

  it("reserved tags and a stray end marker are bad", () => {
    for (const tag of [0x40, 0x45, 0x47, 0x50, 0x5a]) expect(skipAll(Uint8Array.from([tag])).status).toBe(BAD);
  });

  it("nesting deeper than the limit is bad, not a stack overflow", () => {
    const deep = new Uint8Array(100000).fill(0x79); // 0x79 = untyped list of one element, nested
    expect(skipAll(deep).status).toBe(BAD);
    expect(skipAll(deep, 8).status).toBe(BAD);
    // Within the limit it is fine.
    const ok = Uint8Array.from([...new Array(8).fill(0x79), 0x91]);
    expect(skipAll(ok, 8)).toEqual({ status: 0, count: 1, end: 9 });
    expect(skipAll(ok, 7).status).toBe(BAD);
  });

  it("more class definitions than the table holds is bad", () => {
    const parts: number[] = [];
    for (let i = 0; i < 300; i++) parts.push(0x43, 0x02, 0x43, 0x30 + (i % 10), 0x90);
    parts.push(0x4e);
    expect(skipAll(Uint8Array.from(parts)).status).toBe(BAD);
  });

  it("huge declared counts end at the input, quickly", () => {
    // 'X' with 2^31-1 elements, 'V' likewise, a map never closed, a string longer than the input.
    for (const bytes of [
      [0x58, 0x49, 0x7f, 0xff, 0xff, 0xff, 0x91, 0x91],
      [0x56, 0x01, 0x54, 0x49, 0x7f, 0xff, 0xff, 0xff, 0x91],
      [0x48, 0x91, 0x91, 0x91],
      [0x53, 0xff, 0xff, 0x61],
      [0x42, 0xff, 0xff, 0x61],
    ]) {
      expect(skipAll(Uint8Array.from(bytes)).status).toBe(TRUNCATED);
    }
  });

  it("random mutations of valid input never trap", () => {
    const bytes = sample();
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    const fuzz = h.exports.fuzzOne as () => number;
    for (let i = 0; i < 5000; i++) {
      const m = Buffer.from(bytes.subarray(0, 200 + (rand() % 600)));
      for (let k = 0; k < 1 + (rand() % 6); k++) m[rand() % m.length] = rand() & 0xff;
      h.put(m);
      const consumed = fuzz();
      expect(consumed).toBeLessThanOrEqual(m.length);
    }
  });
});
