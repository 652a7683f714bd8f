// Standard base64 (RFC 4648, with or without padding), as the agent decodes sw8 ids.
import { isValidUtf8 } from "./utf8";

/** The value of base64 character c, -1 when it is not one: selects, not branches (ids are random characters). */
function sextet(c: u32): i32 {
  let v: i32 = select<i32>(62, -1, c == 43);
  v = select<i32>(63, v, c == 47);
  v = select<i32>(<i32>c + 4, v, c - 48 < 10);
  v = select<i32>(<i32>c - 71, v, c - 97 < 26);
  return select<i32>(<i32>c - 65, v, c - 65 < 26);
}

/**
 * Decodes the n base64 characters at src into `to` (room for n * 3 / 4 bytes); returns
 * the bytes written, -1 when they are not base64.
 */
export function base64Decode(src: usize, n: i32, to: usize): i32 {
  const total = n;
  while (n > 0 && load<u8>(src + <usize>(n - 1)) == 61) n--;
  if (n % 4 == 1 || total - n > 2) return -1;
  let acc: u32 = 0;
  let bits: u32 = 0;
  let o: usize = to;
  for (let i = 0; i < n; i++) {
    const v = sextet(<u32>load<u8>(src + <usize>i));
    if (v < 0) return -1;
    acc = (acc << 6) | <u32>v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      store<u8>(o++, <u8>(acc >> bits));
    }
  }
  return <i32>(o - to);
}

/** Decoded text, or null when s is not valid base64 of UTF-8. */
export function base64DecodeToString(s: string): string | null {
  const chars = Uint8Array.wrap(String.UTF8.encode(s));
  const out = new Uint8Array((chars.length * 3) >> 2);
  const o = base64Decode(chars.dataStart, chars.length, out.dataStart);
  return o >= 0 && isValidUtf8(out.dataStart, o) ? String.UTF8.decodeUnsafe(out.dataStart, <usize>o) : null;
}
