// Build-time settings of the Dubbo plugin. Edit, then `npm run build`.
import { defaultTraceKeys, ROLE_ATTRIBUTE, ROLE_REQUEST_ID, ROLE_SPAN_ID, ROLE_TRACE_ID, TraceKeys } from "../../assembly/index";

/** The plugin's own protocol number (check_payload) and name (protocol_str). */
export const DUBBO_PROTO: u8 = 140;
export const DUBBO_NAME = "Dubbo";

/**
 * Attachment keys that carry trace context and company ids, matched
 * case-insensitively. Starts from the shared defaults (Pinpoint's `_DUBBO_*` keys and
 * `Pinpoint-*` names, X-Request-ID/RequestID, EntryID, sw8, traceparent); earlier
 * keys win a field over later ones. Add a company's own keys here, e.g.
 *   .add("X-B3-TraceId", ROLE_TRACE_ID, "X-B3-TraceId")
 *   .add("bizOrderNo", ROLE_ATTRIBUTE, "bizOrderNo")   // copied as an attribute only
 */
export function dubboTraceKeys(): TraceKeys {
  return defaultTraceKeys()
    // Spellings RPC SDKs use for the RequestID / EntryID.
    .add("X-RequestID", ROLE_REQUEST_ID, "RequestID")
    .add("Entry-ID", ROLE_ATTRIBUTE, "EntryID")
    // Alibaba EagleEye, which DeepFlow's own Dubbo tests configure.
    .add("EagleEye-TraceID", ROLE_TRACE_ID, "EagleEye-TraceID")
    .add("EagleEye-SpanID", ROLE_SPAN_ID, "EagleEye-SpanID");
}

/** At most this many attributes per record from attachments. */
export const MAX_TRACE_ATTRIBUTES: i32 = 32;

/**
 * request_resource: false = the service name, as DeepFlow's built-in Dubbo parser
 * sets it (so both modes group the same way); true = `service:version/method`.
 */
export const RESOURCE_WITH_VERSION_AND_METHOD: bool = false;

/**
 * Status bytes 30 (client timeout) and 31 (server timeout): false = client/server
 * error, as the built-in parser maps them; true = RESP_TIMEOUT. In the custom-message
 * hook the plugin's status replaces the built-in one, so this also applies there.
 */
export const TIMEOUTS_AS_TIMEOUT: bool = false;

/**
 * A status-20 response carrying an exception the service threw (result flags 0 and 3):
 * false = ok, as the agent maps status 20; true = server error.
 */
export const EXCEPTION_IS_SERVER_ERROR: bool = false;

/**
 * Arguments are skipped; set this to copy the first N scalar arguments (strings,
 * numbers, booleans) of a Hessian2 request into attributes `arg0`, `arg1`, ...
 */
export const ARGUMENT_ATTRIBUTES: i32 = 0;
/** Longer argument texts are cut to this many characters. */
export const MAX_ARGUMENT_TEXT: i32 = 128;

/** check_payload refuses frames that announce a longer body (Dubbo's default limit is 8 MiB). */
export const MAX_BODY_LENGTH: u32 = 64 << 20;

/** Connections whose position inside a frame is remembered across segments (bounded state). */
export const MAX_TRACKED_STREAMS: i32 = 4096;

/**
 * A frame cut across payloads (by TCP, or by a sender writing it in pieces) is kept until
 * its rest arrives and then read whole, when it is at most this long; a longer one gives
 * its row from the first payload, marked truncated. Payloads the agent cut (as long as
 * its payload size) cannot be continued: their frames give their row at once.
 */
export const MAX_REASSEMBLED_FRAME: i32 = 4 << 20;
/** Bytes of unfinished frames kept in all (linear memory grows to about this much more). */
export const MAX_REASSEMBLY_BYTES: i64 = 8 << 20;
/** An unfinished frame whose connection stayed quiet this long (capture time) may be dropped for room. */
export const REASSEMBLY_STALE_US: u64 = 60_000_000;

/** Answer the agent's built-in Dubbo messages through on_custom_message (type code 40). */
export const ENABLE_CUSTOM_MESSAGE_HOOK: bool = true;
/** Claim Dubbo flows as a custom protocol through check_payload/parse_payload. */
export const ENABLE_PAYLOAD_PARSE: bool = true;
