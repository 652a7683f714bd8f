// The agent's built-in parsers that hand plugins "custom messages" (on_custom_message), as
// replay runs them on flows no plugin claimed. The agent calls WasmVm::on_custom_message
// (agent/src/plugin/wasm/host.rs) from four open-source parsers, each after its own parse:
//
//   type  parser     message (WasmData)                          what the plugin's record changes
//   40    Dubbo      empty (WasmData::new)                       DubboInfo::merge_custom_info: service,
//         rpc/dubbo.rs wasm_hook, per request and response        method, status, code, result, exception,
//                                                                 trace ids, span id, attributes, ...
//   104   NATS       NatsMessage {subject, reply_to, payload}    attributes, protocol name, async, reversed
//         mq/nats.rs wasm_hook, for MSG/HMSG/PUB/HPUB only
//   106   ZMTP       ZmtpMessage {payload, subscription}         attributes, protocol name, async, reversed
//         mq/zmtp.rs wasm_hook
//   107   RocketMQ   empty (WasmData::new)                       RocketmqInfo::merge_custom_info
//         mq/rocketmq.rs wasm_hook
//
// Each gets the ctx of the packet (l7 byte 0, the parser's payload) and hook point 0
// (protocol parse); the first plugin whose get_custom_message_hook matches (or says "all")
// and answers "abort" wins, its last record is merged (host.ts onCustomMessage).
//
// Replay emulates the Dubbo parser (./dubbo.ts) and the ZMTP parser (./zmtp.ts). None of these
// parsers is in the agent's default processors.request_log.application_protocol_inference.
// enabled_protocols (HTTP, HTTP2, MySQL, Redis, Kafka, DNS, TLS: server/agent_config/
// template.yaml), so by default the agent never calls these hooks: replay runs a parser only
// when it is enabled (ReplayOptions.enableProtocols / --enable-protocol Dubbo,ZMTP) and some
// loaded plugin subscribes to its type. In the agent's inference order (get_all_protocol and
// the L7ProtocolParser list, common/l7_protocol_log.rs) the plugins' check_payload comes
// first, then HTTP, HTTP2, DNS, SofaRPC, MySQL, Kafka, Redis, MongoDB, Memcached, PostgreSQL,
// Dubbo, FastCGI, Brpc, Tars, MQTT, AMQP, NATS, Pulsar, ZMTP: a flow a plugin claims never
// reaches Dubbo or ZMTP, so no custom message is sent for it. Replay does not emulate the
// parsers in between (a Dubbo request starts 0xdabb; a ZMTP flow starts with its greeting).
// Dubbo is tried on TCP only (parsable_on_udp false), ZMTP on TCP and UDP (the default).
import { HOOK_CUSTOM_MESSAGE, L7_PROTOCOL, customMessageHookMatches } from "../abi.ts";
import type { CallCtx, WasmHost } from "../host.ts";
import type { HttpParserConfig } from "../http/config.ts";
import { DECODED_SERIALIZATIONS, DubboPerfCache, L7_DUBBO, dubboCheck, mergeCustomToDubbo, parseDubbo, type DubboConfig, type DubboInfo } from "./dubbo.ts";
import { L7_ZMTP, ZmtpLog, encodeZmtpMessage, mergeCustomToZmtp, zmtpCheck, type ZmtpInfo } from "./zmtp.ts";

/** HookPoint::ProtocolParse, the only hook point the agent sends. */
const HOOK_POINT_PROTOCOL_PARSE = 0;

/** The custom-message types of the open-source agent: name, and why replay does not send it (null: it does). */
const TYPES: ReadonlyArray<{ code: number; name: string; notReplayed: string | null }> = [
  { code: L7_PROTOCOL.DUBBO, name: "Dubbo", notReplayed: null },
  { code: L7_PROTOCOL.NATS, name: "NATS", notReplayed: "replay does not emulate the agent's NATS parser (mq/nats.rs), which builds the NatsMessage (subject, reply-to, payload) it sends" },
  { code: L7_PROTOCOL.ZMTP, name: "ZMTP", notReplayed: null },
  { code: L7_PROTOCOL.ROCKETMQ, name: "RocketMQ", notReplayed: "replay does not emulate the agent's RocketMQ parser (mq/rocketmq.rs)" },
];

/** The protocol names --enable-protocol takes (the agent's enabled_protocols spelling). */
export const CUSTOM_MESSAGE_PROTOCOLS: readonly string[] = TYPES.map((t) => t.name);

export interface CustomMessageStats {
  /** Per type some loaded plugin subscribes to: who, and whether replay sends it (else why not). */
  subscriptions: Array<{ typeCode: number; name: string; plugins: string[]; replayed: boolean; why: string }>;
  /** Flows the ZMTP parser claimed (a greeting or a command), and those given ZMTP by the inference cache. */
  zmtpFlows: number;
  zmtpFlowsFromCache: number;
  /** ZMTP logs (greetings, commands, messages) and payloads of ZMTP flows that gave an error. */
  zmtpLogs: number;
  zmtpNotParsed: number;
  /** Flows the Dubbo parser claimed (check_payload saw a Dubbo request header). */
  dubboFlows: number;
  /** Flows given Dubbo by the server's inference cache. */
  dubboFlowsFromCache: number;
  requests: number;
  responses: number;
  /** Payloads of Dubbo flows that gave no log (no Dubbo header, event frames). */
  notParsed: number;
  /** Requests whose serialization the agent does not decode (header fields only, as in the agent). */
  bodyNotDecoded: number;
  /** Messages a plugin's on_custom_message answered (its record merged). */
  answeredByPlugins: number;
}

/** The Dubbo parser's config from the agent's tracing_tag settings (the same as the HTTP parser's). */
export function dubboConfig(http: HttpParserConfig): DubboConfig {
  return { traceTypes: http.traceTypes, spanTypes: http.spanTypes, multipleTraceIdCollection: http.multipleTraceIdCollection, copyApmTraceId: http.copyApmTraceId };
}

export class CustomMessageEmulator {
  readonly stats: CustomMessageStats = { subscriptions: [], zmtpFlows: 0, zmtpFlowsFromCache: 0, zmtpLogs: 0, zmtpNotParsed: 0, dubboFlows: 0, dubboFlowsFromCache: 0, requests: 0, responses: 0, notParsed: 0, bodyNotDecoded: 0, answeredByPlugins: 0 };
  /** The Dubbo parser runs: Dubbo is enabled and a loaded plugin subscribes to type 40. */
  readonly dubbo: boolean;
  /** The ZMTP parser runs: ZMTP is enabled and a loaded plugin subscribes to type 106. */
  readonly zmtp: boolean;
  private readonly caches = new WeakMap<object, DubboPerfCache>();
  private readonly zmtpLogs = new WeakMap<object, ZmtpLog>();

  constructor(
    private readonly host: WasmHost,
    private readonly config: DubboConfig,
    enabled: ReadonlySet<string>,
  ) {
    const info = host.pluginInfo();
    for (const t of TYPES) {
      const plugins = info
        .filter((p) => (p.hookBitmap & HOOK_CUSTOM_MESSAGE) !== 0n && p.hasOnCustomMessage && p.customMessageHook !== null && customMessageHookMatches(p.customMessageHook, HOOK_POINT_PROTOCOL_PARSE, t.code))
        .map((p) => p.name);
      if (plugins.length === 0) continue;
      const on = enabled.has(t.name.toLowerCase());
      const why = t.notReplayed ?? (on ? "" : `the agent's ${t.name} parser is not in its default enabled_protocols, so it sends none; --enable-protocol ${t.name} replays it`);
      this.stats.subscriptions.push({ typeCode: t.code, name: t.name, plugins, replayed: t.notReplayed === null && on, why });
    }
    this.dubbo = this.stats.subscriptions.some((s) => s.typeCode === L7_DUBBO && s.replayed);
    this.zmtp = this.stats.subscriptions.some((s) => s.typeCode === L7_ZMTP && s.replayed);
  }

  /** ZmtpLog::check_payload on the truncated payload of a flow no plugin and no earlier parser claimed, in the packet's direction. */
  checkZmtp(payload: Uint8Array, clientToServer: boolean): boolean {
    return this.zmtp && zmtpCheck(payload, clientToServer);
  }

  /**
   * ZmtpLog::parse_payload on one (truncated) payload: its logs, each after the plugins' hook
   * (a ZmtpMessage with the log's subscription and message body, the whole payload), or null (Err).
   */
  parseZmtp(flow: object, ctx: CallCtx, payload: Uint8Array, clientToServer: boolean): ZmtpInfo[] | null {
    let log = this.zmtpLogs.get(flow);
    if (!log) {
      log = new ZmtpLog();
      this.zmtpLogs.set(flow, log);
    }
    const infos = log.parse(payload, clientToServer, false);
    if (infos === null) {
      this.stats.zmtpNotParsed++;
      return null;
    }
    for (const info of infos) {
      // wasm_hook: the message body is moved into the ZmtpMessage.
      const data = encodeZmtpMessage(info.subscription, info.payload);
      info.payload = new Uint8Array(0);
      ctx.l7 = 0;
      const custom = this.host.onCustomMessage(ctx, payload, { hookPoint: HOOK_POINT_PROTOCOL_PARSE, typeCode: L7_ZMTP, data });
      if (custom) {
        mergeCustomToZmtp(info, custom);
        this.stats.answeredByPlugins++;
      }
      this.stats.zmtpLogs++;
    }
    return infos;
  }

  /** DubboLog::check_payload on the truncated payload of a TCP flow no plugin and no HTTP parser claimed. */
  checkDubbo(payload: Uint8Array): boolean {
    return this.dubbo && dubboCheck(payload);
  }

  /** DubboLog::parse_payload on one (truncated) payload: the log after the plugins' hook, or null (no log). */
  parseDubbo(flow: object, ctx: CallCtx, payload: Uint8Array, clientToServer: boolean, timeUs: number): DubboInfo | null {
    const info = parseDubbo(payload, clientToServer, this.config);
    if (info === null) {
      this.stats.notParsed++;
      return null;
    }
    if (clientToServer && !DECODED_SERIALIZATIONS.has(info.serialId)) this.stats.bodyNotDecoded++;
    // wasm_hook: an empty message of type 40, the parser's payload, l7 byte 0.
    ctx.l7 = 0;
    const custom = this.host.onCustomMessage(ctx, payload, { hookPoint: HOOK_POINT_PROTOCOL_PARSE, typeCode: L7_DUBBO, data: new Uint8Array(0) });
    if (custom) {
      mergeCustomToDubbo(info, custom);
      this.stats.answeredByPlugins++;
    }
    // perf_stats (l7 metrics on, the default): a response takes its request's endpoint.
    let cache = this.caches.get(flow);
    if (!cache) {
      cache = new DubboPerfCache();
      this.caches.set(flow, cache);
    }
    if (info.msgType === "response" && info.endpoint === null) info.endpoint = cache.endpointFor(info, timeUs);
    cache.update(info, timeUs);
    if (info.msgType === "request") this.stats.requests++;
    else this.stats.responses++;
    return info;
  }
}
