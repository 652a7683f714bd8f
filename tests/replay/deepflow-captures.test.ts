// Every capture of the DeepFlow project replayed with the generic claim-all plugin (claims
// every payload as a request; one record per payload), checked against counts verified
// independently with tshark:
//
//   packets:  tshark -r F | wc -l
//   flows:    tshark -r F -q -z conv,tcp | grep -c '<->'     (no UDP in these captures)
//   payloads: tshark -r F -Y 'tcp.len > 0 and not tcp.analysis.retransmission' | wc -l
//   roles:    tshark -r F -T fields -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e tcp.dstport
//                       -e tcp.len -e tcp.flags.syn -e tcp.flags.ack -Y tcp
//             per stream: the SYN-ACK sender is the server; without one, the destination of
//             the first payload (claim-all says "request"); requests = payloads sent to the server.
//   pairs:    per stream, in packet order, a response right after a pending request with a later
//             timestamp pairs with it (no request_id: the agent keys sessions by flow only);
//             rows = payloads - pairs; a log still pending at the end is flushed as timeout.
//
// amqp2's third stream starts with a server payload and no handshake: the server side comes
// from the service table (5672 sent a SYN-ACK in the first stream), and its payload is still a
// "request" because claim-all says so and a SYN-ACK-settled direction is not corrected.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { PluginSource } from "../../sdk/host.ts";
import type { FlowLogRow } from "../../sdk/row.ts";
import { replayCapture, type ReplaySummary } from "../../sdk/replay.ts";
import { claimAllPlugin } from "./claim-all.ts";

const DIR = join(import.meta.dirname, "../fixtures/deepflow");

interface Expected {
  packets: number;
  flows: number;
  payloads: number;
  requests: number;
  responses: number;
  pairs: number;
  timedOut: number;
  directions: Record<string, number>;
  /** [client port, server port] of the flow carrying payloads, when there is one such flow. */
  ports?: [number, number];
}

const CASES: Record<string, Expected> = {
  "amqp/amqp1.pcap": { packets: 62, flows: 4, payloads: 37, requests: 21, responses: 16, pairs: 16, timedOut: 0, directions: { syn: 2, "syn-ack": 2 } },
  "amqp/amqp2.pcap": { packets: 24, flows: 3, payloads: 13, requests: 8, responses: 5, pairs: 5, timedOut: 2, directions: { syn: 1, "syn-ack": 1, "service-table": 1 } },
  "amqp/amqp3.pcap": { packets: 22, flows: 2, payloads: 12, requests: 7, responses: 5, pairs: 5, timedOut: 1, directions: { syn: 1, "syn-ack": 1 } },
  "dubbo/dubbo-eys.pcap": { packets: 1, flows: 1, payloads: 1, requests: 1, responses: 0, pairs: 0, timedOut: 1, directions: { "plugin-request": 1 }, ports: [47716, 6666] },
  "dubbo/dubbo-kryo.pcap": { packets: 4, flows: 1, payloads: 4, requests: 2, responses: 2, pairs: 2, timedOut: 0, directions: { "plugin-request": 1 }, ports: [59648, 37312] },
  "dubbo/dubbo_hessian2.pcap": { packets: 2, flows: 1, payloads: 2, requests: 1, responses: 1, pairs: 1, timedOut: 0, directions: { "plugin-request": 1 }, ports: [33986, 20880] },
  "http/grpc-server-stream.pcap": { packets: 8, flows: 1, payloads: 8, requests: 2, responses: 6, pairs: 1, timedOut: 1, directions: { "plugin-request": 1 }, ports: [59854, 9001] },
  "http/grpc-unary.pcap": { packets: 2, flows: 1, payloads: 2, requests: 1, responses: 1, pairs: 1, timedOut: 0, directions: { "plugin-request": 1 }, ports: [53790, 30035] },
  "http/h2c_ascii.pcap": { packets: 2, flows: 1, payloads: 2, requests: 1, responses: 1, pairs: 1, timedOut: 0, directions: { "plugin-request": 1 }, ports: [51578, 7070] },
  "http/http2-multi.pcap": { packets: 2, flows: 1, payloads: 2, requests: 1, responses: 1, pairs: 1, timedOut: 0, directions: { "plugin-request": 1 }, ports: [37290, 3550] },
  "kafka/00-produce-v2.pcap": { packets: 2, flows: 1, payloads: 2, requests: 1, responses: 1, pairs: 1, timedOut: 0, directions: { "plugin-request": 1 }, ports: [34128, 9092] },
  "kafka/00-produce-v9.pcap": { packets: 2, flows: 1, payloads: 2, requests: 1, responses: 1, pairs: 1, timedOut: 0, directions: { "plugin-request": 1 }, ports: [51704, 36333] },
  "kafka/01-fetch-v12-ok.pcap": { packets: 2, flows: 1, payloads: 2, requests: 1, responses: 1, pairs: 1, timedOut: 0, directions: { "plugin-request": 1 }, ports: [41972, 36333] },
  "kafka/11-join-group-v7.pcap": { packets: 2, flows: 1, payloads: 2, requests: 1, responses: 1, pairs: 1, timedOut: 0, directions: { "plugin-request": 1 }, ports: [30120, 36333] },
  "kafka/18-api-versions-v3.pcap": { packets: 2, flows: 1, payloads: 2, requests: 1, responses: 1, pairs: 1, timedOut: 0, directions: { "plugin-request": 1 }, ports: [32906, 9092] },
};

describe("replay of the DeepFlow captures with a claim-everything plugin", () => {
  let plugin: PluginSource;
  beforeAll(async () => {
    plugin = await claimAllPlugin();
  });

  for (const [file, want] of Object.entries(CASES)) {
    it(file, async () => {
      const rows: FlowLogRow[] = [];
      const s: ReplaySummary = await replayCapture({ capture: join(DIR, file), plugins: [plugin], onRow: (r) => rows.push(r) });
      expect(s.capture.error).toBeNull();
      expect(s.capture.packets).toBe(want.packets);
      expect(s.flows.total).toBe(want.flows);
      expect(s.payload.payloads).toBe(want.payloads);
      expect(s.payload.retransmissionsSkipped).toBe(0);
      expect([s.messages.requests, s.messages.responses]).toEqual([want.requests, want.responses]);
      expect(s.sessions.paired).toBe(want.pairs);
      expect(s.sessions.timedOut).toBe(want.timedOut);
      expect(rows.length).toBe(want.payloads - want.pairs);
      expect(s.flows.directionSource).toEqual(want.directions);
      // Every paired row is a session with a positive RRT that is the end minus the start.
      const sessions = rows.filter((r) => r.type === 2);
      expect(sessions.length).toBe(want.pairs);
      for (const r of sessions) {
        expect(r.response_duration).toBeGreaterThan(0);
        expect(r.response_duration).toBe(Math.round((Date.parse(r.end_time) - Date.parse(r.start_time)) * 1000) + micros(r.end_time) - micros(r.start_time));
      }
      // Timed-out logs carry the agent's Timeout status (2).
      expect(rows.filter((r) => r.response_status === 2).length).toBe(want.timedOut);
      for (const r of rows) {
        expect(r.l7_protocol).toBe(127);
        expect(r.l7_protocol_str).toBe("claim-all");
        expect(r.captured_request_byte + r.captured_response_byte).toBeGreaterThan(0);
      }
      if (want.ports) {
        for (const r of rows) expect([r.client_port, r.server_port]).toEqual(want.ports);
      }
    });
  }
});

/** The sub-millisecond digits of an ISO time with microseconds ("...SS.mmmuuuZ"). */
function micros(iso: string): number {
  return Number(iso.slice(23, 26));
}
