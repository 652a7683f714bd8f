// The command-line plumbing shared by host-sim and pinpoint-otel (cli/options.ts): options
// are declared once per command, checked the same way everywhere, and every declared option
// is described in its command's help (and nothing else is).
import { describe, expect, it } from "vitest";
import { parseOptions, runCommand, type OptionSpecs } from "../../cli/options.ts";
import { CONVERTER_OPTIONS, USAGE as CONVERTER_USAGE, main as converterMain } from "../../converter/cli.ts";
import { CALL_OPTIONS, CALL_USAGE } from "../../host-sim/call.ts";
import { main as hostSimMain } from "../../host-sim/cli.ts";
import { HELP as INSPECT_HELP, INSPECT_OPTIONS } from "../../host-sim/inspect.ts";
import { HELP as REPLAY_HELP, REPLAY_OPTIONS } from "../../host-sim/replay.ts";
import { UsageError } from "../../sdk/errors.ts";
import { inProcess } from "../support/in-process.ts";

const SPECS = {
  n: { type: "int", min: 1, max: 10 },
  d: { type: "int", min: 0, max: 5, default: 3 },
  mode: { type: "choice", choices: ["a", "b"], default: "a" },
  names: { type: "list" },
  file: { type: "strings" },
  quiet: { type: "boolean" },
  label: { type: "string" },
} as const satisfies OptionSpecs;

describe("parseOptions", () => {
  it("types and defaults", () => {
    const { values, positionals } = parseOptions(["x", "--n", "7", "--names", "p, q,,r", "--file", "1", "--file", "2", "--quiet"], SPECS);
    expect(positionals).toEqual(["x"]);
    expect(values).toMatchObject({ n: 7, d: 3, mode: "a", names: ["p", "q", "r"], file: ["1", "2"], quiet: true, label: undefined });
    expect(parseOptions(["--names", ""], SPECS).values.names).toEqual([]);
    expect(parseOptions(["-h"], SPECS).values.help).toBe(true);
  });

  it.each([
    [["--n", "0"], '--n must be an integer in 1..10, got "0"'],
    [["--n", "abc"], '--n must be an integer in 1..10, got "abc"'],
    [["--n", "1.5"], '--n must be an integer in 1..10, got "1.5"'],
    [["--n", "-1"], "Option '--n' argument is ambiguous"],
    [["--mode", "c"], '--mode must be one of a, b, got "c"'],
    [["--bogus"], "Unknown option '--bogus'"],
    [["--label"], "Option '--label <value>' argument missing"],
  ])("%j is a UsageError: %s", (argv, message) => {
    expect(() => parseOptions(argv, SPECS)).toThrow(UsageError);
    expect(() => parseOptions(argv, SPECS)).toThrow(message);
  });

  it("runCommand: a user error is one line and exit 2; anything else propagates", async () => {
    const r = await inProcess(() => runCommand("tool sub", async () => { throw new UsageError("bad input"); }));
    expect(r).toMatchObject({ code: 2, err: "tool sub: bad input\n" });
    class Custom extends Error {}
    expect((await inProcess(() => runCommand("tool", async () => { throw new Custom("x"); }, [Custom]))).code).toBe(2);
    await expect(runCommand("tool", async () => { throw new TypeError("bug"); })).rejects.toThrow("bug");
  });
});

describe("every command's options are described in its help, and only those", () => {
  const cases: Array<[string, OptionSpecs, string]> = [
    ["host-sim replay", REPLAY_OPTIONS, REPLAY_HELP],
    ["host-sim call", CALL_OPTIONS, CALL_USAGE],
    ["host-sim inspect", INSPECT_OPTIONS, INSPECT_HELP],
    ["pinpoint-otel", CONVERTER_OPTIONS, CONVERTER_USAGE],
  ];
  it.each(cases)("%s", (_name, specs, help) => {
    const described = new Set([...help.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]));
    described.delete("help");
    expect([...described].sort()).toEqual(Object.keys(specs).sort());
  });
});

describe("both CLIs report a bad number the same way", () => {
  it.each([
    [hostSimMain, ["replay", "x.pcap", "--plugin", "p.wasm", "--limit", "abc"], 'host-sim replay: --limit must be an integer in 1..9007199254740991, got "abc"\n'],
    [hostSimMain, ["call", "--plugin", "p.wasm", "--hook", "check_payload", "--buf-size", "0"], 'host-sim call: --buf-size must be an integer in 1..65535, got "0"\n'],
    [converterMain, ["convert", "x.pcap", "--batch", "abc"], 'pinpoint-otel convert: --batch must be an integer in 1..100000, got "abc"\n'],
    [converterMain, ["serve", "--flush-ms", "0"], 'pinpoint-otel serve: --flush-ms must be an integer in 1..86400000, got "0"\n'],
  ])("%#", async (main, argv, err) => {
    const r = await inProcess(() => (main as (a: string[]) => Promise<number>)(argv as string[]));
    expect(r).toMatchObject({ code: 2, err });
  });
});
