import { PbReader } from "../codec/protobuf";
import { ByteReader } from "../codec/reader";
import { ByteWriter, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT } from "../codec/writer";
import { hex, toHex } from "./support";

// Vectors follow the protobuf encoding guide (protobuf.dev/programming-guides/encoding).

function repeat(byte: u8, n: i32): Uint8Array {
  const out = new Uint8Array(n);
  out.fill(byte);
  return out;
}

describe("PbReader", () => {
  it("reads the guide's examples: varint 150, a string, a nested message", () => {
    // field 1 = 150, field 2 = "testing", field 3 = { field 1 = 150 }
    const r = new PbReader(hex("08 9601 12 07 74657374696e67 1a 03 089601"));
    expect<bool>(r.next()).toBe(true);
    expect<u32>(r.field).toBe(1);
    expect<u32>(r.wire).toBe(WIRE_VARINT);
    expect<u64>(r.varint()).toBe(150);
    expect<bool>(r.next()).toBe(true);
    expect<u32>(r.field).toBe(2);
    expect<u32>(r.wire).toBe(WIRE_LEN);
    expect<string>(r.string()).toBe("testing");
    expect<bool>(r.next()).toBe(true);
    expect<u32>(r.field).toBe(3);
    const m = r.message();
    expect<bool>(m.next()).toBe(true);
    expect<u32>(m.field).toBe(1);
    expect<i32>(m.int32()).toBe(150);
    expect<bool>(m.next()).toBe(false);
    expect<bool>(m.bad).toBe(false);
    expect<bool>(r.next()).toBe(false);
    expect<bool>(r.bad).toBe(false);
  });

  it("decodes zigzag sint32/sint64 and ten-byte negative int32/int64", () => {
    // zigzag: 0->0, -1->1, 1->2, -2->3, 2147483647->4294967294, -2147483648->4294967295
    const r = new PbReader(hex("08 00 08 01 08 02 08 03 08 feffffff0f 08 ffffffff0f"));
    const want: i32[] = [0, -1, 1, -2, 2147483647, -2147483648];
    for (let i = 0; i < want.length; i++) {
      expect<bool>(r.next()).toBe(true);
      expect<i32>(r.sint32()).toBe(want[i]);
    }
    // sint64: 2^64-1 -> i64.MIN, 2^64-2 -> i64.MAX
    const r64 = new PbReader(hex("08 ffffffffffffffffff01 08 feffffffffffffffff01"));
    expect<bool>(r64.next()).toBe(true);
    expect<i64>(r64.sint64()).toBe(i64.MIN_VALUE);
    expect<bool>(r64.next()).toBe(true);
    expect<i64>(r64.sint64()).toBe(i64.MAX_VALUE);
    // int32 -1 is sign-extended to ten bytes on the wire
    const neg = new PbReader(hex("08 ffffffffffffffffff01 10 ffffffffffffffffff01"));
    expect<bool>(neg.next()).toBe(true);
    expect<i32>(neg.int32()).toBe(-1);
    expect<bool>(neg.next()).toBe(true);
    expect<i64>(neg.int64()).toBe(-1);
    expect<bool>(neg.bad).toBe(false);
  });

  it("reads fixed32, fixed64, double and bool little-endian", () => {
    // 1: fixed32 0x01020304, 2: fixed64 -1, 3: double 1.5 (0x3FF8000000000000), 4: bool true
    const r = new PbReader(hex("0d 04030201 11 ffffffffffffffff 19 000000000000f83f 20 01"));
    expect<bool>(r.next()).toBe(true);
    expect<u32>(r.wire).toBe(WIRE_I32);
    expect<u32>(r.fixed32()).toBe(0x01020304);
    expect<bool>(r.next()).toBe(true);
    expect<u32>(r.wire).toBe(WIRE_I64);
    expect<i64>(<i64>r.fixed64()).toBe(-1);
    expect<bool>(r.next()).toBe(true);
    expect<f64>(r.double()).toBe(1.5);
    expect<bool>(r.next()).toBe(true);
    expect<bool>(r.bool()).toBe(true);
    expect<bool>(r.next()).toBe(false);
    expect<bool>(r.bad).toBe(false);
  });

  it("skips unknown fields of every wire type and a mismatched read", () => {
    // 1 varint, 2 fixed64, 3 bytes, 4 fixed32, then 5 = "ok"
    const r = new PbReader(hex("08 ac02 11 0102030405060708 1a 03 616263 25 01020304 2a 02 6f6b"));
    let found = "";
    while (r.next()) {
      if (r.field == 5) found = r.string();
      // string() on a varint field skips it and yields nothing
      else if (r.field == 1) expect<string>(r.string()).toBe("");
      else r.skip();
    }
    expect<string>(found).toBe("ok");
    expect<bool>(r.bad).toBe(false);
  });

  it("reads a packed repeated field and the largest field number", () => {
    // guide: repeated int32 f = 6 [packed] {3, 270, 86942} -> 32 06 03 8e02 9ea705
    const r = new PbReader(hex("32 06 03 8e02 9ea705 f8ffffff0f 07"));
    expect<bool>(r.next()).toBe(true);
    expect<u32>(r.field).toBe(6);
    const packed = new ByteReader(r.bytes());
    expect<u32>(packed.uvarint32()).toBe(3);
    expect<u32>(packed.uvarint32()).toBe(270);
    expect<u32>(packed.uvarint32()).toBe(86942);
    expect<i32>(packed.remaining).toBe(0);
    // 2^29 - 1 is the largest field number
    expect<bool>(r.next()).toBe(true);
    expect<u32>(r.field).toBe(536870911);
    expect<u64>(r.varint()).toBe(7);
  });

  it("reads a window of a buffer and from a ByteReader's position", () => {
    const data = hex("ff ff 08 2a ff");
    const r = new PbReader(data, 2, 4);
    expect<bool>(r.next()).toBe(true);
    expect<u64>(r.varint()).toBe(42);
    expect<bool>(r.next()).toBe(false);
    expect<bool>(r.bad).toBe(false);
    const br = new ByteReader(data);
    br.skip(2);
    const o = PbReader.over(br);
    expect<bool>(o.next()).toBe(true);
    expect<u32>(o.field).toBe(1);
  });

  it("replaces invalid UTF-8 in a string field with U+FFFD", () => {
    const r = new PbReader(hex("0a 04 61 c328 62"));
    expect<bool>(r.next()).toBe(true);
    expect<string>(r.string()).toBe("a\uFFFD(b");
  });

  it("marks group and undefined wire types and field 0 bad", () => {
    const cases = ["0b", "0c", "0e", "0f", "00 00", "80808080 10"];
    for (let i = 0; i < cases.length; i++) {
      const r = new PbReader(hex(cases[i]));
      expect<bool>(r.next()).toBe(false);
      expect<bool>(r.bad).toBe(true);
    }
  });

  it("reports cut or oversized input as bad instead of trapping", () => {
    // cut key, cut varint, 11-byte varint, a 10th byte with bits past 64, cut fixed32, cut fixed64
    const values = ["80", "08 96", "08 ffffffffffffffffffff01", "08 ffffffffffffffffff7f", "0d 0102", "09 01020304"];
    for (let i = 0; i < values.length; i++) {
      const r = new PbReader(hex(values[i]));
      if (r.next()) {
        if (r.wire == WIRE_VARINT) r.varint();
        else if (r.wire == WIRE_I32) r.fixed32();
        else r.fixed64();
      }
      expect<bool>(r.bad).toBe(true);
      expect<bool>(r.next()).toBe(false);
    }
    // length past the end, a length of 2^31, and lengths past 32 bits (2^32, 2^32 + 5)
    // that must not read as 0 or 5
    const lens = ["12 07 7465", "12 8080808008 00", "12 8080808010 082a", "12 8580808010 0102030405"];
    for (let i = 0; i < lens.length; i++) {
      const r = new PbReader(hex(lens[i]));
      expect<bool>(r.next()).toBe(true);
      expect<string>(r.string()).toBe("");
      expect<bool>(r.bad).toBe(true);
      const b = new PbReader(hex(lens[i]));
      b.next();
      expect<i32>(b.bytes().length).toBe(0);
      expect<bool>(b.bad).toBe(true);
    }
    // a cut nested message gives an empty reader
    const m = new PbReader(hex("1a 05 0896"));
    expect<bool>(m.next()).toBe(true);
    const inner = m.message();
    expect<bool>(m.bad).toBe(true);
    expect<bool>(inner.next()).toBe(false);
  });

  it("stops skipping at a cut unknown field", () => {
    const r = new PbReader(hex("08 01 1a 09 6162"));
    expect<bool>(r.next()).toBe(true);
    r.skip();
    expect<bool>(r.bad).toBe(false);
    expect<bool>(r.next()).toBe(true);
    r.skip();
    expect<bool>(r.bad).toBe(true);
    expect<bool>(r.next()).toBe(false);
  });
});

describe("ByteWriter protobuf encoding", () => {
  it("writes varints and tags as the guide shows", () => {
    const w = new ByteWriter(16);
    w.varint(1);
    w.varint(150);
    w.varint(300);
    w.varint(u64.MAX_VALUE);
    expect<string>(toHex(w.view())).toBe("01" + "9601" + "ac02" + "ffffffffffffffffff01");
    w.reset();
    w.tag(1, WIRE_VARINT);
    w.tag(15, WIRE_LEN);
    w.tag(16, WIRE_VARINT);
    w.tag(536870911, WIRE_I32);
    expect<string>(toHex(w.view())).toBe("08" + "7a" + "8001" + "fdffffff0f");
  });

  it("writes scalar fields", () => {
    const w = new ByteWriter();
    w.fieldUint32(1, 150);
    w.fieldInt32(2, -1); // sign-extended: ten bytes
    w.fieldUint64(3, 0x100000000);
    w.fieldBool(4, true);
    w.fieldBool(5, false);
    expect<string>(toHex(w.view())).toBe("089601" + "10ffffffffffffffffff01" + "188080808010" + "2001" + "2800");
  });

  it("writes strings as UTF-8 with a varint length, lone surrogates as U+FFFD", () => {
    const w = new ByteWriter();
    w.fieldString(2, "testing");
    expect<string>(toHex(w.view())).toBe("120774657374696e67");
    w.reset();
    w.fieldString(1, "\u00e9\uD83D\uDE00");
    expect<string>(toHex(w.view())).toBe("0a06c3a9f09f9880");
    w.reset();
    w.fieldString(1, "a" + String.fromCharCode(0xd800) + "b");
    expect<string>(toHex(w.view())).toBe("0a0561efbfbd62");
    w.reset();
    w.fieldString(20, "");
    expect<string>(toHex(w.view())).toBe("a20100");
  });

  it("writes long strings with a multi-byte length", () => {
    const w = new ByteWriter(16);
    // 100 x U+00E9 = 200 bytes: length c8 01
    w.fieldString(1, "\u00e9".repeat(100));
    const v = w.view();
    expect<i32>(v.length).toBe(203);
    expect<string>(toHex(v.subarray(0, 5))).toBe("0ac801c3a9");
    // 50 ASCII + a lone surrogate: 53 bytes, the surrogate counted as its replacement
    w.reset();
    w.fieldString(1, "a".repeat(50) + String.fromCharCode(0xdc00));
    const u = w.view();
    expect<i32>(u.length).toBe(55);
    expect<string>(toHex(u.subarray(0, 3))).toBe("0a3561");
    expect<string>(toHex(u.subarray(52))).toBe("efbfbd");
  });

  it("writes bytes fields short and long", () => {
    const w = new ByteWriter(16);
    w.fieldBytes(3, hex("010203"));
    w.fieldBytes(16, hex("ff"));
    expect<string>(toHex(w.view())).toBe("1a03010203" + "8201" + "01ff");
    w.reset();
    w.fieldBytes(1, repeat(0x61, 128));
    const v = w.view();
    expect<i32>(v.length).toBe(131);
    expect<string>(toHex(v.subarray(0, 4))).toBe("0a800161");
  });

  it("writes nested messages, moving the body when its length needs two bytes", () => {
    const w = new ByteWriter(16);
    const at = w.beginMessage(3);
    w.fieldUint32(1, 150);
    w.endMessage(at);
    expect<string>(toHex(w.view())).toBe("1a03089601");
    // body: 12 c8 01 + 200 bytes = 203 -> length cb 01
    w.reset();
    w.u8(0x99);
    const big = w.beginMessage(1);
    w.fieldBytes(2, repeat(0x62, 200));
    w.endMessage(big);
    const v = w.view();
    expect<i32>(v.length).toBe(1 + 3 + 203);
    expect<string>(toHex(v.subarray(0, 7))).toBe("990acb0112c801");
    expect<u8>(v[v.length - 1]).toBe(0x62);
    const r = new PbReader(v, 1);
    expect<bool>(r.next()).toBe(true);
    const m = r.message();
    expect<bool>(m.next()).toBe(true);
    expect<i32>(m.bytes().length).toBe(200);
    expect<bool>(r.bad || m.bad).toBe(false);
  });

  it("writes a key/value pair message both ways", () => {
    const w = new ByteWriter();
    const val = hex("76");
    w.fieldPair(5, "k", val.dataStart, val.length);
    expect<string>(toHex(w.view())).toBe("2a060a016b120176");
    // inner: 0a 01 6b 12 82 01 + 130 bytes = 136 -> 88 01
    w.reset();
    const long = repeat(0x76, 130);
    w.fieldPair(5, "k", long.dataStart, long.length);
    const v = w.view();
    expect<i32>(v.length).toBe(3 + 136);
    expect<string>(toHex(v.subarray(0, 10))).toBe("2a88010a016b12820176");
  });
});
