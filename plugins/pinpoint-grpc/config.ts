// Build-time settings of the Pinpoint gRPC plugin.

/** Protocol number and name this plugin reports (name at most 16 bytes). */
export const PINPOINT_PROTO: u8 = 170;
export const PINPOINT_NAME = "Pinpoint-gRPC";

/**
 * Collector ports (Pinpoint defaults: 9991 agent/metadata, 9992 stat, 9993 span). HTTP/2 to
 * these ports is claimed even when its headers cannot be read (a connection seen from its
 * middle); on any other port only headers naming Pinpoint services or carrying Pinpoint
 * agent metadata claim a flow. A flow whose headers name another gRPC service is never claimed.
 */
export const COLLECTOR_PORTS: StaticArray<u16> = [9991, 9992, 9993];

/**
 * Ports that carry only v1.Span/SendSpan: gRPC messages on streams whose :path is unknown
 * (HEADERS before the capture, or HPACK entries never seen) are read as PSpanMessage there,
 * and logged only when they read as a plausible span.
 */
export const SPAN_PORTS: StaticArray<u16> = [9993];

/** Path prefixes of the Pinpoint agent→collector services. */
export const PINPOINT_SERVICES: StaticArray<string> = ["/v1.Span/", "/v1.Agent/", "/v1.Metadata/", "/v1.Stat/", "/v1.ProfilerCommandService/"];

/** Flows remembered as "another service" so that their later payloads are not claimed. */
export const REJECTED_FLOWS: i32 = 4096;
/**
 * Connections tracked at once; the least recently used is forgotten first. Every call's
 * garbage collection walks what is kept, so this also bounds the per-call cost.
 */
export const MAX_FLOWS: i32 = 1024;
/** Heap bytes all tracked connections may hold (HPACK tables, carry-over, open streams). */
export const MAX_FLOW_BYTES: i32 = 8 << 20;
/** Open streams tracked per connection; the oldest is forgotten first. */
export const MAX_STREAMS_PER_FLOW: i32 = 32;
/** HPACK dynamic table bytes kept per direction (larger peer tables lose their oldest entries: reported unknown). */
export const HPACK_TABLE_LIMIT: i32 = 4096;
/** Bytes kept of a gRPC message that arrives in pieces (PSpan's ids come first). */
export const MESSAGE_KEEP: i32 = 16384;
/** Header-block bytes kept per HEADERS + CONTINUATION sequence. */
export const MAX_HEADER_BLOCK: i32 = 16384;
/** Records reused from call to call (a payload of a span stream carries tens of messages; more are made new). */
export const RECORDS_KEPT: i32 = 64;
