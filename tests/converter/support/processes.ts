// Child processes for end-to-end tests: bounded waits for a line of output, and cleanup.
import { spawn, type ChildProcess } from "node:child_process";

export interface Child {
  proc: ChildProcess;
  output: () => string;
  /** Resolves with the first match of `re` in stdout+stderr, rejects after timeoutMs or on exit. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Sends `signal` and waits (bounded) for exit; SIGKILL after the bound. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

export function start(cmd: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const l of listeners) l();
  };
  proc.stdout?.on("data", onData);
  proc.stderr?.on("data", onData);
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    waitFor(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = out.match(re);
          if (m) {
            done();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} in:\n${out}`));
        }, timeoutMs);
        const onExit = (): void => {
          done();
          reject(new Error(`process exited while waiting for ${re}:\n${out}`));
        };
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
          proc.off("exit", onExit);
        };
        listeners.add(check);
        proc.once("exit", onExit);
        check();
      });
    },
    async stop(signal = "SIGTERM", timeoutMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls `cond` every 50 ms until true or timeoutMs. */
export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
