// What the agent's HTTP parser is configured with: the user config keys under
// processors.request_log.tag_extraction (tracing_tag, http_endpoint, custom_fields, raw) with
// their defaults, turned into the lists the parser matches headers against, as the agent does.
//
// Mirrors (deepflowio/deepflow, agent/src):
// - config/config.rs: TracingTag::default (http_real_client [X_Forwarded_For], x_request_id
//   [X_Request_ID], multiple_trace_id_collection true, copy_apm_trace_id false, apm_trace_id and
//   apm_span_id [traceparent, sw8]), HttpEndpoint/HttpEndpointMatchRule::default (extraction on,
//   one rule: prefix "" keep 2 segments), RequestLogTagExtractionRaw::default (error_request_header
//   0, error_response_header 0, error_request_payload 0, error_response_payload 256),
//   ExtraLogFields::deduplicate (custom field names lowercased, sorted, deduplicated);
// - config/handler.rs: TraceType (From<&str>, check, as_str, decode_id and its per-format
//   decoders), L7LogDynamicConfigBuilder From<&UserConfig> (header names lowercased with
//   to_ascii_lowercase), From<L7LogDynamicConfigBuilder> for L7LogDynamicConfig (duplicates
//   dropped, trace_set/span_set of as_str names), HttpEndpointTrie::find_matching_rule;
// - flow_generator/protocol_logs/rpc/sofa_rpc.rs: decode_new_rpc_trace_context_with_type;
// - plugins/cloud_platform (tingyun, cloudwise): the open-source agent decodes nothing there.
//
// Note the defaults as the agent has them: `X_Request_ID` and `X_Forwarded_For` are compared,
// lowercased, with the lowercased header name, and nothing turns `_` into `-`: by default the
// agent fills x_request_id / http_proxy_client only from headers literally named
// `x_request_id` / `x_forwarded_for` (any case), not from `X-Request-ID` / `X-Forwarded-For`.
// A user who wants those lists them, as the agent's own HTTP tests do (x-forwarded-for).

import { BASE_EXPECTED_HEADERS } from "./hpack.ts";
import { decodeUtf8Strict, encodeUtf8 } from "../wire.ts";

/** The agent's user-config keys that steer the HTTP parser, with their YAML names. */
export interface AgentHttpConfig {
  /** processors.request_log.tag_extraction.tracing_tag.http_real_client */
  http_real_client: string[];
  /** ...tracing_tag.x_request_id */
  x_request_id: string[];
  /** ...tracing_tag.multiple_trace_id_collection */
  multiple_trace_id_collection: boolean;
  /** ...tracing_tag.copy_apm_trace_id */
  copy_apm_trace_id: boolean;
  /** ...tracing_tag.apm_trace_id */
  apm_trace_id: string[];
  /** ...tracing_tag.apm_span_id */
  apm_span_id: string[];
  /** processors.request_log.tag_extraction.http_endpoint */
  http_endpoint: { extraction_disabled: boolean; match_rules: Array<{ url_prefix: string; keep_segments: number }> };
  /** processors.request_log.tag_extraction.custom_fields.HTTP[].field_name */
  custom_fields: string[];
  /** ...custom_fields.HTTP2[].field_name (HTTP/2 and gRPC records) */
  custom_fields_http2: string[];
  /** L7LogDynamicConfig.grpc_streaming_data_enabled (off by default): gRPC data frames and grpc-status */
  grpc_streaming_data_enabled: boolean;
  /** processors.request_log.tag_extraction.raw */
  raw: { error_request_header: number; error_response_header: number; error_request_payload: number; error_response_payload: number };
}

export function defaultAgentHttpConfig(): AgentHttpConfig {
  return {
    http_real_client: ["X_Forwarded_For"],
    x_request_id: ["X_Request_ID"],
    multiple_trace_id_collection: true,
    copy_apm_trace_id: false,
    apm_trace_id: ["traceparent", "sw8"],
    apm_span_id: ["traceparent", "sw8"],
    http_endpoint: { extraction_disabled: false, match_rules: [{ url_prefix: "", keep_segments: 2 }] },
    custom_fields: [],
    custom_fields_http2: [],
    grpc_streaming_data_enabled: false,
    raw: { error_request_header: 0, error_response_header: 0, error_request_payload: 0, error_response_payload: 256 },
  };
}

// ---------------------------------------------------------------------------------------
// TraceType (config/handler.rs)

export type TraceKind =
  | "disabled" | "xb3" | "xb3span" | "uber" | "sw3" | "sw6" | "sw8" | "traceparent"
  | "new_rpc_trace_context" | "x-tingyun" | "cloudwise" | "customize" | "b3";

export interface TraceType {
  kind: TraceKind;
  /** as_str(): the header name it matches (Customize: the configured name, lowercased). */
  name: string;
  /** The part after the first '.' ("x-tingyun.sub"), kept as the agent keeps it. */
  subTag: string;
}

const KNOWN: ReadonlyMap<string, [TraceKind, string]> = new Map([
  ["x-b3-traceid", ["xb3", "x-b3-traceid"]],
  ["x-b3-spanid", ["xb3span", "x-b3-spanid"]],
  ["uber-trace-id", ["uber", "uber-trace-id"]],
  ["sw3", ["sw3", "sw3"]],
  ["sw6", ["sw6", "sw6"]],
  ["sw8", ["sw8", "sw8"]],
  ["traceparent", ["traceparent", "traceparent"]],
  ["new_rpc_trace_context", ["new_rpc_trace_context", "new_rpc_trace_context"]],
  ["x-tingyun", ["x-tingyun", "x-tingyun"]],
  // as_str() is upper case here, so a (lowercased) header name never matches it.
  ["cloudwise", ["cloudwise", "CLOUDWISE"]],
  ["b3", ["b3", "b3"]],
] as Array<[string, [TraceKind, string]]>);

/** TraceType::from(&str): trimmed, lowercased, split at the first '.'. */
export function traceType(text: string): TraceType {
  const lower = rustTrim(text).toLowerCase();
  const dot = lower.indexOf(".");
  const tag = dot >= 0 ? lower.slice(0, dot) : lower;
  const subTag = dot >= 0 ? lower.slice(dot + 1) : "";
  const known = KNOWN.get(tag);
  if (known) return { kind: known[0], name: known[1], subTag };
  if (tag.length > 0) return { kind: "customize", name: tag, subTag };
  return { kind: "disabled", name: "", subTag };
}

/** TraceType::check: the header name (ASCII case-insensitively). */
export function traceTypeMatches(t: TraceType, key: string): boolean {
  if (t.kind === "disabled") return false;
  // check() compares with the lowercase constants (CloudWise too), as_str() aside.
  return asciiEqIgnoreCase(key, t.kind === "cloudwise" ? "cloudwise" : t.name);
}

const TRACE_ID = 0;
const SPAN_ID = 1;

/** TraceType::decode_trace_id. null: None. */
export function decodeTraceId(t: TraceType, value: string): string | null {
  return decodeId(t, value, TRACE_ID);
}

/** TraceType::decode_span_id. null: None. */
export function decodeSpanId(t: TraceType, value: string): string | null {
  return decodeId(t, value, SPAN_ID);
}

function decodeId(t: TraceType, raw: string, idType: number): string | null {
  const value = rustTrim(raw);
  switch (t.kind) {
    case "disabled":
      return null;
    case "xb3":
    case "xb3span":
    case "customize":
      return value;
    case "uber": {
      // TRACEID:SPANID:PARENTSPANID:FLAGS — the trace from the first field, the span from the third.
      const segs = value.split(":");
      return (idType === TRACE_ID ? segs[0] : segs[2]) ?? null;
    }
    case "sw3": {
      // SEGMENTID|SPANID|100|100|#IPPORT|#PARENT_ENDPOINT|#ENDPOINT|TRACEID|SAMPLING
      const segs = value.split("|");
      if (idType === TRACE_ID) return segs[7] ?? null;
      return segs.length >= 2 ? `${segs[0]}-${segs[1]}` : null;
    }
    case "sw6":
    case "sw8":
      return decodeSkywalking(value, idType);
    case "traceparent": {
      // 00-TRACEID-SPANID-01
      const segs = value.split("-");
      return (idType === TRACE_ID ? segs[1] : segs[2]) ?? null;
    }
    case "b3": {
      // TRACEID-SPANID-1
      const segs = value.split("-");
      return (idType === TRACE_ID ? segs[0] : segs[1]) ?? null;
    }
    case "new_rpc_trace_context":
      return decodeNewRpcTraceContext(value, idType);
    case "x-tingyun":
    case "cloudwise":
      // Enterprise Edition decoders; the open-source agent's return None.
      return null;
  }
}

/**
 * sw6/sw8 (1-TRACEID-SEGMENTID-SPANID-...): the trace id base64-decoded when it decodes to
 * UTF-8 (else as is); the span id "SEGMENTID-SPANID" with the segment id decoded likewise.
 */
function decodeSkywalking(value: string, idType: number): string | null {
  const segs = value.split("-");
  if (idType === TRACE_ID) {
    const id = segs[1];
    if (id === undefined) return null;
    const bytes = base64Standard(id);
    const text = bytes && decodeUtf8Strict(bytes);
    return text ?? id;
  }
  const seg = segs[2];
  const span = segs[3];
  if (seg === undefined || span === undefined) return null;
  const bytes = base64Standard(seg) ?? encodeUtf8(seg);
  const text = decodeUtf8Strict(bytes);
  return text === null ? `${seg}-${span}` : `${text}-${span}`;
}

/** sofa's new_rpc_trace_context: `k=v&k=v&...`; tcid is the trace, spid the span; a pair needs its '&'. */
function decodeNewRpcTraceContext(value: string, idType: number): string | null {
  let rest = value;
  for (;;) {
    const eq = rest.indexOf("=");
    if (eq < 0) return null;
    const key = rest.slice(0, eq);
    const afterEq = rest.slice(eq + 1);
    const amp = afterEq.indexOf("&");
    if (amp < 0) return null;
    const val = afterEq.slice(0, amp);
    rest = afterEq.slice(amp + 1);
    if (key === "tcid" && idType === TRACE_ID) return val;
    if (key === "spid" && idType === SPAN_ID) return val;
  }
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/**
 * base64's STANDARD engine (padding required and canonical, no stray trailing bits), as the
 * agent's BASE64_STANDARD decodes. null where it returns an error.
 */
export function base64Standard(s: string): Uint8Array | null {
  if (s.length % 4 !== 0) return null;
  let pad = 0;
  if (s.endsWith("==")) pad = 2;
  else if (s.endsWith("=")) pad = 1;
  const body = s.slice(0, s.length - pad);
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const c of body) {
    const v = B64_INDEX.get(c);
    if (v === undefined) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero (decode_allow_trailing_bits: false).
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) return null;
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------------------
// HttpEndpointTrie (config/handler.rs) and handle_endpoint (protocol_logs/http.rs)

interface TrieNode {
  children: Map<string, TrieNode>;
  keepSegments: number | null;
}

export class HttpEndpointTrie {
  private readonly root: TrieNode = { children: new Map(), keepSegments: null };

  /** From<&HttpEndpoint>: rules with keep_segments > 0, a later rule of the same prefix wins. */
  constructor(rules: ReadonlyArray<{ url_prefix: string; keep_segments: number }>) {
    for (const r of rules) {
      if (!(r.keep_segments > 0)) continue;
      let node = this.root;
      for (const ch of r.url_prefix) {
        let next = node.children.get(ch);
        if (!next) {
          next = { children: new Map(), keepSegments: null };
          node.children.set(ch, next);
        }
        node = next;
      }
      node.keepSegments = r.keep_segments;
    }
  }

  /** find_matching_rule: the segments to keep, 0 when rules exist and none matches. */
  findMatchingRule(input: string): number {
    const DEFAULT_KEEP_SEGMENTS = 2;
    let node = this.root;
    let keep = node.keepSegments ?? DEFAULT_KEEP_SEGMENTS;
    const hasRules = node.keepSegments !== null || node.children.size > 0;
    let matched = node.keepSegments !== null;
    for (const c of input) {
      const child = node.children.get(c);
      if (!child) break;
      keep = child.keepSegments ?? keep;
      if (!matched) matched = child.keepSegments !== null;
      node = child;
    }
    return !matched && hasRules ? 0 : keep;
  }
}

/** handle_endpoint: the first keep_segments non-empty, non-"." segments of the path before '?'. */
export function handleEndpoint(trie: HttpEndpointTrie, path: string): string {
  const keep = trie.findMatchingRule(path);
  if (keep <= 0) return "";
  const output = path.split("?")[0]!;
  const segs = output.split("/");
  let start = 0;
  let end = 0;
  let k = 0;
  if (segs[0] === "") {
    start = 1;
    end = 1;
  }
  for (let i = 0; i < segs.length; i++) {
    if (k >= keep) break;
    const s = segs[i]!;
    if (s === "" || s === ".") continue;
    k++;
    end = i + 1;
  }
  return "/" + segs.slice(start, end).join("/");
}

// ---------------------------------------------------------------------------------------
// L7LogDynamicConfig: what the parser matches

export interface HttpParserConfig {
  /** proxy_client: http_real_client lowercased, duplicates (after trimming) dropped, not trimmed. */
  proxyClient: string[];
  /** x_request_id, likewise. */
  xRequestId: string[];
  multipleTraceIdCollection: boolean;
  copyApmTraceId: boolean;
  traceTypes: TraceType[];
  spanTypes: TraceType[];
  /** trace_set / span_set: the as_str() names. */
  traceSet: ReadonlySet<string>;
  spanSet: ReadonlySet<string>;
  /** extra_log_fields.http: lowercased, sorted, deduplicated. */
  customFields: string[];
  /** extra_log_fields.http2, likewise. */
  customFieldsHttp2: string[];
  grpcStreamingDataEnabled: boolean;
  /**
   * expected_headers_set: the names the HTTP/2 HPACK decoder keeps in its dynamic table
   * (get_expected_headers, then the trimmed real-client and x-request-id names, the trace and
   * span types' names, the HTTP2 custom fields), as latin1 strings of their UTF-8 bytes.
   */
  expectedHeaders: ReadonlySet<string>;
  endpointDisabled: boolean;
  endpointTrie: HttpEndpointTrie;
  errorRequestHeader: number;
  errorResponseHeader: number;
  errorRequestPayload: number;
  errorResponsePayload: number;
}

function lowerDedup(list: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of list) {
    const s = asciiLower(raw);
    const key = rustTrim(s);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(s);
  }
  return out;
}

/** The agent's config (defaults for what is not given) as the parser uses it. */
export function httpParserConfig(user: Partial<AgentHttpConfig> = {}): HttpParserConfig {
  const c = { ...defaultAgentHttpConfig(), ...user };
  const traceTypes = c.apm_trace_id.map(traceType);
  const spanTypes = c.apm_span_id.map(traceType);
  const custom = [...new Set(c.custom_fields.map(asciiLower))].sort();
  const customHttp2 = [...new Set(c.custom_fields_http2.map(asciiLower))].sort();
  const proxyClient = lowerDedup(c.http_real_client);
  const xRequestId = lowerDedup(c.x_request_id);
  const bytes = (n: string) => Buffer.from(n, "utf8").toString("latin1");
  const expected = new Set(BASE_EXPECTED_HEADERS);
  for (const n of [...proxyClient, ...xRequestId].map(rustTrim)) expected.add(bytes(n));
  for (const t of [...traceTypes, ...spanTypes]) expected.add(bytes(t.name));
  for (const n of customHttp2) expected.add(bytes(n));
  return {
    proxyClient,
    xRequestId,
    multipleTraceIdCollection: c.multiple_trace_id_collection,
    copyApmTraceId: c.copy_apm_trace_id,
    traceTypes,
    spanTypes,
    traceSet: new Set(traceTypes.map((t) => t.name)),
    spanSet: new Set(spanTypes.map((t) => t.name)),
    customFields: custom,
    customFieldsHttp2: customHttp2,
    grpcStreamingDataEnabled: c.grpc_streaming_data_enabled,
    expectedHeaders: expected,
    endpointDisabled: c.http_endpoint.extraction_disabled,
    endpointTrie: new HttpEndpointTrie(c.http_endpoint.match_rules),
    errorRequestHeader: c.raw.error_request_header,
    errorResponseHeader: c.raw.error_response_header,
    errorRequestPayload: c.raw.error_request_payload,
    errorResponsePayload: c.raw.error_response_payload,
  };
}

// ---------------------------------------------------------------------------------------
// Rust string helpers

/** Unicode White_Space, what str::trim removes (JS trim also removes U+FEFF and not U+0085). */
const WS = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const TRIM = new RegExp(`^${WS}+|${WS}+$`, "g");
const TRIM_START = new RegExp(`^${WS}+`);

export function rustTrim(s: string): string {
  return s.replace(TRIM, "");
}

export function rustTrimStart(s: string): string {
  return s.replace(TRIM_START, "");
}

/** to_ascii_lowercase: A-Z only. */
export function asciiLower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  }
  return s.toLowerCase(); // the same for ASCII text, and native: header names are, every one
}

export function asciiEqIgnoreCase(a: string, b: string): boolean {
  return a.length === b.length && asciiLower(a) === asciiLower(b);
}

/** str::parse::<u32>() / ::<u16>(): an optional '+', then digits, in range; null on error. */
export function parseUnsigned(s: string, max: number): number | null {
  if (!/^\+?[0-9]+$/.test(s)) return null;
  const v = Number(s.startsWith("+") ? s.slice(1) : s);
  return v <= max ? v : null;
}
