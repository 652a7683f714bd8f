// The release modules (npm run build, which the test command runs first) stay under the
// sizes set for them: 40 KB for Dubbo and RabbitMQ, 48 KB for Kafka (inflate included) and
// the Pinpoint gRPC plugin, read as decimal kilobytes. The SDK is shared, so a change made
// for one plugin can push another over.
import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import { expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..", "..");
const LIMITS: Record<string, number> = { dubbo: 40_000, rabbitmq: 40_000, kafka: 48_000, "pinpoint-grpc": 48_000 };

for (const [name, limit] of Object.entries(LIMITS)) {
  it(`build/${name}.wasm is under ${limit} bytes`, () => {
    expect(statSync(join(root, "build", `${name}.wasm`)).size).toBeLessThan(limit);
  });
}
