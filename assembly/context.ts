// What the agent tells a plugin about the packet or message it is looking at,
// decoded from the byte layouts of ../shared/design/deepflow-wasm-abi.md
// (agent: VmCtxBase::serialize_ctx_base, VmHttpReqCtx / VmHttpRespCtx /
// VmOnCustomMessageCtx serialize_to_bytes).
import {
  vm_read_ctx_base, vm_read_custom_message_info, vm_read_http_req_info, vm_read_http_resp_info,
  vm_read_payload, DIR_C2S, DIR_S2C,
} from "./abi";
import { ByteReader } from "./codec/reader";
import { decodeUtf8Lossy } from "./codec/utf8";

// IPv6 context with a 255-byte process name is 315 bytes.
const CTX_BUF_SIZE: i32 = 512;
const ctxBuf = new Uint8Array(CTX_BUF_SIZE);
// The payload buffer grows to the agent's buf_size once and is reused for every call.
let payloadBuf = new Uint8Array(1024);
// HTTP and custom-message contexts are read once into a buffer large enough for
// the worst case: the agent's vm_read_http_*_info / vm_read_custom_message_info lose
// the parse context when they fail on a short buffer, and its next step then panics,
// so a grow-and-retry loop is not an option. An HTTP request context is at most four
// u16-length strings; a custom message carries at most one payload (64 KiB).
const INFO_BUF_SIZE: i32 = 8 + 4 * 65535;
let infoBuf: Uint8Array | null = null;

export class ParseCtx {
  ipVersion: u8 = 4;
  srcIp: Uint8Array = new Uint8Array(4);
  dstIp: Uint8Array = new Uint8Array(4);
  srcPort: u16 = 0;
  dstPort: u16 = 0;
  /** 6 TCP, 17 UDP. */
  l4Protocol: u8 = 0;
  /** 0 inside check_payload; the claimed protocol inside parse_payload. */
  l7Protocol: u8 = 0;
  /** 255 for packet capture; see EBPF_* in abi.ts. */
  ebpfType: u8 = 255;
  /** Microseconds since the epoch. */
  time: u64 = 0;
  /** DIR_C2S or DIR_S2C. */
  direction: u8 = DIR_C2S;
  processName: string = "";
  /** Stable for the life of a flow, both directions: key per-connection state on it. */
  flowId: u64 = 0;
  /** The agent's payload truncation: the payload is at most this long. */
  bufSize: u16 = 0;
  private payloadRead: bool = false;
  private payloadView: Uint8Array = new Uint8Array(0);

  resetPayload(): void {
    this.payloadRead = false;
  }

  get isRequest(): bool {
    return this.direction == DIR_C2S;
  }

  get isResponse(): bool {
    return this.direction == DIR_S2C;
  }

  srcIpString(): string {
    return ipToString(this.srcIp);
  }

  dstIpString(): string {
    return ipToString(this.dstIp);
  }

  /**
   * The payload, read from the agent on first use. The bytes live in a buffer that
   * the next call reuses: copy what must outlive this call.
   */
  payload(): Uint8Array {
    if (this.payloadRead) return this.payloadView;
    let want = <i32>this.bufSize;
    if (want < 256) want = 256;
    if (payloadBuf.length < want) payloadBuf = new Uint8Array(want);
    let n = vm_read_payload(payloadBuf.dataStart, payloadBuf.length);
    if (n < 0 && payloadBuf.length < 65536) {
      // The agent's buffer rule: -1 means ours was short; the payload is at most 64 KiB.
      payloadBuf = new Uint8Array(65536);
      n = vm_read_payload(payloadBuf.dataStart, payloadBuf.length);
    }
    if (n < 0) n = 0;
    let view = this.payloadView;
    if (view.buffer !== payloadBuf.buffer) {
      view = payloadBuf.subarray(0, n);
      this.payloadView = view;
    } else {
      // The same view, lengthened or shortened to this payload: no allocation per call.
      store<i32>(changetype<usize>(view), n, offsetof<Uint8Array>("byteLength"));
    }
    this.payloadRead = true;
    return view;
  }
}

export class HttpReqCtx {
  constructor(public base: ParseCtx, public path: string, public host: string, public userAgent: string, public referer: string) {}
}

export class HttpRespCtx {
  /** status: RESP_* of abi.ts as the agent judged the response. */
  constructor(public base: ParseCtx, public code: u16, public status: u8, public endpoint: string) {}
}

export class CustomMessageCtx {
  constructor(public base: ParseCtx, public hookPoint: u16, public typeCode: u32, public data: Uint8Array) {}

  /** The agent's L7 protocol number of the built-in parser that sent the message. */
  get protocol(): u32 {
    return this.typeCode & 0xffff;
  }

  /** Requests and responses share the type code: the direction tells them apart. */
  get isResponse(): bool {
    return this.base.direction == DIR_S2C;
  }
}

function ipToString(ip: Uint8Array): string {
  if (ip.length == 4) {
    return ip[0].toString() + "." + ip[1].toString() + "." + ip[2].toString() + "." + ip[3].toString();
  }
  let s = "";
  for (let i = 0; i < ip.length; i += 2) {
    if (i > 0) s += ":";
    s += ((<u32>ip[i] << 8) | ip[i + 1]).toString(16);
  }
  return s;
}

// One context object, refilled by every call: reading the context allocates nothing
// (but the process name, when it differs from the last call's).
const shared = new ParseCtx();
const v4Src = new Uint8Array(4);
const v4Dst = new Uint8Array(4);
const v6Src = new Uint8Array(16);
const v6Dst = new Uint8Array(16);
const lastName = new Uint8Array(255);
let lastNameLen: i32 = 0;

/**
 * vm_read_ctx_base, decoded; null when the agent gave nothing or it does not decode.
 * The object is reused by the next call: keep fields, not the context itself.
 */
export function readParseCtx(): ParseCtx | null {
  const n = vm_read_ctx_base(ctxBuf.dataStart, CTX_BUF_SIZE);
  if (n <= 0) return null;
  const p = ctxBuf.dataStart;
  const version = load<u8>(p);
  if (version != 4 && version != 6) return null;
  const ipLen = version == 6 ? 16 : 4;
  // IPs, then ports (4), l4, l7, ebpf type, time (8), direction, name length: 17 bytes.
  const at = p + 1 + <usize>(ipLen << 1);
  if (n < 1 + (ipLen << 1) + 17 + 10) return null;
  const nameLen = <i32>load<u8>(at, 16);
  if (n < 1 + (ipLen << 1) + 17 + nameLen + 10) return null;
  const ctx = shared;
  ctx.resetPayload();
  ctx.ipVersion = version;
  const src = version == 6 ? v6Src : v4Src;
  const dst = version == 6 ? v6Dst : v4Dst;
  if (version == 4) {
    // Word stores: a memory.copy is a call out of compiled code in engines.
    store<u32>(src.dataStart, load<u32>(p, 1));
    store<u32>(dst.dataStart, load<u32>(p, 5));
  } else {
    memory.copy(src.dataStart, p + 1, 16);
    memory.copy(dst.dataStart, p + 17, 16);
  }
  ctx.srcIp = src;
  ctx.dstIp = dst;
  ctx.srcPort = bswap<u16>(load<u16>(at));
  ctx.dstPort = bswap<u16>(load<u16>(at, 2));
  ctx.l4Protocol = load<u8>(at, 4);
  ctx.l7Protocol = load<u8>(at, 5);
  ctx.ebpfType = load<u8>(at, 6);
  ctx.time = bswap<u64>(load<u64>(at, 7));
  ctx.direction = load<u8>(at, 15) == 1 ? DIR_S2C : DIR_C2S;
  const name = at + 17;
  if (nameLen == 0) {
    ctx.processName = "";
    lastNameLen = 0;
  } else if (nameLen != lastNameLen || memory.compare(name, lastName.dataStart, <usize>nameLen) != 0) {
    // Calls of one flow come from one process: the name is made again only when it changes.
    ctx.processName = decodeUtf8Lossy(name, nameLen);
    memory.copy(lastName.dataStart, name, <usize>nameLen);
    lastNameLen = nameLen;
  }
  const tail = name + <usize>nameLen;
  ctx.flowId = bswap<u64>(load<u64>(tail));
  ctx.bufSize = bswap<u16>(load<u16>(tail, 8));
  return ctx;
}

/** Reads one of the hook contexts (0 HTTP request, 1 HTTP response, 2 custom message). */
function readInfo(which: i32): ByteReader | null {
  let buf = infoBuf;
  if (buf === null) {
    buf = new Uint8Array(INFO_BUF_SIZE);
    infoBuf = buf;
  }
  let n: i32 = 0;
  if (which == 0) n = vm_read_http_req_info(buf.dataStart, buf.length);
  else if (which == 1) n = vm_read_http_resp_info(buf.dataStart, buf.length);
  else n = vm_read_custom_message_info(buf.dataStart, buf.length);
  return n > 0 ? new ByteReader(buf, 0, n) : null;
}

function str16(r: ByteReader): string {
  return r.utf8(<i32>r.u16be());
}

export function readHttpReqCtx(): HttpReqCtx | null {
  const base = readParseCtx();
  if (base === null) return null;
  const r = readInfo(0);
  if (r === null) return null;
  const path = str16(r);
  const host = str16(r);
  const ua = str16(r);
  const referer = str16(r);
  return r.short ? null : new HttpReqCtx(base, path, host, ua, referer);
}

export function readHttpRespCtx(): HttpRespCtx | null {
  const base = readParseCtx();
  if (base === null) return null;
  const r = readInfo(1);
  if (r === null) return null;
  const code = <u16>r.u16be();
  const status = <u8>r.u8();
  if (r.short) return null;
  // The endpoint is only there when the buffer had room for it.
  const endpoint = r.remaining >= 2 ? str16(r) : "";
  return new HttpRespCtx(base, code, status, r.short ? "" : endpoint);
}

export function readCustomMessageCtx(): CustomMessageCtx | null {
  const base = readParseCtx();
  if (base === null) return null;
  const r = readInfo(2);
  if (r === null) return null;
  const hookPoint = <u16>r.u16be();
  const typeCode = r.u32be();
  const len = <i32>r.u32be();
  const data = r.bytes(len);
  return r.short ? null : new CustomMessageCtx(base, hookPoint, typeCode, data);
}
