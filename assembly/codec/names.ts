// Name tables (protocol api, method and error names) kept as comma-separated ASCII
// bytes: half the module size of string literals, which are UTF-16. Each name becomes
// a string once, on first use.
import { decodeUtf8Lossy } from "./utf8";

export class NameList {
  private names: StaticArray<string>;

  /** `list`: the names, comma-separated; `count`: how many there are. */
  constructor(private list: StaticArray<u8>, count: i32) {
    this.names = new StaticArray<string>(count);
  }

  /** Name n; "" past the end (or for an empty item). */
  get(n: i32): string {
    if (n < 0 || n >= this.names.length) return "";
    let name = unchecked(this.names[n]);
    // A StaticArray<string> starts with null references: made on first use.
    if (changetype<usize>(name) == 0) {
      name = this.item(n);
      unchecked((this.names[n] = name));
    }
    return name;
  }

  private item(n: i32): string {
    const base = changetype<usize>(this.list);
    const len = this.list.length;
    let start = 0;
    for (let i = 0; i < n; i++) {
      while (start < len && load<u8>(base + <usize>start) != 0x2c) start++;
      if (start >= len) return "";
      start++;
    }
    let end = start;
    while (end < len && load<u8>(base + <usize>end) != 0x2c) end++;
    return decodeUtf8Lossy(base + <usize>start, end - start);
  }
}

