// Harness for the codec library's Hessian2 decoder (tests/protocols/hessian2.test.ts): renders
// decoded values as JSON so the test can compare them with hessian.js's reading of
// the same bytes, and exposes skipValue for consumption and fuzz checks.
import {
  Hessian2Reader, HK_BINARY, HK_BOOL, HK_DATE, HK_DOUBLE, HK_INT, HK_LIST, HK_LONG, HK_MAP, HK_NULL, HK_OBJECT,
  HK_REF, HK_STRING, LIST_NONE, LIST_VARIABLE,
} from "../../protocols/hessian2";
export { alloc, outPtr, outLen } from "./io";
import { input, out } from "./io";

const reader = new Hessian2Reader();

function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) {
    const v = <u32>b[i];
    s += (v < 16 ? "0" : "") + v.toString(16);
  }
  return s;
}

function jsonString(s: string): string {
  let o = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 34) o += "\\\"";
    else if (c == 92) o += "\\\\";
    else if (c < 0x20) o += "\\u00" + (c < 16 ? "0" : "") + c.toString(16);
    else o += String.fromCharCode(c);
  }
  return o + "\"";
}

function jsonNumber(v: f64): string {
  if (isNaN(v) || !isFinite(v)) return jsonString(v.toString());
  if (v == Math.floor(v) && Math.abs(v) < 9007199254740992) return (<i64>v).toString();
  return v.toString();
}

/** One value as JSON; maps become objects (keys as their text), objects {"$class","$"}, refs {"$ref"}. */
function renderValue(r: Hessian2Reader, depth: i32): string {
  if (depth > 64 || !r.skipClassDefs()) return "null";
  switch (r.peekKind()) {
    case HK_NULL:
      r.readNull();
      return "null";
    case HK_BOOL:
      return r.readBool() ? "true" : "false";
    case HK_INT:
    case HK_LONG:
      return r.readLong().toString();
    case HK_DOUBLE:
      return jsonNumber(r.readDouble());
    case HK_DATE:
      return "{\"$date\":" + r.readDate().toString() + "}";
    case HK_STRING: {
      const s = r.readString();
      return s !== null ? jsonString(s) : "null";
    }
    case HK_BINARY: {
      const b = r.readBinary();
      return b !== null ? "{\"$bin\":\"" + hex(b) + "\"}" : "null";
    }
    case HK_REF:
      return "{\"$ref\":" + r.readRef().toString() + "}";
    case HK_LIST: {
      const n = r.beginList();
      if (n == LIST_NONE) return "null";
      const items: string[] = [];
      if (n == LIST_VARIABLE) {
        while (!r.endOfContainer()) items.push(renderValue(r, depth + 1));
      } else {
        for (let i = 0; i < n && r.ok; i++) items.push(renderValue(r, depth + 1));
      }
      return "[" + items.join(",") + "]";
    }
    case HK_MAP: {
      if (!r.beginMap()) return "null";
      const items: string[] = [];
      while (!r.endOfContainer()) {
        const k = r.peekKind() == HK_STRING ? r.readString() : renderValue(r, depth + 1);
        const v = renderValue(r, depth + 1);
        items.push(jsonString(k !== null ? k : "null") + ":" + v);
      }
      return "{" + items.join(",") + "}";
    }
    case HK_OBJECT: {
      const cls = r.beginObject();
      if (cls < 0) return "null";
      const n = r.classFields(cls);
      const items: string[] = [];
      for (let i = 0; i < n && r.ok; i++) {
        const name = r.classFieldName(cls, i);
        items.push(jsonString(name) + ":" + renderValue(r, depth + 1));
      }
      return "{\"$class\":" + jsonString(r.className(cls)) + ",\"$\":{" + items.join(",") + "}}";
    }
    default:
      r.skipValue();
      return "null";
  }
}

function status(r: Hessian2Reader): i32 {
  return (r.truncated ? 1 : 0) | (r.bad ? 2 : 0);
}

/** Renders every top-level value as a JSON array; returns truncated(1)|bad(2). */
export function render(): i32 {
  reader.reset(input);
  const items: string[] = [];
  while (reader.ok && reader.remaining > 0) items.push(renderValue(reader, 0));
  out.reset();
  out.utf8("[" + items.join(",") + "]");
  return status(reader);
}

/** Skips top-level values; writes "count,endPos" and returns truncated(1)|bad(2). */
export function skipAll(maxDepth: i32): i32 {
  reader.reset(input);
  reader.maxDepth = maxDepth;
  let count = 0;
  while (reader.ok && reader.remaining > 0 && reader.skipValue()) count++;
  reader.maxDepth = 32;
  out.reset();
  out.ascii(count.toString() + "," + reader.pos.toString());
  return status(reader);
}

/** Fuzz entry: skips and renders the input; returns how many bytes were consumed. */
export function fuzzOne(): i32 {
  reader.reset(input);
  while (reader.ok && reader.remaining > 0) reader.skipValue();
  const skipped = reader.pos;
  reader.reset(input);
  while (reader.ok && reader.remaining > 0) renderValue(reader, 0);
  return skipped;
}

/** For each top-level value: "start+len" when readAsciiSpan takes it, "-" when it declines (then skipped). */
export function asciiSpans(): i32 {
  reader.reset(input);
  const items: string[] = [];
  while (reader.ok && reader.remaining > 0) {
    const at = reader.pos;
    if (reader.readAsciiSpan()) {
      items.push(reader.spanStart.toString() + "+" + reader.spanLength.toString());
    } else {
      if (reader.pos != at) return -1; // declined but moved
      items.push("-");
      reader.skipValue();
    }
  }
  out.reset();
  out.ascii(items.join(","));
  return status(reader);
}
