// The functions the agent links into a plugin's "deepflow" module (abi_import.rs in
// agent/src/plugin/wasm/), with its checks: the parse context must exist (the agent unwraps
// it and panics otherwise), pointers must fall inside the plugin's memory (check_memory),
// buffers must be long enough, and a result must decode.
import {
  IMPORT_HOST_READ_L7_PROTOCOL_INFO,
  IMPORT_HOST_READ_STR_RESULT,
  IMPORT_VM_READ_CTX_BASE,
  IMPORT_VM_READ_CUSTOM_MESSAGE,
  IMPORT_VM_READ_HTTP_REQ,
  IMPORT_VM_READ_HTTP_RESP,
  IMPORT_VM_READ_PAYLOAD,
  IMPORT_WASM_LOG,
  LOG_LEVEL_ERR,
  LOG_LEVEL_WARN,
  serializeHttpRespCtx,
} from "./abi.ts";
import { RecordDecodeError, decodeRecords } from "./result.ts";
import { AgentPanicError, CtxKind, type CallStore } from "./store.ts";
import { decodeUtf8Strict, readWasmStr } from "./wire.ts";

/** A plugin instance's memory, with a view kept until the memory grows. */
export interface PluginMemory {
  name: string;
  memory: WebAssembly.Memory;
  buffer: ArrayBuffer;
  bytes: Uint8Array;
}

/** Where the host's own messages about a plugin go: (instance, level, source, text). */
export type HostLog = (instance: string, level: number, source: "host" | "plugin", message: string) => void;

const U32_LIMIT = 0x1_0000_0000;

export function memoryView(p: PluginMemory): Uint8Array {
  const buf = p.memory.buffer;
  if (buf !== p.buffer) {
    p.buffer = buf;
    p.bytes = new Uint8Array(buf);
  }
  return p.bytes;
}

function panic(why: string): never {
  throw new AgentPanicError(why);
}

/** The agent unwraps parse_ctx in every import but wasm_log. */
function requireCtx(store: CallStore, fn: string): void {
  if (store.kind === CtxKind.None) panic(`${fn} called while the agent has no parse context (during _start or get_hook_bitmap)`);
  if (store.lost) panic(`${fn} called after the agent lost its parse context (a short buffer was passed to an HTTP/custom-message ctx read earlier in this call)`);
}

/** check_memory: `ptr + len <= memory size` with u32 arithmetic. */
function checkMemory(store: CallStore, log: HostLog, p: PluginMemory, ptr: number, len: number, fn: string): boolean {
  requireCtx(store, fn);
  const size = p.memory.buffer.byteLength;
  const end = (ptr >>> 0) + (len >>> 0);
  if (end >= U32_LIMIT) {
    // Release builds wrap the u32 sum; the agent then slices [ptr..wrapped] and panics.
    if (end - U32_LIMIT <= size) panic(`${fn}: ptr ${ptr >>> 0} + len ${len >>> 0} overflows u32`);
  } else if (end <= size) return true;
  log(p.name, LOG_LEVEL_ERR, "host", `in_fn: ${fn} memory overflow, mem size is ${size} but bias to ${end}`);
  return false;
}

export function deepflowImports(p: PluginMemory, store: CallStore, log: HostLog, logging: boolean): Record<string, (...args: number[]) => number | void> {
  return {
    [IMPORT_WASM_LOG]: (ptr: number, len: number, level: number): void => {
      if (!logging) return;
      const b = ptr >>> 0;
      const l = len >>> 0;
      const mem = memoryView(p);
      if (b + l > mem.length) {
        log(p.name, LOG_LEVEL_ERR, "host", `in_fn: ${IMPORT_WASM_LOG}, read data from vm fail: out of bounds`);
        return;
      }
      const text = decodeUtf8Strict(mem.subarray(b, b + l));
      if (text === null) log(p.name, LOG_LEVEL_ERR, "host", `in_fn: ${IMPORT_WASM_LOG}, log fail: invalid utf-8`);
      else if (level >>> 0 <= LOG_LEVEL_ERR) log(p.name, level >>> 0, "plugin", text);
      else log(p.name, LOG_LEVEL_WARN, "host", `wasm log with unknown level: ${level >>> 0}`);
    },

    [IMPORT_VM_READ_CTX_BASE]: (ptr: number, len: number): number => {
      if (!checkMemory(store, log, p, ptr, len, IMPORT_VM_READ_CTX_BASE)) return 0;
      if (len >>> 0 < store.ctxLen) {
        log(p.name, LOG_LEVEL_ERR, "host", `serialize ctx base fail, need ${store.ctxLen} bytes but buf only ${len >>> 0} bytes`);
        return 0;
      }
      memoryView(p).set(store.ctxBuf.subarray(0, store.ctxLen), ptr >>> 0);
      return store.ctxLen;
    },

    [IMPORT_VM_READ_PAYLOAD]: (ptr: number, len: number): number => {
      if (!checkMemory(store, log, p, ptr, len, IMPORT_VM_READ_PAYLOAD)) return 0;
      if (store.payload.length > len >>> 0) {
        log(p.name, LOG_LEVEL_ERR, "host", `vm read payload fail: buffer length not enough, require ${store.payload.length} but buffer size is ${len >>> 0}`);
        return -1;
      }
      memoryView(p).set(store.payload, ptr >>> 0);
      return store.payload.length;
    },

    [IMPORT_VM_READ_HTTP_REQ]: (ptr, len) => writeHookCtx(store, log, p, ptr, len, IMPORT_VM_READ_HTTP_REQ, CtxKind.HttpReq),
    [IMPORT_VM_READ_HTTP_RESP]: (ptr, len) => writeHookCtx(store, log, p, ptr, len, IMPORT_VM_READ_HTTP_RESP, CtxKind.HttpResp),
    [IMPORT_VM_READ_CUSTOM_MESSAGE]: (ptr, len) => writeHookCtx(store, log, p, ptr, len, IMPORT_VM_READ_CUSTOM_MESSAGE, CtxKind.CustomMessage),

    [IMPORT_HOST_READ_L7_PROTOCOL_INFO]: (ptr: number, len: number): number => {
      if (!checkMemory(store, log, p, ptr, len, IMPORT_HOST_READ_L7_PROTOCOL_INFO)) return 0;
      const b = ptr >>> 0;
      try {
        store.result = decodeRecords(memoryView(p).subarray(b, b + (len >>> 0)), store.direction);
        return 1;
      } catch (e) {
        if (!(e instanceof RecordDecodeError)) throw e;
        if (e.agentPanics) panic(`${IMPORT_HOST_READ_L7_PROTOCOL_INFO}: ${e.message}`);
        log(p.name, LOG_LEVEL_ERR, "host", `in_fn: ${IMPORT_HOST_READ_L7_PROTOCOL_INFO} CustomInfo deserialize fail: ${e.message}`);
        return 0;
      }
    },

    [IMPORT_HOST_READ_STR_RESULT]: (ptr: number, len: number): number => {
      if (!checkMemory(store, log, p, ptr, len, IMPORT_HOST_READ_STR_RESULT)) return 0;
      const b = ptr >>> 0;
      const s = readWasmStr(memoryView(p).subarray(b, b + (len >>> 0)), { off: 0 });
      if (s === null) {
        log(p.name, LOG_LEVEL_ERR, "host", `in_fn: ${IMPORT_HOST_READ_STR_RESULT} read str result fail`);
        return 0;
      }
      store.result = s;
      return 1;
    },
  };
}

/** vm_read_http_req_info / vm_read_http_resp_info / vm_read_custom_message_info. */
function writeHookCtx(store: CallStore, log: HostLog, p: PluginMemory, ptr: number, len: number, fn: string, kind: CtxKind): number {
  if (!checkMemory(store, log, p, ptr, len, fn)) return 0;
  if (store.kind !== kind) {
    log(p.name, LOG_LEVEL_ERR, "host", `in_fn: ${fn} ctx type incorrect`);
    return 0;
  }
  const l = len >>> 0;
  const bytes =
    kind === CtxKind.HttpReq ? store.httpReq! : kind === CtxKind.HttpResp ? serializeHttpRespCtx(store.httpResp!, l) : store.customMessage!;
  if (bytes === null || bytes.length > l) {
    // The agent returns 0 here without putting its parse context back: the next access panics.
    store.lost = true;
    log(p.name, LOG_LEVEL_ERR, "host", `in_fn: ${fn} serialize fail: buf only ${l} bytes; the agent loses its parse context now`);
    return 0;
  }
  memoryView(p).set(bytes, ptr >>> 0);
  return bytes.length;
}
