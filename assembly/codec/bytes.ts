// Comparing short byte ranges (ids, header keys and values) in place.

/**
 * Whether the n bytes at a and b are equal: eight at a time, the last eight overlapping
 * the ones before (memory.compare goes byte by byte unless both are aligned alike).
 */
export function sameBytes(a: usize, b: usize, n: i32): bool {
  if (n < 8) {
    for (let k = 0; k < n; k++) if (load<u8>(a + <usize>k) != load<u8>(b + <usize>k)) return false;
    return true;
  }
  for (let k = 0; k + 8 < n; k += 8) if (load<u64>(a + <usize>k) != load<u64>(b + <usize>k)) return false;
  return load<u64>(a + <usize>(n - 8)) == load<u64>(b + <usize>(n - 8));
}

