// `host-sim call`: run one hook of one or more plugins on one payload, with every
// context field settable, and print what the agent would get back as JSON. For protocol
// authors debugging a single message without a capture.

import { parseIp } from "../capture/address.ts";
import { readFileSync } from "node:fs";
import { intValue, parseOptions, type OptionSpecs } from "../cli/options.ts";
import {
  DEFAULT_BUF_SIZE,
  EBPF_TYPE,
  HOOK_POINT_PROTOCOL_PARSE,
  L4_TCP,
  L4_UDP,
  L7_PROTOCOL,
  MSG_TYPE_REQUEST,
  RESP_STATUS_CODE,
  type Direction,
  type RespStatus,
} from "../sdk/abi.ts";
import { DEFAULT_CALL_BUDGET, HOOK_NAMES, WasmHost, type CallCtx, type HostLogEntry } from "../sdk/host.ts";
import { UsageError } from "../sdk/errors.ts";
import { encodeUtf8 } from "../sdk/wire.ts";
import { pluginFiles } from "../sdk/plugin-files.ts";

export const CALL_USAGE = `usage: host-sim call --plugin P.wasm|DIR [--plugin Q.wasm ...] --hook HOOK [--payload FILE] [options]

HOOK: check_payload | parse_payload | on_http_req | on_http_resp | on_custom_message

context (every field of the agent's parse context):
  --direction c2s|s2c      default c2s
  --src IP:PORT            default 192.168.1.10:51000 (c2s) / the server (s2c); IPv6 as [addr]:port
  --dst IP:PORT            default 192.168.1.20:8080 (c2s) / the client (s2c)
  --l4 tcp|udp             default tcp
  --proto N                parse_payload: the claimed protocol (default: ask check_payload first);
                           HTTP hooks: the agent's HTTP record proto (default 20 = HTTP/1)
  --ebpf-type N            0 tracepoint, 1 TLS uprobe, 2/5 Go HTTP/2 uprobe, 8 unix socket, 255 none (default)
  --process NAME           process name (eBPF only; default empty)
  --time MICROS            default now
  --flow-id N              default 1
  --buf-size N             payload truncation, default ${DEFAULT_BUF_SIZE}; longer payloads are cut, as the agent does
on_http_req:   --path S --host S --user-agent S --referer S
on_http_resp:  --status-code N --status ok|timeout|server-error|client-error|unknown|parse-failed --endpoint S
on_custom_message: --type-code N|dubbo|nats|zmtp|rocketmq  [--hook-point N (default 0)] [--message FILE (protobuf body)]
budget:  --call-budget N     steps (function calls and loop iterations) a call may take, default
                           ${DEFAULT_CALL_BUDGET.toLocaleString("en-US")}; 0 = none, as in the agent. A call that runs out
                           would stall the agent: it is reported and the exit status is 1.
output: JSON on stdout; plugin output and logs are in it ("logs"); WASI prints go to stderr.`;

const TYPE_CODES: Record<string, number> = {
  dubbo: L7_PROTOCOL.DUBBO,
  nats: L7_PROTOCOL.NATS,
  zmtp: L7_PROTOCOL.ZMTP,
  rocketmq: L7_PROTOCOL.ROCKETMQ,
};

const CLIENT = "192.168.1.10:51000";
const SERVER = "192.168.1.20:8080";

function u64Option(name: string, text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || BigInt(text) >= 1n << 64n) throw new UsageError(`--${name} must be an unsigned 64-bit number, got ${JSON.stringify(text)}`);
  return BigInt(text);
}

function endpoint(name: string, text: string): { ip: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m) throw new UsageError(`--${name} must be IP:PORT (IPv6 as [addr]:port), got ${JSON.stringify(text)}`);
  try {
    parseIp(m[1]);
  } catch {
    throw new UsageError(`--${name}: ${JSON.stringify(m[1])} is not an IPv4 or IPv6 address`);
  }
  const port = intValue(`--${name} port`, m[2], 0, 65535);
  return { ip: m[1], port };
}

function readInput(what: string, file: string | undefined): Uint8Array {
  if (file === undefined) return new Uint8Array(0);
  try {
    return readFileSync(file === "-" ? 0 : file);
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

/** Runs `host-sim call`; returns the exit code. */
/** Every option of `host-sim call`, with its type and range (CALL_USAGE describes them). */
export const CALL_OPTIONS = {
  plugin: { type: "strings" },
  hook: { type: "choice", choices: HOOK_NAMES },
  payload: { type: "string" },
  direction: { type: "choice", choices: ["c2s", "s2c"], default: "c2s" },
  proto: { type: "int", min: 0, max: 255 },
  src: { type: "string" },
  dst: { type: "string" },
  l4: { type: "choice", choices: ["tcp", "udp"], default: "tcp" },
  "ebpf-type": { type: "int", min: 0, max: 255, default: EBPF_TYPE.NONE },
  process: { type: "string", default: "" },
  time: { type: "string" },
  "flow-id": { type: "string" },
  "buf-size": { type: "int", min: 1, max: 65535, default: DEFAULT_BUF_SIZE },
  path: { type: "string", default: "" },
  host: { type: "string", default: "" },
  "user-agent": { type: "string", default: "" },
  referer: { type: "string", default: "" },
  "status-code": { type: "int", min: 0, max: 65535, default: 0 },
  status: { type: "string", default: "ok" },
  endpoint: { type: "string", default: "" },
  "hook-point": { type: "int", min: 0, max: 65535, default: HOOK_POINT_PROTOCOL_PARSE },
  "type-code": { type: "string" },
  message: { type: "string" },
  "call-budget": { type: "int", min: 0, max: 0x7fff_ffff },
} as const satisfies OptionSpecs;

export async function runCall(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseOptions(argv, CALL_OPTIONS);
  if (positionals.length) throw new UsageError(`takes no positional arguments, got ${positionals.join(" ")}`);
  if (o.help) {
    process.stdout.write(CALL_USAGE + "\n");
    return 0;
  }
  if (!o.plugin?.length) throw new UsageError("--plugin is required");
  const hook = o.hook;
  if (!hook) throw new UsageError(`--hook is required: one of ${HOOK_NAMES.join(", ")}`);
  const direction: Direction = o.direction === "c2s" ? 0 : 1;
  const src = endpoint("src", o.src ?? (direction === 0 ? CLIENT : SERVER));
  const dst = endpoint("dst", o.dst ?? (direction === 0 ? SERVER : CLIENT));
  if ((src.ip.includes(":") ? 16 : 4) !== (dst.ip.includes(":") ? 16 : 4)) throw new UsageError("--src and --dst must both be IPv4 or both IPv6");
  if (encodeUtf8(o.process).length > 255) throw new UsageError("--process must be at most 255 bytes");
  const proto = o.proto;
  const status = o.status.replace(/-/g, "_") as RespStatus;
  if (!(status in RESP_STATUS_CODE)) throw new UsageError(`--status must be one of ${Object.keys(RESP_STATUS_CODE).map((s) => s.replace(/_/g, "-")).join(", ")}`);

  const ctx: CallCtx = {
    srcIp: src.ip,
    dstIp: dst.ip,
    srcPort: src.port,
    dstPort: dst.port,
    direction,
    l4: o.l4 === "tcp" ? L4_TCP : L4_UDP,
    ebpfType: o["ebpf-type"],
    time: u64Option("time", o.time) ?? BigInt(Date.now()) * 1000n,
    processName: o.process,
    flowId: u64Option("flow-id", o["flow-id"]) ?? 1n,
    bufSize: o["buf-size"],
  };
  const payload = readInput("payload", o.payload);

  const logs: HostLogEntry[] = [];
  const callBudget = o["call-budget"];
  const host = await WasmHost.load(pluginFiles(o.plugin), { onLog: (e) => logs.push(e), wasiOutput: "stderr", callBudget });

  const out: Record<string, unknown> = {
    hook,
    plugins: host.pluginInfo().map((p) => ({
      name: p.name,
      protocol: p.protocol,
      hook_bitmap: "0x" + p.hookBitmap.toString(16).padStart(32, "0"),
      custom_message_hook: p.customMessageHook === null ? null : "0x" + p.customMessageHook.toString(16).padStart(16, "0"),
      uses_wasi: p.usesWasi,
    })),
    ctx: {
      src: `${src.ip}:${src.port}`,
      dst: `${dst.ip}:${dst.port}`,
      l4: o.l4,
      ebpf_type: ctx.ebpfType,
      time: String(ctx.time),
      direction: o.direction,
      process_name: o.process,
      flow_id: String(ctx.flowId),
      buf_size: ctx.bufSize,
    },
    payload_len: payload.length,
  };
  if (payload.length > ctx.bufSize!) out.payload_truncated_to = ctx.bufSize;
  logs.length = 0; // load-time logs are not about this call

  const checkJson = (c: ReturnType<WasmHost["checkPayload"]>) =>
    c && { proto: c.proto, msg_type: c.msgType === MSG_TYPE_REQUEST ? "request" : "response", name: c.name, instance: c.instance };

  switch (hook) {
    case "check_payload":
      if (proto !== undefined) throw new UsageError("--proto does not apply to check_payload: the agent always sends l7 0 there");
      out.result = checkJson(host.checkPayload(ctx, payload));
      break;
    case "parse_payload": {
      let p = proto;
      if (p === undefined) {
        const claim = host.checkPayload(ctx, payload);
        out.check = checkJson(claim);
        if (!claim) {
          out.result = null;
          out.note = "no plugin claimed the payload in check_payload; pass --proto N to call parse_payload anyway";
          break;
        }
        p = claim.proto;
      }
      out.proto = p;
      out.result = host.parsePayload(ctx, payload, p);
      break;
    }
    case "on_http_req":
      out.result = host.onHttpReq({ ...ctx, l7: proto ?? L7_PROTOCOL.HTTP1 }, payload, {
        path: o.path,
        host: o.host,
        userAgent: o["user-agent"],
        referer: o.referer,
      });
      break;
    case "on_http_resp":
      out.result = host.onHttpResp({ ...ctx, l7: proto ?? L7_PROTOCOL.HTTP1 }, payload, {
        code: o["status-code"],
        status,
        endpoint: o.endpoint,
      });
      break;
    case "on_custom_message": {
      const tc = o["type-code"];
      if (tc === undefined) throw new UsageError("on_custom_message needs --type-code (N, or dubbo, nats, zmtp, rocketmq)");
      const typeCode = TYPE_CODES[tc.toLowerCase()] ?? intValue("--type-code", tc, 0, 0xffffffff);
      if (proto !== undefined) throw new UsageError("--proto does not apply to on_custom_message: the agent always sends l7 0 there");
      out.result = host.onCustomMessage(ctx, payload, {
        hookPoint: o["hook-point"],
        typeCode,
        data: readInput("message", o.message),
      });
      break;
    }
  }
  out.instance = host.lastInstance;
  out.agent_panic = host.lastPanic;
  out.logs = logs;
  const counters = host.counters();
  out.counters = counters.map((c) => ({
    name: c.name,
    ...(c.agentPanics ? { agent_panics: c.agentPanics } : {}),
    ...(c.stalled ? { would_stall_the_agent: { hook: c.stalled.hook, budget_steps: c.stalled.budget } } : {}),
    hooks: Object.fromEntries(Object.entries(c.hooks).filter(([, h]) => h.calls > 0)),
  }));
  process.stdout.write(JSON.stringify(out, null, 2) + "\n");
  // A plugin that would stall the agent is as bad as it gets: say so in the exit status too.
  return counters.some((c) => c.stalled) ? 1 : 0;
}
