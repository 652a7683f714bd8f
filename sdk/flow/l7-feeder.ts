// Feeds a flow's payloads to the plugins the way the agent's FlowLog does
// (l7_parse / l7_check / l7_parse_log in agent/src/flow_generator/perf/mod.rs):
// check_payload until a plugin claims the flow, then parse_payload with that protocol;
// inference results cached per server endpoint; after too many failures the flow is left
// alone for the TTL. The first claimed payload decides the direction unless a SYN-ACK did.
//
// With HTTP emulation on, a payload no plugin claims is then offered to the agent's HTTP/1
// parser, then to its HTTP/2 parser, next in the agent's inference order (get_all_protocol in
// agent/src/common/l7_protocol_log.rs: Custom — the plugins — first, then HTTP, HTTP2, ...;
// l7_check in perf/mod.rs tries them in turn and the first claim takes the flow). A flow an
// HTTP parser takes is its for good: its payloads are parsed as HTTP/1 (or HTTP/2) and the
// plugins only see them through on_http_req / on_http_resp (../http/emulator.ts); a flow a
// plugin claims never reaches the HTTP parsers, so no HTTP hook is called for it. An HTTP/2
// flow becomes gRPC when a header says so (the flow's protocol and the server's inference
// cache entry follow the parser's, as l7_parse_log does for "http2 may be upgraded to grpc").
//
// With the agent's Dubbo parser on (../custom/emulator.ts: enabled, and a plugin subscribes to
// its custom messages), a TCP payload neither the plugins nor the HTTP parsers claimed is then
// offered to it, then (likewise) to its ZMTP parser (TCP or UDP); a flow one takes is parsed
// by it, and the plugins only see it through on_custom_message. A flow a plugin claims never
// reaches them.
import { DIR_C2S, DIR_S2C } from "../result.ts";
import { MSG_TYPE_REQUEST } from "../abi.ts";
import type { CallCtx, CustomInfo, WasmHost } from "../host.ts";
import type { CustomMessageEmulator } from "../custom/emulator.ts";
import { L7_DUBBO, type DubboInfo } from "../custom/dubbo.ts";
import { L7_ZMTP, type ZmtpInfo } from "../custom/zmtp.ts";
import type { Http1Emulator } from "../http/emulator.ts";
import type { HttpInfo } from "../http/info.ts";
import { L7_HTTP1 } from "../http/http1.ts";
import { L7_GRPC, http2ProtoName } from "../http/http2.ts";
import type { AppTable } from "./app-table.ts";
import type { Flow } from "./flow.ts";
import { MAX_SCORE, serviceKey, type ServiceTable } from "./service-table.ts";

export interface FeedStats {
  /** Payloads offered (after retransmissions were dropped). */
  payloads: number;
  checkCalls: number;
  claims: number;
  parseCalls: number;
  /** parse_payload calls no plugin answered (WasmParseFail). */
  parseUnanswered: number;
  /** Payloads not offered because the flow reached inference_max_retries. */
  skippedInferenceLimit: number;
  /** Payloads of 0-1 bytes on unclaimed flows (the agent does not check those). */
  tooShortToCheck: number;
  /** Flows whose protocol came from the server's inference cache. */
  flowsFromCache: number;
  /** Per plugin (file name): what it claimed and answered. */
  byPlugin: Record<string, PluginFeedStats>;
}

export interface PluginFeedStats {
  /** Flows its check_payload claimed. */
  flows: number;
  /** Flows given its protocol by the inference cache of a server it claimed before. */
  flowsFromCache: number;
  /** parse_payload calls it answered (aborted), and the records they gave. */
  messages: number;
  records: number;
}

/** One parse_payload answer, with what the agent knows about the packet. */
export interface ParsedPayload {
  flow: Flow;
  records: CustomInfo[];
  clientToServer: boolean;
  timeUs: number;
  /** Payload length before truncation (captured_request_byte / captured_response_byte). */
  capturedBytes: number;
  /** TCP sequence number of the segment (req_tcp_seq / resp_tcp_seq), 0 for UDP. */
  tcpSeq: number;
}

/** One log of the agent's HTTP/1 parser, with what the agent knows about the packet. */
export interface ParsedHttp {
  flow: Flow;
  info: HttpInfo;
  clientToServer: boolean;
  timeUs: number;
  capturedBytes: number;
  tcpSeq: number;
}

/** One log of the agent's Dubbo or ZMTP parser, with what the agent knows about the packet. */
export interface ParsedBuiltin {
  flow: Flow;
  info: DubboInfo | ZmtpInfo;
  clientToServer: boolean;
  timeUs: number;
  capturedBytes: number;
  tcpSeq: number;
}

/** The agent's parsers that send custom messages, and where their logs go (null: none runs). */
export interface CustomFeed {
  emulator: CustomMessageEmulator;
  onParsed: (parsed: ParsedBuiltin) => void;
}

/** The agent's HTTP/1 parser and where its logs go (null: emulation off). */
export interface HttpFeed {
  emulator: Http1Emulator;
  onParsed: (parsed: ParsedHttp) => void;
}

export class L7Feeder {
  readonly stats: FeedStats = {
    payloads: 0, checkCalls: 0, claims: 0, parseCalls: 0, parseUnanswered: 0,
    skippedInferenceLimit: 0, tooShortToCheck: 0, flowsFromCache: 0, byPlugin: {},
  };
  private readonly ctx: CallCtx = { srcIp: "", dstIp: "", srcPort: 0, dstPort: 0, direction: DIR_C2S, l4: 6, time: 0, flowId: 0, bufSize: 1024 };

  constructor(
    private readonly host: WasmHost,
    private readonly apps: AppTable,
    private readonly services: ServiceTable,
    private readonly bufSize: number,
    private readonly onParsed: (parsed: ParsedPayload) => void,
    private readonly http: HttpFeed | null = null,
    private readonly custom: CustomFeed | null = null,
  ) {
    this.ctx.bufSize = bufSize;
  }

  /** init_flow: a new flow to a server whose protocol is cached skips inference. */
  flowCreated(flow: Flow, timeUs: number): void {
    // The agent looks the first packet's destination up, before the direction is scored.
    const hit = this.apps.get(flow.isV6, serviceKey(flow.ipTextB, flow.portB), Math.floor(timeUs / 1e6));
    if (!hit) return;
    if (hit.protocol?.builtin) {
      // Only a parse of the agent's own (HTTP, Dubbo, ZMTP) can have put it there, so that emulation is on.
      flow.proto = hit.protocol.proto;
      flow.protoName = hit.protocol.name;
      flow.protoFrom = "cache";
      flow.builtin = hit.protocol.builtin;
      if (hit.protocol.builtin === "dubbo") this.custom!.emulator.stats.dubboFlowsFromCache++;
      else if (hit.protocol.builtin === "zmtp") this.custom!.emulator.stats.zmtpFlowsFromCache++;
      else this.http!.emulator.stats.flowsFromCache++;
    } else if (hit.protocol) {
      flow.proto = hit.protocol.proto;
      flow.protoName = hit.protocol.name;
      flow.protoFrom = "cache";
      flow.claimedBy = hit.protocol.instance;
      this.stats.flowsFromCache++;
      this.pluginStats(hit.protocol.instance).flowsFromCache++;
    } else {
      flow.skipInference = true;
      flow.skipStartSec = hit.lastSec;
    }
  }

  /** One payload of the flow (a packet's, or a reassembled chunk in stream mode). */
  feed(flow: Flow, fromA: boolean, payload: Uint8Array, timeUs: number, tcpSeq: number): void {
    if (payload.length === 0) return;
    const s = this.stats;
    s.payloads++;
    const nowSec = Math.floor(timeUs / 1e6);
    // check_fail_recover: the TTL is over, try again.
    if (flow.skipInference && flow.skipStartSec !== null && nowSec > flow.skipStartSec + this.apps.ttlSec) {
      flow.skipInference = false;
      flow.skipStartSec = null;
      if (!flow.inferenceSucceeded) {
        flow.proto = 0;
        flow.builtin = "";
      }
    }
    if (flow.skipInference) {
      s.skippedInferenceLimit++;
      return;
    }
    let c2s = flow.isClientToServer(fromA);
    let claimed = false;
    if (flow.proto === 0) {
      if (payload.length < 2) {
        s.tooShortToCheck++;
        return;
      }
      this.setCtx(flow, fromA, c2s, timeUs);
      s.checkCalls++;
      const claim = this.host.checkPayload(this.ctx, payload);
      if (!claim) {
        // The built-in parsers check the truncated payload.
        const cut = payload.length > this.bufSize ? payload.subarray(0, this.bufSize) : payload;
        let builtin: Flow["builtin"] = "";
        // Next in the agent's order: its HTTP/1 parser (TCP only).
        if (this.http && flow.l4 === 6 && this.http.emulator.check(cut)) {
          this.http.emulator.stats.flows++;
          builtin = this.takeBuiltin(flow, L7_HTTP1, "HTTP", "http1");
        } else if (this.http && flow.l4 === 6) {
          // Then its HTTP/2 parser (h2c frames), with the packet's direction.
          const proto = this.http.emulator.check2(flow, cut, c2s);
          if (proto !== null) {
            this.http.emulator.stats.http2Flows++;
            if (proto === L7_GRPC) this.http.emulator.stats.grpcFlows++;
            builtin = this.takeBuiltin(flow, proto, http2ProtoName(proto), "http2");
          }
        }
        // Then (after built-ins replay does not emulate) the Dubbo parser, when it runs.
        if (builtin === "" && this.custom && flow.l4 === 6 && this.custom.emulator.checkDubbo(cut)) {
          this.custom.emulator.stats.dubboFlows++;
          builtin = this.takeBuiltin(flow, L7_DUBBO, "Dubbo", "dubbo");
        }
        // Then (after more it does not emulate) the ZMTP parser, with the packet's direction.
        if (builtin === "" && this.custom && this.custom.emulator.checkZmtp(cut, c2s)) {
          this.custom.emulator.stats.zmtpFlows++;
          builtin = this.takeBuiltin(flow, L7_ZMTP, "ZMTP", "zmtp");
        }
        if (builtin !== "") {
          // Each of these checks answers "request": this packet's destination is the server.
          this.feedHttp(flow, fromA, true, true, payload, timeUs, tcpSeq, nowSec);
          return;
        }
        this.inferenceFailed(flow, fromA, c2s, nowSec);
        return;
      }
      s.claims++;
      this.pluginStats(claim.instance).flows++;
      flow.proto = claim.proto;
      flow.protoName = claim.name;
      flow.protoFrom = "check_payload";
      flow.claimedBy = claim.instance;
      // l7_check: the claim sets this packet's direction.
      c2s = claim.msgType === MSG_TYPE_REQUEST;
      claimed = true;
    } else if (flow.builtin !== "") {
      this.feedHttp(flow, fromA, c2s, false, payload, timeUs, tcpSeq, nowSec);
      return;
    }
    this.setCtx(flow, fromA, c2s, timeUs);
    s.parseCalls++;
    const records = this.host.parsePayload(this.ctx, payload, flow.proto);
    if (records === null) {
      s.parseUnanswered++;
      if (!flow.inferenceSucceeded) this.inferenceFailed(flow, fromA, c2s, nowSec);
      return;
    }
    const answeredBy = this.pluginStats(this.host.lastInstance ?? "");
    answeredBy.messages++;
    answeredBy.records += records.length;
    if (!flow.inferenceSucceeded) {
      flow.inferenceSucceeded = true;
      this.apps.set(flow.isV6, this.serverKey(flow, fromA, c2s), { proto: flow.proto, name: flow.protoName, instance: flow.claimedBy }, nowSec);
    }
    if (flow.directionScore !== MAX_SCORE) {
      this.rectify(flow, fromA, c2s);
      if (claimed) flow.directionSource = c2s ? "plugin-request" : "plugin-response";
    }
    this.onParsed({ flow, records, clientToServer: c2s, timeUs, capturedBytes: payload.length, tcpSeq });
  }

  /** l7_parse_log with the HTTP/1, HTTP/2 or Dubbo parser: logs, or a failure that counts against inference. */
  private feedHttp(flow: Flow, fromA: boolean, c2s: boolean, claimed: boolean, payload: Uint8Array, timeUs: number, tcpSeq: number, nowSec: number): void {
    this.setCtx(flow, fromA, c2s, timeUs);
    const cut = payload.length > this.bufSize ? payload.subarray(0, this.bufSize) : payload;
    if (flow.builtin === "dubbo" || flow.builtin === "zmtp") {
      const emulator = this.custom!.emulator;
      let infos: Array<DubboInfo | ZmtpInfo> | null;
      if (flow.builtin === "dubbo") {
        const info = emulator.parseDubbo(flow, this.ctx, cut, c2s, timeUs);
        infos = info && [info];
      } else {
        infos = emulator.parseZmtp(flow, this.ctx, cut, c2s);
      }
      if (infos === null) {
        if (!flow.inferenceSucceeded) this.inferenceFailed(flow, fromA, c2s, nowSec);
        return;
      }
      if (!flow.inferenceSucceeded) {
        flow.inferenceSucceeded = true;
        this.apps.set(flow.isV6, this.serverKey(flow, fromA, c2s), { proto: flow.proto, name: flow.protoName, instance: "", builtin: flow.builtin }, nowSec);
      }
      if (flow.directionScore !== MAX_SCORE) {
        this.rectify(flow, fromA, c2s);
        if (claimed) flow.directionSource = flow.builtin === "dubbo" ? "dubbo-request" : "zmtp-request";
      }
      for (const info of infos) this.custom!.onParsed({ flow, info, clientToServer: c2s, timeUs, capturedBytes: payload.length, tcpSeq });
      return;
    }
    const http = this.http!;
    let infos: HttpInfo[] | null;
    if (flow.builtin === "http1") {
      const info = http.emulator.parse(flow, this.ctx, cut, c2s, timeUs);
      infos = info && [info];
    } else {
      infos = http.emulator.parse2(flow, flow.proto, this.ctx, cut, c2s, timeUs);
    }
    if (infos === null) {
      if (!flow.inferenceSucceeded) this.inferenceFailed(flow, fromA, c2s, nowSec);
      return;
    }
    let cached = false;
    if (flow.builtin === "http2") {
      // A header turned the parser into gRPC (or Triple): the flow and its server follow.
      const proto = http.emulator.http2Parser(flow, flow.proto).proto;
      if (proto !== flow.proto) {
        if (proto === L7_GRPC) http.emulator.stats.grpcFlows++;
        flow.proto = proto;
        flow.protoName = http2ProtoName(proto);
        this.apps.set(flow.isV6, this.serverKey(flow, fromA, c2s), { proto, name: flow.protoName, instance: "", builtin: "http2" }, nowSec);
        cached = true;
      }
    }
    if (!flow.inferenceSucceeded) {
      flow.inferenceSucceeded = true;
      if (!cached) this.apps.set(flow.isV6, this.serverKey(flow, fromA, c2s), { proto: flow.proto, name: flow.protoName, instance: "", builtin: flow.builtin as "http1" | "http2" }, nowSec);
    }
    if (flow.directionScore !== MAX_SCORE) {
      this.rectify(flow, fromA, c2s);
      if (claimed) flow.directionSource = "http-request";
    }
    for (const info of infos) http.onParsed({ flow, info, clientToServer: c2s, timeUs, capturedBytes: payload.length, tcpSeq });
  }

  private pluginStats(instance: string): PluginFeedStats {
    return (this.stats.byPlugin[instance] ??= { flows: 0, flowsFromCache: 0, messages: 0, records: 0 });
  }

  /** rectify_flow_direction: after a successful parse, the flow follows the packet's direction. */
  private rectify(flow: Flow, fromA: boolean, c2s: boolean): void {
    if (flow.isClientToServer(fromA) !== c2s) {
      flow.clientIsA = !flow.clientIsA;
      this.services.resetScore(flow.isV6, serviceKey(flow.clientIpText, flow.clientPort), serviceKey(flow.serverIpText, flow.serverPort));
    }
  }

  /** A built-in parser's check took the flow: it is that parser's for good. */
  private takeBuiltin(flow: Flow, proto: number, name: string, builtin: Flow["builtin"]): Flow["builtin"] {
    flow.proto = proto;
    flow.protoName = name;
    flow.protoFrom = "check_payload";
    flow.builtin = builtin;
    return builtin;
  }

  private inferenceFailed(flow: Flow, fromA: boolean, c2s: boolean, nowSec: number): void {
    if (this.apps.set(flow.isV6, this.serverKey(flow, fromA, c2s), null, nowSec)) {
      flow.skipInference = true;
      flow.skipStartSec = nowSec;
    }
  }

  /** get_ip_epc_port: the packet's destination if it goes to the server, else its source. */
  private serverKey(flow: Flow, fromA: boolean, c2s: boolean): string {
    const dstIsA = !fromA;
    const serverIsA = c2s ? dstIsA : fromA;
    return serverIsA ? serviceKey(flow.ipTextA, flow.portA) : serviceKey(flow.ipTextB, flow.portB);
  }

  private setCtx(flow: Flow, fromA: boolean, c2s: boolean, timeUs: number): void {
    const ctx = this.ctx;
    ctx.srcIp = fromA ? flow.ipA : flow.ipB;
    ctx.dstIp = fromA ? flow.ipB : flow.ipA;
    ctx.srcPort = fromA ? flow.portA : flow.portB;
    ctx.dstPort = fromA ? flow.portB : flow.portA;
    ctx.direction = c2s ? DIR_C2S : DIR_S2C;
    ctx.l4 = flow.l4;
    ctx.time = timeUs;
    ctx.flowId = flow.id;
  }
}
