// The custom-message hook way in, which host-sim's replay does not drive (it has no
// built-in Dubbo parser): a capture's TCP payloads, and on_custom_message on every
// payload the agent's own Dubbo parser would log, through host-sim's WasmHost.
import { decodeFrame, DecodedPacket, openCapture } from "../../../host-sim/capture/open.ts";
import { ipToString } from "../../../host-sim/capture/address.ts";
import type { CallCtx, CustomInfo, WasmHost } from "../../../host-sim/host.ts";

export interface Segment {
  /** 0-based index among payload-carrying TCP packets. */
  index: number;
  direction: 0 | 1;
  payload: Uint8Array;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  timeUs: number;
}

/** Every TCP payload of a capture, with the direction the first payload's destination port implies. */
export function tcpSegments(path: string): Segment[] {
  const reader = openCapture(path);
  const p = new DecodedPacket();
  const out: Segment[] = [];
  let serverPort = -1;
  try {
    for (;;) {
      const f = reader.next();
      if (!f) break;
      if (!decodeFrame(f, p) || p.ipProto !== 6 || p.payloadLength === 0) continue;
      if (serverPort < 0) serverPort = p.dstPort;
      out.push({
        index: out.length,
        direction: p.dstPort === serverPort ? 0 : 1,
        payload: p.data.slice(p.payloadAt, p.payloadAt + p.payloadLength),
        srcIp: ipToString(p.data.subarray(p.srcIpAt, p.srcIpAt + (p.ipVersion === 6 ? 16 : 4))),
        dstIp: ipToString(p.data.subarray(p.dstIpAt, p.dstIpAt + (p.ipVersion === 6 ? 16 : 4))),
        srcPort: p.srcPort,
        dstPort: p.dstPort,
        timeUs: p.timeUs,
      });
    }
  } finally {
    reader.close();
  }
  return out;
}

export function ctxOf(s: Segment, flowId = 1, bufSize = 1024): CallCtx {
  return { srcIp: s.srcIp, dstIp: s.dstIp, srcPort: s.srcPort, dstPort: s.dstPort, direction: s.direction, flowId, bufSize, time: s.timeUs };
}

/** Custom-message mode: the agent calls the hook for each payload its Dubbo parser logs. */
export function hookSegments(host: WasmHost, segments: Segment[], flowId = 1, bufSize = 1024): Array<{ segment: Segment; record: CustomInfo | null }> {
  return segments
    .filter((s) => s.payload.length >= 16 && s.payload[0] === 0xda && s.payload[1] === 0xbb && (s.payload[2] & 0x20) === 0)
    .map((s) => ({ segment: s, record: host.onCustomMessage(ctxOf(s, flowId, bufSize), s.payload.subarray(0, bufSize), { hookPoint: 0, typeCode: 40, data: new Uint8Array(0) }) }));
}

/** An attribute's values in a record. */
export function attrs(r: CustomInfo, key: string): string[] {
  return r.attributes.filter((a) => a.key === key).map((a) => a.val);
}
