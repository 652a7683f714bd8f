// asconfig.json holds the compiler options, so that asc alone, as a protocol author types
// it, builds a module the agent accepts: release and debug targets.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { WasmHost } from "../../sdk/host.ts";
import { root } from "../support/coexist.ts";

const dir = mkdtempSync(join(tmpdir(), "asconfig-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npx asc plugins/<name>/index.ts --config asconfig.json --target T", () => {
  it.each(["release", "debug"])("%s: loads as the agent loads it, and parses", async (target) => {
    const out = join(dir, `http-hooks-${target}.wasm`);
    execFileSync(join(root, "node_modules", ".bin", "asc"), ["plugins/http-hooks/index.ts", "--config", "asconfig.json", "--target", target, "-o", out], { cwd: root, stdio: "pipe" });
    const host = await WasmHost.load([{ name: "http-hooks.wasm", bytes: readFileSync(out) }]);
    expect(host.pluginInfo()[0]!.protocol).toEqual({ proto: 200, l4: 0, name: "Toy" });
    const ctx = { srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 40000, dstPort: 7000, direction: 0 as const };
    const payload = new TextEncoder().encode("TOY 7 GET /users\n");
    expect(host.checkPayload(ctx, payload)).toMatchObject({ proto: 200, msgType: 1, name: "Toy" });
    expect(host.parsePayload(ctx, payload, 200)![0]!.req).toMatchObject({ req_type: "GET" });
  });
});
