// Start-up: `host-sim --help` from the JavaScript `npm run build` compiles (build/js/), from
// the TypeScript through tsx, and through npx, next to their peers: node doing nothing, and
// npx running node doing nothing (what npx costs before host-sim starts). Target: under
// 0.5 s for `npx host-sim --help`. Median wall-clock time of 7 runs, and the children's CPU.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
// @ts-expect-error: plain JavaScript module without types
import { compiledEntry } from "../bin/compiled.mjs";
import { childrenCpuMs } from "./measure.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Median wall ms and median CPU ms of one command, over 7 runs. */
function time(cmd: string, args: string[]): { wall: number; cpu: number } {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < 7; i++) {
    const cpu0 = childrenCpuMs();
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { cwd: root, stdio: "ignore" });
    walls.push(performance.now() - t0);
    cpus.push(childrenCpuMs() - cpu0);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  return { wall: median(walls), cpu: median(cpus) };
}

export default async function main(): Promise<void> {
  if (!compiledEntry(root, "host-sim")) console.log("(build/js is missing or older than the sources: run npm run build; the first line below then runs the TypeScript)");
  const rows: Array<[string, string, string[]]> = [
    ["node bin/host-sim.mjs --help (compiled)", process.execPath, ["bin/host-sim.mjs", "--help"]],
    ["host-sim --help through tsx", process.execPath, ["--import", "tsx", "host-sim/cli.ts", "--help"]],
    ["node -e 0 (peer: node alone)", process.execPath, ["-e", "0"]],
    ["npx host-sim --help", "npx", ["--no-install", "host-sim", "--help"]],
    ["npx node -e 0 (peer: npx alone)", "npx", ["--no-install", "node", "-e", "0"]],
  ];
  for (const [label, cmd, args] of rows) {
    const t = time(cmd, args);
    console.log(`${label.padEnd(44)} ${t.wall.toFixed(0).padStart(5)} ms wall  ${t.cpu.toFixed(0).padStart(5)} ms CPU`);
  }
}
