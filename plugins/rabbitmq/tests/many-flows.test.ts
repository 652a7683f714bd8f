// (RABBITMQ_WASM=<file> runs it on another build.)
// Many concurrent connections (issue #19: per-flow state never drops a record a user would
// see below 100k concurrent flows). Every connection declares a queue that is not there
// before any broker answers, so every connection's channel awaiting its reply must be
// remembered at once: the broker's Channel.Close pairs with the request (request_id = the
// channel) only then; forgotten, it stands alone (is_async) and the agent loses its RRT.
import { describe, expect, it } from "vitest";
import { ensureBuilt } from "./session.ts";
import { WasmHost } from "../../../sdk/host.ts";
import { AMQP_PROTO, MANY_CHANNEL, amqpCtx, closeFrame, declareFrame, manyFlowId } from "./many-flows-traffic.ts";

const FLOWS = 100_000;

describe(`${FLOWS} concurrent RabbitMQ connections`, () => {
  it("pair every broker's Close with its request, in memory stated per connection", { timeout: 120_000 }, async () => {
    const host = await WasmHost.load([process.env.RABBITMQ_WASM ?? ensureBuilt()]);
    const declare = declareFrame();
    const close = closeFrame();
    const memBefore = host.counters()[0].hooks.parse_payload.memSize;
    let requests = 0;
    for (let i = 0; i < FLOWS; i++) {
      const [rec] = host.parsePayload(amqpCtx(manyFlowId(i), 0), declare, AMQP_PROTO) ?? [];
      if (rec && rec.request_id === MANY_CHANNEL) requests++;
    }
    expect(requests).toBe(FLOWS);
    const memAll = host.counters()[0].hooks.parse_payload.memSize;

    let paired = 0;
    for (let i = 0; i < FLOWS; i++) {
      const [rec] = host.parsePayload(amqpCtx(manyFlowId(i), 1), close, AMQP_PROTO) ?? [];
      if (rec && rec.request_id === MANY_CHANNEL && !rec.is_async && rec.resp?.status === "client_error") paired++;
    }
    expect(paired, `${FLOWS - paired} of ${FLOWS} replies not paired`).toBe(FLOWS);
    expect(host.counters()[0].hooks.parse_payload.failures).toBe(0);
    // plugins/rabbitmq/config.ts states the bytes per connection (slot and index); the
    // allocator grows linear memory by at least its size (AssemblyScript's TLSF), so the
    // memory the agent sees is up to twice that. (bench/flows.bench.ts prints the figures.)
    expect(memAll - memBefore).toBeLessThanOrEqual(2 * (FLOWS * 112 + (2 << 20)));
  });
});
