// The protocol numbers plugins declare (the SDK's protocol_info), checked the way a
// deployment needs them: the agent hands parse_payload of a number to every plugin in
// turn, so two plugins with one number cannot be deployed together.
import { LoadError, WasmHost, type DeclaredProtocol, type PluginSource } from "./host.ts";

export interface PluginDeclaration {
  name: string;
  /** null: the module declares none (not built with the SDK, or no payload parsing). */
  protocol: DeclaredProtocol | null;
  /** Why the agent would refuse to load the module; null when it loads. */
  refused: string[] | null;
}

/** Loads each module alone, as the agent would, and reads what it declares. */
export async function declarations(modules: Array<{ name: string; bytes: Uint8Array }>): Promise<PluginDeclaration[]> {
  const out: PluginDeclaration[] = [];
  for (const m of modules) {
    try {
      const host = await WasmHost.load([m as PluginSource]);
      out.push({ name: m.name, protocol: host.pluginInfo()[0]!.protocol, refused: null });
    } catch (e) {
      if (!(e instanceof LoadError)) throw e;
      out.push({ name: m.name, protocol: null, refused: e.problems });
    }
  }
  return out;
}

/** One line per protocol number that more than one module declares. */
export function protocolClashes(decls: PluginDeclaration[]): string[] {
  const byNumber = new Map<number, string[]>();
  for (const d of decls) if (d.protocol) byNumber.set(d.protocol.proto, [...(byNumber.get(d.protocol.proto) ?? []), d.name]);
  return [...byNumber].filter(([, names]) => names.length > 1)
    .map(([proto, names]) => `${names.join(" and ")} ${names.length === 2 ? "both" : "all"} declare protocol ${proto}`);
}
