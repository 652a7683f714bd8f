// Unit tests of the wire format, run inside Wasm by as-pect (`npx asp --config as-pect.config.js`).
import { Line, readLine } from "../lines";

function bytes(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

describe("readLine", () => {
  it("reads a request", () => {
    const p = bytes("TOY 7 GET /users\n");
    const l = new Line();
    expect<bool>(readLine(p, 0, l)).toBe(true);
    expect<i64>(l.id).toBe(7);
    expect<bool>(l.isResponse).toBe(false);
    expect<string>(String.UTF8.decode(p.slice(l.restAt, l.restEnd).buffer)).toBe("/users");
    expect<i32>(l.end).toBe(p.length);
  });

  it("reads a response and its code", () => {
    const l = new Line();
    expect<bool>(readLine(bytes("TOY 7 500 broken\r\n"), 0, l)).toBe(true);
    expect<bool>(l.isResponse).toBe(true);
    expect<i32>(l.code).toBe(500);
  });

  it("refuses other protocols and cut messages without reading past the payload", () => {
    const l = new Line();
    expect<bool>(readLine(bytes("GET / HTTP/1.1\r\n"), 0, l)).toBe(false);
    expect<bool>(readLine(bytes("TOY 7 GET /users"), 0, l)).toBe(false);
    expect<bool>(readLine(bytes("TOY x GET /\n"), 0, l)).toBe(false);
    expect<bool>(readLine(bytes(""), 0, l)).toBe(false);
  });

  it("finds the second message of a segment", () => {
    const p = bytes("TOY 1 GET /a\nTOY 2 GET /b\n");
    const l = new Line();
    expect<bool>(readLine(p, 0, l)).toBe(true);
    expect<bool>(readLine(p, l.end, l)).toBe(true);
    expect<i64>(l.id).toBe(2);
  });
});
