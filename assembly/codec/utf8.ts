// UTF-8 text out of untrusted bytes. AssemblyScript's String.UTF8.decode does not
// validate: bytes such as ED A0 80 become a lone surrogate, which re-encodes to bytes
// that are not UTF-8, and the agent then refuses the whole result of the call (prost
// checks every string). Here invalid input is replaced as Rust's String::from_utf8_lossy
// (and the WHATWG decoder) do it: one U+FFFD per maximal invalid subpart. The record
// writer (./writer) also replaces any lone surrogate left in a string.

/**
 * The UTF-8 sequence at p (before end): its length (1..4) when valid; otherwise minus
 * the bytes one U+FFFD replaces — the longest prefix of a valid sequence (a cut or
 * broken one), at least one byte.
 */
function sequenceAt(p: usize, end: usize): i32 {
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
  } else return -1;
  let k = 1;
  while (k < n && p + <usize>k < end) {
    const b = <u32>load<u8>(p + <usize>k);
    if (k == 1 ? b < lo || b > hi : b < 0x80 || b > 0xbf) break;
    k++;
  }
  return k == n ? n : -k;
}

/** Offset of the first byte at ptr .. ptr+len that does not start a valid sequence; len when all are valid. */
export function utf8ValidPrefix(ptr: usize, len: i32): i32 {
  if (len <= 0) return 0;
  const end = ptr + <usize>len;
  let p = ptr;
  for (;;) {
    // ASCII, eight bytes at a time.
    while (p + 8 <= end && (load<u64>(p) & 0x8080808080808080) == 0) p += 8;
    while (p < end && load<u8>(p) < 0x80) p++;
    if (p >= end) return len;
    const n = sequenceAt(p, end);
    if (n < 0) return <i32>(p - ptr);
    p += <usize>n;
  }
  return len;
}

/** Whether the bytes at ptr .. ptr+len are valid UTF-8 (what Rust's str::from_utf8 accepts). */
export function isValidUtf8(ptr: usize, len: i32): bool {
  return utf8ValidPrefix(ptr, len) == len;
}

/** ASCII bytes widened straight into a new string (ids and header values mostly are). */
function asciiString(ptr: usize, len: i32): string {
  const s = changetype<string>(__new(<usize>len << 1, idof<string>()));
  const out = changetype<usize>(s);
  for (let i = 0; i < len; i++) store<u16>(out + (<usize>i << 1), <u16>load<u8>(ptr + <usize>i));
  return s;
}

/**
 * Copies ptr .. ptr+len to `to` with every invalid subpart replaced by EF BF BD;
 * returns the bytes written (at most 3 * len).
 */
export function repairUtf8(ptr: usize, len: i32, to: usize): i32 {
  const end = ptr + <usize>len;
  let p = ptr;
  let o = to;
  while (p < end) {
    const n = sequenceAt(p, end);
    if (n < 0) {
      store<u16>(o, 0xbfef);
      store<u8>(o, 0xbd, 2);
      o += 3;
      p += <usize>-n;
    } else {
      memory.copy(o, p, <usize>n);
      o += <usize>n;
      p += <usize>n;
    }
  }
  return <i32>(o - to);
}

/** The bytes at ptr .. ptr+len as text; invalid or cut sequences become U+FFFD. */
export function decodeUtf8Lossy(ptr: usize, len: i32): string {
  if (len <= 0) return "";
  const end = ptr + <usize>len;
  let p = ptr;
  while (p + 8 <= end && (load<u64>(p) & 0x8080808080808080) == 0) p += 8;
  while (p < end && load<u8>(p) < 0x80) p++;
  // All ASCII is the common case: widen without String.UTF8's per-byte branches.
  if (p == end) return asciiString(ptr, len);
  const rest = <i32>(end - p);
  if (utf8ValidPrefix(p, rest) == rest) return String.UTF8.decodeUnsafe(ptr, <usize>len);
  // Rare: rebuild with replacements.
  const buf = new Uint8Array(len * 3);
  const n = repairUtf8(ptr, len, buf.dataStart);
  return String.UTF8.decodeUnsafe(buf.dataStart, <usize>n);
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
