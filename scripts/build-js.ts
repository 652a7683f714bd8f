// The host-sim command line compiled to JavaScript (build/js/), so that `npx host-sim`
// starts without a TypeScript loader: esbuild bundles host-sim/cli.ts and what it imports
// from this repository (capture/, cli/, sdk/, host-sim/) into ES modules, one chunk per
// command as cli.ts loads them; npm packages stay imports. bin/host-sim.mjs runs the result
// while it is newer than every source (bin/compiled.mjs), and the TypeScript otherwise.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { root } from "./compile.ts";

export async function buildJs(): Promise<void> {
  const outdir = join(root, "build", "js");
  // Chunk names carry a hash: the previous build's chunks would stay beside the new ones.
  rmSync(outdir, { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints: { "host-sim": "host-sim/cli.ts" },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await buildJs();
