// Start-up: `host-sim --help` from the JavaScript `npm run build` compiles (build/js/), from
// the TypeScript through tsx, and through npx, next to their peers: node doing nothing, and
// npx running node doing nothing (what npx costs before host-sim starts). npx twice: in this
// repository, whose own package declares the bin (npm then installs the package into its npx
// cache before running it: libnpmexec's self-execution path), and in a project that has it
// installed (its node_modules/.bin/host-sim, here a link to ours: npx runs it at once), which
// is how users run it. Target: under 0.5 s for `npx host-sim --help`. Median wall-clock
// time of 7 runs, and the children's CPU.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
// @ts-expect-error: plain JavaScript module without types
import { compiledEntry } from "../bin/compiled.mjs";
import { childrenCpuMs } from "./measure.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Median wall ms and median CPU ms of one command, over 7 runs. */
function time(cmd: string, args: string[], cwd = root): { wall: number; cpu: number } {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < 7; i++) {
    const cpu0 = childrenCpuMs();
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { cwd, stdio: "ignore" });
    walls.push(performance.now() - t0);
    cpus.push(childrenCpuMs() - cpu0);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  return { wall: median(walls), cpu: median(cpus) };
}

export default async function main(): Promise<void> {
  if (!compiledEntry(root, "host-sim")) console.log("(build/js is missing or older than the sources: run npm run build; the first line below then runs the TypeScript)");
  // A project of a user's with host-sim installed: its bin linked where npm links it.
  const user = mkdtempSync(join(tmpdir(), "startup-bench-"));
  writeFileSync(join(user, "package.json"), JSON.stringify({ name: "startup-bench-user", private: true }));
  mkdirSync(join(user, "node_modules", ".bin"), { recursive: true });
  symlinkSync(join(root, "bin", "host-sim.mjs"), join(user, "node_modules", ".bin", "host-sim"));
  const rows: Array<[string, string, string[], string?]> = [
    ["node bin/host-sim.mjs --help (compiled)", process.execPath, ["bin/host-sim.mjs", "--help"]],
    ["host-sim --help through tsx", process.execPath, ["--import", "tsx", "host-sim/cli.ts", "--help"]],
    ["node -e 0 (peer: node alone)", process.execPath, ["-e", "0"]],
    ["npx host-sim --help, in this repository", "npx", ["--no-install", "host-sim", "--help"]],
    ["npx host-sim --help, in a project with it installed", "npx", ["--no-install", "host-sim", "--help"], user],
    ["npx node -e 0 (peer: npx alone)", "npx", ["--no-install", "node", "-e", "0"]],
  ];
  try {
    for (const [label, cmd, args, cwd] of rows) {
      const t = time(cmd, args, cwd);
      console.log(`${label.padEnd(52)} ${t.wall.toFixed(0).padStart(5)} ms wall  ${t.cpu.toFixed(0).padStart(5)} ms CPU`);
    }
  } finally {
    rmSync(user, { recursive: true, force: true });
  }
}
