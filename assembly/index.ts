// The core SDK's one door, for plugins and for the codec library (protocols/): the agent's
// contract as constants (its raw host imports stay inside, behind ParseCtx and the records),
// the parser API, records, readers and writers, trace keys and per-flow state. The functions
// the agent calls are the other side of the contract: a plugin's entry file re-exports them
// with `export * from "<sdk>/assembly/exports"`, and uses nothing else from inside.
export {
  LOG_INFO, LOG_WARN, LOG_ERROR, ACTION_NEXT, ACTION_ABORT, DIR_C2S, DIR_S2C, MSG_REQUEST, MSG_RESPONSE,
  RESP_OK, RESP_TIMEOUT, RESP_SERVER_ERROR, RESP_CLIENT_ERROR, RESP_UNKNOWN,
  EBPF_TRACEPOINT, EBPF_TLS_UPROBE, EBPF_GO_HTTP2_UPROBE, EBPF_GO_HTTP2_UPROBE_DATA, EBPF_UNIX_SOCKET, EBPF_NONE,
  L4_TCP, L4_UDP, HOOK_PAYLOAD_PARSE, HOOK_HTTP_REQ, HOOK_HTTP_RESP, HOOK_CUSTOM_MESSAGE, HOOK_POINT_PROTOCOL_PARSE,
  TYPE_CODE_DUBBO, TYPE_CODE_NATS, TYPE_CODE_ZMTP, TYPE_CODE_ROCKETMQ, CUSTOM_MESSAGE_HOOK_ALL,
  MAX_PROTOCOL_NAME, MAX_RECORD_LEN,
} from "./abi";
export { info, warn, error } from "./log";
export { ParseCtx, HttpReqCtx, HttpRespCtx, CustomMessageCtx } from "./context";
export {
  Request, Response, Trace, TextFields, KeyVal, L7ProtocolInfo, RecordPool, UNSET, STATUS_UNSET,
} from "./result";
export { writeAppInfo, writeRecordPB, writeRecordLegacy } from "./codec/records";
export { collectEveryCalls, COLLECT_EVERY_MIN } from "./collect";
export { Parser, Action, registerParser, customMessageHook, NOT_MINE, L4_ANY } from "./parser";
export { ByteReader, readU8, readU16be, readU32be, readU64be } from "./codec/reader";
export { ByteWriter, writeDecimal, WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32 } from "./codec/writer";
export { PbReader } from "./codec/protobuf";
export { sameBytes } from "./codec/bytes";
export { NameList } from "./codec/names";
export { isValidUtf8, decodeUtf8Lossy, repairUtf8 } from "./codec/utf8";
export {
  TraceKeys, TraceCollector, KeyRule, commonTraceKeys, defaultTraceKeys,
  ROLE_TRACE_ID, ROLE_SPAN_ID, ROLE_PARENT_SPAN_ID, ROLE_REQUEST_ID, ROLE_SW8, ROLE_TRACEPARENT, ROLE_ATTRIBUTE,
} from "./trace/keys";
export { httpHeader, equalsIgnoreCase, asciiLower } from "./codec/text";
export { base64DecodeToString } from "./codec/base64";
export { FlowTable } from "./flow/table";
export { FrameAssembler, PartialFrame } from "./flow/frames";
