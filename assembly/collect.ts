// When the SDK collects garbage (assembly/exports.ts): at the end of every `collectEvery`-th
// exported call. A collection marks every live object, so its cost grows with what a
// plugin keeps; a plugin that keeps managed state per flow raises the interval with the
// state kept, so that the cost per call stays flat (at the price of the garbage of more
// calls waiting for the next collection, and of longer pauses).

/** The fewest calls between collections (what every plugin gets unless it asks for more). */
export const COLLECT_EVERY_MIN: i32 = 256;

export let collectEvery: i32 = COLLECT_EVERY_MIN;

/** Collects after every `calls` calls (at least COLLECT_EVERY_MIN). */
export function collectEveryCalls(calls: i32): void {
  collectEvery = calls > COLLECT_EVERY_MIN ? calls : COLLECT_EVERY_MIN;
}
