// UTF-8 text out of untrusted bytes. AssemblyScript's String.UTF8.decode does not
// validate: bytes such as ED A0 80 become a lone surrogate, which re-encodes to bytes
// that are not UTF-8, and the agent then refuses the whole result of the call (prost
// checks every string). Here each invalid sequence becomes U+FFFD.

/** Length of the valid UTF-8 sequence at p (1..4), 0 when the bytes there are not one. */
function sequenceLength(p: usize, end: usize): i32 {
  const b0 = <u32>load<u8>(p);
  if (b0 < 0x80) return 1;
  let n: i32 = 0;
  let lo: u32 = 0x80;
  let hi: u32 = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) n = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0; // overlong
    else if (b0 == 0xed) hi = 0x9f; // surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90; // overlong
    else if (b0 == 0xf4) hi = 0x8f; // beyond U+10FFFF
  } else return 0;
  if (p + <usize>n > end) return 0;
  const b1 = <u32>load<u8>(p + 1);
  if (b1 < lo || b1 > hi) return 0;
  for (let i = 2; i < n; i++) {
    const b = <u32>load<u8>(p + <usize>i);
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return n;
}

/** ASCII bytes widened straight into a new string (ids and header values mostly are). */
function asciiString(ptr: usize, len: i32): string {
  const s = changetype<string>(__new(<usize>len << 1, idof<string>()));
  const out = changetype<usize>(s);
  for (let i = 0; i < len; i++) store<u16>(out + (<usize>i << 1), <u16>load<u8>(ptr + <usize>i));
  return s;
}

/** The bytes at ptr .. ptr+len as text; invalid or cut sequences become U+FFFD. */
export function decodeUtf8Lossy(ptr: usize, len: i32): string {
  if (len <= 0) return "";
  const end = ptr + <usize>len;
  let p = ptr;
  // ASCII, eight bytes at a time.
  while (p + 8 <= end && (load<u64>(p) & 0x8080808080808080) == 0) p += 8;
  while (p < end && load<u8>(p) < 0x80) p++;
  if (p == end) return asciiString(ptr, len);
  while (p < end) {
    const n = sequenceLength(p, end);
    if (n == 0) break;
    p += <usize>n;
  }
  if (p == end) return String.UTF8.decodeUnsafe(ptr, <usize>len);
  // Rare: rebuild with replacements (each invalid byte, 1 in, 3 out).
  const buf = new Uint8Array(len * 3);
  let o: i32 = 0;
  p = ptr;
  while (p < end) {
    const n = sequenceLength(p, end);
    if (n == 0) {
      store<u8>(buf.dataStart + <usize>o, 0xef);
      store<u8>(buf.dataStart + <usize>o + 1, 0xbf);
      store<u8>(buf.dataStart + <usize>o + 2, 0xbd);
      o += 3;
      p++;
    } else {
      memory.copy(buf.dataStart + <usize>o, p, <usize>n);
      o += n;
      p += <usize>n;
    }
  }
  return String.UTF8.decodeUnsafe(buf.dataStart, <usize>o);
}

/** False when s holds a lone surrogate (text decoded without validation): it would not encode as UTF-8. */
export function isWellFormed(s: string): bool {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff || i + 1 >= n) return false;
    const d = s.charCodeAt(i + 1);
    if (d < 0xdc00 || d > 0xdfff) return false;
    i++;
  }
  return true;
}
