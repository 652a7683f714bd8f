// Tests that need a tool from outside npm (tcpdump, root, rabbitmq-server, gcc, ...).
// On a developer's machine without it they skip, saying why; under CI=true they fail
// the run naming what is missing, since .ci/run installs everything they need.

/** `missing`: why the tests cannot run here, or null. True when they can run. */
export function canRun(what: string, missing: string | null): boolean {
  if (missing === null) return true;
  if (process.env.CI === "true") throw new Error(`${what}: ${missing} (CI=true: .ci/run must install it; no test skips silently)`);
  console.warn(`${what} skipped: ${missing}`);
  return false;
}
