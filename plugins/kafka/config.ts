// Build-time settings of the Kafka plugin.
import { commonTraceKeys, ROLE_ATTRIBUTE, TraceKeys } from "../../assembly/index";

/** The plugin's own protocol number (1..255) and the name shown as protocol_str. */
export const KAFKA_PROTO: u8 = 150;
export const KAFKA_NAME = "Kafka";

/** Server ports to claim flows on (either end of the packet); empty = any port (Custom is asked before every built-in parser). */
export const KAFKA_PORTS: StaticArray<u16> = [];

/** The attribute that lists message ids. */
export const MESSAGE_ID_ATTRIBUTE = "message_id";
/** The attribute that lists the records' RequestIDs (x_request_id holds the first). */
export const REQUEST_ID_ATTRIBUTE = "RequestID";

/**
 * Record header keys read into trace fields and attributes: the shared defaults
 * (Pinpoint, RequestID, traceparent, sw8, ...) plus the message-id spellings.
 */
export function kafkaTraceKeys(): TraceKeys {
  return commonTraceKeys()
    .add("message-id", ROLE_ATTRIBUTE, MESSAGE_ID_ATTRIBUTE)
    .add("messageId", ROLE_ATTRIBUTE, MESSAGE_ID_ATTRIBUTE)
    .add("X-Message-ID", ROLE_ATTRIBUTE, MESSAGE_ID_ATTRIBUTE);
}

/** Also take each record's key as its message id (for producers that key by message id). */
export const RECORD_KEY_AS_MESSAGE_ID: bool = false;

/** Attributes per request log (trace/message-id values; the rest is counted in attributes_dropped). */
export const MAX_ATTRIBUTES: i32 = 64;
/** Bytes of one id list (message_id, RequestID: ids joined by ","); ids past it are counted in ids_not_listed. */
export const MAX_ID_LIST: i32 = 4096;
/** Distinct trace ids kept per request log (the rest are counted in trace_ids_dropped). */
export const MAX_TRACE_IDS: i32 = 64;
/** Longest header value taken (longer values are cut). */
export const MAX_HEADER_VALUE: i32 = 512;
/** Bound on one gzip batch's decompressed size. */
export const MAX_INFLATE: i32 = 256 * 1024;

/**
 * Flows whose pending requests are remembered (least recently used flows are forgotten
 * first): 131,072, above 100k concurrent connections. Memory grows with the flows seen, at
 * most 296 bytes per flow (a 280-byte slot of the SDK's FlowTable: 32 entries of 8 bytes,
 * and index), ~30 MB at 100k flows (linear memory 48 MiB: the allocator grows it by
 * doubling), ~37 MiB when full; not walked by garbage collection.
 */
export const MAX_FLOWS: i32 = 1 << 17;
/** Requests remembered per flow awaiting their response (oldest overwritten first), as the agent's parser. */
export const MAX_PENDING_PER_FLOW: i32 = 32;

/**
 * A message cut across payloads (by TCP, or by a sender writing it in pieces) is kept until
 * its rest arrives and then read whole, when it is at most this long (a producer's default
 * max.request.size, a partition's default fetch size); a longer one gives its row from the
 * first payload, with message_cut_off. Payloads the agent cut (as long as its payload
 * size) cannot be continued: their messages give their row at once.
 */
export const MAX_REASSEMBLED_MESSAGE: i32 = 1 << 20;
/**
 * Bytes of buffers of unfinished messages kept in all. Memory grows to about this, ~100
 * bytes per waiting message, and at most 64 spare buffers of up to 64 KiB (reused).
 */
export const MAX_REASSEMBLY_BYTES: i64 = 4 << 20;
/** Unfinished messages kept in all (one per flow and direction at most). */
export const MAX_REASSEMBLING: i32 = 1024;
/** An unfinished message whose connection stayed quiet this long (capture time) may be dropped for room. */
export const REASSEMBLY_STALE_US: u64 = 60_000_000;
