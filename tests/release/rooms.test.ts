// The rooms of the code and which way imports may go (README's folder table): the core SDK is
// used through its door and never reaches for a codec or a plugin; codecs never reach for a
// plugin; on the TypeScript side the capture reader depends on nothing of ours, the SDK not on
// its CLI, and the converter not on the simulator's CLI.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

function filesUnder(dir: string, keep: (path: string) => boolean = () => true): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir))) {
    const path = join(dir, e);
    if (statSync(join(root, path)).isDirectory()) out.push(...filesUnder(path, keep));
    else if (path.endsWith(".ts") && keep(path)) out.push(path);
  }
  return out;
}

/** Every relative import of a file, as a repository path without extension. */
function importsOf(file: string): string[] {
  // Comment lines may show an import as an example.
  const text = readFileSync(join(root, file), "utf8").replace(/^\s*\/\/.*$/gm, "");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => normalize(join(dirname(file), m[1]!)).replace(/\.ts$/, ""));
}

function violations(files: string[], allowed: (target: string, file: string) => boolean): string[] {
  return files.flatMap((f) => importsOf(f).filter((t) => !allowed(t, f)).map((t) => `${f} imports ${t}`));
}

const notTests = (p: string) => !p.includes("__tests__");
const plugins = readdirSync(join(root, "plugins")).flatMap((p) => readdirSync(join(root, "plugins", p)).filter((f) => f.endsWith(".ts")).map((f) => join("plugins", p, f)));

describe("AssemblyScript rooms", () => {
  it("the core (assembly/) imports only itself", () => {
    expect(violations(filesUnder("assembly", notTests), (t) => t.startsWith("assembly/"))).toEqual([]);
  });
  it("codecs (protocols/) import each other and the core's door", () => {
    expect(violations(filesUnder("protocols", notTests), (t) => t.startsWith("protocols/") || t === "assembly/index")).toEqual([]);
  });
  it("plugins import their own files, codecs, the core's door and the agent-facing exports", () => {
    const own = (t: string, f: string) => relative(dirname(f), t).split("/")[0] !== "..";
    expect(violations(plugins, (t, f) => own(t, f) || t.startsWith("protocols/") || t === "assembly/index" || t === "assembly/exports")).toEqual([]);
  });
  it("the core's door does not hand out the raw host imports", () => {
    const door = readFileSync(join(root, "assembly", "index.ts"), "utf8");
    expect(door).not.toMatch(/export \* from "\.\/abi"/);
    for (const raw of ["wasm_log", "vm_read_ctx_base", "vm_read_payload", "host_read_l7_protocol_info", "host_read_str_result"]) expect(door).not.toContain(raw);
  });
});

describe("TypeScript rooms", () => {
  const ts = (dir: string) => filesUnder(dir);
  it("capture/ depends on nothing else of ours", () => {
    expect(violations(ts("capture"), (t) => t.startsWith("capture/"))).toEqual([]);
  });
  it("cli/ uses only the SDK's errors", () => {
    expect(violations(ts("cli"), (t) => t.startsWith("cli/") || t === "sdk/errors")).toEqual([]);
  });
  it("sdk/ uses capture/ and itself, never a command line", () => {
    expect(violations(ts("sdk"), (t) => t.startsWith("sdk/") || t.startsWith("capture/"))).toEqual([]);
  });
  it("the converter never imports the simulator's command line", () => {
    expect(violations(ts("converter"), (t) => !t.startsWith("host-sim/"))).toEqual([]);
  });
});
