// The protocol numbers plugins declare, as `npm run build` checks them before a deployment.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { declarations, protocolClashes } from "../../sdk/protocols.ts";
import { root, shippedPlugins } from "../support/coexist.ts";

describe("declared protocol numbers", () => {
  it("every shipped plugin declares a number of its own, and its name", async () => {
    const decls = await declarations(shippedPlugins());
    expect(decls.map((d) => [d.name, d.protocol?.proto, d.protocol?.name, d.refused])).toEqual([
      ["dubbo.wasm", 140, "Dubbo", null],
      ["http-hooks.wasm", 200, "Toy", null],
      ["kafka.wasm", 150, "Kafka", null],
      ["pinpoint-grpc.wasm", 170, "Pinpoint-gRPC", null],
      ["rabbitmq.wasm", 160, "AMQP", null],
    ]);
    expect(protocolClashes(decls)).toEqual([]);
  });

  it("two modules with one number clash; a module the agent refuses declares nothing", async () => {
    const kafka = shippedPlugins().find((p) => p.name === "kafka.wasm")!;
    const decls = await declarations([kafka, { name: "kafka-copy.wasm", bytes: kafka.bytes }, { name: "junk.wasm", bytes: new Uint8Array([1, 2, 3]) }]);
    expect(decls[2]).toMatchObject({ protocol: null, refused: [expect.stringContaining("not a valid Wasm module")] });
    expect(protocolClashes(decls)).toEqual(["kafka.wasm and kafka-copy.wasm both declare protocol 150"]);
  });
});

describe("the README's table of protocol numbers", () => {
  it("lists what the built plugins declare", async () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Protocol numbers"), readme.indexOf("## Replaying captures"));
    const rows = [...section.matchAll(/^\| `([\w-]+)`[^|]*\| (\d+) \| `([^`]+)` \| ([^|]+) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3], m[4]!.trim()]);
    const l4Text: Record<number, string> = { 0: "TCP and UDP", 6: "TCP", 17: "UDP" };
    const built = (await declarations(shippedPlugins())).map((d) => [d.name.replace(/\.wasm$/, ""), d.protocol!.proto, d.protocol!.name, l4Text[d.protocol!.l4]]);
    expect(rows.sort()).toEqual(built.sort());
  });
});
