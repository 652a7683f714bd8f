// The Kafka plugin's captures through host-sim's replay (packet mode, as the agent's
// packet path: one call per packet, payload cut to the buffer size), as l7_flow_log rows.
import type { FlowLogRow } from "../../../sdk/row.ts";
import { replayCapture, type ReplaySummary } from "../../../sdk/replay.ts";
import { join, resolve } from "node:path";

// KAFKA_WASM=path replays with another build (e.g. an older one, to see a test fail).
const wasm = process.env.KAFKA_WASM ?? join(resolve(import.meta.dirname, "..", "..", ".."), "build", "kafka.wasm");

export interface Replayed {
  rows: FlowLogRow[];
  summary: ReplaySummary;
}

/** A fresh plugin instance per capture, so that no flow state carries over from another capture. */
export async function replayKafka(capture: string, payloadTruncation = 1024): Promise<Replayed> {
  const rows: FlowLogRow[] = [];
  const summary = await replayCapture({ capture, plugins: [wasm], payloadTruncation, onRow: (r) => rows.push(r) });
  return { rows, summary };
}

export function attrs(row: FlowLogRow, key: string): string[] {
  return row.attribute_names.flatMap((k, i) => (k === key ? [row.attribute_values[i]] : []));
}

export function attr(row: FlowLogRow, key: string): string | undefined {
  return attrs(row, key)[0];
}

/** The ids an id-list attribute (message_id, RequestID: one per log, ids joined by ",") holds. */
export function listed(row: FlowLogRow, key: string): string[] {
  return attrs(row, key).flatMap((v) => v.split(","));
}

/** response_status values of the agent's L7ResponseStatus. */
export const STATUS = { ok: 0, server_error: 3, client_error: 4, unknown: 5 } as const;
