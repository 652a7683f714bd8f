// The agent's ZMTP parser and its custom messages in replay (sdk/custom/zmtp.ts): DeepFlow's
// own ZMTP captures (tests/fixtures/deepflow/zmtp, with the agent's recorded *.result of the
// tests in protocol_logs/mq/zmtp.rs: one ZmtpLog for the capture, the direction by the first
// packet's destination port, ZmtpLog::parse per packet, "parse failed" on an error) compared
// line for line with the emulation's Debug-formatted logs; then replayed with --enable-protocol
// ZMTP through a plugin that only hooks ZMTP custom messages (tests/as/zmtp-hook-plugin.ts),
// its ZmtpMessage checked against an independent protobuf read and tshark's payload bytes.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeFrame, DecodedPacket, openCapture } from "../../capture/open.ts";
import { ZmtpLog, zmtpCheck, type ZmtpInfo } from "../../sdk/custom/zmtp.ts";
import type { FlowLogRow } from "../../sdk/row.ts";
import { formatSummary } from "../../host-sim/replay.ts";
import { replayCapture } from "../../sdk/replay.ts";
import { buildTestPlugin } from "../support/as-harness.ts";
import { tcpSegments } from "../support/capture.ts";
import { shippedPlugins, type Module } from "../support/coexist.ts";
import { canRun } from "../support/tools.ts";

const DIR = join(import.meta.dirname, "../fixtures/deepflow/zmtp");
const CAPTURES = ["zmtp_error", "zmtp_null", "zmtp_plain", "zmtp_subscribe_all", "zmtp_subscribe_one", "zmtp_subscribe_two"];

let hook: Module;
beforeAll(async () => {
  hook = { name: "zmtp-hook.wasm", bytes: await buildTestPlugin("tests/as/zmtp-hook-plugin.ts") };
}, 120_000);

function firstDstPort(path: string): number {
  const reader = openCapture(path);
  const p = new DecodedPacket();
  try {
    for (let f = reader.next(); f; f = reader.next()) if (decodeFrame(f, p)) return p.dstPort;
  } finally {
    reader.close();
  }
  return -1;
}

/** ZmtpInfo's derived Debug, as the agent's test prints it (fields replay does not keep are those of a parse without a hook). */
function debug(i: ZmtpInfo): string {
  const opt = (v: unknown, f: (x: never) => string = String) => (v === null ? "None" : `Some(${f(v as never)})`);
  const q = (s: string) => JSON.stringify(s);
  const status = { ok: "Ok", client_error: "ClientError", server_error: "ServerError" }[i.status as "ok"];
  const type = { request: "Request", response: "Response", session: "Session" }[i.msgType];
  return `ZmtpInfo { msg_type: ${type}, req_msg_size: ${opt(i.reqMsgSize)}, res_msg_size: ${opt(i.resMsgSize)}, is_tls: false, is_async: false, ` +
    `is_reversed: false, rtt: 0, status: ${status}, err_msg: ${opt(i.errMsg, q)}, subscription: ${opt(i.subscription, q)}, ` +
    `major_version: ${opt(i.majorVersion)}, minor_version: ${opt(i.minorVersion)}, more_frames: ${opt(i.moreFrames)}, socket_type: ${opt(i.socketType)}, ` +
    `frame_type: ${i.frameType}, mechanism: ${opt(i.mechanism)}, command_name: ${opt(i.commandName, q)}, payload: [${[...i.payload].join(", ")}], ` +
    `captured_request_byte: 0, captured_response_byte: 0, attributes: [], l7_protocol_str: None, is_on_blacklist: false }`;
}

/** A protobuf message's length-delimited fields (what a ZmtpMessage holds), read independently of the encoder. */
function pbFields(bytes: Uint8Array): Array<[number, Uint8Array]> {
  const out: Array<[number, Uint8Array]> = [];
  let i = 0;
  const varint = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return v;
    }
  };
  while (i < bytes.length) {
    const key = varint();
    expect(key & 7).toBe(2);
    const len = varint();
    out.push([key >> 3, bytes.slice(i, i + len)]);
    i += len;
  }
  return out;
}

describe("ZmtpLog as the agent's own test runs it", () => {
  it.each(CAPTURES)("%s: every recorded log, line for line", (name) => {
    const want = readFileSync(join(DIR, `${name}.result`), "utf8").trimEnd().split("\n");
    const pcap = join(DIR, `${name}.pcap`);
    const port = firstDstPort(pcap);
    const log = new ZmtpLog();
    const got: string[] = [];
    for (const s of tcpSegments(pcap)) {
      const c2s = s.dstPort === port;
      const check = zmtpCheck(s.payload, c2s);
      const infos = log.parse(s.payload, c2s, false);
      if (infos === null) got.push("parse failed");
      else for (const i of infos) got.push(`${debug(i)} is_zmtp: ${check}`);
    }
    expect(got).toEqual(want);
  });
});

describe("replayed with --enable-protocol ZMTP and a plugin hooking ZMTP custom messages", () => {
  it.each(CAPTURES)("%s: ZMTP rows, one on_custom_message per log with the agent's ZmtpMessage", async (name) => {
    const pcap = join(DIR, `${name}.pcap`);
    const rows: FlowLogRow[] = [];
    const s = await replayCapture({ capture: pcap, plugins: [hook], enableProtocols: ["ZMTP"], payloadTruncation: 65535, onRow: (r) => rows.push(r) });
    expect(rows.length).toBeGreaterThan(0);
    expect(s.customMessages!.zmtpLogs).toBe(s.plugins[0]!.hooks.on_custom_message.calls);
    expect(formatSummary(s)).toMatch(/custom {4}zmtp-hook\.wasm subscribes to ZMTP custom messages \(type 106\): the agent's ZMTP parser took \d+ flows/);
    const payloads = canRun("tshark payload check", tsharkMissing())
      ? execFileSync("tshark", ["-r", pcap, "-Y", "tcp.len>0", "-T", "fields", "-e", "tcp.payload"], { encoding: "utf8" }).trim().split("\n")
      : null;
    for (const r of rows) {
      expect(r).toMatchObject({ l7_protocol: 106, l7_protocol_str: "ZMTP-hooked" });
      expect(["Greeting", "Command", "Message"]).toContain(r.request_type);
      const attrs = Object.fromEntries(r.attribute_names.map((k, i) => [k, r.attribute_values[i]!]));
      // ZmtpInfo::merge keeps the request's attributes only (a merged response's are dropped).
      expect(r.attribute_names).toEqual(["zmtp_message", "hook_payload_bytes", "hook_type_code", "hook_point"]);
      expect([attrs.hook_type_code, attrs.hook_point]).toEqual(["106", "0"]);
      const message = pbFields(Buffer.from(attrs.zmtp_message!, "hex"));
      const subscription = message.find(([f]) => f === 1);
      const body = message.find(([f]) => f === 2);
      // match_pattern: the SUBSCRIBE command's data, which is the row's request_domain.
      expect(subscription ? new TextDecoder().decode(subscription[1]) : "").toBe(r.request_domain);
      if (r.request_type !== "Message") expect(body).toBeUndefined();
      if (body && payloads) {
        // The message body is a run of bytes of one TCP payload of the capture (tshark's).
        const hex = Buffer.from(body[1]).toString("hex");
        expect(payloads.some((p) => p.includes(hex)), hex).toBe(true);
      }
    }
  });

  it("a subscription reaches the plugin and the row; off by default; no change for plugins that do not subscribe", async () => {
    const pcap = join(DIR, "zmtp_subscribe_one.pcap");
    const rows: FlowLogRow[] = [];
    await replayCapture({ capture: pcap, plugins: [hook], enableProtocols: ["ZMTP"], onRow: (r) => rows.push(r) });
    expect(rows.filter((r) => r.request_domain === "sports.general").map((r) => r.attribute_values[0])).toEqual(["0a0e73706f7274732e67656e6572616c"]);
    const off: FlowLogRow[] = [];
    const s = await replayCapture({ capture: pcap, plugins: [hook], onRow: (r) => off.push(r) });
    expect(off).toEqual([]);
    expect(formatSummary(s)).toContain("custom    zmtp-hook.wasm subscribes to ZMTP custom messages (type 106): NOT REPLAYED, the agent's ZMTP parser is not in its default enabled_protocols");
    for (const p of shippedPlugins()) {
      const base: FlowLogRow[] = [];
      const on: FlowLogRow[] = [];
      await replayCapture({ capture: pcap, plugins: [p], onRow: (r) => base.push(r) });
      await replayCapture({ capture: pcap, plugins: [p], enableProtocols: ["ZMTP"], onRow: (r) => on.push(r) });
      expect(on, p.name).toEqual(base);
    }
  });
});

function tsharkMissing(): string | null {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore" });
    return null;
  } catch {
    return "tshark is not installed";
  }
}
