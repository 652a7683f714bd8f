// A plugin that loops forever cannot hang a replay: the call runs out of its budget, the
// summary names the plugin, hook, packet and flow and says it would stall the agent, the
// other plugins go on, every finished row is written, and the exit status says so.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeFrame, DecodedPacket, openCapture } from "../../capture/open.ts";
import { main } from "../../host-sim/cli.ts";
import { replayCapture, type ReplaySummary } from "../../sdk/replay.ts";
import { root, rowsAlone, shippedPlugins } from "../support/coexist.ts";
import { claimAllPlugin } from "./claim-all.ts";
import { inProcess } from "../support/in-process.ts";

const MIXED = join(root, "tests/fixtures/mixed/mixed.pcap");
const KAFKA = join(root, "tests/fixtures/kafka/v7.pcap");
const dir = mkdtempSync(join(tmpdir(), "host-sim-stall-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 1-based number of the first packet carrying a TCP or UDP payload. */
function firstPayloadPacket(capture: string): number {
  const reader = openCapture(capture);
  const p = new DecodedPacket();
  try {
    for (let n = 1; ; n++) {
      const f = reader.next();
      if (!f) throw new Error("no payload in the capture");
      if (decodeFrame(f, p) && p.payloadLength > 0) return n;
    }
  } finally {
    reader.close();
  }
}

const runCli = (...argv: string[]) => inProcess(() => main(argv));

async function pluginFile(name: string, o: Parameters<typeof claimAllPlugin>[0]): Promise<string> {
  const p = (await claimAllPlugin({ ...o, name })) as { bytes: Uint8Array };
  const path = join(dir, `${name}.wasm`);
  writeFileSync(path, p.bytes);
  return path;
}

describe("a plugin stuck in a loop", () => {
  it("loaded before all the shipped plugins: named at its first call, then skipped; their rows are those they give alone", async () => {
    const stuck = await claimAllPlugin({ name: "stuck", stallInCheck: true });
    const rows: string[] = [];
    const summary: ReplaySummary = await replayCapture({
      capture: MIXED, plugins: [stuck, ...shippedPlugins()], callBudget: 1_000_000, onRow: (r) => rows.push(JSON.stringify(r)),
    });
    expect(rows.sort()).toEqual(await rowsAlone("tests/fixtures/mixed/mixed.pcap", shippedPlugins()));
    expect(summary.stalls).toEqual([{ plugin: "stuck", hook: "check_payload", flowId: expect.any(Number), budget: 1_000_000, packet: firstPayloadPacket(MIXED) }]);
    expect(summary.plugins.find((p) => p.name === "stuck")!.stalled).toMatchObject({ hook: "check_payload" });
  }, 60_000);

  it("host-sim replay, stuck on the first response at the default budget: rows before it written, STALL line, exit 1", async () => {
    const stuck = await pluginFile("stuck", { stallOnResponse: true });
    const out = join(dir, "rows.jsonl");
    const r = await runCli("replay", KAFKA, "--plugin", stuck, "--out", out);
    expect(r.code).toBe(1);
    const rows = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { flow_id: number; request_type: string });
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((row) => row.request_type === "claim-all")).toBe(true);
    const line = /^STALL {5}stuck\.wasm: parse_payload ran out of its budget of 100,000,000 steps on packet (\d+) \(flow (\d+)\); the agent, which has no budget, would stall there; stuck\.wasm was skipped from then on$/m.exec(r.err);
    expect(line, r.err).not.toBeNull();
    expect(r.err).toMatch(/^plugin {4}stuck\.wasm: .*; WOULD STALL THE AGENT \(see STALL\)$/m);
    expect(r.err).toContain("[stuck.wasm] error: vm call parse_payload ran out of its budget");
    // The stall is at a response, after the request whose row was written.
    const stalledAt = Number(line![1]);
    expect(stalledAt).toBeGreaterThan(firstPayloadPacket(KAFKA));
  }, 60_000);

  it("host-sim replay --call-budget 0 is refused for nothing and runs unmetered; a bad value is a usage error", async () => {
    const fine = await pluginFile("fine", {});
    const r = await runCli("replay", KAFKA, "--plugin", fine, "--call-budget", "0", "--out", join(dir, "fine.jsonl"));
    expect(r.code).toBe(0);
    const bad = await runCli("replay", KAFKA, "--plugin", fine, "--call-budget", "lots");
    expect(bad).toMatchObject({ code: 2, err: 'host-sim replay: --call-budget must be an integer in 0..2147483647, got "lots"\n' });
  });

  it("host-sim call on a stuck plugin: the JSON says it would stall the agent, exit 1", async () => {
    const stuck = await pluginFile("stuck-check", { stallInCheck: true });
    const payload = join(dir, "payload.bin");
    writeFileSync(payload, "anything");
    const r = await runCli("call", "--plugin", stuck, "--hook", "check_payload", "--payload", payload, "--call-budget", "1000000");
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out) as { result: unknown; counters: unknown[]; logs: Array<{ message: string }> };
    expect(json.result).toBeNull();
    expect(json.counters).toEqual([{
      name: "stuck-check.wasm", would_stall_the_agent: { hook: "check_payload", budget_steps: 1_000_000 },
      hooks: { check_payload: { calls: 1, answered: 0, failures: 1, lastDurationUs: 0, memSize: 65536 } },
    }]);
    expect(json.logs.map((l) => l.message)).toEqual([
      "vm call check_payload ran out of its budget of 1,000,000 steps on flow 1: the agent, which has no budget, would stall here; the plugin is skipped from now on",
    ]);
  });
});
