// The command-line plumbing of `host-sim` and `pinpoint-otel`: options declared once, with
// their type and range, parsed and checked the same way in every command, and user errors
// reported the same way (one line naming the command, exit 2, no stack trace).
import { parseArgs } from "node:util";
import { UsageError } from "../sdk/errors.ts";

export type OptionSpec =
  | { type: "boolean"; short?: string }
  | { type: "string"; short?: string; default?: string }
  /** Repeatable: every occurrence, in order. */
  | { type: "strings" }
  /** A whole number in min..max. */
  | { type: "int"; min: number; max: number; default?: number }
  | { type: "choice"; choices: readonly string[]; default?: string }
  /** Comma-separated; "" is an empty list. */
  | { type: "list" };

export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S extends { type: "boolean" }
  ? boolean
  : S extends { type: "int" }
    ? number
    : S extends { type: "strings" } | { type: "list" }
      ? string[]
      : S extends { type: "choice"; choices: readonly (infer C)[] }
        ? C
        : string;

/** Options with a default are always set; the others may be missing. */
export type OptionValues<S extends OptionSpecs> = {
  [K in keyof S]: S[K] extends { default: unknown } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

/** `-h`/`--help` is declared for every command. */
const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const;

/**
 * Parses `argv` against `specs`: unknown options and malformed values are UsageErrors that
 * name the option; values come back typed (numbers for int, arrays for lists).
 */
export function parseOptions<S extends OptionSpecs>(argv: string[], specs: S): { values: OptionValues<S> & { help?: boolean }; positionals: string[] } {
  const config: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = { help: HELP_OPTION.help };
  for (const [name, s] of Object.entries(specs)) {
    config[name] = { type: s.type === "boolean" ? "boolean" : "string", ...("short" in s && s.short ? { short: s.short } : {}), ...(s.type === "strings" ? { multiple: true } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: config });
  } catch (e) {
    // node:util reports unknown or malformed options with ERR_PARSE_ARGS_* codes.
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_")) throw new UsageError((e as Error).message);
    throw e;
  }
  const raw = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const values: Record<string, unknown> = { help: raw.help };
  for (const [name, s] of Object.entries(specs)) values[name] = checked(name, s, raw[name]);
  return { values: values as OptionValues<S> & { help?: boolean }, positionals: parsed.positionals };
}

function checked(name: string, s: OptionSpec, v: string | string[] | boolean | undefined): unknown {
  switch (s.type) {
    case "boolean":
    case "strings":
      return v;
    case "string":
      return v ?? s.default;
    case "int":
      return v === undefined ? s.default : intValue(`--${name}`, v as string, s.min, s.max);
    case "choice": {
      if (v === undefined) return s.default;
      if (!s.choices.includes(v as string)) throw new UsageError(`--${name} must be one of ${s.choices.join(", ")}, got ${JSON.stringify(v)}`);
      return v;
    }
    case "list":
      return v === undefined ? undefined : (v as string).split(",").map((x) => x.trim()).filter((x) => x !== "");
  }
}

/** A whole number in min..max, or a UsageError naming `what`. */
export function intValue(what: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`${what} must be an integer in ${min}..${max}, got ${JSON.stringify(text)}`);
  return n;
}

/**
 * Runs a command and turns a user error (bad arguments or input: UsageError, or one of
 * `userErrors`) into one line on stderr, "<program>: <message>", and exit code 2. Anything
 * else is a bug and propagates with its stack.
 */
export async function runCommand(program: string, run: () => Promise<number | void>, userErrors: ReadonlyArray<abstract new (...args: never[]) => Error> = []): Promise<number> {
  try {
    return (await run()) ?? 0;
  } catch (e) {
    if (!(e instanceof UsageError) && !userErrors.some((c) => e instanceof c)) throw e;
    process.stderr.write(`${program}: ${(e as Error).message}\n`);
    return 2;
  }
}
