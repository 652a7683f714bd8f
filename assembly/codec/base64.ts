// Standard base64 (RFC 4648, with or without padding), as the agent decodes sw8 ids.
import { isValidUtf8 } from "./utf8";

/** Each byte's value as a base64 character, 0xff when it is not one: one load per character. */
const SEXTETS: StaticArray<u8> = sextetTable();

function sextetTable(): StaticArray<u8> {
  const t = new StaticArray<u8>(256);
  memory.fill(changetype<usize>(t), 0xff, 256);
  for (let i = 0; i < 26; i++) {
    t[65 + i] = <u8>i;
    t[97 + i] = <u8>(26 + i);
  }
  for (let i = 0; i < 10; i++) t[48 + i] = <u8>(52 + i);
  t[43] = 62;
  t[47] = 63;
  return t;
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
  const table = changetype<usize>(SEXTETS);
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
    const a = <u32>load<u8>(table + <usize>(q & 0xff));
    const b = <u32>load<u8>(table + <usize>((q >> 8) & 0xff));
    const c = <u32>load<u8>(table + <usize>((q >> 16) & 0xff));
    const d = <u32>load<u8>(table + <usize>(q >> 24));
    if (((a | b | c | d) & 0x80) != 0) return -1;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
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
