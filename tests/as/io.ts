// Input and output buffers shared by the codec harnesses: the test copies input
// bytes in through alloc(), a harness function writes its findings to `out`, and
// the test reads them back through outPtr()/outLen().
import { ByteWriter } from "../../assembly/codec/writer";
// The harness build routes abort to the SDK's handler, which lives in abi.ts.
import "../../assembly/abi";

export let input = new Uint8Array(0);
export const out = new ByteWriter(256);

export function alloc(n: i32): usize {
  input = new Uint8Array(n);
  return input.dataStart;
}

export function outPtr(): usize {
  return out.dataStart;
}

export function outLen(): i32 {
  return out.len;
}

/** Replaces the output with s (nothing for null). */
export function text(s: string | null): void {
  out.reset();
  if (s !== null) out.utf8(s);
}
