// The plugin as the DeepFlow agent runs it: the sample capture replayed through the
// built module (npm run build first; `npm test` does), fed packet by packet as the agent
// feeds it, with its rows as the agent would log them.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { replayCapture, type FlowLogRow } from "deepflow-wasm-host-sim";

const WASM = "build/{{name}}.wasm";
const CAPTURE = "tests/fixtures/sample.pcap";

async function rows(plugins: string[]): Promise<FlowLogRow[]> {
  const out: FlowLogRow[] = [];
  await replayCapture({ capture: CAPTURE, plugins: plugins.map((p) => ({ name: p, bytes: readFileSync(p) })), onRow: (r) => out.push(r) });
  return out;
}

describe("{{name}} on the sample capture", () => {
  it("pairs each whole request with its response, answered out of order", async () => {
    const sessions = (await rows([WASM])).filter((r) => r.type === 2).sort((a, b) => (a.request_id ?? 0) - (b.request_id ?? 0));
    expect(sessions.map((r) => [r.l7_protocol_str, r.request_id, r.request_type, r.request_resource, r.response_code, r.response_status])).toEqual([
      ["{{label}}", 1, "GET", "/a", 0, 0],
      ["{{label}}", 2, "PUT", "/b", 0, 0],
      ["{{label}}", 3, "GET", "/missing", 404, 3],
    ]);
  });

  it("declares its protocol", async () => {
    const { inspect } = await import("deepflow-wasm-host-sim");
    expect((await inspect(WASM)).protocol).toEqual({ proto: {{proto}}, l4: 6, name: "{{label}}" });
  });
});
