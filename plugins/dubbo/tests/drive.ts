// The custom-message hook way in, which host-sim's replay does not drive (it has no
// built-in Dubbo parser): a capture's TCP payloads, and on_custom_message on every
// payload the agent's own Dubbo parser would log, through host-sim's WasmHost.
import type { Segment } from "../../../tests/support/capture.ts";
import type { CallCtx, CustomInfo, WasmHost } from "../../../sdk/host.ts";


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
