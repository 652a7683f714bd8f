// Runs the npm that runs us (npm run and npx set npm_execpath): inside npm scripts
// node_modules/.bin comes first on PATH, where a dependency's own npm would shadow it (an
// npm 6 did, through @as-pect/cli's glob-promise 5.0.1; package.json pins 5.0.0).
import { execFileSync } from "node:child_process";

/** `npm ARGS` in `cwd` with the npm of npm_execpath when set (npm run / npx), else PATH's; its stdout. */
export function npm(args: string[], cwd: string, timeoutMs = 300_000): string {
  const cli = process.env.npm_execpath;
  const [cmd, pre] = cli && /npm-cli\.js$/.test(cli) ? [process.execPath, [cli]] : ["npm", []];
  return execFileSync(cmd, [...pre, ...args], { cwd, encoding: "utf8", timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
}
