import { ByteReader } from "../codec/reader";
import { bytes } from "./support";

describe("ByteReader", () => {
  it("reads big-endian integers in order", () => {
    const r = new ByteReader(bytes([1, 2, 3, 4, 5, 6, 7]));
    expect<u32>(r.u8()).toBe(1);
    expect<u32>(r.u16be()).toBe(0x0203);
    expect<u32>(r.u32be()).toBe(0x04050607);
    expect<bool>(r.short).toBe(false);
  });

  it("reports short instead of trapping past the end", () => {
    const r = new ByteReader(bytes([1, 2]));
    r.u32be();
    expect<bool>(r.short).toBe(true);
  });
});
