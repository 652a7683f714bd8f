// Loading: the agent's linker and InstanceWrap::new, reproduced. Modules are written
// in WAT and compiled with wabt.
import { describe, expect, it } from "vitest";
import { LoadError, WasmHost, type HostLogEntry } from "../../sdk/host.ts";
import { scriptWat, wat, type ScriptOptions } from "./support.ts";

async function load(o: ScriptOptions | string, opts: Parameters<typeof WasmHost.load>[1] = {}) {
  const bytes = typeof o === "string" ? await wat(o) : await wat(scriptWat(o));
  return WasmHost.load([{ name: "m.wasm", bytes }], opts);
}

async function loadError(o: ScriptOptions | string): Promise<LoadError> {
  try {
    await load(o);
  } catch (e) {
    if (e instanceof LoadError) return e;
    throw e;
  }
  throw new Error("the module loaded");
}

describe("link check", () => {
  it("loads the scriptable plugin and reads its hooks", async () => {
    const host = await load({ customHook: "00ff000000000000" });
    expect(host.pluginInfo()).toEqual([
      {
        name: "m.wasm",
        index: 0,
        hookBitmap: (1n << 127n) | (1n << 126n) | (1n << 125n) | 1n,
        customMessageHook: 0xffn << 48n,
        hasOnCustomMessage: true,
        usesWasi: false,
        // Not built with the SDK: no protocol_info export.
        protocol: null,
      },
    ]);
  });

  it("refuses an AssemblyScript env.abort import, naming it and the fix", async () => {
    const e = await loadError({ imports: '(import "env" "abort" (func (param i32 i32 i32 i32)))' });
    expect(e.plugin).toBe("m.wasm");
    expect(e.problems).toEqual(["imports env.abort, which the agent does not offer (AssemblyScript: build with --use abort=<your abort that logs and traps>)"]);
    expect(e.message).toMatch(/^m\.wasm: imports env\.abort/);
  });

  it("refuses an offered name imported with another type", async () => {
    const e = await loadError({ imports: '(import "deepflow" "vm_read_payload" (func (param i32) (result i32)))' });
    expect(e.problems).toEqual(["imports deepflow.vm_read_payload as (i32) -> i32, but the agent's is (i32, i32) -> i32"]);
  });

  it("refuses WASI functions outside the agent's subset, and non-function imports", async () => {
    const e = await loadError({
      imports: '(import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32))) (import "deepflow" "tbl" (table 1 funcref))',
    });
    expect(e.problems).toEqual([
      "imports wasi_snapshot_preview1.random_get, which the agent does not offer",
      "imports table deepflow.tbl: the agent offers functions only",
    ]);
  });

  it("refuses missing or mistyped required exports, listing every problem", async () => {
    const e = await loadError({
      omitExports: ["parse_payload", "check_payload", "get_hook_bitmap"],
      fields: '(func (export "check_payload") (result i64) (i64.const 0))',
      imports: '(import "env" "seed" (func (result f64)))',
    });
    expect(e.problems).toEqual([
      "imports env.seed, which the agent does not offer (AssemblyScript: Math.random needs a seed; avoid it or supply --use seed=...)",
      "exports check_payload as () -> i64, but the agent calls it as () -> i32",
      "does not export parse_payload () -> i32",
      "does not export get_hook_bitmap () -> i32",
    ]);
  });

  it("reads names as the agent's linker does: a leading byte order mark is part of the name", async () => {
    // wasmtime looks exports up by their exact bytes; a decoder that drops the BOM would find parse_payload here.
    const e = await loadError({ omitExports: ["parse_payload"], fields: '(func (export "\\ef\\bb\\bfparse_payload") (result i32) (i32.const 0))' });
    expect(e.problems).toEqual(["does not export parse_payload () -> i32"]);
  });

  it("refuses a module without memory or _start", async () => {
    const e = await loadError(`(module
      (func (export "check_payload") (result i32) (i32.const 0)) (func (export "parse_payload") (result i32) (i32.const 0))
      (func (export "on_http_req") (result i32) (i32.const 0)) (func (export "on_http_resp") (result i32) (i32.const 0))
      (func (export "get_hook_bitmap") (result i32) (i32.const 0)) (global (export "_start") i32 (i32.const 0)))`);
    expect(e.problems).toEqual(["does not export memory", "exports _start as a global, not a function"]);
  });

  it("ignores an optional export of the wrong type, as the agent does", async () => {
    const logs: HostLogEntry[] = [];
    const host = await load(
      { omitExports: ["on_custom_message"], fields: '(func (export "on_custom_message") (param i32) (result i32) (i32.const 1))', customHook: "00ff000000000000" },
      { onLog: (l) => logs.push(l) },
    );
    expect(host.pluginInfo()[0].hasOnCustomMessage).toBe(false);
    expect(logs.map((l) => l.message)).toContain("exports on_custom_message with another type than () -> i32: the agent ignores it");
    const ctx = { srcIp: "1.1.1.1", dstIp: "2.2.2.2", srcPort: 1, dstPort: 2, direction: 0 as const };
    expect(host.onCustomMessage(ctx, new Uint8Array(0), { hookPoint: 0, typeCode: 40, data: new Uint8Array(0) })).toBeNull();
    expect(host.counters()[0].hooks.on_custom_message.calls).toBe(0);
  });

  it("refuses bytes that are not a module", async () => {
    await expect(WasmHost.load([{ name: "x.wasm", bytes: new Uint8Array([0, 1, 2]) }])).rejects.toThrow(/x\.wasm: not a valid Wasm module/);
    await expect(WasmHost.load(["/nonexistent/p.wasm"])).rejects.toThrow(/p\.wasm: cannot read \/nonexistent\/p\.wasm/);
  });
});

describe("start-up", () => {
  it("a trapping _start fails the load", async () => {
    const e = await loadError({ start: "unreachable" });
    expect(e.problems[0]).toMatch(/^vm call _start fail: unreachable/);
  });

  it("a host call in _start (no parse context yet) is an agent panic, refused", async () => {
    const e = await loadError({ start: "(drop (call $ctx (i32.const 4096) (i32.const 512)))" });
    expect(e.problems[0]).toMatch(/vm call _start: the agent would panic: vm_read_ctx_base called while the agent has no parse context/);
  });

  it("wasm_log works in _start", async () => {
    const logs: HostLogEntry[] = [];
    await load({ start: "(call $log (i32.const 200) (i32.const 5) (i32.const 1))", fields: '(data (i32.const 200) "ready")' }, { onLog: (l) => logs.push(l) });
    expect(logs).toEqual([{ instance: "m.wasm", level: "warn", source: "plugin", message: "ready" }]);
  });

  it("a hook bitmap pointer outside memory fails the load; 0 means no hooks", async () => {
    const e = await loadError({ omitExports: ["get_hook_bitmap"], fields: '(func (export "get_hook_bitmap") (result i32) (i32.const 131070))' });
    expect(e.problems[0]).toMatch(/get hook bitmap fail/);
    const host = await load({ omitExports: ["get_hook_bitmap"], fields: '(func (export "get_hook_bitmap") (result i32) (i32.const 0))' });
    expect(host.pluginInfo()[0].hookBitmap).toBe(0n);
  });

  it("a custom-message hook pointer outside memory fails the load", async () => {
    const e = await loadError({ omitExports: ["get_custom_message_hook"], fields: '(func (export "get_custom_message_hook") (result i32) (i32.const -4))' });
    expect(e.problems[0]).toMatch(/get custom message hook fail/);
  });
});

describe("several plugins", () => {
  const good = () => wat(scriptWat());

  it("at most 10; a second plugin of the same name is skipped", async () => {
    const bytes = await good();
    const host = await WasmHost.load([...Array(10).keys()].map((i) => ({ name: `p${i}`, bytes })).concat([{ name: "p3", bytes }]));
    expect(host.pluginInfo().map((p) => p.name)).toEqual([...Array(10).keys()].map((i) => `p${i}`));
    await expect(WasmHost.load([...Array(11).keys()].map((i) => ({ name: `p${i}`, bytes })))).rejects.toThrow(/p10: the agent runs at most 10 plugins/);
  });

  it("skipBadModules loads the others and logs what it skipped, as the agent does", async () => {
    const logs: HostLogEntry[] = [];
    const bad = await wat(scriptWat({ imports: '(import "env" "abort" (func (param i32 i32 i32 i32)))' }));
    const host = await WasmHost.load(
      [
        { name: "a", bytes: await good() },
        { name: "bad", bytes: bad },
        { name: "b", bytes: await good() },
      ],
      { skipBadModules: true, onLog: (l) => logs.push(l) },
    );
    expect(host.pluginInfo().map((p) => p.name)).toEqual(["a", "b"]);
    expect(logs).toContainEqual(expect.objectContaining({ instance: "bad", level: "error", message: expect.stringMatching(/add wasm prog fail: imports env\.abort/) }));
  });
});

const WASI = `
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))`;

describe("WASI (TinyGo/Go SDK plugins import wasi_snapshot_preview1)", () => {
  // check_payload claims proto 1 only if the clock works and there are no args or env
  // (the agent's WasiCtx has none); it writes to stdout on the way.
  const check = `(func (export "check_payload") (result i32)
      (i32.store (i32.const 300) (i32.const 320)) (i32.store (i32.const 304) (i32.const 3))
      (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 308)))
      (if (call $clock (i32.const 0) (i64.const 1) (i32.const 400)) (then (return (i32.const 0))))
      (if (i64.eqz (i64.load (i32.const 400))) (then (return (i32.const 0))))
      (drop (call $args_sizes (i32.const 410) (i32.const 414)))
      (drop (call $env_sizes (i32.const 418) (i32.const 422)))
      (if (i32.or (i32.load (i32.const 410)) (i32.load (i32.const 418))) (then (return (i32.const 0))))
      (i32.const 1))
    (data (i32.const 320) "hi\\n")`;
  const ctx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 1000, dstPort: 80, direction: 0 as const };

  it("links the offered functions and runs _start through WASI", async () => {
    const host = await load({ imports: WASI, omitExports: ["check_payload"], fields: check, start: "(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 308)))" });
    expect(host.pluginInfo()[0].usesWasi).toBe(true);
    expect(host.checkPayload(ctx, new Uint8Array(0))).toEqual({ proto: 1, msgType: 1, name: "", instance: "m.wasm" });
  });

  it("a _start that calls proc_exit fails the load (wasmtime reports it as an error)", async () => {
    const e = await loadError({ imports: WASI, start: "(call $exit (i32.const 0))" });
    expect(e.problems[0]).toMatch(/_start called proc_exit\(0\)/);
  });

  it("proc_exit inside a hook is a failure of that call; the next plugin is asked", async () => {
    const exiting = await wat(scriptWat({ imports: WASI, omitExports: ["check_payload"], fields: '(func (export "check_payload") (result i32) (call $exit (i32.const 3)) (i32.const 1))' }));
    const claiming = await wat(scriptWat({ omitExports: ["check_payload"], fields: '(func (export "check_payload") (result i32) (i32.const 9))' }));
    const host = await WasmHost.load([
      { name: "exits", bytes: exiting },
      { name: "claims", bytes: claiming },
    ]);
    expect(host.checkPayload(ctx, new Uint8Array(0))).toMatchObject({ proto: 9, instance: "claims" });
    expect(host.counters()[0].hooks.check_payload).toMatchObject({ calls: 1, failures: 1 });
  });
});
