// Whether a frame put together from pieces of several payloads is one frame: its fields,
// walked by AMQP 0-9-1's layout, end exactly at its end. The agent hands a plugin what the
// capture saw; when a segment between two pieces was lost, the piece after the gap looks
// like the continuation and the frame-end byte can even land on a 0xCE of a later frame.
// Such a frame is made of other bytes: its ids would be wrong. A frame read from a single
// payload is contiguous and needs no such check.
import { readU16be, readU32be } from "../../assembly/index";
import {
  AmqpContentHeader, AMQP_MAX_RENDER_DEPTH, FIELD_ARRAY, FIELD_TABLE, PROP_HEADERS, amqpFieldValueLen,
} from "../../protocols/amqp";
import { ARGS, ARG_AT, LONGLONG, SHORTSTR, TABLE } from "./methods";

/** Whether the arguments of method `m` (amqpMethodIndex) fill data[at, end) exactly. */
export function argsFit(m: i32, data: Uint8Array, at: i32, end: i32): bool {
  if (m < 0) return false;
  for (let i = <i32>unchecked(ARG_AT[m]), to = <i32>unchecked(ARG_AT[m + 1]); i < to; i++) {
    const type = <u32>unchecked(ARGS[i]) & 0x380;
    let n: i64;
    if (type <= LONGLONG) n = 1 << ((type >> 7) - 1);
    else if (type == SHORTSTR) n = at < end ? 1 + <i64>unchecked(data[at]) : 1;
    else n = at + 4 <= end ? 4 + <i64>readU32be(data, at) : 4;
    if (<i64>at + n > <i64>end) return false;
    if (type == TABLE && !fieldsFit(data, at + 4, at + <i32>n, true, 0)) return false;
    at += <i32>n;
  }
  return at == end;
}

/** Whether data[at, end) is a field table's entries (or an array's values), nested ones too, and nothing else. */
function fieldsFit(data: Uint8Array, at: i32, end: i32, keyed: bool, depth: i32): bool {
  while (at < end) {
    if (keyed) at += 1 + <i32>unchecked(data[at]);
    if (at >= end) return false;
    const tag = <u32>unchecked(data[at++]);
    const n = amqpFieldValueLen(data, tag, at, end);
    if (n < 0 || <i64>at + n > <i64>end) return false;
    if ((tag == FIELD_TABLE || tag == FIELD_ARRAY) &&
      (depth >= AMQP_MAX_RENDER_DEPTH || !fieldsFit(data, at + 4, at + <i32>n, tag == FIELD_TABLE, depth + 1))) return false;
    at += <i32>n;
  }
  return at == end;
}

/** Whether a content header's properties (the headers table's entries too) fill data[start, end) exactly. */
export function headerFits(h: AmqpContentHeader, data: Uint8Array, start: i32, end: i32): bool {
  h.read(data, start, end);
  // Basic has one word of property flags, bits 15..2.
  if (h.classId == 0 || readU16be(data, start + 2) != 0 || (h.flags & 3) != 0) return false;
  let at = start + 14;
  while (h.next()) {
    at = h.valueAt + h.valueLen;
    if (h.flag == PROP_HEADERS && !fieldsFit(data, h.valueAt + 4, at, true, 0)) return false;
  }
  return !h.cut && at == end;
}
