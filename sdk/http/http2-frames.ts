// HTTP/2 framing constants (RFC 9113 §4.1, §6, §3.4), named once for the agent's HTTP/2
// parser (./http2.ts) and the converter's gRPC request decoder (converter/http2.ts).

/** The client connection preface (RFC 9113 §3.4). */
export const CONNECTION_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/** Length (24 bits), type, flags, stream id (31 bits). */
export const FRAME_HEADER_LENGTH = 9;

export const FRAME_DATA = 0;
export const FRAME_HEADERS = 1;
export const FRAME_PRIORITY = 2;
export const FRAME_RST_STREAM = 3;
export const FRAME_SETTINGS = 4;
export const FRAME_PUSH_PROMISE = 5;
export const FRAME_PING = 6;
export const FRAME_GOAWAY = 7;
export const FRAME_WINDOW_UPDATE = 8;
export const FRAME_CONTINUATION = 9;

export const FLAG_END_STREAM = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;
