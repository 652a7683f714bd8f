// Every capture in the repository replayed with ALL the shipped plugins loaded, in build
// order, reversed and in seeded random orders, must give exactly the rows (a diff, not a
// count) of each plugin replayed alone: deployed together, no plugin takes another's
// messages. COEXIST_SEED picks other random orders.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../host-sim/cli.ts";
import { formatSummary } from "../../host-sim/replay.ts";
import { replayCapture } from "../../sdk/replay.ts";
import { capturesUnder, loadOrders, replayRows, root, rowsAlone, shippedPlugins, type ReplayMode } from "../support/coexist.ts";

const plugins = shippedPlugins();
const captures = capturesUnder("tests/fixtures", "plugins");
const SEED = Number(process.env.COEXIST_SEED ?? 20261207);
const MODES: Array<[string, ReplayMode]> = [
  ["packet mode, the agent's defaults", {}],
  ["stream mode, full payloads", { mode: "stream", payloadTruncation: 65535 }],
];

describe.each(MODES)("deployed together (%s)", (_label, mode) => {
  it.each(captures)("%s: any load order gives each plugin's rows alone", async (capture) => {
    const expected = await rowsAlone(capture, plugins, mode);
    for (const order of loadOrders(plugins, 3, SEED)) {
      expect(await replayRows(capture, order.plugins, mode), `${capture}, ${order.label}`).toEqual(expected);
    }
  });
});

describe("the comparison is not empty", () => {
  // Each shipped protocol's own capture gives rows of that protocol with all plugins loaded.
  it.each([
    ["tests/fixtures/dubbo/dubbo-hessian2.pcap", "Dubbo"],
    ["tests/fixtures/kafka/v7.pcap", "Kafka"],
    ["tests/fixtures/amqp/rabbitmq.pcap", "AMQP"],
    ["tests/fixtures/pinpoint/pinpoint-full.pcap", "Pinpoint-gRPC"],
    ["tests/fixtures/capture/toy.pcap", "Toy"],
  ])("%s gives %s rows", async (capture, proto) => {
    expect(captures).toContain(capture);
    const rows = (await replayRows(capture, plugins)).map((r) => JSON.parse(r) as { l7_protocol_str: string });
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.l7_protocol_str === proto)).toBe(true);
  });
});

describe("the replay summary, per plugin", () => {
  it("says what each plugin claimed and answered, and what it passed on", async () => {
    const [dubbo, kafka] = ["dubbo.wasm", "kafka.wasm"].map((n) => plugins.find((p) => p.name === n)!);
    const s = await replayCapture({ capture: join(root, "tests/fixtures/kafka/v7.pcap"), plugins: [dubbo!, kafka!] });
    // Three connections to one broker: the first claimed by check_payload, the others by the server's inference cache.
    expect(s.payload.byPlugin["kafka.wasm"]).toEqual({ flows: 1, flowsFromCache: 2, messages: 42, records: 42 });
    expect(s.payload.byPlugin["dubbo.wasm"]).toBeUndefined();
    const dubboHooks = s.plugins.find((p) => p.name === "dubbo.wasm")!.hooks;
    expect(dubboHooks.check_payload).toMatchObject({ calls: 1, answered: 0 });
    expect(dubboHooks.parse_payload).toMatchObject({ calls: 42, answered: 0, failures: 0 });
    const text = formatSummary(s);
    expect(text).toContain("plugin    dubbo.wasm (Dubbo, protocol 140/TCP): 0 flows claimed; check_payload 1 (0 claimed, 1 not), parse_payload 42 (0 answered, 42 next)");
    expect(text).toContain("plugin    kafka.wasm (Kafka, protocol 150/TCP): 1 flows claimed (+2 from the inference cache), 42 messages → 42 records; check_payload 1 (1 claimed, 0 not), parse_payload 42 (42 answered, 0 next)");
  });
});

describe("a plugin the agent would refuse, deployed with the others", () => {
  async function run(argv: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
    let stderr = "";
    let stdout = "";
    const [err, out] = [process.stderr.write.bind(process.stderr), process.stdout.write.bind(process.stdout)];
    process.stderr.write = ((s: string) => ((stderr += s), true)) as typeof process.stderr.write;
    process.stdout.write = ((s: string) => ((stdout += s), true)) as typeof process.stdout.write;
    try {
      return { code: await main(argv), stderr, stdout };
    } finally {
      process.stderr.write = err;
      process.stdout.write = out;
    }
  }

  const dir = mkdtempSync(join(tmpdir(), "refused-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const junk = join(dir, "junk.wasm");
  writeFileSync(junk, "not a wasm module");
  const capture = join(root, "tests/fixtures/kafka/v7.pcap");
  const kafka = join(root, "build/kafka.wasm");

  it("is skipped, as the agent skips it; the others replay and the summary says it was not loaded", async () => {
    const alone = await replayRows("tests/fixtures/kafka/v7.pcap", plugins.filter((p) => p.name === "kafka.wasm"));
    const r = await run(["replay", capture, "--plugin", junk, "--plugin", kafka, "--format", "jsonl"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").sort()).toEqual(alone);
    expect(r.stderr).toMatch(/\[junk\.wasm\] error: add wasm prog fail: not a valid Wasm module/);
    expect(r.stderr).toMatch(/plugin {4}junk\.wasm: NOT LOADED \(the agent would skip it too\): not a valid Wasm module/);
  });

  it("fails the run with --strict, and when no plugin loads at all", async () => {
    expect((await run(["replay", capture, "--plugin", junk, "--plugin", kafka, "--strict"])).code).toBe(2);
    const none = await run(["replay", capture, "--plugin", junk]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("none of the plugins could be loaded");
  });
});
