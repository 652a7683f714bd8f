// `host-sim <command> ...`: dispatches to a command module, loaded only when used.
// Adding a command is one line in COMMANDS. User errors print one line and exit 2
// (../cli/options.ts, shared with pinpoint-otel).

import { pathToFileURL } from "node:url";
import { runCommand } from "../cli/options.ts";
import { LoadError } from "../sdk/host.ts";

type Command = (argv: string[]) => Promise<number | void>;

// Literal import()s, so that a compiled copy of this file loads the compiled commands.
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  call: { summary: "run one hook of a plugin on one payload, print the result as JSON", load: () => import("./call.ts").then((m) => m.runCall) },
  replay: { summary: "replay a capture through plugins as the agent would", load: () => import("./replay.ts").then((m) => m.runReplay) },
  inspect: {
    summary: "what a .wasm module is: checksum, validity, whether the agent loads it, protocol, hooks",
    load: () => import("./inspect.ts").then((m) => m.runInspect),
  },
};

const USAGE = `usage: host-sim <command> [options]   (host-sim <command> --help for its options)

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  .join("\n")}`;

/** Runs the command line; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    (name === undefined ? process.stderr : process.stdout).write(USAGE + "\n");
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`host-sim: unknown command ${JSON.stringify(name)}\n${USAGE}\n`);
    return 2;
  }
  // A plugin the agent would refuse (with --strict) is the user's input too.
  return runCommand(`host-sim ${name}`, async () => (await command.load())(rest), [LoadError]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
