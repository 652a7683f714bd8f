// A budget for every plugin call. The agent runs plugins with no guard (wasmtime's
// Engine::default(): no fuel, no epoch interruption, agent/src/plugin/wasm/vm.rs), so a
// plugin that loops stalls it for good. The simulator does better: it rewrites the module
// so that every function entry and every loop iteration takes one step from a counter
// (a mutable i32 global it exports), and traps when the counter is empty. The host refills
// the counter before each call; a trap with the counter at 0 is a plugin that ran out of
// budget, not one that failed. Every path through a function is finite between two such
// points, so the count bounds the whole call, loops and recursion alike.
//
// The rewrite only appends: one global after the existing ones, one export, and a few
// instructions at function starts and loop heads, so no index in the module changes.

import { Buffer } from "node:buffer";
import { SectionReader } from "./wasm-binary.ts";
import { encodeUtf8 } from "./wire.ts";

/** The export through which the host refills the counter. */
export const FUEL_EXPORT = "__hostsim_fuel";

const SECTION_GLOBAL = 6;
const SECTION_EXPORT = 7;
const SECTION_CODE = 10;
const SECTION_IMPORT = 2;
const IMPORT_KIND_GLOBAL = 3;
const EXPORT_KIND_GLOBAL = 3;

/** Where each known section must stand (custom sections, id 0, may stand anywhere). */
const SECTION_RANK: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13 };

const OP_LOOP = 0x03;

export class MeterError extends Error {}

/** The module with a step counter starting at `budget`; throws MeterError on encodings it does not know. */
export function meterModule(bytes: Uint8Array, budget: number): Uint8Array {
  if (!Number.isInteger(budget) || budget < 1 || budget > 0x7fff_ffff) throw new MeterError(`budget must be 1..2^31-1, got ${budget}`);
  try {
    return rewrite(bytes, budget);
  } catch (e) {
    if (e instanceof MeterError) throw e;
    throw new MeterError(e instanceof Error ? e.message : String(e));
  }
}

interface Section {
  id: number;
  /** The section's contents, without its id and size. */
  body: Uint8Array;
}

function rewrite(bytes: Uint8Array, budget: number): Uint8Array {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new MeterError("not a Wasm module");
  const sections: Section[] = [];
  for (let pos = 8; pos < bytes.length; ) {
    const head = new SectionReader(bytes, pos, bytes.length);
    const id = head.byte();
    const size = head.uleb();
    if (head.pos + size > bytes.length) throw new MeterError("a section runs past the end of the module");
    sections.push({ id, body: bytes.subarray(head.pos, head.pos + size) });
    pos = head.pos + size;
  }

  const fuel = countGlobals(sections);
  const globalEntry = Buffer.concat([Uint8Array.of(0x7f, 0x01, 0x41), sleb(budget), Uint8Array.of(0x0b)]);
  const exportEntry = Buffer.concat([nameBytes(FUEL_EXPORT), Uint8Array.of(EXPORT_KIND_GLOBAL), uleb(fuel)]);
  appendEntry(sections, SECTION_GLOBAL, globalEntry);
  appendEntry(sections, SECTION_EXPORT, exportEntry);
  const code = sections.find((s) => s.id === SECTION_CODE);
  if (code) code.body = meterCode(code.body, fuel);

  const out: Uint8Array[] = [bytes.subarray(0, 8)];
  for (const s of sections) out.push(Uint8Array.of(s.id), uleb(s.body.length), s.body);
  return Buffer.concat(out);
}

/** Imported plus defined globals: the index the counter gets when appended. */
function countGlobals(sections: Section[]): number {
  let n = 0;
  for (const s of sections) {
    const r = new SectionReader(s.body, 0, s.body.length);
    if (s.id === SECTION_GLOBAL) n += r.uleb();
    if (s.id !== SECTION_IMPORT) continue;
    for (let i = r.uleb(); i > 0; i--) {
      r.name();
      r.name();
      const kind = r.byte();
      if (kind === 0) r.uleb();
      else if (kind === 1) {
        r.valType();
        r.limits();
      } else if (kind === 2) r.limits();
      else if (kind === IMPORT_KIND_GLOBAL) {
        r.valType();
        r.byte();
        n++;
      } else if (kind === 4) {
        r.byte();
        r.uleb();
      } else throw new MeterError(`import kind ${kind} not known`);
    }
  }
  return n;
}

/** Adds one entry to a vector section, creating the section in its place if absent. */
function appendEntry(sections: Section[], id: number, entry: Uint8Array): void {
  const s = sections.find((x) => x.id === id);
  if (s) {
    const r = new SectionReader(s.body, 0, s.body.length);
    const count = r.uleb();
    s.body = Buffer.concat([uleb(count + 1), s.body.subarray(r.pos), entry]);
    return;
  }
  const rank = SECTION_RANK[id]!;
  let at = sections.findIndex((x) => x.id !== 0 && (SECTION_RANK[x.id] ?? 0) > rank);
  if (at < 0) at = sections.length;
  sections.splice(at, 0, { id, body: Buffer.concat([uleb(1), entry]) });
}

/** The code section with a step taken at each function entry and loop head. */
function meterCode(body: Uint8Array, fuel: number): Uint8Array {
  const g = uleb(fuel);
  // if (fuel == 0) unreachable; fuel = fuel - 1
  const step = Buffer.concat([Uint8Array.of(0x23), g, Uint8Array.of(0x45, 0x04, 0x40, 0x00, 0x0b, 0x23), g, Uint8Array.of(0x41, 0x01, 0x6b, 0x24), g]);
  const r = new SectionReader(body, 0, body.length);
  const count = r.uleb();
  const out: Uint8Array[] = [uleb(count)];
  for (let f = 0; f < count; f++) {
    const size = r.uleb();
    const end = r.pos + size;
    if (end > body.length) throw new MeterError(`function body ${f} runs past the code section`);
    const fn = new SectionReader(body, r.pos, end);
    for (let groups = fn.uleb(); groups > 0; groups--) {
      fn.uleb();
      fn.valType();
    }
    const pieces: Uint8Array[] = [body.subarray(r.pos, fn.pos), step];
    let copied = fn.pos;
    while (fn.pos < end) {
      const op = fn.byte();
      skipImmediates(fn, op);
      if (op === OP_LOOP) {
        pieces.push(body.subarray(copied, fn.pos), step);
        copied = fn.pos;
      }
    }
    pieces.push(body.subarray(copied, end));
    const metered = Buffer.concat(pieces);
    out.push(uleb(metered.length), metered);
    r.pos = end;
  }
  return Buffer.concat(out);
}

function skipLeb(r: SectionReader): void {
  while (r.byte() & 0x80);
}

function skipBytes(r: SectionReader, n: number): void {
  if (r.pos + n > r.end) throw new MeterError("truncated instruction");
  r.pos += n;
}

/** A block type: 0x40, a value type, a reference type with its heap type, or an s33 type index. */
function skipBlockType(r: SectionReader): void {
  const b = r.byte();
  if (b === 0x63 || b === 0x64) skipLeb(r);
  else if (b & 0x80) skipLeb(r);
}

function skipMemArg(r: SectionReader): void {
  const align = r.uleb();
  if (align & 0x40) skipLeb(r); // multi-memory: a memory index follows
  skipLeb(r);
}

/** Moves past one instruction's immediates (core, bulk memory, reference types, SIMD, threads, exceptions). */
function skipImmediates(r: SectionReader, op: number): void {
  if (op >= 0x45 && op <= 0xc4) return; // numeric instructions, sign extension
  switch (op) {
    case 0x00: case 0x01: case 0x05: case 0x0a: case 0x0b: case 0x0f: case 0x19: case 0x1a: case 0x1b:
    case 0xd1: case 0xd3: case 0xd4:
      return;
    case 0x02: case 0x03: case 0x04: case 0x06:
      return skipBlockType(r);
    case 0x07: case 0x08: case 0x09: case 0x18: case 0x0c: case 0x0d:
    case 0x10: case 0x12: case 0x14: case 0x15:
    case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0x26:
    case 0x3f: case 0x40: case 0x41: case 0x42:
    case 0xd0: case 0xd2: case 0xd5: case 0xd6:
      return skipLeb(r);
    case 0x0e:
      for (let n = r.uleb() + 1; n > 0; n--) skipLeb(r);
      return;
    case 0x11: case 0x13:
      skipLeb(r);
      return skipLeb(r);
    case 0x1c:
      for (let n = r.uleb(); n > 0; n--) r.valType();
      return;
    case 0x1f: // try_table: block type, then catch clauses
      skipBlockType(r);
      for (let n = r.uleb(); n > 0; n--) {
        const kind = r.byte();
        if (kind === 0 || kind === 1) skipLeb(r);
        skipLeb(r);
      }
      return;
    case 0x43:
      return skipBytes(r, 4);
    case 0x44:
      return skipBytes(r, 8);
    case 0xfc:
      return skipMisc(r, r.uleb());
    case 0xfd:
      return skipSimd(r, r.uleb());
    case 0xfe: {
      const sub = r.uleb();
      if (sub === 0x03) return skipBytes(r, 1); // atomic.fence
      return skipMemArg(r);
    }
  }
  if (op >= 0x28 && op <= 0x3e) return skipMemArg(r);
  throw new MeterError(`opcode 0x${op.toString(16)} at byte ${r.pos - 1} of the code section is not known`);
}

function skipMisc(r: SectionReader, sub: number): void {
  if (sub <= 7) return; // saturating truncations
  switch (sub) {
    case 8: case 10: case 12: case 14:
      skipLeb(r);
      return skipLeb(r);
    case 9: case 11: case 13: case 15: case 16: case 17:
      return skipLeb(r);
  }
  throw new MeterError(`opcode 0xfc ${sub} is not known`);
}

function skipSimd(r: SectionReader, sub: number): void {
  if (sub <= 11 || sub === 92 || sub === 93) return skipMemArg(r);
  if (sub === 12 || sub === 13) return skipBytes(r, 16);
  if (sub >= 21 && sub <= 34) return skipBytes(r, 1);
  if (sub >= 84 && sub <= 91) {
    skipMemArg(r);
    return skipBytes(r, 1);
  }
  if (sub > 0x113) throw new MeterError(`opcode 0xfd ${sub} is not known`);
}

// ---------------------------------------------------------------------------------------
// Encoding

function uleb(v: number): Uint8Array {
  const out: number[] = [];
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return Uint8Array.from(out);
}

function sleb(v: number): Uint8Array {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return Uint8Array.from(out);
    }
    out.push(b | 0x80);
  }
}

function nameBytes(s: string): Uint8Array {
  const b = encodeUtf8(s);
  return Buffer.concat([uleb(b.length), b]);
}
