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

/**
 * Connections tracked at once (the SDK's flow table, assembly/flow/table.ts); the least
 * recently used is forgotten first. A flow whose headers named another service holds a
 * slot too (a flag in it), so that its later payloads are not claimed.
 *
 * Memory per connection: its slot, 184 bytes (168 of slot: the table's header, and the
 * retransmission ring, bytes held while seeking, flags; 16 of index), allocated 1024 slots
 * at a time, plus a 1 MiB index with the first flow. A connection the plugin reads also has
 * its state (flows.ts FlowState, in unmanaged memory: both HTTP/2 directions with their
 * HPACK tables, the open streams): 1 to 2 KiB of linear memory for an agent connection
 * with its SendSpan stream open and its headers in the HPACK table (tests/many-flows.test.ts:
 * 100,000 such connections grew linear memory from 1.5 to 192 MiB, grown by doubling). A
 * rejected flow has its slot only.
 */
export const MAX_FLOWS: i32 = 1 << 17;
/**
 * Heap bytes all tracked connections may hold (HPACK tables, carry-over, open streams, by
 * their footprint estimate: 1,440 bytes for the connection above); the least recently used
 * is forgotten first while over. Enough for MAX_FLOWS such connections; it bounds
 * connections that hold more (large HPACK tables, messages arriving in pieces on many streams).
 */
export const MAX_FLOW_BYTES: i64 = 256 << 20;
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
