// The host-sim package: the SDK (../sdk/index.ts) and the CLI built over it, with the CLI's
// output writers and summary text for tools that print as `host-sim replay` does.
export * from "../sdk/index.ts";
export { formatSummary } from "./replay.ts";
export { jsonlWriter, tableWriter, inTimeOrder } from "./output.ts";
export type { RowWriter } from "./output.ts";
export { main } from "./cli.ts";
