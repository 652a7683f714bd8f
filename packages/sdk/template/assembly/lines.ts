// The wire format of the example protocol, apart from the plugin so that it can be unit
// tested inside Wasm (assembly/__tests__/lines.spec.ts). One message per line:
//   request  "TOY <id> <method> <resource>\n"
//   response "TOY <id> <code> <text>\n"        (code 0 = ok)
// Replace it with your protocol's.

/** One message: where its fields are in the payload (no string is made until needed). */
export class Line {
  id: i64 = 0;
  isResponse: bool = false;
  code: i32 = 0;
  /** Method (request) or code (response): [verbAt, verbEnd). */
  verbAt: i32 = 0;
  verbEnd: i32 = 0;
  /** Resource (request) or text (response): [restAt, restEnd). */
  restAt: i32 = 0;
  restEnd: i32 = 0;
  /** Just past the newline. */
  end: i32 = 0;
}

const MAGIC: StaticArray<u8> = [0x54, 0x4f, 0x59, 0x20]; // "TOY "

function digits(p: Uint8Array, from: i32, to: i32): i64 {
  if (to <= from || to - from > 9) return -1;
  let v: i64 = 0;
  for (let i = from; i < to; i++) {
    const c = <i32>p[i];
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

/**
 * Reads the message that starts at `at` into `out`; false when there is no whole message
 * there (another protocol, or a message cut by the capture). Never reads past the payload.
 */
export function readLine(p: Uint8Array, at: i32, out: Line): bool {
  if (p.length - at < MAGIC.length + 6) return false;
  for (let i = 0; i < MAGIC.length; i++) if (p[at + i] != MAGIC[i]) return false;
  let nl = at + MAGIC.length;
  while (nl < p.length && p[nl] != 10) nl++;
  if (nl >= p.length) return false;
  const idAt = at + MAGIC.length;
  let idEnd = idAt;
  while (idEnd < nl && p[idEnd] != 32) idEnd++;
  let verbEnd = idEnd + 1;
  while (verbEnd < nl && p[verbEnd] != 32) verbEnd++;
  if (verbEnd >= nl) return false;
  const id = digits(p, idAt, idEnd);
  if (id < 0) return false;
  const code = digits(p, idEnd + 1, verbEnd);
  out.id = id;
  out.isResponse = code >= 0;
  out.code = <i32>code;
  out.verbAt = idEnd + 1;
  out.verbEnd = verbEnd;
  out.restAt = verbEnd + 1;
  out.restEnd = nl > verbEnd + 1 && p[nl - 1] == 13 ? nl - 1 : nl;
  out.end = nl + 1;
  return true;
}
