// Hessian 2.0 serialization (http://hessian.caucho.com/doc/hessian-serialization.html):
// the byte sequences below are the spec's grammar and its worked examples.
import {
  Hessian2Reader, HK_BAD, HK_BINARY, HK_BOOL, HK_CLASS_DEF, HK_DATE, HK_DOUBLE, HK_EOF, HK_INT, HK_LIST, HK_LONG,
  HK_MAP, HK_NULL, HK_OBJECT, HK_REF, HK_STRING, LIST_NONE, LIST_VARIABLE, hessianKind,
} from "../hessian2";
import { bytes } from "../../assembly/__tests__/support";

/** Tag and value bytes followed by ASCII text (names, strings). */
function withText(head: i32[], text: string, tail: i32[] = []): i32[] {
  const out = head.slice(0);
  for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i));
  for (let i = 0; i < tail.length; i++) out.push(tail[i]);
  return out;
}

function reader(values: i32[]): Hessian2Reader {
  return new Hessian2Reader(bytes(values));
}

function longOf(values: i32[]): i64 {
  const r = reader(values);
  const v = r.readLong();
  // Only a value read whole and without error counts (else a value no test expects).
  return r.ok && r.remaining == 0 ? v : <i64>0x7eadbeef;
}

function doubleOf(values: i32[]): f64 {
  const r = reader(values);
  const v = r.readDouble();
  return r.ok && r.remaining == 0 ? v : -12345.0;
}

// The spec's car example: a class definition, then one object in each form.
function carObjects(): i32[] {
  let b = withText([0x43, 0x0b], "example.Car", [0x92, 0x05]);
  b = withText(b, "color", [0x05]);
  b = withText(b, "model", [0x4f, 0x90, 0x03]);
  b = withText(b, "red", [0x08]);
  b = withText(b, "corvette", [0x60, 0x05]);
  b = withText(b, "green", [0x05]);
  return withText(b, "civic");
}

describe("Hessian2Reader scalars", () => {
  it("decodes the compact int forms at their range edges", () => {
    expect<i64>(longOf([0x90])).toBe(0);
    expect<i64>(longOf([0x80])).toBe(-16);
    expect<i64>(longOf([0xbf])).toBe(47);
    expect<i64>(longOf([0xc8, 0x00])).toBe(0);
    expect<i64>(longOf([0xc0, 0x00])).toBe(-2048);
    expect<i64>(longOf([0xc7, 0x00])).toBe(-256);
    expect<i64>(longOf([0xcf, 0xff])).toBe(2047);
    expect<i64>(longOf([0xd4, 0x00, 0x00])).toBe(0);
    expect<i64>(longOf([0xd0, 0x00, 0x00])).toBe(-262144);
    expect<i64>(longOf([0xd7, 0xff, 0xff])).toBe(262143);
    expect<i64>(longOf([0x49, 0x00, 0x00, 0x01, 0x2c])).toBe(300);
    expect<i64>(longOf([0x49, 0x80, 0x00, 0x00, 0x00])).toBe(-2147483648);
    expect<i32>(hessianKind(0xd7)).toBe(HK_INT);
  });

  it("decodes the long forms, including 64-bit values beyond i32", () => {
    expect<i64>(longOf([0xe0])).toBe(0);
    expect<i64>(longOf([0xd8])).toBe(-8);
    expect<i64>(longOf([0xef])).toBe(15);
    expect<i64>(longOf([0xf8, 0x00])).toBe(0);
    expect<i64>(longOf([0xf0, 0x00])).toBe(-2048);
    expect<i64>(longOf([0xff, 0xff])).toBe(2047);
    expect<i64>(longOf([0x3c, 0x00, 0x00])).toBe(0);
    expect<i64>(longOf([0x38, 0x00, 0x00])).toBe(-262144);
    expect<i64>(longOf([0x3f, 0xff, 0xff])).toBe(262143);
    expect<i64>(longOf([0x59, 0x00, 0x00, 0x01, 0x2c])).toBe(300);
    expect<i64>(longOf([0x4c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x2c])).toBe(300);
    expect<i64>(longOf([0x4c, 0x80, 0, 0, 0, 0, 0, 0, 0])).toBe(i64.MIN_VALUE);
    expect<i64>(longOf([0x4c, 0x00, 0x20, 0, 0, 0, 0, 0, 1])).toBe(9007199254740993);
    expect<i32>(hessianKind(0xd8)).toBe(HK_LONG);
    expect<i32>(hessianKind(0x38)).toBe(HK_LONG);
  });

  it("decodes doubles, dates, null and booleans", () => {
    expect<i32>(hessianKind(0x5b)).toBe(HK_DOUBLE);
    expect<f64>(doubleOf([0x5b])).toBe(0.0);
    expect<f64>(doubleOf([0x5c])).toBe(1.0);
    expect<f64>(doubleOf([0x5d, 0x80])).toBe(-128.0);
    expect<f64>(doubleOf([0x5d, 0x7f])).toBe(127.0);
    expect<f64>(doubleOf([0x5e, 0x00, 0x80])).toBe(128.0);
    expect<f64>(doubleOf([0x5e, 0x80, 0x00])).toBe(-32768.0);
    expect<f64>(doubleOf([0x44, 0x40, 0x28, 0x80, 0, 0, 0, 0, 0])).toBe(12.25);

    // 09:51:31 May 8, 1998 UTC in milliseconds, and 09:51 in minutes.
    const d = reader([0x4a, 0x00, 0x00, 0x00, 0xd0, 0x4b, 0x92, 0x84, 0xb8, 0x4b, 0x00, 0xe3, 0x83, 0x8f]);
    expect<i32>(d.peekKind()).toBe(HK_DATE);
    expect<i64>(d.readDate()).toBe(894621091000);
    expect<i64>(d.readDate()).toBe(894621060000);
    expect<bool>(d.ok).toBe(true);

    const r = reader([0x4e, 0x54, 0x46]);
    expect<i32>(r.peekKind()).toBe(HK_NULL);
    expect<bool>(r.readNull()).toBe(true);
    expect<i32>(r.peekKind()).toBe(HK_BOOL);
    // Not null: nothing is consumed.
    expect<bool>(r.readNull()).toBe(false);
    expect<bool>(r.readBool()).toBe(true);
    expect<bool>(r.readBool()).toBe(false);
    expect<i32>(r.peekKind()).toBe(HK_EOF);
    expect<bool>(r.ok).toBe(true);
  });

  it("decodes strings in every length form, chunked and non-ASCII", () => {
    const r = reader(
      withText([0x00, 0x05], "hello", [0x01, 0xc3, 0x83, 0x53, 0x00, 0x02, 0x68, 0x69, 0x52, 0x00, 0x03])
        .concat(withText([], "abc", [0x02]))
        .concat(withText([], "de", [0x02, 0xe4, 0xb8, 0xad, 0x61, 0x4e])),
    );
    expect<i32>(r.peekKind()).toBe(HK_STRING);
    expect<string | null>(r.readString()).toBe("");
    expect<string | null>(r.readString()).toBe("hello");
    expect<string | null>(r.readString()).toBe("\u00c3");
    expect<string | null>(r.readString()).toBe("hi");
    expect<string | null>(r.readString()).toBe("abcde");
    // The length counts characters, not bytes.
    expect<string | null>(r.readString()).toBe("\u4e2da");
    expect<string | null>(r.readString()).toBeNull();
    expect<bool>(r.ok).toBe(true);
    expect<i32>(r.remaining).toBe(0);

    // x30-x33 carry lengths 32..1023 in a second byte.
    const long = new Array<i32>(0);
    long.push(0x31);
    long.push(0x04);
    for (let i = 0; i < 260; i++) long.push(0x61 + (i % 26));
    const lr = reader(long);
    const s = lr.readString();
    expect<i32>(s !== null ? s.length : -1).toBe(260);
    expect<string>(s !== null ? s.substring(0, 3) + s.substring(257) : "").toBe("abcxyz");
  });

  it("finds ASCII strings in place and declines others untouched", () => {
    const r = reader(withText([0x03], "key", [0x02, 0xc3, 0x83, 0x90]));
    expect<bool>(r.readAsciiSpan()).toBe(true);
    expect<i32>(r.spanStart).toBe(1);
    expect<i32>(r.spanLength).toBe(3);
    const at = r.pos;
    expect<bool>(r.readAsciiSpan()).toBe(false);
    expect<i32>(r.pos).toBe(at);
    expect<bool>(r.readUtf8Span()).toBe(false); // x02 announces two characters, the input has one and an int
    expect<i32>(r.pos).toBe(at);
    expect<bool>(r.ok).toBe(true);
  });

  it("decodes binary data, whole and chunked", () => {
    const r = reader([0x20, 0x23, 0x01, 0x02, 0x03, 0x42, 0x00, 0x02, 0xaa, 0xbb, 0x41, 0x00, 0x01, 0x09, 0x21, 0x0a, 0x34, 0x01, 0x07]);
    expect<i32>(r.peekKind()).toBe(HK_BINARY);
    const empty = r.readBinary();
    expect<i32>(empty !== null ? empty.length : -1).toBe(0);
    const three = r.readBinary()!;
    expect<i32>(three.length).toBe(3);
    expect<u8>(three[2]).toBe(3);
    const two = r.readBinary()!;
    expect<u8>(two[0]).toBe(0xaa);
    expect<u8>(two[1]).toBe(0xbb);
    const chunked = r.readBinary()!;
    expect<i32>(chunked.length).toBe(2);
    expect<u8>(chunked[0]).toBe(9);
    expect<u8>(chunked[1]).toBe(10);
    const one = r.readBinary()!;
    expect<i32>(one.length).toBe(1);
    expect<u8>(one[0]).toBe(7);
    expect<bool>(r.ok).toBe(true);
    expect<i32>(r.remaining).toBe(0);
  });
});

describe("Hessian2Reader containers", () => {
  it("reads typed, untyped, fixed and variable lists, and type references", () => {
    // V "[int" x92 x90 x91 ; x57 x90 x91 Z ; x72 "[int" x90 x91 ; x72 <type ref 0> x92 x93 ; x7a x90 x91
    const b = withText([0x56, 0x04], "[int", [0x92, 0x90, 0x91, 0x57, 0x90, 0x91, 0x5a, 0x72, 0x04])
      .concat(withText([], "[int", [0x90, 0x91, 0x72, 0x90, 0x92, 0x93, 0x7a, 0x94, 0x95]));
    const r = reader(b);
    expect<i32>(r.peekKind()).toBe(HK_LIST);
    expect<i32>(r.beginList()).toBe(2);
    expect<string>(r.lastType).toBe("[int");
    expect<i64>(r.readLong()).toBe(0);
    expect<i64>(r.readLong()).toBe(1);

    expect<i32>(r.beginList()).toBe(LIST_VARIABLE);
    expect<string>(r.lastType).toBe("");
    let n = 0;
    while (!r.endOfContainer()) {
      r.readLong();
      n++;
    }
    expect<i32>(n).toBe(2);

    expect<i32>(r.beginList()).toBe(2);
    expect<string>(r.lastType).toBe("[int");
    r.readLong();
    r.readLong();
    expect<i32>(r.beginList()).toBe(2);
    expect<string>(r.lastType).toBe("[int");
    expect<i64>(r.readLong()).toBe(2);
    expect<i64>(r.readLong()).toBe(3);

    expect<i32>(r.beginList()).toBe(2);
    expect<i64>(r.readLong()).toBe(4);
    expect<i64>(r.readLong()).toBe(5);
    expect<bool>(r.ok).toBe(true);
    expect<i32>(r.remaining).toBe(0);
  });

  it("reads maps: the spec's untyped H map and a typed M map", () => {
    const b = withText([0x48, 0x91, 0x03], "fee", [0xa0, 0x03])
      .concat(withText([], "fie", [0xc9, 0x00, 0x03]))
      .concat(withText([], "foe", [0x5a, 0x4d, 0x03]))
      .concat(withText([], "Car", [0x05]))
      .concat(withText([], "model", [0x06]))
      .concat(withText([], "Beetle", [0x5a]));
    const r = reader(b);
    expect<i32>(r.peekKind()).toBe(HK_MAP);
    expect<bool>(r.beginMap()).toBe(true);
    expect<i64>(r.readLong()).toBe(1);
    expect<string | null>(r.readString()).toBe("fee");
    expect<i64>(r.readLong()).toBe(16);
    expect<string | null>(r.readString()).toBe("fie");
    expect<i64>(r.readLong()).toBe(256);
    expect<string | null>(r.readString()).toBe("foe");
    expect<bool>(r.endOfContainer()).toBe(true);

    expect<bool>(r.beginMap()).toBe(true);
    expect<string>(r.lastType).toBe("Car");
    expect<bool>(r.endOfContainer()).toBe(false);
    expect<string | null>(r.readString()).toBe("model");
    expect<string | null>(r.readString()).toBe("Beetle");
    expect<bool>(r.endOfContainer()).toBe(true);
    expect<bool>(r.ok).toBe(true);
    expect<i32>(r.remaining).toBe(0);
  });

  it("reads class definitions and objects in both forms", () => {
    const r = reader(carObjects());
    expect<i32>(r.peekKind()).toBe(HK_CLASS_DEF);
    expect<i32>(r.beginObject()).toBe(0);
    expect<i32>(r.classes).toBe(1);
    expect<string>(r.className(0)).toBe("example.Car");
    expect<i32>(r.classFields(0)).toBe(2);
    expect<string>(r.classFieldName(0, 0)).toBe("color");
    expect<bool>(r.classFieldIs(0, 1, "model")).toBe(true);
    expect<bool>(r.classFieldIs(0, 1, "color")).toBe(false);
    expect<string | null>(r.readString()).toBe("red");
    expect<string | null>(r.readString()).toBe("corvette");
    expect<i32>(r.peekKind()).toBe(HK_OBJECT);
    expect<i32>(r.beginObject()).toBe(0);
    expect<string | null>(r.readString()).toBe("green");
    expect<string | null>(r.readString()).toBe("civic");
    expect<bool>(r.ok).toBe(true);
    expect<i32>(r.remaining).toBe(0);
    // Out of range queries answer empty.
    expect<string>(r.className(1)).toBe("");
    expect<string>(r.classFieldName(0, 2)).toBe("");
  });

  it("reads back-references and skips whole values exactly", () => {
    // C "LinkedList" [head, tail]; x60 head=1 tail=ref(0)
    let b = withText([0x43, 0x0a], "LinkedList", [0x92, 0x04]);
    b = withText(b, "head", [0x04]);
    b = withText(b, "tail", [0x60, 0x91, 0x51, 0x90]);
    const r = reader(b);
    expect<i32>(r.beginObject()).toBe(0);
    expect<i64>(r.readLong()).toBe(1);
    expect<i32>(r.peekKind()).toBe(HK_REF);
    expect<i32>(r.readRef()).toBe(0);
    expect<bool>(r.ok).toBe(true);

    // A map holding a list, an object, binary, a date and a double: one value.
    const nested = withText([0x48, 0x01], "l", [0x57, 0x90, 0x4e, 0x5a, 0x01])
      .concat(withText([], "o", []))
      .concat(carObjects().slice(0, 41)) // the class definition and the 'O' object
      .concat([0x01, 0x62, 0x22, 0x01, 0x02, 0x01, 0x64, 0x4b, 0x00, 0x00, 0x00, 0x01, 0x90, 0x5f, 0, 0, 0, 1, 0x5a, 0x91]);
    const s = reader(nested);
    expect<bool>(s.skipValue()).toBe(true);
    // Only the trailing int is left.
    expect<i32>(s.remaining).toBe(1);
    expect<i64>(s.readLong()).toBe(1);

    // readScalarText gives scalars as text and null for containers (skipped).
    const t = reader([0xc8, 0x10, 0x54, 0x57, 0x90, 0x5a, 0x03, 0x61, 0x62, 0x63]);
    expect<string | null>(t.readScalarText()).toBe("16");
    expect<string | null>(t.readScalarText()).toBe("true");
    expect<string | null>(t.readScalarText()).toBeNull();
    expect<string | null>(t.readScalarText()).toBe("abc");
    expect<bool>(t.ok).toBe(true);

    // readIdText: the same, but a double (0x5c: 1.0, 0x44: 2.5) is passed over as null.
    const d = reader([0x5c, 0x44, 0x40, 0x04, 0, 0, 0, 0, 0, 0, 0xc8, 0x10]);
    expect<string | null>(d.readScalarText()).toBe("1.0");
    expect<string | null>(d.readIdText()).toBeNull();
    expect<string | null>(d.readIdText()).toBe("16");
    expect<bool>(d.ok).toBe(true);
  });
});

describe("Hessian2Reader on bad input", () => {
  it("reports every cut of a valid value as truncated, never bad, and never traps", () => {
    const whole = withText([0x48, 0x01], "k", [0x56, 0x04])
      .concat(withText([], "[int", [0x92, 0xd4, 0x01, 0x00, 0x4c, 0, 0, 0, 0, 0, 0, 0, 7, 0x03]))
      .concat(withText([], "val", [0x52, 0x00, 0x02, 0x61, 0x62, 0x01, 0xc3, 0x83, 0x23, 1, 2, 3, 0x44, 0x40, 0x28, 0x80, 0, 0, 0, 0, 0, 0x5a]));
    const full = bytes(whole);
    const r = new Hessian2Reader();
    r.reset(full);
    expect<bool>(r.skipValue()).toBe(true);
    expect<i32>(r.remaining).toBe(0);
    for (let n = 0; n < full.length; n++) {
      r.reset(full, 0, n);
      const ok = r.skipValue();
      expect<bool>(ok).toBe(false);
      expect<bool>(r.truncated).toBe(true);
      expect<bool>(r.bad).toBe(false);
      expect<i32>(r.peekKind()).toBe(HK_BAD);
    }
    // Typed reads stop the same way.
    const c = reader([0x49, 0x00, 0x01]);
    expect<i64>(c.readLong()).toBe(0);
    expect<bool>(c.truncated).toBe(true);
    const s = reader(withText([0x05], "hel"));
    expect<string | null>(s.readString()).toBeNull();
    expect<bool>(s.truncated).toBe(true);
    expect<bool>(s.bad).toBe(false);
  });

  it("marks reserved tags, stray ends, wrong types and undefined classes as bad", () => {
    const reserved: i32[] = [0x40, 0x45, 0x47, 0x50];
    for (let i = 0; i < reserved.length; i++) {
      const r = reader([reserved[i], 0x90]);
      expect<i32>(r.peekKind()).toBe(HK_BAD);
      expect<bool>(r.skipValue()).toBe(false);
      expect<bool>(r.bad).toBe(true);
      expect<bool>(r.truncated).toBe(false);
    }
    const z = reader([0x5a]);
    expect<bool>(z.skipValue()).toBe(false);
    expect<bool>(z.bad).toBe(true);

    // A string where an int belongs, and the other way round.
    const a = reader([0x01, 0x61]);
    expect<i64>(a.readLong()).toBe(0);
    expect<bool>(a.bad).toBe(true);
    const b = reader([0x90]);
    expect<string | null>(b.readString()).toBeNull();
    expect<bool>(b.bad).toBe(true);
    const l = reader([0x90]);
    expect<i32>(l.beginList()).toBe(LIST_NONE);
    expect<bool>(l.bad).toBe(true);

    // Object of class #1 with only #0 defined; object with no class at all.
    let def = withText([0x43, 0x01], "A", [0x91, 0x01]);
    def = withText(def, "f", [0x61, 0x90]);
    const o = reader(def);
    expect<i32>(o.beginObject()).toBe(-1);
    expect<bool>(o.bad).toBe(true);
    const none = reader([0x60]);
    expect<i32>(none.beginObject()).toBe(-1);
    expect<bool>(none.bad).toBe(true);

    // 0xff can never start a UTF-8 character.
    const u = reader([0x02, 0xff, 0x61]);
    expect<string | null>(u.readString()).toBeNull();
    expect<bool>(u.bad).toBe(true);

    // After an error every read is empty.
    expect<i64>(u.readLong()).toBe(0);
    expect<i32>(u.peekTag()).toBe(-1);
  });

  it("bounds nesting and huge declared counts", () => {
    const deep = new Array<i32>(0);
    for (let i = 0; i < 40; i++) deep.push(0x57);
    const r = reader(deep);
    expect<bool>(r.skipValue()).toBe(false);
    expect<bool>(r.bad).toBe(true);

    // 'X' (untyped fixed list) declaring 2^31-1 elements, with one there.
    const huge = reader([0x58, 0x49, 0x7f, 0xff, 0xff, 0xff, 0x90]);
    expect<bool>(huge.skipValue()).toBe(false);
    expect<bool>(huge.truncated).toBe(true);
    // A negative count is not a list.
    const neg = reader([0x58, 0x8e]);
    expect<i32>(neg.beginList()).toBe(LIST_NONE);
    expect<bool>(neg.bad).toBe(true);
  });
});
