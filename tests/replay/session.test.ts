// Session aggregation rules of the agent's SessionQueue (protocol_logs/parser.rs) and the
// CustomInfo merge (plugin/mod.rs), on records decoded through the real result codec.
import { describe, expect, it } from "vitest";
import { DIR_C2S, DIR_S2C, decodeRecords, encodePbRecord, frameRecords, type AppInfo, type Direction } from "../../sdk/result.ts";
import { AppRespStatus } from "../../sdk/schema.generated.ts";
import { LogMessageType, SessionQueue, type L7Log } from "../../sdk/session.ts";

function log(flowId: number, dir: Direction, timeUs: number, m: AppInfo): L7Log {
  const info = decodeRecords(frameRecords([encodePbRecord(m)]), dir)[0]!;
  const req = dir === DIR_C2S;
  return {
    flowId, flowIdText: String(flowId), type: req ? LogMessageType.Request : LogMessageType.Response, startUs: timeUs, endUs: timeUs, rrtUs: 0, info,
    capturedRequestBytes: req ? 10 : 0, capturedResponseBytes: req ? 0 : 20, reqTcpSeq: req ? 1000 : 0, respTcpSeq: req ? 0 : 2000,
    clientIp: "10.0.0.1", serverIp: "10.0.0.2", clientPort: 40000, serverPort: 80, l4: 6, isV6: false, directionSource: "syn-ack", merged: 1,
  };
}

function queue(maxEntries?: number) {
  const sent: Array<{ log: L7Log; timedOut: boolean }> = [];
  const q = new SessionQueue((l, timedOut) => sent.push({ log: l, timedOut }), 120_000_000, maxEntries);
  return { q, sent };
}

const REQ: AppInfo = { req: { type: "GET", resource: "/a", endpoint: "/a" }, req_len: 10 };
const OK: AppInfo = { resp: { status: AppRespStatus.RESP_OK, code: 200, result: "fine" }, resp_len: 20 };

describe("session aggregation", () => {
  it("a request and a later response become one session; RRT is their distance; fields merge", () => {
    const { q, sent } = queue();
    q.add(log(1, DIR_C2S, 1_000, REQ));
    expect(sent).toEqual([]);
    q.add(log(1, DIR_S2C, 1_750, OK));
    expect(sent.length).toBe(1);
    const s = sent[0]!.log;
    expect(s.type).toBe(LogMessageType.Session);
    expect([s.startUs, s.endUs, s.rrtUs]).toEqual([1_000, 1_750, 750]);
    expect([s.info.req.req_type, s.info.resp.code, s.info.resp.status, s.info.req_len, s.info.resp_len]).toEqual(["GET", 200, "ok", 10, 20]);
    expect([s.capturedRequestBytes, s.capturedResponseBytes, s.reqTcpSeq, s.respTcpSeq]).toEqual([10, 20, 1000, 2000]);
    expect(q.stats.paired).toBe(1);
  });

  it("without request ids the latest request takes the response; the earlier one goes out alone", () => {
    const { q, sent } = queue();
    q.add(log(1, DIR_C2S, 1_000, REQ));
    q.add(log(1, DIR_C2S, 2_000, REQ));
    q.add(log(1, DIR_S2C, 3_000, OK));
    expect(sent.map((x) => [x.log.type, x.log.startUs, x.log.rrtUs])).toEqual([[LogMessageType.Request, 1_000, 0], [LogMessageType.Session, 2_000, 1_000]]);
  });

  it("request ids pair out-of-order responses; other flows never pair", () => {
    const { q, sent } = queue();
    q.add(log(1, DIR_C2S, 1_000, { ...REQ, request_id: 7 }));
    q.add(log(1, DIR_C2S, 1_100, { ...REQ, request_id: 8 }));
    q.add(log(2, DIR_S2C, 1_150, { ...OK, request_id: 7 }));
    q.add(log(1, DIR_S2C, 1_200, { ...OK, request_id: 8 }));
    q.add(log(1, DIR_S2C, 1_300, { ...OK, request_id: 7 }));
    expect(sent.map((x) => [x.log.flowId, x.log.info.request_id, x.log.rrtUs])).toEqual([[1, 8, 100], [1, 7, 300]]);
    q.flushTill(Infinity);
    expect(sent.slice(2).map((x) => [x.log.flowId, x.log.type, x.timedOut])).toEqual([[2, LogMessageType.Response, true]]);
  });

  it("a response seen before an earlier-stamped request is absorbed by it", () => {
    const { q, sent } = queue();
    q.add(log(1, DIR_S2C, 2_000, OK));
    q.add(log(1, DIR_C2S, 1_500, REQ));
    expect(sent.map((x) => [x.log.type, x.log.startUs, x.log.endUs, x.log.rrtUs])).toEqual([[LogMessageType.Session, 1_500, 2_000, 500]]);
  });

  it("a response with the same timestamp does not pair (the agent wants it strictly later)", () => {
    const { q, sent } = queue();
    q.add(log(1, DIR_C2S, 1_000, REQ));
    q.add(log(1, DIR_S2C, 1_000, OK));
    expect(sent.map((x) => x.log.type)).toEqual([LogMessageType.Request]);
  });

  it("is_end: pieces merge until both directions ended; an ended piece with nothing to join is dropped", () => {
    const { q, sent } = queue();
    q.add(log(1, DIR_C2S, 1_000, { ...REQ, request_id: 1, is_end: false }));
    q.add(log(1, DIR_C2S, 1_010, { req: { domain: "example" }, request_id: 1, is_end: true, attributes: [{ key: "a", val: "1" }] }));
    q.add(log(1, DIR_S2C, 1_500, { ...OK, request_id: 1, is_end: false, attributes: [{ key: "b", val: "2" }] }));
    expect(sent).toEqual([]);
    q.add(log(1, DIR_S2C, 1_600, { resp: { status: AppRespStatus.RESP_SERVER_ERROR, exception: "late" }, request_id: 1, is_end: true }));
    expect(sent.length).toBe(1);
    const s = sent[0]!.log;
    expect([s.type, s.rrtUs, s.merged, s.info.req.domain, s.info.resp.code, s.info.resp.exception]).toEqual([LogMessageType.Session, 600, 4, "example", 200, "late"]);
    // The first status wins (merge_log only fills an Unknown status).
    expect(s.info.resp.status).toBe("ok");
    expect(s.info.attributes.map((a) => a.key)).toEqual(["a", "b"]);
    q.add(log(1, DIR_S2C, 2_000, { ...OK, request_id: 9, is_end: true }));
    expect(q.stats.droppedEndedMerge).toBe(1);
    expect(sent.length).toBe(1);
  });

  it("is_async logs are sent at once", () => {
    const { q, sent } = queue();
    q.add(log(1, DIR_C2S, 1_000, { ...REQ, is_async: true }));
    expect(sent.map((x) => x.log.type)).toEqual([LogMessageType.Request]);
  });

  it("a log older than the window is flushed as a timeout; a full queue drops new logs", () => {
    const { q, sent } = queue(2);
    q.add(log(1, DIR_C2S, 1_000_000, REQ));
    q.add(log(2, DIR_C2S, 2_000_000, REQ));
    q.add(log(3, DIR_C2S, 3_000_000, REQ)); // full: the oldest goes, this one is dropped
    expect(sent.map((x) => [x.log.flowId, x.timedOut])).toEqual([[1, false]]);
    expect(q.stats.droppedQueueFull).toBe(1);
    q.add(log(4, DIR_C2S, 122_500_000, REQ)); // 120 s after flow 2's request: it times out
    expect(sent.map((x) => [x.log.flowId, x.timedOut])).toEqual([[1, false], [2, true]]);
  });
});
