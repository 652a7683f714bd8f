// Build-time settings of the RabbitMQ (AMQP 0-9-1) plugin. Edit, then `npm run build`.
import { commonTraceKeys, ROLE_ATTRIBUTE, ROLE_SW8, TraceKeys } from "../../assembly/index";
import {
  PROP_APP_ID, PROP_CORRELATION_ID, PROP_MESSAGE_ID, PROP_TYPE,
} from "../../protocols/amqp";

/** The plugin's own protocol number (1..255) and the name shown as protocol_str. */
export const AMQP_PROTO: u8 = 160;
export const AMQP_NAME = "AMQP";

/**
 * Broker ports. A flow is always claimed on the protocol header ("AMQP" 0 0 9 1); a
 * flow seen from its middle is claimed on a whole method frame, and these ports decide
 * its direction when the method can come from either side (Close, Ack, ...). Empty = no
 * port hint (such flows wait for a method only one side sends).
 */
export const AMQP_PORTS: StaticArray<u16> = [5672];

/**
 * Header-table keys read into trace fields and attributes: the shared defaults
 * (Pinpoint-TraceID/SpanID/pSpanID/Flags/pAppName, X-Request-ID/RequestID, EntryID,
 * traceparent, sw8), plus SkyWalking's older sw6 (same layout as sw8), which DeepFlow's
 * AMQP parser also reads. Add a company's own keys here, e.g.
 *   .add("X-B3-TraceId", ROLE_TRACE_ID, "X-B3-TraceId")
 *   .add("orderNo", ROLE_ATTRIBUTE, "orderNo")
 */
export function amqpTraceKeys(): TraceKeys {
  return commonTraceKeys()
    .add("sw6", ROLE_SW8, "sw6")
    .add("X-Message-ID", ROLE_ATTRIBUTE, "X-Message-ID");
}

/**
 * Basic properties copied into attributes (named content_type, message_id, ...; see
 * PROP_* in protocols/amqp.ts). The body size is always kept as `body_size`.
 */
export const PROPERTY_ATTRIBUTES: u32 = PROP_MESSAGE_ID | PROP_CORRELATION_ID | PROP_APP_ID | PROP_TYPE;

/** The message-id property becomes x_request_id when no RequestID header is there. */
export const MESSAGE_ID_AS_REQUEST_ID: bool = true;

/** Between exchange and routing key in `endpoint` (DeepFlow's AMQP parser uses "."). */
export const ENDPOINT_SEPARATOR = "/";

/** Log heartbeat frames (DeepFlow's AMQP parser logs each one) and the protocol header. */
export const LOG_HEARTBEATS: bool = true;
export const LOG_PROTOCOL_HEADER: bool = true;

/** At most this many attributes per record from the headers table. */
export const MAX_TRACE_ATTRIBUTES: i32 = 32;

/**
 * Connections whose state (requests awaiting replies, a stream's lost position, content
 * records awaiting their header) is remembered: 131,072, above 100k concurrent connections,
 * the least recently used forgotten first. Only connections with something waiting are kept.
 * Memory: the SDK FlowTable's 1 MiB index (with the first connection) and 88 bytes a slot
 * (the channels awaiting replies and flags), in unmanaged memory no garbage collection walks.
 */
export const MAX_STREAMS: i32 = 1 << 17;
/**
 * A method or content-header frame cut across payloads (by TCP, or by a sender writing it in
 * pieces) waits for its rest and is read whole when it is at most this long (RabbitMQ's
 * frame_max is 131072 by default); a longer one gives the record of what its first payload
 * holds. Body frames never wait: only their length counts. Payloads the agent cut (as long
 * as its payload size) cannot be continued: their frames give their record at once.
 */
export const MAX_REASSEMBLED_FRAME: i32 = 256 << 10;
/** Frames waiting for their rest, in all connections and directions. */
export const MAX_WAITING_FRAMES: i32 = 1024;
/** Bytes of those frames (buffer capacity) in all: linear memory grows by about this much. */
export const MAX_REASSEMBLY_BYTES: i64 = 4 << 20;
/** A waiting frame whose connection stayed quiet this long (capture time) may be dropped for room. */
export const REASSEMBLY_STALE_US: u64 = 60_000_000;
/** Publish/Deliver/Get-Ok/Return records per stream held until their content header arrives. */
export const MAX_PENDING: i32 = 8;
/**
 * Directions (of all connections) whose content records wait for their header at once; the
 * records of another one go out without waiting (without their header's ids). They wait only
 * for the next payload of their direction, but they are managed: this bounds what a
 * collection marks.
 */
export const MAX_PENDING_STREAMS: i32 = 4096; // < 65536: a handle is a slot's u16
/** Frames announcing more than this are taken for garbage (RabbitMQ's frame_max tops out far lower). */
export const MAX_FRAME_SIZE: u32 = 1 << 26;
