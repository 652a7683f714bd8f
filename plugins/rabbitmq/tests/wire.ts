// AMQP 0-9-1 frames built by amqplib's own encoders (the client the live tests use), so
// unit tests feed the parser what a real client or broker writes, not bytes we made up.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
// amqplib's package exports hide lib/: load its modules by path.
const amqplibDir = dirname(require.resolve("amqplib"));
/** Loads one of amqplib's internal modules (lib/defs.js, lib/codec.js, ...). */
export function amqplibModule<T>(file: string): T {
  return require(join(amqplibDir, "lib", file)) as T;
}

interface Defs {
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  encodeProperties(classId: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
  [name: string]: unknown;
}
interface Codec {
  encodeTable(buffer: Buffer, val: unknown, offset: number): number;
  decodeFields(slice: Buffer): Record<string, unknown>;
}
interface Frame {
  PROTOCOL_HEADER: string;
  HEARTBEAT_BUF: Buffer;
  makeBodyFrame(channel: number, payload: Buffer): Buffer;
}

const defs = amqplibModule<Defs>("defs.js");
const codec = amqplibModule<Codec>("codec.js");
const frame = amqplibModule<Frame>("frame.js");

/** A method frame, e.g. method("BasicPublish", 1, { exchange: "x", routingKey: "k" }). */
export function method(name: string, channel: number, fields: Record<string, unknown> = {}): Buffer {
  const id = defs[name];
  if (typeof id !== "number") throw new Error(`amqplib has no method ${name}`);
  return defs.encodeMethod(id, channel, fields);
}

/** A basic content-header frame with amqplib's property names (messageId, headers, ...). */
export function contentHeader(channel: number, bodySize: number, props: Record<string, unknown>): Buffer {
  return defs.encodeProperties(60, channel, bodySize, props);
}

export function body(channel: number, payload: Buffer | string): Buffer {
  return frame.makeBodyFrame(channel, typeof payload === "string" ? Buffer.from(payload) : payload);
}

/** Publish + content header + one body frame, as amqplib writes a basic.publish. */
export function publish(channel: number, exchange: string, routingKey: string, props: Record<string, unknown>, payload: string): Buffer {
  const content = Buffer.from(payload);
  return Buffer.concat([
    method("BasicPublish", channel, { exchange, routingKey }),
    contentHeader(channel, content.length, props),
    body(channel, content),
  ]);
}

export const PROTOCOL_HEADER = Buffer.from(frame.PROTOCOL_HEADER, "latin1");
export const HEARTBEAT = frame.HEARTBEAT_BUF;

/** A field table with its u32 length, encoded by amqplib. */
export function table(value: Record<string, unknown>): Buffer {
  const scratch = Buffer.alloc(1 << 16);
  const n = codec.encodeTable(scratch, value, 0);
  return Buffer.from(scratch.subarray(0, n));
}

/** amqplib's decoding of a table body (without the length). */
export function decodeTable(withLength: Buffer): Record<string, unknown> {
  return codec.decodeFields(withLength.subarray(4));
}
