// The README's two opening commands, as written: the first ends in a replay of the mixed
// capture with every plugin deployed, which must show each protocol's rows; the second is
// the test command that .ci/run runs. (npm ci and npm run build, the first command's
// start, are what `npm test` and .ci/run do before this file runs.)
import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { root } from "./support/coexist.ts";

const readme = readFileSync(join(root, "README.md"), "utf8");
const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1]!.trim().split("\n");

describe("README's opening commands", () => {
  it("are set up + main job, then the tests, and .ci/run runs the second", () => {
    expect(firstBlock).toHaveLength(2);
    expect(firstBlock[0]).toMatch(/^npm ci && npm run build && npx host-sim replay \S+ /);
    expect(firstBlock[1]).toBe("npm test");
    expect(readFileSync(join(root, ".ci/run"), "utf8")).toMatch(/^npm test\b/m);
  });

  it("the main job replays the mixed capture with every plugin and shows every protocol", () => {
    const command = firstBlock[0]!.replace(/^npm ci && npm run build && /, "");
    const out = execSync(`${command} 2>&1`, { cwd: root, encoding: "utf8", timeout: 120_000, env: { ...process.env, FORCE_COLOR: "0" } });
    const rowsOf = (proto: string) => out.split("\n").filter((l) => new RegExp(`^\\S+ +(request|response|session) +${proto} `).test(l)).length;
    expect({ Dubbo: rowsOf("Dubbo"), Kafka: rowsOf("Kafka"), AMQP: rowsOf("AMQP"), "Pinpoint-gRPC": rowsOf("Pinpoint-gRPC") })
      .toEqual({ Dubbo: 45, Kafka: 21, AMQP: 74, "Pinpoint-gRPC": 30 });
    for (const plugin of ["dubbo", "kafka", "rabbitmq", "pinpoint-grpc", "http-hooks"]) expect(out).toContain(`plugin    ${plugin}.wasm (`);
    // Trace ids lifted from the wire reach the rows.
    expect(out).toMatch(/Dubbo .*\^\d{13}\^\d+/);
  });
});
