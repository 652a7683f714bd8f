// Standard base64 (RFC 4648, with or without padding), as the agent decodes sw8 ids.
import { isValidUtf8 } from "./utf8";

function sextet(c: i32): i32 {
  if (c >= 65 && c <= 90) return c - 65;
  if (c >= 97 && c <= 122) return c - 71;
  if (c >= 48 && c <= 57) return c + 4;
  if (c == 43) return 62;
  if (c == 47) return 63;
  return -1;
}

/** Decoded text, or null when s is not valid base64 of UTF-8. */
export function base64DecodeToString(s: string): string | null {
  let n = s.length;
  while (n > 0 && s.charCodeAt(n - 1) == 61) n--;
  if (n % 4 == 1 || s.length - n > 2) return null;
  const out = new Uint8Array((n * 3) >> 2);
  let acc: u32 = 0;
  let bits: u32 = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    const v = sextet(s.charCodeAt(i));
    if (v < 0) return null;
    acc = (acc << 6) | <u32>v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = <u8>(acc >> bits);
    }
  }
  return isValidUtf8(out.dataStart, o) ? String.UTF8.decodeUnsafe(out.dataStart, <usize>o) : null;
}
