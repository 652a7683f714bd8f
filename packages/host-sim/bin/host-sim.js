#!/usr/bin/env node
// `npx host-sim ...` from the installed package (compiled JavaScript, no TypeScript loader).
import { main } from "../host-sim/cli.js";

process.exitCode = await main(process.argv.slice(2));
