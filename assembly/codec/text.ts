// Small text helpers for ASCII protocol data (HTTP/1 headers, text protocols).

/** ASCII lower-casing; other characters unchanged. */
export function asciiLower(s: string): string {
  let needs = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) {
      needs = true;
      break;
    }
  }
  return needs ? s.toLowerCase() : s;
}

export function equalsIgnoreCase(a: string, b: string): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x >= 65 && x <= 90) x += 32;
    if (y >= 65 && y <= 90) y += 32;
    if (x != y) return false;
  }
  return true;
}

function byteEqualsIgnoreCase(x: u32, y: u32): bool {
  if (x >= 65 && x <= 90) x += 32;
  if (y >= 65 && y <= 90) y += 32;
  return x == y;
}

/**
 * The value of an HTTP/1 header in a (possibly truncated) message: the first line
 * whose name matches case-insensitively, trimmed. null when absent or cut off.
 */
export function httpHeader(data: Uint8Array, name: string): string | null {
  const n = data.length;
  const nameLen = name.length;
  // Skip the start line.
  let i = 0;
  while (i < n && data[i] != 10) i++;
  i++;
  while (i < n) {
    // An empty line ends the headers.
    if (data[i] == 13 || data[i] == 10) return null;
    let lineEnd = i;
    while (lineEnd < n && data[lineEnd] != 10) lineEnd++;
    if (lineEnd >= n) return null; // the line was cut by truncation
    if (i + nameLen < lineEnd && data[i + nameLen] == 58) {
      let match = true;
      for (let k = 0; k < nameLen; k++) {
        if (!byteEqualsIgnoreCase(data[i + k], <u32>name.charCodeAt(k))) {
          match = false;
          break;
        }
      }
      if (match) {
        let s = i + nameLen + 1;
        let e = lineEnd;
        while (s < e && (data[s] == 32 || data[s] == 9)) s++;
        while (e > s && (data[e - 1] == 13 || data[e - 1] == 32 || data[e - 1] == 9)) e--;
        return String.UTF8.decodeUnsafe(data.dataStart + <usize>s, <usize>(e - s));
      }
    }
    i = lineEnd + 1;
  }
  return null;
}
