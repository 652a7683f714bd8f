// Build-time settings of the example plugin.

/** The HTTP header lifted into x_request_id and the attributes. */
export const REQUEST_ID_HEADER = "X-Request-ID";
/** A response header whose non-zero value marks a business error behind HTTP 200. */
export const BIZ_CODE_HEADER = "X-Biz-Code";

/** The toy text protocol claimed by check_payload / parse_payload. */
export const TOY_PROTO: u8 = 200;
export const TOY_NAME = "Toy";
export const TOY_MAGIC = "TOY ";
