// The call budget (sdk/meter.ts): a plugin call that loops or recurses without end
// runs out of its steps, is reported with its plugin, hook and flow, and the plugin is
// skipped from then on while the others go on; bounded work within the budget is
// untouched, and the rewrite keeps every instruction family's behaviour.
import wabtInit from "wabt";
import { describe, expect, it } from "vitest";
import { LoadError, WasmHost, type CallCtx, type HostLogEntry, type Stall } from "../../sdk/host.ts";
import { FUEL_EXPORT, MeterError, meterModule } from "../../sdk/meter.ts";
import { shippedPlugins } from "../support/coexist.ts";
import { loadScripts, scriptWat, wat } from "./support.ts";

const ctx: CallCtx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 9000, direction: 0, flowId: 7 };
const payload = new TextEncoder().encode("hello");
const CLAIM = 42 | (1 << 8); // protocol 42, a request
const BUDGET = 1_000_000;

async function twoPlugins() {
  const logs: HostLogEntry[] = [];
  const stalls: Stall[] = [];
  const { host, scripts } = await loadScripts([{}, {}], { callBudget: BUDGET, onLog: (e) => logs.push(e) });
  host.onStall = (s) => stalls.push(s);
  scripts[1]!.set({ CHECK_RET: CLAIM, HOOK_RET: 1 });
  return { host, scripts, logs, stalls };
}

describe("a call that never ends", () => {
  it("check_payload looping forever: reported, the plugin skipped from then on, the next plugin answers", async () => {
    const { host, scripts, logs, stalls } = await twoPlugins();
    scripts[0]!.set({ SPIN: 1, CHECK_RET: CLAIM });
    expect(host.checkPayload(ctx, payload)).toMatchObject({ proto: 42, instance: "p1" });
    const stall = { plugin: "p0", hook: "check_payload", flowId: 7, budget: BUDGET };
    expect(stalls).toEqual([stall]);
    expect(host.counters()[0]!.stalled).toEqual(stall);
    expect(host.counters()[0]!.hooks.check_payload).toMatchObject({ calls: 1, failures: 1 });
    expect(logs.filter((l) => l.instance === "p0").map((l) => l.message)).toEqual([
      "vm call check_payload ran out of its budget of 1,000,000 steps on flow 7: the agent, which has no budget, would stall here; the plugin is skipped from now on",
    ]);
    // Skipped in every hook from now on, even once it would behave.
    scripts[0]!.set({ SPIN: 0 });
    expect(host.checkPayload(ctx, payload)).toMatchObject({ instance: "p1" });
    expect(host.parsePayload(ctx, payload, 42)).toEqual([]);
    expect(host.lastInstance).toBe("p1");
    expect(host.onHttpReq(ctx, payload, { path: "/", host: "h", userAgent: "", referer: "" })).toBeNull();
    expect(scripts[0]!.get("CALLS")).toBe(1);
    expect(stalls).toHaveLength(1);
  });

  it.each(["parse_payload", "on_http_req"] as const)("%s looping forever: the same", async (hook) => {
    const { host, scripts, stalls } = await twoPlugins();
    scripts[0]!.set({ SPIN: 1, HOOK_RET: 1 });
    if (hook === "parse_payload") expect(host.parsePayload(ctx, payload, 42)).toEqual([]);
    else host.onHttpReq(ctx, payload, { path: "/", host: "h", userAgent: "", referer: "" });
    expect(host.lastInstance).toBe("p1");
    expect(stalls).toEqual([{ plugin: "p0", hook, flowId: 7, budget: BUDGET }]);
  });

  it("a recursion that doubles without any loop (2^30 calls) runs out too: function entries count", async () => {
    const { host, scripts, stalls } = await twoPlugins();
    scripts[0]!.set({ FAN: 30 });
    host.checkPayload(ctx, payload);
    expect(stalls.map((s) => s.hook)).toEqual(["check_payload"]);
  });

  it("bounded work inside the budget is untouched; the same work over it is a stall", async () => {
    const { host, scripts, stalls } = await twoPlugins();
    scripts[0]!.set({ STEPS: BUDGET - 100, CHECK_RET: CLAIM });
    expect(host.checkPayload(ctx, payload)).toMatchObject({ instance: "p0" });
    expect(stalls).toEqual([]);
    scripts[0]!.set({ STEPS: BUDGET });
    expect(host.checkPayload(ctx, payload)).toMatchObject({ instance: "p1" });
    expect(stalls).toHaveLength(1);
  });

  it("budget 0 runs unmetered, as the agent does", async () => {
    const { host, scripts } = await loadScripts([{}], { callBudget: 0 });
    scripts[0]!.set({ STEPS: 3 * BUDGET, CHECK_RET: CLAIM });
    expect(host.checkPayload(ctx, payload)).toMatchObject({ instance: "p0" });
    expect(host.counters()[0]!.stalled).toBeNull();
  });

  it("a trap is a failure, not a stall: the plugin is asked again", async () => {
    const { host, scripts, stalls } = await twoPlugins();
    scripts[0]!.set({ TRAP: 1 });
    host.checkPayload(ctx, payload);
    host.checkPayload(ctx, payload);
    expect(scripts[0]!.get("CALLS")).toBe(2);
    expect(stalls).toEqual([]);
    expect(host.counters()[0]).toMatchObject({ stalled: null, hooks: { check_payload: { calls: 2, failures: 2 } } });
  });

  it("_start looping forever: not loaded, and said why; the other plugins load", async () => {
    const stuck = { name: "stuck.wasm", bytes: await wat(scriptWat({ start: "(loop $l (br $l))" })) };
    const why = "vm call _start ran out of its budget of 1,000,000 steps: it would stall the agent at load";
    await expect(WasmHost.load([stuck], { callBudget: BUDGET })).rejects.toThrow(new LoadError("stuck.wasm", [why]));
    const host = await WasmHost.load([stuck, ...shippedPlugins()], { callBudget: BUDGET, skipBadModules: true });
    expect(host.notLoaded).toEqual([{ name: "stuck.wasm", problems: [why] }]);
    expect(host.pluginInfo()).toHaveLength(shippedPlugins().length);
  });
});

describe("the meter's rewrite", () => {
  it("adds one exported counter and keeps every shipped plugin valid", async () => {
    for (const p of shippedPlugins()) {
      const module = await WebAssembly.compile(meterModule(p.bytes, 5) as Uint8Array<ArrayBuffer>);
      expect(WebAssembly.Module.exports(module)).toContainEqual({ name: FUEL_EXPORT, kind: "global" });
    }
  });

  it("keeps the behaviour of every instruction family it reads past", async () => {
    // Control, br_table, call_indirect, multi-value blocks, memory and bulk memory, SIMD
    // (const, shuffle, lanes, load lane), saturating truncation, sign extension, reference
    // types, atomics, tail calls, exceptions, select with a type, a tuple of imports.
    const text = `(module
      (import "env" "g" (global $imported i32))
      (import "env" "m" (memory 1 1 shared))
      (type $bin (func (param i32 i32) (result i32)))
      (table $t 2 funcref)
      (elem (table $t) (i32.const 0) func $add $sub)
      (global $mut (mut i64) (i64.const 5))
      (tag $oops (param i32))
      (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
      (func $sub (type $bin) (i32.sub (local.get 0) (local.get 1)))
      (func $tail (param i32) (result i32) (return_call $add (local.get 0) (i32.const 1)))
      (func $pair (result i32 i32) (i32.const 3) (i32.const 4))
      (func (export "run") (param $x i32) (result i32)
        (local $acc i32) (local $v v128) (local $i i32)
        (block $b2 (block $b1 (block $b0 (br_table $b0 $b1 $b2 (i32.rem_u (local.get $x) (i32.const 3))))
          (local.set $acc (i32.const 10)) (br $b2))
          (local.set $acc (i32.const 20)))
        (local.set $acc (i32.add (local.get $acc) (call_indirect (type $bin) (i32.const 7) (i32.const 2) (i32.and (local.get $x) (i32.const 1)))))
        (local.set $acc (i32.add (local.get $acc) (call $add (call $pair))))
        (local.set $acc (i32.add (local.get $acc) (block (result i32) (i32.const 1) (i32.const 2) (i32.add))))
        (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (local.get $x))))
        (local.set $acc (i32.add (local.get $acc) (local.get $i)))
        (i64.store offset=8 align=4 (i32.const 0) (i64.const 0x0102030405060708))
        (memory.fill (i32.const 32) (i32.const 9) (i32.const 16))
        (memory.copy (i32.const 64) (i32.const 8) (i32.const 8))
        (local.set $acc (i32.add (local.get $acc) (i32.load8_u (i32.const 64))))
        (local.set $acc (i32.add (local.get $acc) (i32.load16_s offset=40 (i32.const 0))))
        (local.set $v (v128.const i32x4 1 2 3 4))
        (local.set $v (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $v) (local.get $v)))
        (local.set $v (i32x4.replace_lane 3 (local.get $v) (i32.const 100)))
        (local.set $v (v128.load32_lane 0 (i32.const 64) (local.get $v)))
        (local.set $acc (i32.add (local.get $acc) (i32x4.extract_lane 3 (local.get $v))))
        (local.set $acc (i32.add (local.get $acc) (i32x4.extract_lane 1 (i32x4.add (local.get $v) (v128.load32_splat (i32.const 64))))))
        (local.set $acc (i32.add (local.get $acc) (i32.trunc_sat_f64_s (f64.const 1e12))))
        (local.set $acc (i32.add (local.get $acc) (i32.extend8_s (i32.const 0xff))))
        (local.set $acc (i32.add (local.get $acc) (select (result i32) (i32.const 1) (i32.const 2) (ref.is_null (ref.null func)))))
        (local.set $acc (i32.add (local.get $acc) (ref.is_null (table.get $t (i32.const 1)))))
        (local.set $acc (i32.add (local.get $acc) (table.size $t)))
        (local.set $acc (i32.add (local.get $acc) (i32.atomic.rmw.add (i32.const 128) (i32.const 3))))
        (atomic.fence)
        (local.set $acc (i32.add (local.get $acc) (i32.atomic.load (i32.const 128))))
        (global.set $mut (i64.add (global.get $mut) (i64.extend_i32_u (local.get $acc))))
        (local.set $acc (i32.add (local.get $acc) (call $tail (global.get $imported))))
        (local.set $acc (i32.add (local.get $acc)
          (try (result i32) (do (throw $oops (i32.const 1000))) (catch $oops) (catch_all (i32.const 0)))))
        (local.set $acc (i32.add (local.get $acc) (f32.const 1.5) (drop) (f64.const 2.5) (drop) (i32.wrap_i64 (global.get $mut))))
        (local.get $acc)))`;
    const wabt = await wabtInit();
    const parsed = wabt.parseWat("families.wat", text, { threads: true, tail_call: true, exceptions: true });
    const bytes = parsed.toBinary({}).buffer;
    parsed.destroy();
    const imports = () => ({ env: { g: 5, m: new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }) } });
    const run = async (b: Uint8Array) => {
      const { instance } = await WebAssembly.instantiate(b as Uint8Array<ArrayBuffer>, imports());
      const f = instance.exports.run as (x: number) => number;
      return [0, 1, 2, 3, 17, 1000].map((x) => f(x));
    };
    const plain = await run(bytes);
    expect(await run(meterModule(bytes, BUDGET))).toEqual(plain);
    // A budget too small for the loop of run(1000) traps there and nowhere else.
    const { instance } = await WebAssembly.instantiate(meterModule(bytes, 200) as Uint8Array<ArrayBuffer>, imports());
    const f = instance.exports.run as (x: number) => number;
    const fuel = instance.exports[FUEL_EXPORT] as WebAssembly.Global;
    for (const [i, x] of [0, 1, 2, 3, 17].entries()) {
      fuel.value = 200;
      expect(f(x)).toBe(plain[i]);
    }
    fuel.value = 200;
    expect(() => f(1000)).toThrow(WebAssembly.RuntimeError);
    expect(fuel.value).toBe(0);
  });

  it("refuses what it cannot read, naming it", () => {
    // One function whose body holds a GC instruction (0xfb prefix), which the meter does not know.
    const module = Uint8Array.of(
      0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
      1, 4, 1, 0x60, 0, 0, // type: () -> ()
      3, 2, 1, 0, // one function
      10, 7, 1, 5, 0, 0xfb, 0x00, 0x00, 0x0b, // its body
    );
    expect(() => meterModule(module, 10)).toThrow(new MeterError("opcode 0xfb at byte 3 of the code section is not known"));
    expect(() => meterModule(Uint8Array.of(1, 2, 3), 10)).toThrow(MeterError);
  });
});
