// What a CI that ships .wasm artifacts wants to know of each module before it goes to an
// agent: size and SHA-256, whether an independent validator (wabt) accepts it, whether the
// agent would load it (its linker rules, _start, hooks), the protocol it declares, its hooks,
// imports and exports.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import {
  CUSTOM_MESSAGE_HOOK_ALL, HOOK_CUSTOM_MESSAGE, HOOK_HTTP_REQ, HOOK_HTTP_RESP, HOOK_PAYLOAD_PARSE, L7_PROTOCOL,
} from "./abi.ts";
import { UsageError } from "./errors.ts";
import { LoadError, WasmHost, type DeclaredProtocol } from "./host.ts";
import { formatSig, readInterface } from "./link-check.ts";

export interface Inspection {
  file: string;
  bytes: number;
  sha256: string;
  /** null: wabt validates it; else its message. */
  invalid: string | null;
  /** null: the agent would load it; else why not. */
  refused: string[] | null;
  protocol: DeclaredProtocol | null;
  hookBitmap: string | null;
  hooks: string[];
  customMessageHook: string | null;
  imports: string[];
  exports: string[];
}

const TYPE_CODE_NAMES = new Map<number, string>(Object.entries(L7_PROTOCOL).map(([k, v]) => [v, k.toLowerCase()]));

function hookNames(bitmap: bigint): string[] {
  const out: string[] = [];
  if (bitmap & HOOK_PAYLOAD_PARSE) out.push("payload parse (check_payload, parse_payload)");
  if (bitmap & HOOK_HTTP_REQ) out.push("HTTP request (on_http_req)");
  if (bitmap & HOOK_HTTP_RESP) out.push("HTTP response (on_http_resp)");
  if (bitmap & HOOK_CUSTOM_MESSAGE) out.push("custom message (on_custom_message)");
  return out;
}

function customHookText(hook: bigint | null): string | null {
  if (hook === null) return null;
  if (hook & CUSTOM_MESSAGE_HOOK_ALL) return "every message";
  const typeCode = Number(hook & 0xffffffffn);
  return `hook point ${Number((hook >> 32n) & 0xffffn)}, type code ${typeCode}${TYPE_CODE_NAMES.has(typeCode) ? ` (${TYPE_CODE_NAMES.get(typeCode)})` : ""}`;
}

async function wabtVerdict(bytes: Uint8Array): Promise<string | null> {
  const wabt = await (await import("wabt")).default();
  try {
    const mod = wabt.readWasm(bytes, { readDebugNames: false });
    try {
      mod.validate();
    } finally {
      mod.destroy();
    }
    return null;
  } catch (e) {
    // wabt's message: "readWasm failed:\n0000004: error: bad magic value" on one line.
    return (e instanceof Error ? e.message : String(e)).trim().replace(/\s*\n\s*/g, " ");
  }
}

export async function inspect(file: string): Promise<Inspection> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const out: Inspection = {
    file, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex"), invalid: await wabtVerdict(bytes),
    refused: null, protocol: null, hookBitmap: null, hooks: [], customMessageHook: null, imports: [], exports: [],
  };
  try {
    const iface = readInterface(bytes);
    out.imports = iface.imports.map((i) => `${i.module}.${i.name}${i.type ? ` ${formatSig(i.type)}` : ` (${i.kind})`}`);
    out.exports = iface.exports.map((e) => `${e.name}${e.type ? ` ${formatSig(e.type)}` : ` (${e.kind})`}`);
  } catch {
    // Not a module this reader knows: wabt's verdict above says why.
  }
  try {
    const host = await WasmHost.load([{ name: basename(file), bytes }]);
    const info = host.pluginInfo()[0]!;
    out.protocol = info.protocol;
    out.hookBitmap = "0x" + info.hookBitmap.toString(16).padStart(32, "0");
    out.hooks = hookNames(info.hookBitmap);
    out.customMessageHook = customHookText(info.customMessageHook);
  } catch (e) {
    if (!(e instanceof LoadError)) throw e;
    out.refused = e.problems;
  }
  return out;
}

