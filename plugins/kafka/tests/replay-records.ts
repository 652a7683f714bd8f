// Replays a capture through build/kafka.wasm the way the agent's packet path does
// (one call per packet, payload cut to the buffer size, direction from the first claimed
// packet, one flow id per TCP connection) and returns every record with its flow.
// Built on the host simulator's capture reader and WasmHost.
import { DecodedPacket, decodeFrame, openCapture } from "../../../host-sim/capture/open.ts";
import { WasmHost, type CustomInfo } from "../../../host-sim/host.ts";

export interface ReplayedRecord {
  flow: string;
  request: boolean;
  info: CustomInfo;
}

export interface ReplayResult {
  records: ReplayedRecord[];
  /** Flows the plugin claimed. */
  claimed: number;
}

export async function replayKafka(host: WasmHost, file: string, bufSize = 1024): Promise<ReplayResult> {
  const reader = openCapture(file);
  const pkt = new DecodedPacket();
  const flows = new Map<string, { id: bigint; server: string | null; proto: number }>();
  const records: ReplayedRecord[] = [];
  let claimed = 0;
  try {
    for (let frame = reader.next(); frame; frame = reader.next()) {
      if (!decodeFrame(frame, pkt) || pkt.status !== "ok" || pkt.payloadLength === 0) continue;
      const src = `${pkt.srcIp().join(".")}:${pkt.srcPort}`;
      const dst = `${pkt.dstIp().join(".")}:${pkt.dstPort}`;
      const key = src < dst ? `${src}-${dst}` : `${dst}-${src}`;
      let flow = flows.get(key);
      if (!flow) flows.set(key, (flow = { id: BigInt(flows.size + 1), server: null, proto: 0 }));
      const payload = Uint8Array.from(pkt.payload());
      const base = {
        srcIp: pkt.srcIp().slice(), dstIp: pkt.dstIp().slice(), srcPort: pkt.srcPort, dstPort: pkt.dstPort,
        flowId: flow.id, time: BigInt(pkt.timeUs), bufSize,
      };
      if (!flow.proto) {
        const claim = host.checkPayload({ ...base, direction: 0 }, payload);
        if (!claim) continue;
        claimed++;
        flow.proto = claim.proto;
        flow.server = claim.msgType === 2 ? src : dst;
      }
      const request = dst === flow.server;
      const out = host.parsePayload({ ...base, direction: request ? 0 : 1 }, payload, flow.proto);
      for (const info of out ?? []) records.push({ flow: key, request, info });
    }
  } finally {
    reader.close();
  }
  return { records, claimed };
}

export function attr(info: CustomInfo, key: string): string | undefined {
  return info.attributes.find((a) => a.key === key)?.val;
}

export function attrs(info: CustomInfo, key: string): string[] {
  return info.attributes.filter((a) => a.key === key).map((a) => a.val);
}
