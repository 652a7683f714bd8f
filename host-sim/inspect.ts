// `host-sim inspect PLUGIN.wasm|DIR ...`: the SDK's inspect (../sdk/inspect.ts) of each module,
// as text or JSON lines. Exit 1 when a module is invalid or would not load.
import { parseOptions, type OptionSpecs } from "../cli/options.ts";
import { UsageError } from "../sdk/errors.ts";
import { inspect, type Inspection } from "../sdk/inspect.ts";
import { pluginFiles } from "../sdk/plugin-files.ts";

export const HELP = `usage: host-sim inspect PLUGIN.wasm|DIR [...] [--json]

Prints, for each module: size, SHA-256, wabt validation, whether the DeepFlow agent would
load it, its declared protocol (number, name, L4), hooks, imports and exports.
Exits 1 when a module is invalid or would not load.

options:
  --json      one JSON object per module, one per line
  -h, --help`;

const L4_NAMES: Record<number, string> = { 0: "TCP and UDP", 6: "TCP", 17: "UDP" };

function text(i: Inspection): string {
  const lines = [i.file];
  lines.push(`  size       ${i.bytes.toLocaleString("en-US")} bytes, sha256 ${i.sha256}`);
  lines.push(`  valid      ${i.invalid === null ? "yes (wabt)" : `NO: ${i.invalid}`}`);
  lines.push(`  agent      ${i.refused === null ? "loads it" : `would NOT load it: ${i.refused.join("; ")}`}`);
  if (i.refused === null) {
    lines.push(`  protocol   ${i.protocol ? `${i.protocol.proto} "${i.protocol.name}" over ${L4_NAMES[i.protocol.l4] ?? `L4 ${i.protocol.l4}`}` : "none declared (no protocol_info export: not built with this SDK)"}`);
    lines.push(`  hooks      ${i.hookBitmap}: ${i.hooks.join(", ") || "none"}`);
    if (i.customMessageHook) lines.push(`  messages   ${i.customMessageHook}`);
  }
  lines.push(`  imports    ${i.imports.join(", ") || "none"}`);
  lines.push(`  exports    ${i.exports.join(", ") || "none"}`);
  return lines.join("\n");
}

/** Every option of `host-sim inspect` (HELP describes them). */
export const INSPECT_OPTIONS = { json: { type: "boolean" } } as const satisfies OptionSpecs;

export async function runInspect(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, INSPECT_OPTIONS);
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  if (positionals.length === 0) throw new UsageError(`expected at least one module\n${HELP}`);
  let bad = false;
  const parts: string[] = [];
  for (const file of pluginFiles(positionals)) {
    const i = await inspect(file);
    if (i.invalid !== null || i.refused !== null) bad = true;
    parts.push(values.json ? JSON.stringify(i) : text(i));
  }
  process.stdout.write(parts.join(values.json ? "\n" : "\n\n") + "\n");
  return bad ? 1 : 0;
}
