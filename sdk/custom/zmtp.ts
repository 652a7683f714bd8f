// The agent's built-in ZMTP parser (ZmtpLog, agent/src/flow_generator/protocol_logs/mq/zmtp.rs)
// as replay needs it to hand plugins the agent's ZMTP custom messages (type code 106) and to
// write the rows the agent writes:
//
// - a payload is read as a run of frames, each tried as a greeting (full, or the 53/54-byte
//   rest of one), a command (short/long size, an upper-case name; READY/INITIATE give the
//   Socket-Type, SUBSCRIBE the subscription, ERROR a client error with its text) or a
//   message (short/long size, "more" flag); a frame cut short ends the payload (EOF);
// - check_payload: the same in strict mode on a fresh parser (a cut frame other than a
//   greeting fails it, messages are skipped): a payload with a greeting or a command; answers
//   "request";
// - parse_payload: every greeting and command is a Session log; a message is a request or a
//   response (by the packet's direction) when either side said REQ or REP, else a Session log;
//   an empty "more" frame (the delimiter) gives none. In the server-to-client direction the
//   size goes to the response size and a client error becomes a server error;
// - each log then goes to wasm_hook: a ZmtpMessage { match_pattern (the subscription, when
//   there is one), payload (the message body, moved out of the log) } with the packet's whole
//   payload; the plugin's record adds attributes and may set the protocol name, async and
//   reversed (nothing else);
// - the session merge (ZmtpInfo::merge) and the row (From<ZmtpInfo> for L7ProtocolSendLog).
//
// The parser's `mechanism` is never set in the agent (parse_greeting sets the log's only), so a
// READY's Socket-Type and a SUBSCRIBE are read whatever the mechanism; so here.
import type { KeyVal, RespStatus } from "../result.ts";
import type { CustomInfo } from "../host.ts";
import { decodeUtf8Lossy, encodeUtf8 } from "../wire.ts";

export const L7_ZMTP = 106;

export type ZmtpFrameType = "Greeting" | "Command" | "Message";

/** ZmtpInfo. */
export interface ZmtpInfo {
  kind: "zmtp";
  msgType: "request" | "response" | "session";
  reqMsgSize: number | null;
  resMsgSize: number | null;
  isAsync: boolean;
  isReversed: boolean;
  status: RespStatus;
  errMsg: string | null;
  subscription: string | null;
  majorVersion: number | null;
  minorVersion: number | null;
  moreFrames: boolean | null;
  socketType: string | null;
  frameType: ZmtpFrameType | "Unknown";
  mechanism: string | null;
  commandName: string | null;
  payload: Uint8Array;
  attributes: KeyVal[];
  /** A plugin's protocol name (l7_protocol_str), null: the server's name for 106. */
  protocolStr: string | null;
}

export function isZmtpInfo(info: object): info is ZmtpInfo {
  return (info as { kind?: unknown }).kind === "zmtp";
}

const SOCKET_TYPES = new Set(["REQ", "REP", "DEALER", "ROUTER", "PUB", "SUB", "XPUB", "XSUB", "PUSH", "PULL", "PAIR"]);

function newInfo(): ZmtpInfo {
  return {
    kind: "zmtp", msgType: "request", reqMsgSize: null, resMsgSize: null, isAsync: false, isReversed: false,
    status: "ok", errMsg: null, subscription: null, majorVersion: null, minorVersion: null, moreFrames: null,
    socketType: null, frameType: "Unknown", mechanism: null, commandName: null, payload: new Uint8Array(0),
    attributes: [], protocolStr: null,
  };
}

/** Err(ZmtpLogParseFailed) / Err(ZmtpLogParseEOF). */
class Fail extends Error {
  constructor(readonly eof: boolean) {
    super(eof ? "eof" : "failed");
  }
}
const FAILED = new Fail(false);
const EOF = new Fail(true);


function readLong(p: Uint8Array, at: number): number {
  // Sizes above 2^31 are refused right after, so a double holds what matters.
  let v = 0;
  for (let i = 0; i < 8; i++) v = v * 256 + p[at + i]!;
  return v;
}

function startsWith(p: Uint8Array, at: number, text: string): boolean {
  if (p.length - at < text.length) return false;
  for (let i = 0; i < text.length; i++) if (p[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** parse_greeting: the offset after it. */
function parseGreeting(p: Uint8Array, info: ZmtpInfo): number {
  info.frameType = "Greeting";
  let at: number;
  if (p[0] === 0xff) {
    if (p.length < 10) throw FAILED;
    if (p[9] !== 0x7f) throw FAILED;
    if (p.length < 11) throw EOF;
    const major = p[10]!;
    if (major !== 3) throw FAILED;
    info.majorVersion = major;
    if (p.length < 12) throw EOF;
    const minor = p[11]!;
    if (minor > 1) throw FAILED;
    info.minorVersion = minor;
    at = 12;
  } else if (p.length === 53) {
    const minor = p[0]!;
    if (minor > 1) throw FAILED;
    info.majorVersion = 3;
    info.minorVersion = minor;
    at = 1;
  } else if (p.length === 54) {
    if (p[0] !== 3) throw FAILED;
    info.majorVersion = 3;
    if (p[1]! > 1) throw FAILED;
    info.minorVersion = p[1]!;
    at = 2;
  } else throw FAILED;
  if (p.length - at < 20) throw FAILED;
  if (startsWith(p, at, "NULL\0")) info.mechanism = "NULL";
  else if (startsWith(p, at, "PLAIN")) info.mechanism = "PLAIN";
  else if (startsWith(p, at, "CURVE")) info.mechanism = "CURVE";
  else throw FAILED;
  at += 20;
  if (at >= p.length) throw FAILED;
  if (p[at]! > 1) throw FAILED;
  at += 1;
  if (p.length - at < 31) throw FAILED;
  for (let i = 0; i < 31; i++) if (p[at + i] !== 0) throw FAILED;
  return at + 31;
}

/** parse_command (mechanism always None, see above). */
function parseCommand(p: Uint8Array, info: ZmtpInfo): number {
  info.frameType = "Command";
  let at = 0;
  if (at >= p.length) throw FAILED;
  const sizeType = p[at++]!;
  info.moreFrames = false;
  let size: number;
  if (sizeType === 0x04) {
    if (at >= p.length) throw FAILED;
    size = p[at++]!;
  } else if (sizeType === 0x06) {
    if (p.length - at < 8) throw FAILED;
    size = readLong(p, at);
    at += 8;
    if (size < 255 || size > 0x7fffffff) throw FAILED;
  } else throw FAILED;
  info.reqMsgSize = size;
  if (at >= p.length) throw FAILED;
  const length = p[at++]!;
  if (length === 0x5e && startsWith(p, at, "RROR")) {
    // libzmq's "\x05ERROR" read as "\x5e" "RROR".
    info.commandName = "ERROR";
    at += 4;
  } else {
    if (length < 4) throw FAILED;
    if (p.length - at < length) throw FAILED;
    for (let i = 0; i < length; i++) {
      const c = p[at + i]!;
      if (c < 0x41 || c > 0x5a) throw FAILED;
    }
    info.commandName = decodeUtf8Lossy(p.subarray(at, at + length));
    at += length;
  }
  if (info.commandName === "ERROR") {
    info.status = "client_error";
    if (at >= p.length) throw EOF;
    const len = p[at++]!;
    if (p.length - at < len) throw EOF;
    info.errMsg = decodeUtf8Lossy(p.subarray(at, at + len));
    return at + len;
  }
  const remaining = size - (1 + length);
  if (remaining < 0) throw FAILED;
  // The data: `remaining` bytes, or what is left when fewer.
  const whole = p.length - at >= remaining;
  const data = whole ? p.subarray(at, at + remaining) : p.subarray(at);
  const next = whole ? at + remaining : p.length;
  const name = info.commandName;
  if (name === "READY" || name === "INITIATE") {
    const i = indexOf(data, "Socket-Type");
    if (i >= 0) {
      const d = data.subarray(i + 11);
      if (d.length >= 4) {
        const len = ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
        if (d.length - 4 >= len) {
          const st = decodeUtf8Lossy(d.subarray(4, 4 + len));
          if (!SOCKET_TYPES.has(st) || !isAscii(d.subarray(4, 4 + len))) throw FAILED;
          info.socketType = st;
        }
      }
    }
  } else if (name === "SUBSCRIBE") {
    info.subscription = decodeUtf8Lossy(data);
  }
  if (!whole) throw EOF;
  return next;
}

function isAscii(b: Uint8Array): boolean {
  for (const c of b) if (c >= 0x80) return false;
  return true;
}

function indexOf(p: Uint8Array, text: string): number {
  outer: for (let i = 0; i + text.length <= p.length; i++) {
    for (let j = 0; j < text.length; j++) if (p[i + j] !== text.charCodeAt(j)) continue outer;
    return i;
  }
  return -1;
}

/** parse_message. */
function parseMessage(p: Uint8Array, info: ZmtpInfo): number {
  info.frameType = "Message";
  let at = 0;
  if (at >= p.length) throw FAILED;
  const sizeType = p[at++]!;
  if (sizeType === 0x00 || sizeType === 0x02) info.moreFrames = false;
  else if (sizeType === 0x01 || sizeType === 0x03) info.moreFrames = true;
  else throw FAILED;
  let size: number;
  if (sizeType <= 0x01) {
    if (at >= p.length) throw FAILED;
    size = p[at++]!;
  } else {
    if (p.length - at < 8) throw FAILED;
    size = readLong(p, at);
    at += 8;
    if (size < 255 || size > 0x7fffffff) throw FAILED;
  }
  info.reqMsgSize = size;
  if (p.length - at < size) throw EOF;
  info.payload = p.slice(at, at + size);
  return at + size;
}

/** ZmtpLog: one per flow (the socket types each side said in READY). */
export class ZmtpLog {
  private clientSocketType: string | null = null;
  private serverSocketType: string | null = null;

  /** try_parse: the log of the frame at the start of `p`, and the offset after it (null: cut short, EOF), or null (Err). */
  private tryParse(p: Uint8Array): { info: ZmtpInfo; next: number | null } | null {
    for (const parse of [parseGreeting, parseCommand]) {
      const info = newInfo();
      try {
        return { info, next: parse(p, info) };
      } catch (e) {
        if (!(e instanceof Fail)) throw e;
        if (e.eof) return { info, next: null };
      }
    }
    // A message lacks uniqueness: no EOF allowed.
    const info = newInfo();
    try {
      return { info, next: parseMessage(p, info) };
    } catch (e) {
      if (!(e instanceof Fail)) throw e;
      return null;
    }
  }

  /** ZmtpLog::parse: the logs of one payload, or null (Err). */
  parse(payload: Uint8Array, clientToServer: boolean, strict: boolean): ZmtpInfo[] | null {
    const out: ZmtpInfo[] = [];
    let p = payload;
    while (p.length > 0) {
      const r = this.tryParse(p);
      if (r === null) return null;
      const info = r.info;
      if (r.next === null) {
        // A frame cut short ends the payload; in strict mode only a greeting may be.
        if (strict && info.frameType !== "Greeting") return null;
        p = p.subarray(p.length);
      } else {
        p = p.subarray(r.next);
      }
      if (!clientToServer) {
        info.resMsgSize = info.reqMsgSize;
        info.reqMsgSize = null;
        if (info.status === "client_error") info.status = "server_error";
      }
      if (info.frameType === "Greeting" || info.frameType === "Command") {
        info.msgType = "session";
        if (info.socketType !== null) {
          if (clientToServer) this.clientSocketType = info.socketType;
          else this.serverSocketType = info.socketType;
        }
        out.push(info);
      } else if (info.frameType === "Message") {
        if (strict) continue;
        const reqRep = (t: string | null) => t === "REQ" || t === "REP";
        info.msgType = reqRep(this.clientSocketType) || reqRep(this.serverSocketType) ? (clientToServer ? "request" : "response") : "session";
        // The delimiter (an empty frame with "more") gives no log.
        if (info.moreFrames !== true || info.reqMsgSize !== 0) out.push(info);
      } else return null;
    }
    return out;
  }
}

/** ZmtpLog::check_protocol: a fresh parser, strict; some log. */
export function zmtpCheck(payload: Uint8Array, clientToServer: boolean): boolean {
  const infos = new ZmtpLog().parse(payload, clientToServer, true);
  return infos !== null && infos.length > 0;
}

// ---------------------------------------------------------------------------------------
// The custom message, the plugin's answer, the session merge, the row

function varint(out: number[], v: number): void {
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/**
 * ZmtpMessage as prost encodes it (WasmPluginApi.proto): the oneof match_pattern (field 1)
 * when there is a subscription, even empty; payload (field 2) when not empty.
 */
export function encodeZmtpMessage(subscription: string | null, payload: Uint8Array): Uint8Array {
  const out: number[] = [];
  if (subscription !== null) {
    const b = encodeUtf8(subscription);
    out.push(0x0a);
    varint(out, b.length);
    for (const x of b) out.push(x);
  }
  if (payload.length > 0) {
    out.push(0x12);
    varint(out, payload.length);
    for (const x of payload) out.push(x);
  }
  return Uint8Array.from(out);
}

/** What ZmtpInfo::wasm_hook takes from the plugin's record. */
export function mergeCustomToZmtp(info: ZmtpInfo, custom: CustomInfo): void {
  info.attributes.push(...custom.attributes);
  if (custom.proto_str.length > 0) info.protocolStr = custom.proto_str;
  if (custom.is_async !== null) info.isAsync = custom.is_async;
  if (custom.is_reversed !== null) info.isReversed = custom.is_reversed;
}

/** ZmtpInfo::merge(self = a, res = b). */
export function mergeZmtp(a: ZmtpInfo, b: ZmtpInfo): void {
  if (a.resMsgSize === null) a.resMsgSize = b.resMsgSize;
  if (a.status === "ok") {
    a.status = b.status;
    a.errMsg = b.errMsg;
  }
  if (b.isReversed) a.isReversed = true;
}

/** get_version. */
export function zmtpVersion(info: ZmtpInfo): string {
  if (info.majorVersion !== null && info.minorVersion !== null) return `${info.majorVersion}.${info.minorVersion}`;
  if (info.majorVersion !== null) return String(info.majorVersion);
  return "";
}
