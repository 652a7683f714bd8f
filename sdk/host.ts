// The DeepFlow agent's Wasm host, reproduced in Node: loads plugins in order (at most 10),
// links exactly the agent's imports, and calls the hooks with the agent's semantics
// (WasmVm in agent/src/plugin/wasm/host.rs, imports in abi_import.rs, exports in
// abi_export.rs). The byte layouts live in ./abi.ts, the result decoding in
// ./result.ts, the import table in ./imports.ts (over the call's store, ./store.ts), WASI
// in ./wasi.ts.
//
//   const host = await WasmHost.load(["build/http-hooks.wasm"]);
//   const claim = host.checkPayload(ctx, payload);            // {proto, msgType, name, instance} | null
//   const records = claim && host.parsePayload(ctx, payload, claim.proto);   // CustomInfo[] | null
//
// Hot paths (checkPayload/parsePayload) allocate little: the context is serialized once
// per call into a scratch buffer, the payload is copied straight into plugin memory, and
// IP/name conversions of string contexts are cached.

import { parseIp } from "../capture/address.ts";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import {
  CUSTOM_MESSAGE_HOOK_SIZE,
  DEFAULT_BUF_SIZE,
  EBPF_TYPE,
  EXPORT_CHECK_PAYLOAD,
  EXPORT_GET_CUSTOM_MESSAGE_HOOK,
  EXPORT_GET_HOOK_BITMAP,
  EXPORT_ON_CUSTOM_MESSAGE,
  EXPORT_ON_HTTP_REQ,
  EXPORT_ON_HTTP_RESP,
  EXPORT_PARSE_PAYLOAD,
  EXPORT_PROTOCOL_INFO,
  EXPORT_START,
  HOOK_BITMAP_SIZE,
  HOOK_CUSTOM_MESSAGE,
  HOOK_HTTP_REQ,
  HOOK_HTTP_RESP,
  HOOK_PAYLOAD_PARSE,
  L4_TCP,
  L7_PROTOCOL,
  LOG_LEVEL_ERR,
  LOG_LEVEL_WARN,
  MAX_INSTANCES,
  WASI_MODULE,
  DEEPFLOW_MODULE,
  customMessageHookMatches,
  decodeAbortReturn,
  decodeCheckPayloadReturn,
  readHookBitmap,
  serializeCustomMessageCtx,
  serializeHttpReqCtx,
  writeCtxBase,
  type CustomMessageInfo,
  type Direction,
  type HttpReqInfo,
  type HttpRespInfo,
  type MsgType,
  type ParseCtx,
} from "./abi.ts";
import { deepflowImports, memoryView, type PluginMemory } from "./imports.ts";
import { checkLink } from "./link-check.ts";
import { FUEL_EXPORT, MeterError, meterModule } from "./meter.ts";
import type { CustomInfo } from "./result.ts";
import { AgentPanicError, CallStore, CtxKind } from "./store.ts";
import { newWasi, wasiSubset, type NodeWasi } from "./wasi.ts";
import { decodeUtf8Lossy, encodeUtf8, readU64BE, type U64 } from "./wire.ts";

export type { CustomInfo } from "./result.ts";
export { AgentPanicError } from "./store.ts";

// ---------------------------------------------------------------------------------------
// Public types

/** A hook call's context. Only the 5-tuple and direction are required. */
export interface CallCtx {
  srcIp: string | Uint8Array;
  dstIp: string | Uint8Array;
  srcPort: number;
  dstPort: number;
  direction: Direction;
  /** 6 TCP (default) or 17 UDP. */
  l4?: number;
  /**
   * The ctx's l7 byte in HTTP hooks: the agent's HTTP record proto (default 20, HTTP/1;
   * 21 HTTP/2, 41 gRPC). Ignored elsewhere, as in the agent: check_payload sends 0,
   * parse_payload the claimed proto, on_custom_message 0.
   */
  l7?: number;
  /** Default 255 (packet capture). */
  ebpfType?: number;
  /** Microseconds; default 0. */
  time?: U64;
  /** Default "" (packet capture has none). */
  processName?: string | Uint8Array;
  /** Default 0. */
  flowId?: U64;
  /** The agent's payload truncation; default 1024. Longer payloads are cut to it, as the agent does. */
  bufSize?: number;
}

export type HookName = "check_payload" | "parse_payload" | "on_http_req" | "on_http_resp" | "on_custom_message";
export const HOOK_NAMES: readonly HookName[] = [
  EXPORT_CHECK_PAYLOAD,
  EXPORT_PARSE_PAYLOAD,
  EXPORT_ON_HTTP_REQ,
  EXPORT_ON_HTTP_RESP,
  EXPORT_ON_CUSTOM_MESSAGE,
] as HookName[];

/** The agent's WasmCounter per hook (mem_size, execute_duration, fail_cnt), plus a call count. */
export interface HookCounters {
  calls: number;
  /** Calls answered with a claim (check_payload) or an abort (the others); the rest of the accepted calls said "next". */
  answered: number;
  /** Traps, bad return values: fail_cnt. */
  failures: number;
  /** Duration of the last successful call, µs: execute_duration. */
  lastDurationUs: number;
  /** Linear memory size after the last call, bytes: mem_size. */
  memSize: number;
}

export interface InstanceCounters {
  name: string;
  protocol: DeclaredProtocol | null;
  /** Calls in which the real agent would have panicked (see AgentPanicError). */
  agentPanics: number;
  hooks: Record<HookName, HookCounters>;
  /** The call that ran out of its budget (the plugin is skipped after it), or null. */
  stalled: Stall | null;
}

/** A call that ran out of its budget: the real agent, which has none, would be stuck in it. */
export interface Stall {
  plugin: string;
  hook: HookName;
  /** The call's flow id (0 outside a flow, e.g. `host-sim call` without --flow-id). */
  flowId: U64;
  /** The budget it ran out of, in steps (function calls and loop iterations). */
  budget: number;
}

/**
 * Steps (function entries and loop iterations) a plugin call may take before it counts as
 * stuck: about 0.1 to 0.5 s of a tight loop here, orders of magnitude above what the shipped
 * plugins take on a 64 KB payload, and short enough that a replay does not look hung.
 */
export const DEFAULT_CALL_BUDGET = 100_000_000;

/** A plugin's own protocol as the SDK declares it (protocol_info), when the plugin exports it. */
export interface DeclaredProtocol {
  proto: number;
  /** 6 TCP, 17 UDP, 0 any. */
  l4: number;
  name: string;
}

export interface PluginInfo {
  name: string;
  index: number;
  protocol: DeclaredProtocol | null;
  hookBitmap: bigint;
  customMessageHook: bigint | null;
  hasOnCustomMessage: boolean;
  usesWasi: boolean;
}

export interface CheckResult {
  /** The plugin's protocol number, 1..255. */
  proto: number;
  /** 1 request, 2 response. */
  msgType: MsgType;
  /** The name passed to host_read_str_result ("" when none). */
  name: string;
  /** The claiming plugin's name. */
  instance: string;
}

export interface HostLogEntry {
  instance: string;
  level: "info" | "warn" | "error";
  /** "plugin": wasm_log; "host": what the agent logs about the plugin. */
  source: "plugin" | "host";
  message: string;
}

export type PluginSource = string | { name: string; bytes: Uint8Array };

export interface LoadOptions {
  /** Receives plugin logs and the agent's error messages. Default: dropped. */
  onLog?: (entry: HostLogEntry) => void;
  /** Where WASI plugins' stdout/stderr go: "discard" (default, as in the agent) or "stderr". */
  wasiOutput?: "discard" | "stderr";
  /** The agent logs a module that fails to load and goes on; default here: throw LoadError. */
  skipBadModules?: boolean;
  /**
   * Steps each call (and `_start`) may take, see DEFAULT_CALL_BUDGET; 0 = no budget, as in
   * the agent. A call that runs out traps, is reported (`onStall`, the counters' `stalled`)
   * and its plugin is skipped from then on.
   */
  callBudget?: number;
}

/** A module the agent would refuse. */
export class LoadError extends Error {
  constructor(
    readonly plugin: string,
    readonly problems: string[],
  ) {
    super(`${plugin}: ${problems.join("; ")}`);
    this.name = "LoadError";
  }
}

// ---------------------------------------------------------------------------------------
// Internals


type HookFn = () => number;

interface Plugin extends PluginMemory {
  index: number;
  checkPayload: HookFn;
  parsePayload: HookFn;
  onHttpReq: HookFn;
  onHttpResp: HookFn;
  onCustomMessage: HookFn | null;
  hookBitmap: bigint;
  customMessageHook: bigint | null;
  protocol: DeclaredProtocol | null;
  hooksPayload: boolean;
  hooksHttpReq: boolean;
  hooksHttpResp: boolean;
  hooksCustomMessage: boolean;
  usesWasi: boolean;
  counters: Record<HookName, HookCounters>;
  agentPanics: number;
  /** The metered module's step counter (see meter.ts), null when it runs unmetered. */
  fuel: WebAssembly.Global | null;
  stalled: Stall | null;
}

function newCounters(): Record<HookName, HookCounters> {
  const c = {} as Record<HookName, HookCounters>;
  for (const h of HOOK_NAMES) c[h] = { calls: 0, answered: 0, failures: 0, lastDurationUs: 0, memSize: 0 };
  return c;
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "symbol") return "proc_exit";
  return String(e);
}

const LEVELS = ["info", "warn", "error"] as const;
const BOUNDED_CACHE = 4096;

// ---------------------------------------------------------------------------------------

export class WasmHost {
  private readonly plugins: Plugin[] = [];
  private readonly onLog?: (entry: HostLogEntry) => void;
  private readonly budget: number;
  /** Told of each call that runs out of its budget, when it happens (a replay adds the packet number). */
  onStall: ((stall: Stall) => void) | null = null;

  /** The parse context of the call in progress (StoreDataType.parse_ctx). */
  private readonly store = new CallStore();
  private callStart = 0;

  private readonly ipCache = new Map<string, Uint8Array>();
  private readonly nameCache = new Map<string, Uint8Array>();

  /** The plugin that answered the last call (claimed or aborted), or null. */
  lastInstance: string | null = null;
  /** Modules skipped at load (skipBadModules), with why: the agent would not load them either. */
  readonly notLoaded: Array<{ name: string; problems: string[] }> = [];
  /** Why the real agent would have panicked in the last call, or null. */
  lastPanic: string | null = null;

  private constructor(opts: LoadOptions) {
    this.onLog = opts.onLog;
    this.budget = opts.callBudget ?? DEFAULT_CALL_BUDGET;
    if (!Number.isInteger(this.budget) || this.budget < 0 || this.budget > 0x7fff_ffff) throw new RangeError(`callBudget must be 0..2^31-1, got ${this.budget}`);
  }

  /**
   * Loads plugins in order, as WasmVm::new does: compile, link, `_start`, get_hook_bitmap,
   * get_custom_message_hook. A file path's plugin name is its base name; a second
   * plugin of the same name is skipped (WasmVm::append_prog).
   */
  static async load(sources: PluginSource[], opts: LoadOptions = {}): Promise<WasmHost> {
    const host = new WasmHost(opts);
    for (const src of sources) {
      const name = typeof src === "string" ? basename(src) : src.name;
      try {
        if (host.plugins.some((p) => p.name === name)) {
          host.log(name, LOG_LEVEL_WARN, "host", "a plugin of this name is already loaded: skipped");
          continue;
        }
        if (host.plugins.length >= MAX_INSTANCES) throw new LoadError(name, [`the agent runs at most ${MAX_INSTANCES} plugins`]);
        let bytes: Uint8Array;
        if (typeof src === "string") {
          try {
            bytes = await readFile(src);
          } catch (e) {
            throw new LoadError(name, [`cannot read ${src}: ${errorText(e)}`]);
          }
        } else bytes = src.bytes;
        await host.instantiate(name, bytes, opts.wasiOutput ?? "discard");
      } catch (e) {
        if (!opts.skipBadModules || !(e instanceof LoadError)) throw e;
        host.notLoaded.push({ name, problems: e.problems });
        host.log(name, LOG_LEVEL_ERR, "host", `add wasm prog fail: ${e.problems.join("; ")}`);
      }
    }
    return host;
  }

  private async instantiate(name: string, bytes: Uint8Array, wasiOutput: "discard" | "stderr"): Promise<void> {
    // The metered module is the one that runs; the module as given is compiled only when it
    // cannot be metered (and for what the agent would say of a module that does not compile).
    const meter = await this.meterAndCompile(bytes);
    let module: WebAssembly.Module;
    if (meter !== null && "module" in meter) module = meter.module;
    else {
      try {
        module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
      } catch (e) {
        throw new LoadError(name, [`not a valid Wasm module: ${errorText(e)}`]);
      }
    }
    // Read from the bytes as given: the meter's export is not the plugin's.
    const link = checkLink(module, bytes);
    if (link.problems.length) throw new LoadError(name, link.problems);
    for (const note of link.notes) this.log(name, LOG_LEVEL_WARN, "host", note);
    if (meter !== null && "why" in meter) this.log(name, LOG_LEVEL_WARN, "host", `runs without a call budget (a loop in it would hang the replay): ${meter.why}`);
    const metered = meter !== null && "module" in meter;

    const plugin = {
      name,
      index: this.plugins.length,
      counters: newCounters(),
      agentPanics: 0,
      usesWasi: link.usesWasi,
      stalled: null,
    } as Plugin;
    const imports: WebAssembly.Imports = { [DEEPFLOW_MODULE]: deepflowImports(plugin, this.store, (i, l, src, m) => this.log(i, l, src, m), this.onLog !== undefined) };
    let wasi: NodeWasi | undefined;
    const exitDuringStart = { code: null as number | null };
    if (link.usesWasi) {
      wasi = await newWasi(wasiOutput);
      imports[WASI_MODULE] = wasiSubset(wasi.wasiImport, exitDuringStart) as WebAssembly.ModuleImports;
    }

    const fail = (what: string, e: unknown): never => {
      if (e instanceof AgentPanicError) throw new LoadError(name, [`${what}: the agent would panic: ${e.message}`]);
      throw new LoadError(name, [`${what} fail: ${errorText(e)}`]);
    };
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(module, imports);
    } catch (e) {
      return fail("instantiate", e);
    }
    const ex = instance.exports as Record<string, unknown>;
    plugin.fuel = metered ? (ex[FUEL_EXPORT] as WebAssembly.Global) : null;
    plugin.memory = ex.memory as WebAssembly.Memory;
    plugin.buffer = plugin.memory.buffer;
    plugin.bytes = new Uint8Array(plugin.buffer);
    plugin.checkPayload = ex[EXPORT_CHECK_PAYLOAD] as HookFn;
    plugin.parsePayload = ex[EXPORT_PARSE_PAYLOAD] as HookFn;
    plugin.onHttpReq = ex[EXPORT_ON_HTTP_REQ] as HookFn;
    plugin.onHttpResp = ex[EXPORT_ON_HTTP_RESP] as HookFn;
    const usable = (n: string) => typeof ex[n] === "function" && !link.ignoredExports.includes(n);
    plugin.onCustomMessage = usable(EXPORT_ON_CUSTOM_MESSAGE) ? (ex[EXPORT_ON_CUSTOM_MESSAGE] as HookFn) : null;

    // _start registers the parser. No parse context exists during load.
    this.store.current = name;
    this.refuel(plugin);
    try {
      if (wasi) {
        const code = wasi.start(instance);
        if (exitDuringStart.code !== null) {
          throw new Error(`_start called proc_exit(${code}); wasmtime reports that as an error`);
        }
      } else (ex[EXPORT_START] as () => void)();
    } catch (e) {
      if (this.outOfBudget(plugin)) {
        throw new LoadError(name, [`vm call _start ran out of its budget of ${this.budget.toLocaleString("en-US")} steps: it would stall the agent at load`]);
      }
      return fail("vm call _start", e);
    }

    try {
      plugin.hookBitmap = this.readPointer(plugin, ex[EXPORT_GET_HOOK_BITMAP] as HookFn, HOOK_BITMAP_SIZE, "get hook bitmap", readHookBitmap) ?? 0n;
      plugin.customMessageHook = usable(EXPORT_GET_CUSTOM_MESSAGE_HOOK)
        ? this.readPointer(plugin, ex[EXPORT_GET_CUSTOM_MESSAGE_HOOK] as HookFn, CUSTOM_MESSAGE_HOOK_SIZE, "get custom message hook", (b) => readU64BE(b, 0))
        : null;
      plugin.protocol = typeof ex[EXPORT_PROTOCOL_INFO] === "function" ? this.readDeclaredProtocol(plugin, ex[EXPORT_PROTOCOL_INFO] as HookFn) : null;
    } catch (e) {
      if (e instanceof LoadError) throw e;
      return fail("reading hooks", e);
    }
    const twin = plugin.protocol && this.plugins.find((p) => p.protocol?.proto === plugin.protocol!.proto);
    if (twin) {
      // The agent hands parse_payload of a protocol number to every plugin in turn: the first
      // plugin that declares it answers for both.
      this.log(name, LOG_LEVEL_WARN, "host", `declares protocol ${plugin.protocol!.proto}, as ${twin.name} (loaded before it) does: its flows would be parsed by ${twin.name}`);
    }
    plugin.hooksPayload = (plugin.hookBitmap & HOOK_PAYLOAD_PARSE) !== 0n;
    plugin.hooksHttpReq = (plugin.hookBitmap & HOOK_HTTP_REQ) !== 0n;
    plugin.hooksHttpResp = (plugin.hookBitmap & HOOK_HTTP_RESP) !== 0n;
    plugin.hooksCustomMessage = (plugin.hookBitmap & HOOK_CUSTOM_MESSAGE) !== 0n;
    this.plugins.push(plugin);
  }

  /** The module rewritten to count its steps, compiled, or why it cannot be; null when there is no budget. */
  private async meterAndCompile(bytes: Uint8Array): Promise<{ module: WebAssembly.Module } | { why: string } | null> {
    if (this.budget === 0) return null;
    let rewritten: Uint8Array;
    try {
      rewritten = meterModule(bytes, this.budget);
    } catch (e) {
      return { why: e instanceof MeterError ? e.message : errorText(e) };
    }
    try {
      return { module: await WebAssembly.compile(rewritten as Uint8Array<ArrayBuffer>) };
    } catch (e) {
      return { why: `the metered module does not compile: ${errorText(e)}` };
    }
  }

  private refuel(p: Plugin): void {
    if (p.fuel) p.fuel.value = this.budget;
  }

  /** After a trap: whether it was the meter's (the counter is empty only then). */
  private outOfBudget(p: Plugin): boolean {
    return p.fuel !== null && p.fuel.value === 0;
  }

  /** get_hook_bitmap / get_custom_message_hook: a pointer to `size` bytes, 0 = none. */
  private readPointer<T>(p: Plugin, fn: HookFn, size: number, what: string, read: (b: Uint8Array) => T): T | null {
    this.refuel(p);
    const ptr = fn();
    if (ptr === 0) return null;
    const mem = memoryView(p);
    // The agent widens the i32 to usize: a negative pointer is far out of range.
    if (ptr < 0 || ptr + size > mem.length) throw new LoadError(p.name, [`${what} fail: pointer ${ptr >>> 0} + ${size} is outside memory of ${mem.length} bytes`]);
    return read(mem.subarray(ptr, ptr + size));
  }

  /** protocol_info: a pointer to `u8 protocol, u8 l4, u16 name length, name`; protocol 0 = none declared. */
  private readDeclaredProtocol(p: Plugin, fn: HookFn): DeclaredProtocol | null {
    const head = this.readPointer(p, fn, 4, "read protocol_info", (b) => ({ at: b.byteOffset, proto: b[0]!, l4: b[1]!, nameLen: (b[2]! << 8) | b[3]! }));
    if (head === null || head.proto === 0) return null;
    const mem = memoryView(p);
    const end = head.at + 4 + head.nameLen;
    if (end > mem.length) throw new LoadError(p.name, ["read protocol_info fail: its name runs past memory"]);
    return { proto: head.proto, l4: head.l4, name: decodeUtf8Lossy(mem.subarray(head.at + 4, end)) };
  }

  private log(instance: string, level: number, source: HostLogEntry["source"], message: string): void {
    this.onLog?.({ instance, level: LEVELS[level] ?? "warn", source, message });
  }

  private panic(why: string): never {
    throw new AgentPanicError(why);
  }

  // -------------------------------------------------------------------------------------
  // Calls (host.rs WasmVm::on_*)

  private cachedIp(ip: string | Uint8Array): Uint8Array {
    if (typeof ip !== "string") return ip;
    let b = this.ipCache.get(ip);
    if (!b) {
      if (this.ipCache.size >= BOUNDED_CACHE) this.ipCache.clear();
      b = parseIp(ip);
      this.ipCache.set(ip, b);
    }
    return b;
  }

  private cachedName(name: string | Uint8Array | undefined): Uint8Array {
    if (name === undefined || name === "") return EMPTY;
    if (typeof name !== "string") return name;
    let b = this.nameCache.get(name);
    if (!b) {
      if (this.nameCache.size >= BOUNDED_CACHE) this.nameCache.clear();
      b = encodeUtf8(name);
      if (b.length > 255) throw new RangeError(`process name of ${b.length} bytes does not fit its 1-byte length`);
      this.nameCache.set(name, b);
    }
    return b;
  }

  /** Sets the parse context for one hook call (VmCtxBase::from). */
  private begin(kind: CtxKind, ctx: CallCtx, l7: number, payload: Uint8Array): void {
    const bufSize = ctx.bufSize ?? DEFAULT_BUF_SIZE;
    const full: ParseCtx = SCRATCH_CTX;
    full.srcIp = full.dstIp = EMPTY;
    full.srcPort = ctx.srcPort;
    full.dstPort = ctx.dstPort;
    full.l4 = ctx.l4 ?? L4_TCP;
    full.l7 = l7;
    full.ebpfType = ctx.ebpfType ?? EBPF_TYPE.NONE;
    full.time = ctx.time ?? 0;
    full.direction = ctx.direction;
    full.flowId = ctx.flowId ?? 0;
    full.bufSize = bufSize;
    this.store.ctxLen = writeCtxBase(this.store.ctxBuf, full, this.cachedIp(ctx.srcIp), this.cachedIp(ctx.dstIp), this.cachedName(ctx.processName));
    this.store.flowId = full.flowId;
    this.store.kind = kind;
    this.store.lost = false;
    this.store.payload = payload.length > bufSize ? payload.subarray(0, bufSize) : payload;
    this.store.direction = ctx.direction;
    this.store.result = null;
    this.lastInstance = null;
    this.lastPanic = null;
  }

  private end(): void {
    this.store.clear();
  }

  /** set_ins_name, which unwraps the context. */
  private enter(p: Plugin): void {
    if (this.store.lost) this.panic("the next plugin is called after the agent lost its parse context");
    this.store.current = p.name;
  }

  /**
   * Calls one export and does the agent's bookkeeping. Returns the raw i32, or
   * FAILED after a trap (counted as a failure). AgentPanicError propagates. The caller
   * calls `accepted` once the value decodes (only then does the agent keep the duration).
   */
  private invoke(p: Plugin, hook: HookName, fn: HookFn): number {
    const c = p.counters[hook];
    c.calls++;
    this.refuel(p);
    this.callStart = performance.now();
    let v: number;
    try {
      v = fn();
    } catch (e) {
      c.memSize = p.memory.buffer.byteLength;
      if (e instanceof AgentPanicError) throw e;
      c.failures++;
      if (this.outOfBudget(p)) this.stall(p, hook);
      else this.log(p.name, LOG_LEVEL_ERR, "host", `vm call ${hook} fail: ${errorText(e)}`);
      return FAILED;
    }
    c.memSize = p.memory.buffer.byteLength;
    return v;
  }

  /** A call ran out of its budget: reported once, and the plugin is asked nothing more (the agent would never get past it). */
  private stall(p: Plugin, hook: HookName): void {
    const stall: Stall = { plugin: p.name, hook, flowId: this.store.flowId, budget: this.budget };
    p.stalled = stall;
    p.hooksPayload = p.hooksHttpReq = p.hooksHttpResp = p.hooksCustomMessage = false;
    this.log(p.name, LOG_LEVEL_ERR, "host",
      `vm call ${hook} ran out of its budget of ${this.budget.toLocaleString("en-US")} steps on flow ${this.store.flowId}: ` +
        "the agent, which has no budget, would stall here; the plugin is skipped from now on");
    this.onStall?.(stall);
  }

  /** execute_duration: kept for calls whose return value the agent accepted, in µs. */
  private accepted(p: Plugin, hook: HookName): void {
    p.counters[hook].lastDurationUs = Math.floor((performance.now() - this.callStart) * 1000);
  }

  /** A return value the agent rejects: the call counts as failed, its duration is not kept. */
  private rejectReturn(p: Plugin, hook: HookName, message: string): void {
    p.counters[hook].failures++;
    this.log(p.name, LOG_LEVEL_ERR, "host", `${hook} fail: ${message}`);
  }

  private takeInfos(p: Plugin): CustomInfo[] | null {
    if (this.store.lost) this.panic("the result is read after the agent lost its parse context");
    const r = this.store.result;
    this.store.result = null;
    if (r === null || Array.isArray(r)) return r;
    this.log(p.name, LOG_LEVEL_ERR, "host", "parse payload result with unexpect type");
    return null;
  }

  /** Ends a call cut short by an AgentPanicError (anything else is a host bug: rethrown). */
  private panicked(e: unknown): null {
    if (!(e instanceof AgentPanicError)) throw e;
    const p = this.plugins.find((x) => x.name === this.store.current);
    if (p) p.agentPanics++;
    this.lastPanic = e.message;
    this.lastInstance = this.store.current;
    this.log(this.store.current, LOG_LEVEL_ERR, "host", `the real agent panics here: ${e.message}`);
    return null;
  }

  /**
   * WasmVm::on_check_payload: asks plugins hooking payload parse, in load order; the first
   * non-zero answer wins. The name is whatever host_read_str_result last received
   * during this call (even from an earlier plugin), as in the agent.
   */
  checkPayload(ctx: CallCtx, payload: Uint8Array): CheckResult | null {
    if (this.plugins.length === 0) return null;
    this.begin(CtxKind.Base, ctx, 0, payload);
    try {
      return this.checkEach();
    } catch (e) {
      return this.panicked(e);
    } finally {
      this.end();
    }
  }

  private checkEach(): CheckResult | null {
    for (const p of this.plugins) {
      if (!p.hooksPayload) continue;
      this.enter(p);
      const v = this.invoke(p, EXPORT_CHECK_PAYLOAD, p.checkPayload);
      if (v === FAILED) continue;
      const answer = decodeCheckPayloadReturn(v);
      if ("error" in answer) {
        this.rejectReturn(p, EXPORT_CHECK_PAYLOAD, answer.error);
        continue;
      }
      this.accepted(p, EXPORT_CHECK_PAYLOAD);
      if (answer.proto === 0 || !("msgType" in answer)) continue;
      p.counters[EXPORT_CHECK_PAYLOAD].answered++;
      if (this.store.lost) this.panic("the protocol name is read after the agent lost its parse context");
      let name = "";
      if (typeof this.store.result === "string") name = this.store.result;
      else if (this.store.result !== null) this.log(p.name, LOG_LEVEL_ERR, "host", "str result with unexpect type");
      this.lastInstance = p.name;
      return { proto: answer.proto, msgType: answer.msgType, name, instance: p.name };
    }
    return null;
  }

  /**
   * WasmVm::on_parse_payload: asks plugins in order until one aborts (returns 1); its
   * records are those last accepted by host_read_l7_protocol_info during this call, or an
   * empty list. null when no plugin aborts. The agent then (WasmLog::parse_payload)
   * replaces each record's proto_str with check_payload's name and sets its message type
   * from the direction.
   */
  parsePayload(ctx: CallCtx, payload: Uint8Array, proto: number): CustomInfo[] | null {
    if (this.plugins.length === 0) return null;
    this.begin(CtxKind.Base, ctx, proto, payload);
    try {
      return this.parseEach();
    } catch (e) {
      return this.panicked(e);
    } finally {
      this.end();
    }
  }

  private parseEach(): CustomInfo[] | null {
    for (const p of this.plugins) {
      if (!p.hooksPayload) continue;
      this.enter(p);
      if (!this.abortAnswer(p, EXPORT_PARSE_PAYLOAD, p.parsePayload)) continue;
      this.lastInstance = p.name;
      return this.takeInfos(p) ?? [];
    }
    return null;
  }

  /** WasmVm::on_http_req: the last record of the aborting plugin, or null. */
  onHttpReq(ctx: CallCtx, payload: Uint8Array, req: HttpReqInfo): CustomInfo | null {
    if (this.plugins.length === 0) return null;
    const bytes = serializeHttpReqCtx(req);
    this.begin(CtxKind.HttpReq, ctx, ctx.l7 ?? L7_PROTOCOL.HTTP1, payload);
    this.store.httpReq = bytes;
    return this.singleRecordHook(EXPORT_ON_HTTP_REQ, (p) => (p.hooksHttpReq ? p.onHttpReq : null));
  }

  /** WasmVm::on_http_resp: the last record of the aborting plugin, or null. */
  onHttpResp(ctx: CallCtx, payload: Uint8Array, resp: HttpRespInfo): CustomInfo | null {
    if (this.plugins.length === 0) return null;
    this.begin(CtxKind.HttpResp, ctx, ctx.l7 ?? L7_PROTOCOL.HTTP1, payload);
    this.store.httpResp = resp;
    return this.singleRecordHook(EXPORT_ON_HTTP_RESP, (p) => (p.hooksHttpResp ? p.onHttpResp : null));
  }

  /**
   * WasmVm::on_custom_message: plugins hooking custom messages, exporting
   * on_custom_message, whose get_custom_message_hook matches (or says "all").
   * `payload` is the L7 payload of the built-in parser's message.
   */
  onCustomMessage(ctx: CallCtx, payload: Uint8Array, msg: CustomMessageInfo): CustomInfo | null {
    if (this.plugins.length === 0) return null;
    const bytes = serializeCustomMessageCtx(msg);
    this.begin(CtxKind.CustomMessage, ctx, 0, payload);
    this.store.customMessage = bytes;
    return this.singleRecordHook(EXPORT_ON_CUSTOM_MESSAGE, (p) =>
      p.hooksCustomMessage && p.onCustomMessage && p.customMessageHook !== null && customMessageHookMatches(p.customMessageHook, msg.hookPoint, msg.typeCode)
        ? p.onCustomMessage
        : null,
    );
  }

  /** The loop of the HTTP and custom-message hooks: the aborting plugin's last record. */
  private singleRecordHook(hook: HookName, pick: (p: Plugin) => HookFn | null): CustomInfo | null {
    try {
      for (const p of this.plugins) {
        const fn = pick(p);
        if (!fn) continue;
        this.enter(p);
        if (!this.abortAnswer(p, hook, fn)) continue;
        this.lastInstance = p.name;
        return this.takeInfos(p)?.pop() ?? null;
      }
      return null;
    } catch (e) {
      return this.panicked(e);
    } finally {
      this.end();
    }
  }

  /** Calls a 0/1 export: true = abort. Failures and bad values count and mean "next". */
  private abortAnswer(p: Plugin, hook: HookName, fn: HookFn): boolean {
    const v = this.invoke(p, hook, fn);
    if (v === FAILED) return false;
    const answer = decodeAbortReturn(v);
    if (typeof answer === "boolean") {
      this.accepted(p, hook);
      if (answer) p.counters[hook].answered++;
      return answer;
    }
    this.rejectReturn(p, hook, answer.error);
    return false;
  }

  // -------------------------------------------------------------------------------------
  // Introspection

  /** Loaded plugins, in call order. */
  pluginInfo(): PluginInfo[] {
    return this.plugins.map((p) => ({
      name: p.name,
      index: p.index,
      hookBitmap: p.hookBitmap,
      customMessageHook: p.customMessageHook,
      protocol: p.protocol,
      hasOnCustomMessage: p.onCustomMessage !== null,
      usesWasi: p.usesWasi,
    }));
  }

  /** A plugin's linear memory, for tests and debugging (e.g. to inspect what it received). */
  memory(pluginName: string): WebAssembly.Memory {
    const p = this.plugins.find((x) => x.name === pluginName);
    if (!p) throw new Error(`no plugin named ${pluginName}`);
    return p.memory;
  }

  /** A snapshot of every plugin's counters. */
  counters(): InstanceCounters[] {
    return this.plugins.map((p) => ({
      name: p.name,
      protocol: p.protocol,
      agentPanics: p.agentPanics,
      stalled: p.stalled,
      hooks: Object.fromEntries(HOOK_NAMES.map((h) => [h, { ...p.counters[h] }])) as Record<HookName, HookCounters>,
    }));
  }

  resetCounters(): void {
    for (const p of this.plugins) {
      p.counters = newCounters();
      p.agentPanics = 0;
    }
  }
}

/** A value no export returns as i32 (exports return integers in i32 range). */
const FAILED = 0.5;
const EMPTY = new Uint8Array(0);
const SCRATCH_CTX: ParseCtx = {
  srcIp: EMPTY,
  dstIp: EMPTY,
  srcPort: 0,
  dstPort: 0,
  l4: L4_TCP,
  l7: 0,
  ebpfType: EBPF_TYPE.NONE,
  time: 0,
  direction: 0,
  processName: EMPTY,
  flowId: 0,
  bufSize: DEFAULT_BUF_SIZE,
};
