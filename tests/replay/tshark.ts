// Runs tshark to get an independent reading of a capture for the tests to compare against.
import { execFile, execFileSync } from "node:child_process";

function tsharkArgs(file: string, fields: string[], displayFilter?: string, prefs: string[] = []): string[] {
  const args = ["-n", "-r", file, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"];
  for (const p of prefs) args.push("-o", p);
  if (displayFilter) args.push("-Y", displayFilter);
  for (const f of fields) args.push("-e", f);
  return args;
}

function rows(out: string): string[][] {
  return out.split("\n").filter((l) => l.length > 0).map((l) => l.split("\t"));
}

/** Async form so that a test file can run its tshark calls in parallel (each costs ~1 s of startup). */
export function tsharkFieldsAsync(file: string, fields: string[], displayFilter?: string, prefs: string[] = []): Promise<string[][]> {
  return new Promise((resolve, reject) => {
    execFile("tshark", tsharkArgs(file, fields, displayFilter, prefs), { encoding: "utf8", maxBuffer: 64 << 20 }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === "ENOENT") {
        reject(new Error("tshark is not installed (apt-get install -y tshark; it is in .ci/run)"));
      } else if (err && !stdout) reject(err);
      else resolve(rows(stdout)); // a damaged file exits non-zero after printing the good frames
    });
  });
}

export function tsharkFields(file: string, fields: string[], displayFilter?: string, prefs: string[] = []): string[][] {
  const args = tsharkArgs(file, fields, displayFilter, prefs);
  let out: string;
  try {
    out = execFileSync("tshark", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { code?: string; stdout?: string };
    if (err.code === "ENOENT") throw new Error("tshark is not installed (apt-get install -y tshark; it is in .ci/run)");
    // tshark exits non-zero on a damaged file after printing the good frames.
    if (typeof err.stdout === "string") out = err.stdout;
    else throw e;
  }
  return rows(out);
}

/** Runs `jobs` with at most `limit` at a time. */
export async function inBatches<T>(jobs: Array<() => Promise<T>>, limit = 4): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

/** tshark's frame.time_epoch ("1795719085.783981000") as whole microseconds. */
export function epochToMicros(s: string): number {
  const [sec, frac = ""] = s.split(".");
  // In integers, then the nearest double (what the reader makes of a 64-bit timestamp past 2^53 µs).
  return Number(BigInt(sec!) * 1_000_000n + BigInt((frac + "000000").slice(0, 6)));
}
