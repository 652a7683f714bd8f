// The TypeScript SDK: the agent's side of a DeepFlow Wasm plugin, for JavaScript users of
// plugins (tests, tools, CI). Load plugins as the agent does and call their hooks, decode
// what they return, replay a capture programmatically, inspect a module. `host-sim` (the
// CLI) and the converter are built on these calls.
export { WasmHost, LoadError, AgentPanicError, DEFAULT_CALL_BUDGET, HOOK_NAMES } from "./host.ts";
export type { CallCtx, CheckResult, CustomInfo, DeclaredProtocol, HookName, HostLogEntry, InstanceCounters, LoadOptions, PluginInfo, PluginSource, Stall } from "./host.ts";
export { decodeRecords, RecordDecodeError } from "./result.ts";
export { replayCapture, DEFAULT_PAYLOAD_TRUNCATION } from "./replay.ts";
export type { ReplayOptions, ReplaySummary } from "./replay.ts";
export { toRow } from "./row.ts";
export type { FlowLogRow } from "./row.ts";
export { inspect } from "./inspect.ts";
export type { Inspection } from "./inspect.ts";
export { declarations, protocolClashes } from "./protocols.ts";
export { pluginFiles } from "./plugin-files.ts";
export { UsageError } from "./errors.ts";
