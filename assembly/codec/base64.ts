// Standard base64 (RFC 4648, with or without padding), as the agent decodes sw8 ids.
import { isValidUtf8 } from "./utf8";

/** The value of base64 character c, -1 when it is not one (one unsigned compare per range, no table). */
@inline function sextet(c: u32): i32 {
  let v: i32 = -1;
  if (c - 65 < 26) v = <i32>c - 65;
  else if (c - 97 < 26) v = <i32>c - 71;
  else if (c - 48 < 10) v = <i32>c + 4;
  else if (c == 43) v = 62;
  else if (c == 47) v = 63;
  return v;
}

/**
 * Decodes the n base64 characters at src into `to` (room for n * 3 / 4 + 2 bytes: the
 * last group is stored whole); returns the bytes decoded, -1 when they are not base64.
 */
export function base64Decode(src: usize, n: i32, to: usize): i32 {
  const total = n;
  while (n > 0 && load<u8>(src + <usize>(n - 1)) == 61) n--;
  if (n % 4 == 1 || total - n > 2) return -1;
  let o: usize = to;
  // Four characters at a time, three bytes out; the last two or three characters are
  // filled up with "A" (zero bits) to four, and give one or two bytes.
  for (let i = 0; i < n; i += 4) {
    const left = n - i;
    let q: u32;
    if (left >= 4) {
      q = load<u32>(src + <usize>i);
    } else {
      q = 0x41414141;
      for (let k = left - 1; k >= 0; k--) q = (q << 8) | <u32>load<u8>(src + <usize>(i + k));
    }
    const a = sextet(q & 0xff);
    const b = sextet((q >> 8) & 0xff);
    const c = sextet((q >> 16) & 0xff);
    const d = sextet(q >> 24);
    if ((a | b | c | d) < 0) return -1;
    const v = <u32>((a << 18) | (b << 12) | (c << 6) | d);
    store<u8>(o, <u8>(v >> 16));
    store<u8>(o, <u8>(v >> 8), 1);
    store<u8>(o, <u8>v, 2);
    o += <usize>(left >= 4 ? 3 : left - 1);
  }
  return <i32>(o - to);
}

/** Decoded text, or null when s is not valid base64 of UTF-8. */
export function base64DecodeToString(s: string): string | null {
  const chars = Uint8Array.wrap(String.UTF8.encode(s));
  const out = new Uint8Array(((chars.length * 3) >> 2) + 2);
  const o = base64Decode(chars.dataStart, chars.length, out.dataStart);
  return o >= 0 && isValidUtf8(out.dataStart, o) ? String.UTF8.decodeUnsafe(out.dataStart, <usize>o) : null;
}
