// Plugins deployed together, as DeepFlow users deploy them: the agent asks every plugin in
// turn and the first that claims or aborts wins, so each protocol must give the rows its
// plugin gives alone whatever else is loaded and in whatever order. These helpers replay a
// capture with chosen plugins and compare the rows.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { HOOK_HTTP_REQ, HOOK_HTTP_RESP } from "../../sdk/abi.ts";
import { WasmHost } from "../../sdk/host.ts";
import { replayCapture, type ReplayOptions } from "../../sdk/replay.ts";
import { xorshift32 } from "./capture.ts";

export const root = resolve(fileURLToPath(import.meta.url), "..", "..", "..");

export interface Module {
  name: string;
  bytes: Uint8Array;
}

/** The shipped plugins' release builds, in build order (npm run build must have run). */
export function shippedPlugins(): Module[] {
  const names = readdirSync(join(root, "plugins")).filter((n) => existsSync(join(root, "plugins", n, "index.ts"))).sort();
  return names.map((n) => {
    const file = join(root, "build", `${n}.wasm`);
    if (!existsSync(file)) throw new Error(`${relative(root, file)} is missing: run npm run build first`);
    return { name: `${n}.wasm`, bytes: readFileSync(file) };
  });
}

/** Every capture under these folders (relative to the project root), sorted. */
export function capturesUnder(...dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.pcap(ng)?$/.test(e.name)) out.push(relative(root, p));
    }
  };
  for (const d of dirs) if (existsSync(join(root, d))) walk(join(root, d));
  return out.sort();
}

export type ReplayMode = Pick<ReplayOptions, "mode" | "payloadTruncation">;

/** The rows a replay writes (JSONL lines), sorted so that two replays compare as sets. */
export async function replayRows(capture: string, plugins: Module[], mode: ReplayMode = {}): Promise<string[]> {
  const rows: string[] = [];
  await replayCapture({ capture: join(root, capture), plugins, ...mode, onRow: (r) => rows.push(JSON.stringify(r)) });
  return rows.sort();
}

/** L7Protocol of the agent's own HTTP parsers: HTTP (20), HTTP2 (21), gRPC (41), Triple (49). */
const BUILTIN = new Set([20, 21, 41, 49]);

/** A row of the agent's own HTTP/1 or HTTP/2 parser, which is no plugin's. */
function isHttpRow(row: string): boolean {
  return BUILTIN.has((JSON.parse(row) as { l7_protocol: number }).l7_protocol);
}

function flowId(row: string): number {
  return (JSON.parse(row) as { flow_id: number }).flow_id;
}

/**
 * What every plugin gives alone, together (sorted): what any deployment of all of them must
 * give. The agent's own HTTP rows come once, as the plugins that hook HTTP (on_http_req /
 * on_http_resp) make them when loaded without the others (none: the agent's rows as they are),
 * except on flows a plugin claims alone (pinpoint-grpc's gRPC flows): loaded together, that
 * plugin's check_payload is asked before the agent's HTTP/2 parser and keeps them.
 */
export async function rowsAlone(capture: string, plugins: Module[], mode: ReplayMode = {}): Promise<string[]> {
  const all: string[] = [];
  const claimed = new Set<number>();
  for (const p of plugins) {
    await replayCapture({ capture: join(root, capture), plugins: [p], ...mode, onRow: (r) => all.push(JSON.stringify(r)), onFlowEnd: (f) => f.claimedBy !== "" && claimed.add(f.flowId) });
  }
  for (let i = all.length - 1; i >= 0; i--) if (isHttpRow(all[i]!)) all.splice(i, 1);
  const info = (await WasmHost.load(plugins)).pluginInfo();
  const hooksHttp = plugins.filter((p) => ((info.find((i) => i.name === p.name)?.hookBitmap ?? 0n) & (HOOK_HTTP_REQ | HOOK_HTTP_RESP)) !== 0n);
  all.push(...(await replayRows(capture, hooksHttp, mode)).filter((r) => isHttpRow(r) && !claimed.has(flowId(r))));
  return all.sort();
}

/** Load orders to try: as built, reversed, and `random` seeded shuffles (the seed is in the label). */
export function loadOrders(plugins: Module[], random: number, seed: number): Array<{ label: string; plugins: Module[] }> {
  const orders = [
    { label: "build order", plugins },
    { label: "reversed", plugins: [...plugins].reverse() },
  ];
  const next = xorshift32(seed);
  for (let i = 0; i < random; i++) {
    const p = [...plugins];
    for (let j = p.length - 1; j > 0; j--) {
      const k = next() % (j + 1);
      [p[j], p[k]] = [p[k]!, p[j]!];
    }
    orders.push({ label: `shuffle ${i + 1} of seed ${seed}: ${p.map((m) => m.name).join(" ")}`, plugins: p });
  }
  return orders;
}
