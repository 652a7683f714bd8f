// The simulator's programmatic API, for tests of a plugin and for tools: load plugins as
// the agent does and call their hooks, replay a capture, inspect a module. `host-sim` (the
// CLI in cli.ts) is built on the same calls.
export { WasmHost, LoadError, AgentPanicError } from "./host.ts";
export type { CallCtx, CheckResult, CustomInfo, DeclaredProtocol, HostLogEntry, InstanceCounters, LoadOptions, PluginInfo, PluginSource } from "./host.ts";
export { replayCapture, formatSummary } from "./replay.ts";
export type { ReplayOptions, ReplaySummary } from "./replay.ts";
export type { FlowLogRow } from "./output.ts";
export { inspect } from "./inspect.ts";
export type { Inspection } from "./inspect.ts";
export { declarations, protocolClashes } from "./protocols.ts";
export { main } from "./cli.ts";
