// Test plugins written in WAT and compiled with wabt: a "scriptable" plugin whose every
// host call is driven by a control block in its memory, so that a test can make it read
// contexts with chosen buffers/pointers, hand chosen bytes back, return chosen values or
// trap, and then look at what it received.

import wabtInit from "wabt";
import { WasmHost, type LoadOptions } from "../../sdk/host.ts";

let wabt: Awaited<ReturnType<typeof wabtInit>> | undefined;

export async function wat(text: string): Promise<Uint8Array> {
  wabt ??= await wabtInit();
  const mod = wabt.parseWat("test.wat", text);
  try {
    return mod.toBinary({}).buffer;
  } finally {
    mod.destroy();
  }
}

/** Byte offsets of the control block (i32 little-endian each). */
export const C = {
  CHECK_RET: 0, // check_payload's return value
  HOOK_RET: 4, // parse_payload / on_* return value
  RESULT_PTR: 8, // host_read_l7_protocol_info(ptr, len) when RESULT_LEN != 0
  RESULT_LEN: 12,
  STR_PTR: 16, // host_read_str_result(ptr, len) when STR_LEN != 0
  STR_LEN: 20,
  CTX_LEN: 24, // vm_read_ctx_base(CTX_PTR or 4096, CTX_LEN) when != 0
  PAYLOAD_LEN: 28, // vm_read_payload(PAYLOAD_PTR or 8192, PAYLOAD_LEN) when != 0
  INFO_LEN: 32, // vm_read_{http_req,http_resp,custom_message}_info(INFO_PTR or 12288, INFO_LEN) when != 0
  TRAP: 36, // 1: unreachable at the end of the hook
  OUT_CTX: 40, // return values of the reads above
  OUT_PAYLOAD: 44,
  OUT_INFO: 48,
  OUT_L7: 52,
  OUT_STR: 56,
  CALLS: 60, // hook calls so far
  CTX_PTR: 96,
  PAYLOAD_PTR: 100,
  INFO_PTR: 104,
  LOG_PTR: 108, // wasm_log(ptr, len, level) when LOG_LEN != 0
  LOG_LEN: 112,
  LOG_LEVEL: 116,
  INFO_KIND: 120, // 0: the hook's own ctx (none for check/parse); 1 req, 2 resp, 3 custom message
  GROW: 124, // pages to grow memory by in each call
  SPIN: 128, // 1: loop forever at the start of the hook
  STEPS: 132, // loop iterations to run at the start of the hook (a bounded loop)
  FAN: 136, // depth of a doubling recursion at the start of the hook: 2^FAN calls, no loop
} as const;
export type Field = keyof typeof C;

export const CTX_AT = 4096;
export const PAYLOAD_AT = 8192;
export const INFO_AT = 12288;
export const DATA_AT = 16384;

export interface ScriptOptions {
  /** 32 hex digits of the 16-byte hook bitmap; default all four hooks. */
  bitmap?: string;
  /** 16 hex digits of the custom-message hook; null = get_custom_message_hook returns 0. */
  customHook?: string | null;
  omitExports?: string[];
  /** Body of _start. */
  start?: string;
  /** Extra import lines (after the deepflow ones). */
  imports?: string;
  /** Extra module fields. */
  fields?: string;
}

const hexBytes = (hex: string) => hex.replace(/../g, "\\$&");

export function scriptWat(o: ScriptOptions = {}): string {
  const bitmap = o.bitmap ?? "e0000000000000000000000000000001";
  const exp = (name: string, body: string) => (o.omitExports?.includes(name) ? "" : `(func (export "${name}") ${body})`);
  return `(module
  (import "deepflow" "wasm_log" (func $log (param i32 i32 i32)))
  (import "deepflow" "vm_read_ctx_base" (func $ctx (param i32 i32) (result i32)))
  (import "deepflow" "vm_read_payload" (func $payload (param i32 i32) (result i32)))
  (import "deepflow" "vm_read_http_req_info" (func $req (param i32 i32) (result i32)))
  (import "deepflow" "vm_read_http_resp_info" (func $resp (param i32 i32) (result i32)))
  (import "deepflow" "vm_read_custom_message_info" (func $msg (param i32 i32) (result i32)))
  (import "deepflow" "host_read_l7_protocol_info" (func $l7 (param i32 i32) (result i32)))
  (import "deepflow" "host_read_str_result" (func $str (param i32 i32) (result i32)))
  ${o.imports ?? ""}
  (memory (export "memory") 2)
  (data (i32.const 64) "${hexBytes(bitmap)}")
  (data (i32.const 80) "${hexBytes(o.customHook ?? "0000000000000000")}")
  (func $ptr (param $at i32) (param $default i32) (result i32)
    (select (i32.load (local.get $at)) (local.get $default) (i32.load (local.get $at))))
  (func $fan (param $depth i32)
    (if (local.get $depth) (then
      (call $fan (i32.sub (local.get $depth) (i32.const 1)))
      (call $fan (i32.sub (local.get $depth) (i32.const 1))))))
  (func $run (param $which i32) (result i32)
    (local $kind i32)
    (local $n i32)
    (i32.store (i32.const 60) (i32.add (i32.load (i32.const 60)) (i32.const 1)))
    (if (i32.load (i32.const 128)) (then (loop $spin (br $spin))))
    (local.set $n (i32.load (i32.const 132)))
    (block $done (loop $count
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $count)))
    (call $fan (i32.load (i32.const 136)))
    (if (i32.load (i32.const 124)) (then (drop (memory.grow (i32.load (i32.const 124))))))
    (if (i32.load (i32.const 112))
      (then (call $log (i32.load (i32.const 108)) (i32.load (i32.const 112)) (i32.load (i32.const 116)))))
    (if (i32.load (i32.const 24))
      (then (i32.store (i32.const 40) (call $ctx (call $ptr (i32.const 96) (i32.const ${CTX_AT})) (i32.load (i32.const 24))))))
    (local.set $kind (i32.load (i32.const 120)))
    (if (i32.eqz (local.get $kind))
      (then (if (i32.ge_u (local.get $which) (i32.const 2)) (then (local.set $kind (i32.sub (local.get $which) (i32.const 1)))))))
    (if (i32.load (i32.const 32))
      (then
        (if (i32.eq (local.get $kind) (i32.const 1))
          (then (i32.store (i32.const 48) (call $req (call $ptr (i32.const 104) (i32.const ${INFO_AT})) (i32.load (i32.const 32))))))
        (if (i32.eq (local.get $kind) (i32.const 2))
          (then (i32.store (i32.const 48) (call $resp (call $ptr (i32.const 104) (i32.const ${INFO_AT})) (i32.load (i32.const 32))))))
        (if (i32.eq (local.get $kind) (i32.const 3))
          (then (i32.store (i32.const 48) (call $msg (call $ptr (i32.const 104) (i32.const ${INFO_AT})) (i32.load (i32.const 32))))))))
    (if (i32.load (i32.const 28))
      (then (i32.store (i32.const 44) (call $payload (call $ptr (i32.const 100) (i32.const ${PAYLOAD_AT})) (i32.load (i32.const 28))))))
    (if (i32.load (i32.const 20))
      (then (i32.store (i32.const 56) (call $str (i32.load (i32.const 16)) (i32.load (i32.const 20))))))
    (if (i32.load (i32.const 12))
      (then (i32.store (i32.const 52) (call $l7 (i32.load (i32.const 8)) (i32.load (i32.const 12))))))
    (if (i32.load (i32.const 36)) (then unreachable))
    (if (result i32) (i32.eqz (local.get $which))
      (then (i32.load (i32.const 0)))
      (else (i32.load (i32.const 4)))))
  (func (export "_start") ${o.start ?? ""})
  ${exp("check_payload", "(result i32) (call $run (i32.const 0))")}
  ${exp("parse_payload", "(result i32) (call $run (i32.const 1))")}
  ${exp("on_http_req", "(result i32) (call $run (i32.const 2))")}
  ${exp("on_http_resp", "(result i32) (call $run (i32.const 3))")}
  ${exp("on_custom_message", "(result i32) (call $run (i32.const 4))")}
  ${exp("get_hook_bitmap", "(result i32) (i32.const 64)")}
  ${exp("get_custom_message_hook", `(result i32) (i32.const ${o.customHook === null || o.customHook === undefined ? 0 : 80})`)}
  ${o.fields ?? ""}
)`;
}

/** The control block of one loaded scriptable plugin. */
export class Script {
  constructor(private readonly memory: WebAssembly.Memory) {}

  private get view(): DataView {
    return new DataView(this.memory.buffer);
  }

  set(fields: Partial<Record<Field, number>>): this {
    for (const [k, v] of Object.entries(fields)) this.view.setInt32(C[k as Field], v, true);
    return this;
  }

  get(field: Field): number {
    return this.view.getInt32(C[field], true);
  }

  write(at: number, bytes: Uint8Array): this {
    new Uint8Array(this.memory.buffer).set(bytes, at);
    return this;
  }

  read(at: number, len: number): Uint8Array {
    return new Uint8Array(this.memory.buffer).slice(at, at + len);
  }

  /** Puts records at DATA_AT for host_read_l7_protocol_info. */
  result(bytes: Uint8Array): this {
    return this.write(DATA_AT, bytes).set({ RESULT_PTR: DATA_AT, RESULT_LEN: bytes.length });
  }

  /** Puts an ABI str at DATA_AT + 8192 for host_read_str_result. */
  name(text: string): this {
    const b = new TextEncoder().encode(text);
    const s = new Uint8Array(2 + b.length);
    s[0] = b.length >> 8;
    s[1] = b.length & 0xff;
    s.set(b, 2);
    return this.write(DATA_AT + 8192, s).set({ STR_PTR: DATA_AT + 8192, STR_LEN: s.length });
  }
}

/** Loads scriptable plugins named p0, p1, ... and returns the host and their scripts. */
export async function loadScripts(options: ScriptOptions[], opts: LoadOptions = {}): Promise<{ host: WasmHost; scripts: Script[] }> {
  const sources = await Promise.all(options.map(async (o, i) => ({ name: `p${i}`, bytes: await wat(scriptWat(o)) })));
  const host = await WasmHost.load(sources, opts);
  return { host, scripts: sources.map((s) => new Script(host.memory(s.name))) };
}

export const hex = (s: string): Uint8Array => Uint8Array.from((s.replace(/\s+/g, "").match(/../g) ?? []).map((b) => parseInt(b, 16)));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
