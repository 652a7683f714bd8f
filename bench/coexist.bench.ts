// The cost of plugins deployed together. The agent asks every plugin's check_payload for
// each payload of a flow not yet claimed, and every plugin before the owner answers
// parse_payload "next" for each payload of a claimed flow, so each plugin's cost of
// rejecting what is not its own is paid by every other protocol's traffic.
//
// 1. Per plugin, its exports called straight: ns to refuse a foreign payload in
//    check_payload (the payloads of tests/fixtures/mixed/mixed.pcap that no plugin
//    claims: plain HTTP, RabbitMQ's Erlang traffic), and ns to answer parse_payload
//    "next" for another plugin's protocol number.
// 2. Whole replays of the mixed capture through the simulator with 1, 4 and 10 plugins
//    (and 4 without the call budget, to show what metering every call costs):
//    10 is the most one agent loads (StoreLimits instances(10), agent host.rs), so a
//    deployment of 20 does not exist; the extra plugins are copies of the example plugin
//    with other protocol numbers, loaded before the real ones, so that every payload of
//    every flow passes them first (the worst order).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { WasmHost, type LoadOptions, type PluginSource } from "../sdk/host.ts";
import { replayCapture } from "../sdk/replay.ts";
import { buildTestPlugin } from "../tests/support/as-harness.ts";
import { tcpSegments } from "../tests/support/capture.ts";
import { cpuNsPerCall, pluginAlone, pluginCopy, pluginWasm, showCpu as printCpu } from "./measure.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const MIXED = `${root}tests/fixtures/mixed/mixed.pcap`;
const REAL = ["dubbo", "kafka", "rabbitmq", "pinpoint-grpc"];
const PROTO: Record<string, number> = { dubbo: 140, kafka: 150, rabbitmq: 160, "pinpoint-grpc": 170, "http-hooks": 200 };

function source(name: string, file: string): PluginSource {
  return { name, bytes: readFileSync(file) };
}

interface Foreign {
  payload: Uint8Array;
  /** One flow id per connection, as the agent gives them. */
  flowId: number;
}

/** The payloads of mixed.pcap that every plugin alone refuses in check_payload. */
function foreignPayloads(names: string[]): Foreign[] {
  const flows = new Map<string, number>();
  const all = tcpSegments(MIXED).map((s) => {
    const key = [`${s.srcIp}:${s.srcPort}`, `${s.dstIp}:${s.dstPort}`].sort().join(" ");
    if (!flows.has(key)) flows.set(key, flows.size + 1);
    return { payload: s.payload, flowId: flows.get(key)! };
  });
  const plugins = names.map((n) => pluginAlone(readFileSync(pluginWasm(n)), all[0]!.payload, { direction: 0, dstPort: 8080 }));
  return all.filter((f) => plugins.every((p) => {
    p.use(f.payload, f.flowId);
    return p.check() === 0;
  }));
}

async function replayRate(label: string, plugins: PluginSource[], rounds: number, load: LoadOptions = {}): Promise<void> {
  let ms = 0;
  let packets = 0;
  let rows = 0;
  // One round first, not counted: the simulator's own code warms up.
  await replayCapture({ capture: MIXED, host: await WasmHost.load(plugins) });
  for (let i = 0; i < rounds; i++) {
    // A fresh host each time (plugin state is per flow id, which restarts), loaded untimed.
    const host = await WasmHost.load(plugins, load);
    const s = await replayCapture({ capture: MIXED, host, onRow: () => rows++ });
    ms += s.elapsedMs;
    packets += s.capture.packets;
  }
  console.log(`${label.padEnd(64)} ${Math.round(packets / (ms / 1000)).toLocaleString("en-US").padStart(9)} packets/s  (${rows / rounds} rows)`);
}

export default async function coexist(): Promise<void> {
  const shipped = [...REAL, "http-hooks"].map((n) => source(`${n}.wasm`, pluginWasm(n)));
  const foreign = foreignPayloads([...REAL, "http-hooks"]);
  console.log(`foreign payloads: the ${foreign.length} of mixed.pcap that every plugin refuses (plain HTTP, Erlang, ...)`);
  // The floor: the SDK's own work and the payload copy, in a plugin that compares six bytes.
  const floor: Array<[string, Uint8Array]> = [["floor (tests/as/greedy-plugin.ts)", await buildTestPlugin("tests/as/greedy-plugin.ts")]];
  const modules = [...floor, ...[...REAL, "http-hooks"].map((n): [string, Uint8Array] => [n, readFileSync(pluginWasm(n))])];
  // Twice, the first pass unprinted: the first plugin measured would also pay for warming up the harness.
  for (const [pass, [name, bytes]] of [...modules.map((m) => [0, m] as const), ...modules.map((m) => [1, m] as const)]) {
    const showCpu = pass === 0 ? () => {} : printCpu;
    const p = pluginAlone(bytes as Uint8Array<ArrayBuffer>, foreign[0]!.payload, { direction: 0, dstPort: 8080 });
    let i = 0;
    showCpu(`${name}: check_payload refuses a foreign payload`, cpuNsPerCall(() => {
      const f = foreign[i++ % foreign.length]!;
      p.use(f.payload, f.flowId);
      if (p.check() !== 0) throw new Error(`${name} claimed a payload it refused before`);
    }));
    const other = name === "dubbo" ? PROTO.kafka! : PROTO.dubbo!;
    showCpu(`${name}: parse_payload answers next (protocol ${other})`, cpuNsPerCall(() => {
      if (p.parse(other) !== 0) throw new Error(`${name} answered protocol ${other}`);
    }));
  }

  console.log("\nreplay of mixed.pcap (659 packets), wall time of the replays only (hosts loaded apart), 50 rounds:");
  const copies: PluginSource[] = [];
  for (const n of [201, 202, 203, 204, 205, 206]) copies.push(source(`toy-copy-${n}.wasm`, await pluginCopy("http-hooks", n)));
  await replayRate("1 plugin (dubbo.wasm)", [shipped[0]!], 50);
  await replayRate("4 plugins (dubbo, kafka, rabbitmq, pinpoint-grpc)", shipped.slice(0, 4), 50);
  // The simulator's call budget (sdk/meter.ts) against none, as in the agent.
  await replayRate("the same 4, unmetered (--call-budget 0)", shipped.slice(0, 4), 50, { callBudget: 0 });
  await replayRate("10 plugins: 6 copies with other numbers first, then the 4", [...copies, ...shipped.slice(0, 4)], 50);
}
