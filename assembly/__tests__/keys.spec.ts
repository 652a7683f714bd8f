// Trace-context keys: W3C Trace Context's traceparent (version-traceid-parentid-flags)
// and SkyWalking's sw8 (1-base64(trace)-base64(segment)-span-...) as the carriers send
// them, plus the Pinpoint / RequestID header names the SDK maps.
import {
  ROLE_ATTRIBUTE, ROLE_TRACE_ID, TraceCollector, commonTraceKeys, defaultTraceKeys,
} from "../trace/keys";
import { L7ProtocolInfo } from "../result";
import { writeTraceIds } from "../codec/records";
import { AppTraceField } from "../schema.generated";
import { ByteWriter } from "../codec/writer";
import { PbReader } from "../codec/protobuf";
import { asciiBytes as ascii } from "./support";

// The W3C spec's example traceparent.
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
// SkyWalking's example sw8 (cross-process propagation headers protocol v3): trace id
// "1f2d4bf47bf711eab794acde48001122", segment "1e7c204a7bf711eab858acde48001122", span 0,
// service "service", instance "instance", endpoint "/app", address "127.0.0.1:8080".
const SW8 = "1-MWYyZDRiZjQ3YmY3MTFlYWI3OTRhY2RlNDgwMDExMjI=-MWU3YzIwNGE3YmY3MTFlYWI4NThhY2RlNDgwMDExMjI=-0-" +
  "c2VydmljZQ==-aW5zdGFuY2U=-L2FwcA==-MTI3LjAuMC4xOjgwODA=";

describe("TraceKeys", () => {
  it("finds keys case-insensitively, as text and as bytes", () => {
    const keys = commonTraceKeys();
    expect<i32>(keys.find("TRACEPARENT")).toBe(keys.find("traceparent"));
    expect<i32>(keys.find("traceparent")).toBeGreaterThanOrEqual(0);
    expect<i32>(keys.find("Sw8")).toBe(keys.rules.length - 1);
    expect<i32>(keys.find("pinpoint-traceid")).toBe(0);
    expect<i32>(keys.find("x-request-id")).toBe(keys.find("X-Request-ID"));
    expect<i32>(keys.find("x-request")).toBe(-1);
    expect<i32>(keys.find("")).toBe(-1);

    const buf = ascii("..SW8..PINPOINT-PSPANID..Pinpoint-TraceIE");
    expect<i32>(keys.findBytes(buf, 2, 3)).toBe(keys.find("sw8"));
    expect<i32>(keys.findBytes(buf, 7, 16)).toBe(keys.find("Pinpoint-pSpanID"));
    expect<i32>(keys.findBytes(buf, 25, 16)).toBe(-1);
    // Bytes that are one case bit away from '-' or from a letter are not that character.
    expect<i32>(keys.findBytes(ascii("Pinpoint\rTraceID"), 0, 16)).toBe(-1);
    expect<i32>(keys.findBytes(ascii("X\rRequest\rID"), 0, 12)).toBe(-1);
    expect<i32>(keys.findBytes(ascii("[-rEQUEST-id"), 0, 12)).toBe(-1);
    expect<i32>(keys.findBytes(ascii("X-rEQUEST-id"), 0, 12)).toBe(keys.find("X-Request-ID"));
    // Out of range or empty: nothing, no trap.
    expect<i32>(keys.findBytes(buf, -1, 3)).toBe(-1);
    expect<i32>(keys.findBytes(buf, 40, 3)).toBe(-1);
    expect<i32>(keys.findBytes(buf, 2, 0)).toBe(-1);
  });

  it("ranks Dubbo's attachment names after the header they stand for; add and remove reindex", () => {
    const keys = defaultTraceKeys();
    expect<i32>(keys.find("_DUBBO_TRASACTION_ID")).toBe(keys.find("Pinpoint-TraceID") + 1);
    expect<i32>(keys.find("_dubbo_span_id")).toBe(keys.find("Pinpoint-SpanID") + 1);
    expect<i32>(keys.rules[keys.find("_DUBBO_HOST")].role).toBe(ROLE_ATTRIBUTE);
    expect<string>(keys.rules[keys.find("_DUBBO_TRASACTION_ID")].attribute).toBe("Pinpoint-TraceID");

    const buf = ascii("sw8my-key");
    expect<i32>(keys.findBytes(buf, 0, 3)).toBeGreaterThanOrEqual(0);
    keys.remove("SW8");
    expect<i32>(keys.find("sw8")).toBe(-1);
    expect<i32>(keys.findBytes(buf, 0, 3)).toBe(-1);
    keys.add("My-Key", ROLE_TRACE_ID);
    expect<i32>(keys.findBytes(buf, 3, 6)).toBe(keys.rules.length - 1);
    // addAfter a key that is not there: last.
    keys.addAfter("absent", "Other", ROLE_ATTRIBUTE, "other");
    expect<i32>(keys.find("other")).toBe(keys.rules.length - 1);
  });
});

describe("TraceCollector", () => {
  it("takes trace and span id from a W3C traceparent", () => {
    const c = new TraceCollector(commonTraceKeys());
    expect<bool>(c.found).toBe(false);
    expect<bool>(c.offer("TraceParent", TRACEPARENT)).toBe(true);
    expect<string | null>(c.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect<string | null>(c.spanId).toBe("00f067aa0ba902b7");
    expect<string | null>(c.parentSpanId).toBeNull();
    expect<bool>(c.hasRequestId).toBe(false);
    // The whole value is kept as an attribute too.
    expect<string>(c.attrNames.join(",")).toBe("traceparent");
    expect<string>(c.attrValues.join(",")).toBe(TRACEPARENT);
    expect<bool>(c.offer("content-type", "text/plain")).toBe(false);
    expect<i32>(c.attrNames.length).toBe(1);
  });

  it("decodes sw8's base64 ids; its span id is segment id and span id, as the agent reads them", () => {
    const c = new TraceCollector(commonTraceKeys());
    c.offer("sw8", SW8);
    expect<string | null>(c.traceId).toBe("1f2d4bf47bf711eab794acde48001122");
    expect<string | null>(c.spanId).toBe("1e7c204a7bf711eab858acde48001122-0");
    expect<string>(c.attrValues.join(",")).toBe(SW8);
  });

  it("keeps malformed trace headers without trapping: no ids from them, raw ids when not base64", () => {
    const c = new TraceCollector(commonTraceKeys());
    c.offer("traceparent", "garbage");
    c.offer("traceparent", "");
    c.offer("sw8", "1-abc");
    c.offer("sw8", "");
    expect<string | null>(c.traceId).toBeNull();
    expect<string | null>(c.spanId).toBeNull();
    // Still kept, as they came, as attributes.
    expect<string>(c.attrValues.join("|")).toBe("garbage||1-abc|");

    // An sw8 trace id that is not base64, and one that is base64 of bytes that are not UTF-8 (ff fe fd).
    c.clear();
    c.offer("sw8", "1-no*base64-x-3-a-b");
    expect<string | null>(c.traceId).toBe("no*base64");
    expect<string | null>(c.spanId).toBe("x-3");
    c.clear();
    c.offer("sw8", "1-//79-MTIz-5-a-b-c-d");
    expect<string | null>(c.traceId).toBe("//79");
    expect<string | null>(c.spanId).toBe("123-5");

    // Invalid UTF-8 given as bytes is repaired (U+FFFD), never copied through.
    c.clear();
    const keys = c.keys;
    const bad = new Uint8Array(3);
    bad[0] = 0x61;
    bad[1] = 0xff;
    bad[2] = 0x62;
    expect<bool>(c.offerBytes(keys.find("Pinpoint-TraceID"), bad, 0, 3)).toBe(true);
    expect<string | null>(c.traceId).toBe("a\uFFFDb");
    expect<string>(c.attrValues[0]).toBe("a\uFFFDb");
    // Out of range: refused.
    expect<bool>(c.offerBytes(0, bad, 2, 2)).toBe(false);
    expect<bool>(c.offerBytes(0, bad, -1, 1)).toBe(false);
    expect<bool>(c.offerBytes(-1, bad, 0, 1)).toBe(false);
    expect<bool>(c.offerRule(keys.rules.length, "x")).toBe(false);
  });

  it("lets the earlier rule win each field and keeps every distinct trace id", () => {
    const c = new TraceCollector(commonTraceKeys());
    c.offer("traceparent", TRACEPARENT);
    c.offer("RequestID", "r-2");
    c.offer("Pinpoint-TraceID", "app^1^2");
    c.offer("Pinpoint-SpanID", "77");
    c.offer("X-Request-ID", "r-1");
    c.offer("Pinpoint-TraceID", "app^1^2");
    expect<string | null>(c.traceId).toBe("app^1^2");
    expect<string | null>(c.spanId).toBe("77");
    expect<string | null>(c.requestId).toBe("r-1");
    expect<string>(c.traceIds.join(",")).toBe("4bf92f3577b34da6a3ce929d0e0e4736,app^1^2");
    // Both RequestID spellings land under one attribute name.
    const names = c.attrNames;
    let requestIds = 0;
    for (let i = 0; i < names.length; i++) if (names[i] == "RequestID") requestIds++;
    expect<i32>(requestIds).toBe(2);
  });

  it("bounds trace ids and attributes", () => {
    const c = new TraceCollector(commonTraceKeys(), 2);
    c.maxTraceIds = 2;
    c.offer("Pinpoint-TraceID", "t1");
    c.offer("Pinpoint-TraceID", "t2");
    c.offer("Pinpoint-TraceID", "t3");
    c.offer("Pinpoint-TraceID", "t2");
    expect<string>(c.traceIds.join(",")).toBe("t1,t2");
    expect<i32>(c.traceIdsDropped).toBe(1);
    expect<i32>(c.attrNames.length).toBe(2);
    expect<i32>(c.attributesDropped).toBe(2);
    // clear() forgets everything, counters included.
    c.clear();
    expect<bool>(c.found).toBe(false);
    expect<string | null>(c.traceId).toBeNull();
    expect<i32>(c.traceIds.length).toBe(0);
    expect<i32>(c.attributesDropped).toBe(0);
    c.addAttribute("k", "v");
    expect<string>(c.attrNames.join(",") + "=" + c.attrValues.join(",")).toBe("k=v");
  });

  it("with idsInFieldsOnly, keeps ids in their fields and only the others as attributes", () => {
    const c = new TraceCollector(commonTraceKeys());
    c.idsInFieldsOnly = true;
    c.offer("Pinpoint-TraceID", "t1");
    c.offer("RequestID", "r-2");
    c.offer("X-Request-ID", "r-1");
    c.offer("Pinpoint-Flags", "0");
    expect<string | null>(c.requestId).toBe("r-1");
    // r-2 lost the field to r-1: kept as an attribute so that it is not lost.
    expect<string>(c.attrNames.join(",")).toBe("RequestID,Pinpoint-Flags");
    expect<string>(c.attrValues.join(",")).toBe("r-2,0");
  });

  it("fills a record's trace fields, trace_ids and attributes", () => {
    const c = new TraceCollector(commonTraceKeys());
    c.offer("traceparent", TRACEPARENT);
    c.offer("Pinpoint-TraceID", "app^1^2");
    c.offer("X-Request-ID", "r-1");
    const info = new L7ProtocolInfo();
    c.fill(info);
    const t = info.trace!;
    expect<string | null>(t.traceId).toBe("app^1^2");
    expect<string | null>(t.spanId).toBe("00f067aa0ba902b7");
    expect<string | null>(t.xRequestId).toBe("r-1");
    // Two distinct trace ids: both go to AppTrace.trace_ids.
    const w = new ByteWriter();
    writeTraceIds(w, t);
    const ids = new PbReader(w.view());
    const seen: string[] = [];
    while (ids.next()) {
      expect<u32>(ids.field).toBe(AppTraceField.TRACE_IDS);
      seen.push(ids.string());
    }
    expect<string>(seen.join(",")).toBe("4bf92f3577b34da6a3ce929d0e0e4736,app^1^2");
    const attrs = info.encodedAttributes();
    expect<i32>(info.attributeCount).toBe(3);
    expect<string>(attrs[1].key + "=" + attrs[1].val).toBe("Pinpoint-TraceID=app^1^2");
    expect<string>(attrs[2].key + "=" + attrs[2].val).toBe("RequestID=r-1");

    // Nothing found: the record is left alone.
    const empty = new L7ProtocolInfo();
    new TraceCollector(commonTraceKeys()).fill(empty);
    expect<bool>(empty.trace === null).toBe(true);
    expect<i32>(empty.attributeCount).toBe(0);
  });
});
