#!/usr/bin/env node
// `npx host-sim ...`: the JavaScript `npm run build` compiled when it is up to date with the
// sources, else the TypeScript through tsx's loader (see compiled.mjs).
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { compiledEntry } from "./compiled.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const compiled = compiledEntry(root, "host-sim");
let main;
if (compiled) ({ main } = await import(pathToFileURL(compiled).href));
else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../host-sim/cli.ts"));
}
process.exitCode = await main(process.argv.slice(2));
