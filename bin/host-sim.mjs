#!/usr/bin/env node
// `npx host-sim ...`: the simulator is TypeScript, run through tsx's loader.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../host-sim/cli.ts");
process.exitCode = await main(process.argv.slice(2));
