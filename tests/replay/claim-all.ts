// Generic test plugins in WAT (compiled with wabt): "claim-all" claims every payload, as a
// request, and answers parse_payload with one record per payload — a request record for
// client→server, an OK response for server→client — so that replays of any capture can be
// counted; "no-op" claims everything and aborts parse_payload with no record (the cheapest
// plugin there is: one wasm call per payload). Options make either trap or loop forever.
import { encodePbRecord, frameRecords, type AppInfo } from "../../sdk/result.ts";
import { AppRespStatus } from "../../sdk/schema.generated.ts";
import type { PluginSource } from "../../sdk/host.ts";
import { wat } from "../host/support.ts";

export interface ClaimAllOptions {
  name?: string;
  /** The plugin's protocol number (1..255). */
  proto?: number;
  /** false: parse_payload aborts without records (the no-op plugin). */
  records?: boolean;
  /** false: check_payload never claims. */
  claim?: boolean;
  /** parse_payload traps (unreachable) on server→client payloads. */
  trapOnResponse?: boolean;
  /** parse_payload loops forever on server→client payloads. */
  stallOnResponse?: boolean;
  /** check_payload loops forever. */
  stallInCheck?: boolean;
  /** Extra AppInfo fields for the request / response records. */
  request?: AppInfo;
  response?: AppInfo;
}

const watBytes = (b: Uint8Array) => Array.from(b, (x) => "\\" + x.toString(16).padStart(2, "0")).join("");

const STUCK = "(loop $stuck (br $stuck))";
const NAME_AT = 1024;
const REQ_AT = 2048;
const RESP_AT = 8192;
const BITMAP_AT = 1536;

export function claimAllWat(o: ClaimAllOptions = {}): string {
  // host_read_str_result takes a str: u16 length + bytes.
  const nameBytes = new TextEncoder().encode(o.name ?? "claim-all");
  const name = new Uint8Array([nameBytes.length >> 8, nameBytes.length & 0xff, ...nameBytes]);
  const proto = o.proto ?? 1;
  const req = frameRecords([encodePbRecord({ req: { type: "claim-all" }, ...o.request })]);
  const resp = frameRecords([encodePbRecord({ resp: { status: AppRespStatus.RESP_OK }, ...o.response })]);
  const parseBody = o.records === false
    ? "(i32.const 1)"
    : `(drop (call $ctx (i32.const 0) (i32.const 1024)))
    ;; the direction byte follows the 5-tuple, l4, l7, ebpf type and time: offset 24 (IPv4) or 48 (IPv6)
    (if (i32.eqz (i32.load8_u (select (i32.const 24) (i32.const 48) (i32.eq (i32.load8_u (i32.const 0)) (i32.const 4)))))
      (then (drop (call $result (i32.const ${REQ_AT}) (i32.const ${req.length}))))
      (else ${o.stallOnResponse ? STUCK : o.trapOnResponse ? "(unreachable)" : `(drop (call $result (i32.const ${RESP_AT}) (i32.const ${resp.length})))`}))
    (i32.const 1)`;
  return `(module
  (import "deepflow" "vm_read_ctx_base" (func $ctx (param i32 i32) (result i32)))
  (import "deepflow" "host_read_l7_protocol_info" (func $result (param i32 i32) (result i32)))
  (import "deepflow" "host_read_str_result" (func $str (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const ${NAME_AT}) "${watBytes(name)}")
  (data (i32.const ${BITMAP_AT}) "${watBytes(new Uint8Array([...new Array(15).fill(0), 1]))}")
  (data (i32.const ${REQ_AT}) "${watBytes(req)}")
  (data (i32.const ${RESP_AT}) "${watBytes(resp)}")
  (func (export "_start"))
  (func (export "get_hook_bitmap") (result i32) (i32.const ${BITMAP_AT}))
  (func (export "on_http_req") (result i32) (i32.const 0))
  (func (export "on_http_resp") (result i32) (i32.const 0))
  (func (export "check_payload") (result i32)
    ${o.stallInCheck ? STUCK : ""}
    (drop (call $str (i32.const ${NAME_AT}) (i32.const ${name.length})))
    (i32.const ${o.claim === false ? 0 : proto | (1 << 8)}))
  (func (export "parse_payload") (result i32)
    ${parseBody}))`;
}

export async function claimAllPlugin(o: ClaimAllOptions = {}): Promise<PluginSource> {
  return { name: o.name ?? (o.records === false ? "no-op" : "claim-all"), bytes: await wat(claimAllWat(o)) };
}
