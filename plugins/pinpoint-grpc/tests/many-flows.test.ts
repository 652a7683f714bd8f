// (PINPOINT_WASM=<file> runs it on another build.)
// Many concurrent agent connections (issue #19: per-flow state never drops a record a user
// would see below 100k concurrent flows). Every connection opens its SendSpan stream (the
// client preface, SETTINGS and HEADERS naming /v1.Span/SendSpan with the agent's headers,
// HPACK-indexed) before any connection sends a span, so every connection's HPACK table and
// open stream must be kept at once: a span read on a stream whose HEADERS were forgotten
// gives no record on a port other than the span port. Port 9991 here, for that reason.
import { describe, expect, it } from "vitest";
import { WasmHost } from "../../../sdk/host.ts";
import { agentCtx, agentName, manyFlowId, opening, spanFrame } from "./agent-traffic.ts";
import { PINPOINT_PROTO, ensureBuilt } from "./support.ts";

const FLOWS = Number(process.env.PP_FLOWS ?? 100_000);

describe(`${FLOWS} concurrent Pinpoint agent connections`, () => {
  it("every span gives its record, in memory stated per connection", { timeout: 120_000 }, async () => {
    const host = await WasmHost.load([process.env.PINPOINT_WASM ?? ensureBuilt()]);
    const memBefore = host.counters()[0].hooks.parse_payload.memSize;
    for (let i = 0; i < FLOWS; i++) host.parsePayload(agentCtx(manyFlowId(i)), opening(agentName(i)), PINPOINT_PROTO);
    const memAll = host.counters()[0].hooks.parse_payload.memSize;

    let logged = 0;
    for (let i = 0; i < FLOWS; i++) {
      const [rec] = host.parsePayload(agentCtx(manyFlowId(i)), spanFrame(i), PINPOINT_PROTO) ?? [];
      const attr = (k: string) => rec?.attributes.find((a) => a.key === k)?.val;
      if (rec && rec.trace.trace_ids[0] === `${agentName(i)}^1700000000000^${i}` && rec.req?.resource === "/v1.Span/SendSpan" &&
        attr("agent_id") === agentName(i) && attr("message_kind") === "span") logged++;
    }
    expect(logged, `${FLOWS - logged} of ${FLOWS} spans without their record`).toBe(FLOWS);
    expect(host.counters()[0].hooks.parse_payload.failures).toBe(0);
    // README.md states under 4 KiB of linear memory per connection (allocator growth included).
    // (bench/flows.bench.ts prints the figures and the per-call cost with few and many kept.)
    expect(memAll - memBefore).toBeLessThanOrEqual(FLOWS * 4096);
  });
});
