// Harness for the codec library's AMQP 0-9-1 codec (plugins/rabbitmq/tests/codec.test.ts).
import {
  AmqpContentHeader, AmqpFrame, amqpMethodFrom, amqpMethodIndex, amqpMethodKind, amqpMethodName, amqpPropertyName, amqpTableAt, amqpTableText,
  AMQP_FRAME_METHOD, AMQP_FRAME_OVERHEAD, PROP_HEADERS,
} from "../../protocols/amqp";
import { readU16be } from "../../assembly/codec/reader";
export { alloc, outPtr, outLen } from "./io";
import { input, text } from "./io";

/** The input (a table with its u32 length) as JSON-like text. */
export function tableText(): void {
  text(amqpTableText(input, 0, input.length));
}

/** The bytes at .. at+len as text. */
function bytesAt(at: i32, len: i32): string {
  return String.UTF8.decodeUnsafe(input.dataStart + <usize>at, <usize>len);
}

/**
 * Top-level entries, one line each: key TAB tag-letter TAB int() TAB text() TAB idText()
 * TAB the value's own bytes when isRawText() ("-" for null / not raw); then "cut"/"bad" flags.
 */
export function tableEntries(): void {
  const t = amqpTableAt(input, 0, input.length);
  const lines: string[] = [];
  while (t.next()) {
    const id = t.idText();
    const raw = t.isRawText() ? bytesAt(t.valueAt + 4, t.valueLen - 4) : "-";
    lines.push(t.key() + "\t" + String.fromCharCode(<i32>t.tag) + "\t" + t.int().toString() + "\t" + t.text() + "\t" + (id !== null ? id : "-") + "\t" + raw);
  }
  lines.push("cut=" + (t.cut ? "1" : "0") + " bad=" + (t.bad ? "1" : "0"));
  text(lines.join("\n"));
}

// One reader for every call, as the plugin uses it: each read() must start afresh.
const header = new AmqpContentHeader(new Uint8Array(0), 0, 0);

/**
 * A content-header frame payload: "class weight bodySize flags", then name=value per
 * property (the value's own bytes where isRawText() says text() is them).
 */
export function contentHeader(): void {
  const h = header.read(input, 0, input.length);
  const lines: string[] = [h.classId.toString() + " " + h.weight.toString() + " " + h.bodySize.toString() + " " + h.flags.toString()];
  while (h.next()) {
    if (h.flag == PROP_HEADERS) lines.push("headers=" + amqpTableText(input, h.valueAt, h.valueAt + h.valueLen));
    else lines.push(amqpPropertyName(h.flag) + "=" + (h.isRawText() ? bytesAt(h.valueAt, h.valueLen) : h.text()));
  }
  if (h.cut) lines.push("cut");
  text(lines.join("\n"));
}

/** Frames back to back: "type channel size end-ok name" per frame, "partial" for a last incomplete one. */
export function frames(): void {
  const f = new AmqpFrame();
  const lines: string[] = [];
  let at = 0;
  while (f.read(input, at)) {
    if (!f.complete) {
      lines.push("partial " + f.type.toString() + " " + f.size.toString());
      break;
    }
    let name = "";
    if (f.type == AMQP_FRAME_METHOD && f.size >= 4) {
      name = describe(amqpMethodIndex(readU16be(input, f.start), readU16be(input, f.start + 2)));
    }
    lines.push(f.type.toString() + " " + f.channel.toString() + " " + f.size.toString() + " " + (f.endOk ? "1" : "0") + " " + name);
    at += <i32>f.size + AMQP_FRAME_OVERHEAD;
  }
  text(lines.join("\n"));
}

/** Name, kind and sender of a class/method pair, "" when unknown. */
export function methodInfo(classId: u32, methodId: u32): void {
  text(describe(amqpMethodIndex(classId, methodId)));
}

function describe(m: i32): string {
  return m >= 0 ? amqpMethodName(m) + " " + amqpMethodKind(m).toString() + " " + amqpMethodFrom(m).toString() : "";
}
