// Which compiled entry of a command to run: build/js/<name>.js when `npm run build` wrote it
// after the last change to any TypeScript source it is made of; null when it is missing or
// older (then the command runs its TypeScript through tsx: slower to start, same behaviour).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** The folders build/js/host-sim.js is bundled from (scripts/build-js.ts). */
export const SOURCE_DIRS = ["capture", "cli", "sdk", "host-sim"];

function newestSource(dir, newest) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return newest;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) newest = newestSource(path, newest);
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export function compiledEntry(root, name) {
  const file = join(root, "build", "js", `${name}.js`);
  let built;
  try {
    built = statSync(file).mtimeMs;
  } catch {
    return null;
  }
  let newest = 0;
  for (const dir of SOURCE_DIRS) newest = newestSource(join(root, dir), newest);
  return newest < built ? file : null;
}
