// What the agent's linker and InstanceWrap::new would say about a module before running
// it: imports it does not offer (by name or by type) and required exports that are
// missing or of the wrong type. WebAssembly.Module.imports() gives names but no function
// types, so the type, import, function and export sections are read here.

import {
  DEEPFLOW_IMPORTS,
  DEEPFLOW_MODULE,
  EXPORT_MEMORY,
  OPTIONAL_FUNC_EXPORTS,
  REQUIRED_FUNC_EXPORTS,
  WASI_IMPORTS,
  WASI_MODULE,
  type FuncSig,
  type ValType,
} from "./abi.ts";
import { SectionReader } from "./wasm-binary.ts";

export interface ModuleInterface {
  imports: { module: string; name: string; kind: string; type?: FuncSig }[];
  exports: { name: string; kind: string; type?: FuncSig }[];
}

const KIND_NAMES = ["function", "table", "memory", "global", "tag"];

/** The module's imports and exports with their function types, read from its sections. */
export function readInterface(bytes: Uint8Array): ModuleInterface {
  const types: FuncSig[] = [];
  const funcTypes: number[] = []; // type index per function index (imports first)
  const iface: ModuleInterface = { imports: [], exports: [] };
  let pos = 8;
  while (pos < bytes.length) {
    const head = new SectionReader(bytes, pos, bytes.length);
    const id = head.byte();
    const size = head.uleb();
    const r = new SectionReader(bytes, head.pos, head.pos + size);
    pos = head.pos + size;
    if (id === 1) {
      for (let n = r.uleb(); n > 0; n--) {
        const form = r.byte();
        if (form !== 0x60) throw new Error(`type form 0x${form.toString(16)} not supported`);
        const params: ValType[] = [];
        for (let p = r.uleb(); p > 0; p--) params.push(r.valType());
        const results: ValType[] = [];
        for (let q = r.uleb(); q > 0; q--) results.push(r.valType());
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = r.uleb(); n > 0; n--) {
        const module = r.name();
        const name = r.name();
        const kind = r.byte();
        const entry: ModuleInterface["imports"][number] = { module, name, kind: KIND_NAMES[kind] ?? `kind ${kind}` };
        if (kind === 0) {
          const t = r.uleb();
          funcTypes.push(t);
          entry.type = types[t];
        } else if (kind === 1) {
          r.valType();
          r.limits();
        } else if (kind === 2) {
          r.limits();
        } else if (kind === 3) {
          r.valType();
          r.byte();
        } else if (kind === 4) {
          r.byte();
          r.uleb();
        } else throw new Error(`import kind ${kind} not supported`);
        iface.imports.push(entry);
      }
    } else if (id === 3) {
      for (let n = r.uleb(); n > 0; n--) funcTypes.push(r.uleb());
    } else if (id === 7) {
      for (let n = r.uleb(); n > 0; n--) {
        const name = r.name();
        const kind = r.byte();
        const index = r.uleb();
        const entry: ModuleInterface["exports"][number] = { name, kind: KIND_NAMES[kind] ?? `kind ${kind}` };
        if (kind === 0) entry.type = types[funcTypes[index]];
        iface.exports.push(entry);
      }
    }
  }
  return iface;
}

export function formatSig(s: FuncSig): string {
  const results = s.results.length === 0 ? "()" : s.results.length === 1 ? s.results[0] : `(${s.results.join(", ")})`;
  return `(${s.params.join(", ")}) -> ${results}`;
}

function sameSig(a: FuncSig, b: FuncSig): boolean {
  return (
    a.params.length === b.params.length &&
    a.results.length === b.results.length &&
    a.params.every((p, i) => p === b.params[i]) &&
    a.results.every((r, i) => r === b.results[i])
  );
}

const IMPORT_HINTS: Record<string, string> = {
  "env.abort": " (AssemblyScript: build with --use abort=<your abort that logs and traps>)",
  "env.trace": " (AssemblyScript: do not call trace(); log through deepflow.wasm_log)",
  "env.seed": " (AssemblyScript: Math.random needs a seed; avoid it or supply --use seed=...)",
};

export interface LinkReport {
  /** Reasons the agent would refuse the module; empty when it links. */
  problems: string[];
  /** Optional exports present with another type: the agent ignores them. */
  notes: string[];
  /** Names of those ignored optional exports. */
  ignoredExports: string[];
  /** Whether the module imports any WASI function. */
  usesWasi: boolean;
}

/** The agent's verdict on a compiled module. */
export function checkLink(module: WebAssembly.Module, bytes: Uint8Array): LinkReport {
  let iface: ModuleInterface;
  let typesKnown = true;
  try {
    iface = readInterface(bytes);
  } catch {
    // An encoding this reader does not know: fall back to names and kinds only.
    typesKnown = false;
    iface = {
      imports: WebAssembly.Module.imports(module).map((i) => ({ module: i.module, name: i.name, kind: i.kind })),
      exports: WebAssembly.Module.exports(module).map((e) => ({ name: e.name, kind: e.kind })),
    };
  }
  const problems: string[] = [];
  const notes: string[] = [];
  const ignoredExports: string[] = [];
  let usesWasi = false;

  for (const imp of iface.imports) {
    const full = `${imp.module}.${imp.name}`;
    const offered = imp.module === DEEPFLOW_MODULE ? DEEPFLOW_IMPORTS.get(imp.name) : imp.module === WASI_MODULE ? WASI_IMPORTS.get(imp.name) : undefined;
    if (imp.kind !== "function") {
      problems.push(`imports ${imp.kind} ${full}: the agent offers functions only`);
    } else if (!offered) {
      problems.push(`imports ${full}, which the agent does not offer${IMPORT_HINTS[full] ?? ""}`);
    } else if (imp.type && !sameSig(imp.type, offered)) {
      problems.push(`imports ${full} as ${formatSig(imp.type)}, but the agent's is ${formatSig(offered)}`);
    } else if (imp.module === WASI_MODULE) {
      usesWasi = true;
    }
  }

  const exports = new Map(iface.exports.map((e) => [e.name, e]));
  const memory = exports.get(EXPORT_MEMORY);
  if (!memory) problems.push(`does not export ${EXPORT_MEMORY}`);
  else if (memory.kind !== "memory") problems.push(`exports ${EXPORT_MEMORY} as a ${memory.kind}, not a memory`);
  for (const [name, want] of REQUIRED_FUNC_EXPORTS) {
    const e = exports.get(name);
    if (!e) problems.push(`does not export ${name} ${formatSig(want)}`);
    else if (e.kind !== "function") problems.push(`exports ${name} as a ${e.kind}, not a function`);
    else if (typesKnown && e.type && !sameSig(e.type, want)) problems.push(`exports ${name} as ${formatSig(e.type)}, but the agent calls it as ${formatSig(want)}`);
  }
  for (const [name, want] of OPTIONAL_FUNC_EXPORTS) {
    const e = exports.get(name);
    if (e && (e.kind !== "function" || (typesKnown && e.type && !sameSig(e.type, want)))) {
      notes.push(`exports ${name} with another type than ${formatSig(want)}: the agent ignores it`);
      ignoredExports.push(name);
    }
  }
  return { problems, notes, ignoredExports, usesWasi };
}
