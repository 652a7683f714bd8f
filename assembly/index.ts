// The SDK's public API for plugin authors.
export * from "./abi";
export { info, warn, error } from "./log";
export { ParseCtx, HttpReqCtx, HttpRespCtx, CustomMessageCtx } from "./context";
export {
  Request, Response, Trace, TextFields, KeyVal, L7ProtocolInfo, RecordPool, UNSET, STATUS_UNSET, writeAppInfo, writeRecordPB,
  writeRecordLegacy,
} from "./result";
export { collectEveryCalls, COLLECT_EVERY_MIN } from "./collect";
export { Parser, Action, registerParser, customMessageHook, NOT_MINE, L4_ANY } from "./parser";
export { ByteReader, readU16be, readU32be } from "./codec/reader";
export { ByteWriter } from "./codec/writer";
export { PbReader } from "./codec/protobuf";
export {
  TraceKeys, TraceCollector, KeyRule, commonTraceKeys, defaultTraceKeys,
  ROLE_TRACE_ID, ROLE_SPAN_ID, ROLE_PARENT_SPAN_ID, ROLE_REQUEST_ID, ROLE_SW8, ROLE_TRACEPARENT, ROLE_ATTRIBUTE,
} from "./trace/keys";
export { httpHeader, equalsIgnoreCase, asciiLower } from "./codec/text";
export { base64DecodeToString } from "./codec/base64";
