// Byte helpers shared by the specs (test data written as numbers, hex or ASCII).

export function bytes(values: i32[]): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = <u8>values[i];
  return out;
}

/** "08 96 01" (spaces ignored) as bytes. */
export function hex(s: string): Uint8Array {
  const clean = s.replaceAll(" ", "");
  const out = new Uint8Array(clean.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = <u8>I32.parseInt(clean.substr(i << 1, 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) {
    const v = <i32>b[i];
    s += (v < 16 ? "0" : "") + v.toString(16);
  }
  return s;
}

/** ASCII text as byte values, to concatenate into test frames. */
export function asciiCodes(s: string): i32[] {
  const out = new Array<i32>(0);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
  return out;
}

export function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = <u8>s.charCodeAt(i);
  return out;
}
