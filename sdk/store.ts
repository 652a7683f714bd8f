// What the agent's store holds while it calls a plugin (StoreDataType in
// agent/src/plugin/wasm/host.rs): the parse context of the call in progress, the result the
// plugin handed back, and the panic the agent hits when a plugin reaches for a context that
// is not there.
import { ctxBaseSize, type Direction, type HttpRespInfo } from "./abi.ts";
import type { CustomInfo } from "./result.ts";
import type { U64 } from "./wire.ts";

/** What StoreDataType.parse_ctx holds during a hook call. */
export enum CtxKind {
  None,
  Base,
  HttpReq,
  HttpResp,
  CustomMessage,
}

/** The largest serialized base context: an IPv6 pair and a 255-byte process name. */
const MAX_CTX_BASE = ctxBaseSize(16, 255);
const EMPTY = new Uint8Array(0);

export class CallStore {
  kind = CtxKind.None;
  /** The agent returned from a short HTTP/custom-message ctx read without putting parse_ctx back. */
  lost = false;
  readonly ctxBuf = new Uint8Array(MAX_CTX_BASE);
  ctxLen = 0;
  payload: Uint8Array = EMPTY;
  direction: Direction = 0;
  httpReq: Uint8Array | null = null;
  httpResp: HttpRespInfo | null = null;
  customMessage: Uint8Array | null = null;
  /** host_read_l7_protocol_info's records or host_read_str_result's string. */
  result: CustomInfo[] | string | null = null;
  flowId: U64 = 0;
  /** The instance being called (set_ins_name). */
  current = "";

  /** The call is over: no context until the next one. */
  clear(): void {
    this.kind = CtxKind.None;
    this.httpReq = null;
    this.httpResp = null;
    this.customMessage = null;
    this.result = null;
    this.payload = EMPTY;
  }
}

/**
 * Something that makes the real agent panic (a bug on its side that a plugin can trigger),
 * e.g. a host import called while no parse context exists, or a short buffer passed to
 * vm_read_http_req_info (the agent then loses its context). The simulator reports it
 * instead of crashing: the hook call returns null and `agentPanics` counts it.
 */
export class AgentPanicError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentPanicError";
  }
}


