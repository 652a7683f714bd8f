// The protocol numbers plugins declare, as `npm run build` checks them before a deployment.
import { describe, expect, it } from "vitest";
import { declarations, protocolClashes } from "../../host-sim/protocols.ts";
import { shippedPlugins } from "../support/coexist.ts";

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
