// Our own Pinpoint .proto files must read what the real agent writes: encode with
// pinpoint-node-agent's generated (google-protobuf) classes, decode with converter/proto.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { PApiMetaData, PSpanMessage, PStringMetaData, pinpointMethods } from "../../converter/schema.ts";

const require = createRequire(import.meta.url);
/* eslint-disable @typescript-eslint/no-explicit-any */
const spanPb: any = require("pinpoint-node-agent/lib/data/grpc/Span_pb");
const annotationPb: any = require("pinpoint-node-agent/lib/data/grpc/Annotation_pb");
const wrappers: any = require("google-protobuf/google/protobuf/wrappers_pb");
const servicesPb: any = require("pinpoint-node-agent/lib/data/grpc/Service_grpc_pb");

describe("Pinpoint proto schema", () => {
  it("decodes a PSpan written by pinpoint-node-agent's generated code, field by field", () => {
    const txId = new spanPb.PTransactionId();
    txId.setAgentid("agent-a");
    txId.setAgentstarttime("1700000000123");
    txId.setSequence("42");
    const ev = new spanPb.PSpanEvent();
    ev.setSequence(3);
    ev.setDepth(2);
    ev.setStartelapsed(7);
    ev.setEndelapsed(11);
    ev.setServicetype(9056);
    ev.setApiid(-5);
    ev.setAsyncevent(9);
    const msgEv = new spanPb.PMessageEvent();
    // The agent writes nextSpanId through a double (writeSfixed64), so it only ever sends ids below 2^53.
    msgEv.setNextspanid(-1234567890123);
    msgEv.setEndpoint("10.0.0.1:8080");
    msgEv.setDestinationid("svc-b");
    const next = new spanPb.PNextEvent();
    next.setMessageevent(msgEv);
    ev.setNextevent(next);
    const ann = new annotationPb.PAnnotation();
    ann.setKey(46);
    const val = new annotationPb.PAnnotationValue();
    val.setIntvalue(503);
    ann.setValue(val);
    ev.addAnnotation(ann);
    const exc = new annotationPb.PIntStringValue();
    exc.setIntvalue(77);
    const sv = new wrappers.StringValue();
    sv.setValue("boom");
    exc.setStringvalue(sv);
    ev.setExceptioninfo(exc);
    const accept = new spanPb.PAcceptEvent();
    accept.setRpc("/x");
    accept.setEndpoint("host:1");
    accept.setRemoteaddr("1.2.3.4");
    const parent = new spanPb.PParentInfo();
    parent.setParentapplicationname("caller");
    parent.setParentapplicationtype(1400);
    parent.setAcceptorhost("host:1");
    accept.setParentinfo(parent);
    const span = new spanPb.PSpan();
    span.setVersion(1);
    span.setTransactionid(txId);
    span.setSpanid("-42");
    span.setParentspanid("-1");
    span.setStarttime(1700000001000);
    span.setElapsed(25);
    span.setApiid(12);
    span.setServicetype(1400);
    span.setAcceptevent(accept);
    span.setFlag(3);
    span.setErr(-2);
    span.setApplicationservicetype(1400);
    span.setLoggingtransactioninfo(1);
    span.addSpanevent(ev);
    const message = new spanPb.PSpanMessage();
    message.setSpan(span);

    const d = PSpanMessage.decode(message.serializeBinary()) as any;
    expect(d.span.version).toBe(1);
    expect(d.span.transactionId.agentId).toBe("agent-a");
    expect(d.span.transactionId.agentStartTime.toNumber()).toBe(1700000000123);
    expect(d.span.transactionId.sequence.toNumber()).toBe(42);
    expect(d.span.spanId.toString()).toBe("-42");
    expect(d.span.parentSpanId.toString()).toBe("-1");
    expect(d.span.startTime.toNumber()).toBe(1700000001000);
    expect([d.span.elapsed, d.span.apiId, d.span.serviceType, d.span.flag, d.span.err]).toEqual([25, 12, 1400, 3, -2]);
    expect([d.span.applicationServiceType, d.span.loggingTransactionInfo]).toEqual([1400, 1]);
    expect(d.span.acceptEvent.rpc).toBe("/x");
    expect(d.span.acceptEvent.remoteAddr).toBe("1.2.3.4");
    expect(d.span.acceptEvent.parentInfo.parentApplicationName).toBe("caller");
    expect(d.span.acceptEvent.parentInfo.parentApplicationType).toBe(1400);
    const e = d.span.spanEvent[0];
    expect([e.sequence, e.depth, e.startElapsed, e.endElapsed, e.serviceType, e.apiId, e.asyncEvent]).toEqual([3, 2, 7, 11, 9056, -5, 9]);
    expect(e.nextEvent.messageEvent.nextSpanId.toString()).toBe("-1234567890123");
    expect(e.nextEvent.messageEvent.endPoint).toBe("10.0.0.1:8080");
    expect(e.nextEvent.messageEvent.destinationId).toBe("svc-b");
    expect(e.annotation[0].key).toBe(46);
    expect(e.annotation[0].value.intValue).toBe(503);
    expect(e.exceptionInfo.intValue).toBe(77);
    expect(e.exceptionInfo.stringValue.value).toBe("boom");
  });

  it("decodes a PSpanChunk with localAsyncId and keyTime", () => {
    const chunk = new spanPb.PSpanChunk();
    chunk.setVersion(1);
    chunk.setSpanid("99");
    chunk.setEndpoint("ep");
    chunk.setApplicationservicetype(1400);
    chunk.setKeytime(1700000002000);
    const la = new spanPb.PLocalAsyncId();
    la.setAsyncid(5);
    la.setSequence(2);
    chunk.setLocalasyncid(la);
    const message = new spanPb.PSpanMessage();
    message.setSpanchunk(chunk);
    const d = PSpanMessage.decode(message.serializeBinary()) as any;
    expect(d.spanChunk.spanId.toString()).toBe("99");
    expect(d.spanChunk.endPoint).toBe("ep");
    expect(d.spanChunk.applicationServiceType).toBe(1400);
    expect(d.spanChunk.keyTime.toNumber()).toBe(1700000002000);
    expect([d.spanChunk.localAsyncId.asyncId, d.spanChunk.localAsyncId.sequence]).toEqual([5, 2]);
  });

  it("decodes metadata messages", () => {
    const api = new spanPb.PApiMetaData();
    api.setApiid(3);
    api.setApiinfo("express.get");
    api.setLine(-1);
    api.setType(0);
    expect(PApiMetaData.toObject(PApiMetaData.decode(api.serializeBinary()))).toMatchObject({ apiId: 3, apiInfo: "express.get", line: -1 });
    const str = new spanPb.PStringMetaData();
    str.setStringid(8);
    str.setStringvalue("TypeError");
    expect(PStringMetaData.toObject(PStringMetaData.decode(str.serializeBinary()))).toMatchObject({ stringId: 8, stringValue: "TypeError" });
  });

  it("declares every method path the agent calls", () => {
    const ours = new Set(pinpointMethods().map((m) => m.path));
    const agentPaths: string[] = [];
    for (const service of Object.values(servicesPb) as any[]) {
      if (service && typeof service === "object") for (const m of Object.values(service) as any[]) if (m?.path) agentPaths.push(m.path);
    }
    expect(agentPaths.length).toBeGreaterThan(8);
    for (const p of agentPaths) expect(ours.has(p), p).toBe(true);
  });
});
