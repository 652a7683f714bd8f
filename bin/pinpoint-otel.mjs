#!/usr/bin/env node
// `npx pinpoint-otel ...`: the converter is TypeScript, run through tsx's loader.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../converter/cli.ts");
process.exitCode = await main(process.argv.slice(2));
