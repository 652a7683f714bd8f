// Protocol inference cache per server endpoint: the agent's AppTable
// (agent/src/flow_generator/app_table.rs). A claimed protocol is remembered for the server's
// ip:port so new flows to it skip check_payload; failed inferences are counted and, past
// inference_max_retries, flows to that server are not inspected for inference_result_ttl.
// Times are capture seconds (the agent uses packet timestamps here too).
import { LruMap } from "./bounded-map.ts";
import type { ServiceKey } from "./service-table.ts";

export interface ClaimedProtocol {
  proto: number;
  name: string;
  /** The plugin whose check_payload claimed it (the agent keeps the number and name only). */
  instance: string;
  /** Set when the agent's own parser claimed it (its L7Protocol, not a plugin's number). */
  builtin?: "http1" | "http2" | "dubbo" | "zmtp";
}

interface Entry {
  unknownCount: number;
  /** null: unknown (inference failed). */
  protocol: ClaimedProtocol | null;
  lastSec: number;
}

export interface AppTableHit {
  protocol: ClaimedProtocol | null;
  unknownCount: number;
  lastSec: number;
}

/** APP_LRU_SIZE, per IP version. */
const CAPACITY = 1 << 12;

export class AppTable {
  private readonly v4 = new LruMap<ServiceKey, Entry>(CAPACITY);
  private readonly v6 = new LruMap<ServiceKey, Entry>(CAPACITY);

  constructor(
    readonly maxRetries: number,
    readonly ttlSec: number,
  ) {}

  /**
   * get_protocol: the remembered protocol of a server, or a failure count that reached the
   * limit (protocol null). undefined when nothing usable is known.
   */
  get(isV6: boolean, server: ServiceKey, nowSec: number): AppTableHit | undefined {
    const t = isV6 ? this.v6 : this.v4;
    const e = t.get(server);
    if (!e) return undefined;
    if (e.lastSec + this.ttlSec < nowSec) {
      t.delete(server);
      return undefined;
    }
    e.lastSec = nowSec;
    if (e.protocol === null && e.unknownCount < this.maxRetries) return undefined;
    return { protocol: e.protocol, unknownCount: e.unknownCount, lastSec: e.lastSec };
  }

  /**
   * set_protocol: records a claim (protocol) or a failed inference (null). Returns true when
   * failures just went past the limit: the caller stops inferring on this flow for the TTL.
   */
  set(isV6: boolean, server: ServiceKey, protocol: ClaimedProtocol | null, nowSec: number): boolean {
    const t = isV6 ? this.v6 : this.v4;
    const e = t.get(server);
    if (!e) {
      // (a first failure is stored with a count of 0, as in the agent)
      t.set(server, { unknownCount: 0, protocol, lastSec: nowSec });
      return false;
    }
    if (protocol === null) {
      if (e.lastSec + this.ttlSec < nowSec) e.unknownCount = 0;
      e.lastSec = nowSec;
      e.unknownCount++;
      if (e.unknownCount > this.maxRetries) {
        e.protocol = null;
        return true;
      }
    } else {
      e.lastSec = nowSec;
      e.unknownCount = 0;
      e.protocol = protocol;
    }
    return false;
  }
}
