import { decodeUtf8Lossy, isValidUtf8, isWellFormed, repairUtf8, utf8ValidPrefix } from "../codec/utf8";
import { ByteWriter } from "../codec/writer";
import { hex, toHex } from "./support";

// Expected results follow Rust's String::from_utf8_lossy (one U+FFFD per maximal
// subpart, Unicode ch. 3 "U+FFFD Substitution of Maximal Subparts").

const R = "\uFFFD";

function ascii(s: string): string {
  let h = "";
  for (let i = 0; i < s.length; i++) h += s.charCodeAt(i).toString(16);
  return h;
}

function lossy(h: string): string {
  const b = hex(h);
  return decodeUtf8Lossy(b.dataStart, b.length);
}

function valid(h: string): bool {
  const b = hex(h);
  return isValidUtf8(b.dataStart, b.length);
}

describe("decodeUtf8Lossy", () => {
  it("decodes valid text of every sequence length", () => {
    expect<string>(lossy("")).toBe("");
    expect<string>(lossy(ascii("hello, world 0123456789"))).toBe("hello, world 0123456789");
    // U+00E9, U+20AC, U+1F600, U+D7FF, U+E000, U+10FFFF
    expect<string>(lossy("c3a9 e282ac f09f9880")).toBe("\u00e9\u20ac\uD83D\uDE00");
    expect<string>(lossy("ed9fbf ee8080 f48fbfbf")).toBe("\uD7FF\uE000\uDBFF\uDFFF");
    // long ASCII run before the first multi-byte sequence
    expect<string>(lossy(ascii("abcdefghijklmnop") + "c3a9")).toBe("abcdefghijklmnop\u00e9");
  });

  it("replaces a truncated sequence with one U+FFFD", () => {
    // Rust docs: b"Hello \xF0\x90\x80World" -> "Hello \u{FFFD}World"
    expect<string>(lossy(ascii("Hello ") + "f09080" + ascii("World"))).toBe("Hello " + R + "World");
    expect<string>(lossy("f09080" + ascii("foo"))).toBe(R + "foo");
    // cut at the very end
    expect<string>(lossy(ascii("ab") + "e282")).toBe("ab" + R);
    expect<string>(lossy("c3")).toBe(R);
    expect<string>(lossy(ascii("abcdefghij") + "f09f98")).toBe("abcdefghij" + R);
  });

  it("replaces overlong encodings byte by byte", () => {
    expect<string>(lossy("c080")).toBe(R + R);
    expect<string>(lossy("c1bf")).toBe(R + R);
    expect<string>(lossy("e08080")).toBe(R + R + R);
    expect<string>(lossy("e09fbf")).toBe(R + R + R);
    // Rust's test: b"\xF0\x80\x80\x80foo\xF0\x90\x80\x80bar"
    expect<string>(lossy("f0808080" + ascii("foo") + "f0908080" + ascii("bar"))).toBe(R + R + R + R + "foo\uD800\uDC00bar");
  });

  it("replaces UTF-8-encoded surrogates byte by byte", () => {
    // Rust's test: b"\xED\xA0\x80foo\xED\xBF\xBFbar"
    expect<string>(lossy("eda080" + ascii("foo") + "edbfbf" + ascii("bar"))).toBe(R + R + R + "foo" + R + R + R + "bar");
    // a CESU-8 style pair: two surrogates, six replacements
    expect<string>(lossy("eda0bd edb880")).toBe(R + R + R + R + R + R);
  });

  it("handles bytes that never start a sequence and code points past U+10FFFF", () => {
    // Rust's tests for F5, F1 and F4 prefixes
    expect<string>(lossy("f5" + ascii("foo") + "f580" + ascii("bar"))).toBe(R + "foo" + R + R + "bar");
    expect<string>(lossy("f1" + ascii("foo") + "f180" + ascii("bar") + "f18080" + ascii("baz"))).toBe(R + "foo" + R + "bar" + R + "baz");
    expect<string>(lossy("f4" + ascii("foo") + "f480" + ascii("bar") + "f4bf" + ascii("baz"))).toBe(R + "foo" + R + "bar" + R + R + "baz");
    expect<string>(lossy("f4908080")).toBe(R + R + R + R);
    expect<string>(lossy("80 bf fe ff")).toBe(R + R + R + R);
    // Rust's test: b"Hello\xC0\x80 There\xE6\x83 Goodbye"
    expect<string>(lossy(ascii("Hello") + "c080" + ascii(" There") + "e683" + ascii(" Goodbye"))).toBe("Hello" + R + R + " There" + R + " Goodbye");
  });

  it("matches the Unicode Standard's maximal-subpart example (Table 3-8)", () => {
    // 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64
    expect<string>(lossy("61 f18080 e180 c2 62 80 63 80bf 64")).toBe("a" + R + R + R + "b" + R + "c" + R + R + "d");
  });
});

describe("UTF-8 validation and repair", () => {
  it("accepts exactly what Rust's str::from_utf8 accepts", () => {
    expect<bool>(valid("")).toBe(true);
    expect<bool>(valid("c3a9 e282ac f09f9880 f48fbfbf")).toBe(true);
    expect<bool>(valid("eda080")).toBe(false);
    expect<bool>(valid("c080")).toBe(false);
    expect<bool>(valid("f4908080")).toBe(false);
    expect<bool>(valid("e282")).toBe(false);
    expect<bool>(valid(ascii("0123456789abcdef") + "ff")).toBe(false);
  });

  it("reports where the valid prefix ends", () => {
    const b = hex(ascii("abc") + "e282ac" + "ff" + ascii("x"));
    expect<i32>(utf8ValidPrefix(b.dataStart, b.length)).toBe(6);
    const c = hex(ascii("0123456789") + "f09f98");
    expect<i32>(utf8ValidPrefix(c.dataStart, c.length)).toBe(10);
    expect<i32>(utf8ValidPrefix(c.dataStart, 0)).toBe(0);
  });

  it("repairs bytes into valid UTF-8 with EF BF BD per subpart", () => {
    const b = hex("61 eda080 62 f09080 63");
    const out = new Uint8Array(b.length * 3);
    const n = repairUtf8(b.dataStart, b.length, out.dataStart);
    expect<string>(toHex(out.subarray(0, n))).toBe("61" + "efbfbdefbfbdefbfbd" + "62" + "efbfbd" + "63");
    const w = new ByteWriter(16);
    w.utf8Bytes(b.dataStart, b.length);
    expect<string>(toHex(w.view())).toBe(toHex(out.subarray(0, n)));
  });

  it("finds lone surrogates in strings", () => {
    expect<bool>(isWellFormed("a\u00e9\uD83D\uDE00")).toBe(true);
    expect<bool>(isWellFormed("a" + String.fromCharCode(0xd800))).toBe(false);
    expect<bool>(isWellFormed(String.fromCharCode(0xdc00) + "a")).toBe(false);
    expect<bool>(isWellFormed(String.fromCharCode(0xde00, 0xd83d))).toBe(false);
  });
});
