// Harness for the SDK's HPACK decoder (plugins/pinpoint-grpc/tests/hpack.test.ts).
import { HeaderBlock, HpackDecoder, huffmanCode } from "../../protocols/hpack";
export { alloc, outPtr, outLen } from "./io";
import { input, out } from "./io";

const decoders: HpackDecoder[] = [];
const block = new HeaderBlock();

/** A decoder keeping at most `limit` table bytes; returns its handle. */
export function newDecoder(limit: i32): i32 {
  decoders.push(new HpackDecoder(limit));
  return decoders.length - 1;
}

/**
 * Decodes input[start, end) as one header block. Output: u8 status, u16 unknown, u16 count,
 * then count × (str16 name, str16 value).
 */
export function decode(id: i32, start: i32, end: i32): i32 {
  if (id < 0 || id >= decoders.length) return -1;
  const status = decoders[id].decode(input, start, end, block);
  out.reset();
  out.u8(<u32>status);
  out.u16be(<u32>block.unknown);
  out.u16be(<u32>block.count);
  for (let i = 0; i < block.count; i++) {
    out.str16(block.name(i));
    out.str16(block.value(i));
  }
  return status;
}

/** Table state as "count,bytes,capacity,invalidations". */
export function tableInfo(id: i32): void {
  const d = decoders[id];
  out.reset();
  out.ascii(d.count.toString() + "," + d.bytes.toString() + "," + d.capacity.toString() + "," + d.invalidations.toString());
}

export function huffman(symbol: i32): u64 {
  return huffmanCode(symbol);
}
