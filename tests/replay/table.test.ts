// The table people read: rows in start-time order (the agent sends a session when it
// completes or times out), and ids whole, however long.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { FlowLogRow } from "../../sdk/row.ts";
import { root } from "../support/coexist.ts";

function replay(capture: string, format: "table" | "jsonl"): string {
  return execFileSync(process.execPath, ["--import", "tsx", "host-sim/cli.ts", "replay", capture, "--plugin", "build/", "--format", format],
    { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

describe("host-sim replay --format table", () => {
  const capture = join(root, "tests/fixtures/mixed/mixed.pcap");
  const table = replay(capture, "table").trim().split("\n").slice(1);
  const rows = replay(capture, "jsonl").trim().split("\n").map((l) => JSON.parse(l) as FlowLogRow);

  it("lists every row, in start-time order (JSONL keeps the agent's order)", () => {
    expect(table).toHaveLength(rows.length);
    const times = table.map((l) => l.slice(0, 15));
    expect(times).toEqual([...times].sort());
    const agentOrder = rows.map((r) => r.start_time.slice(11, 26));
    expect(agentOrder).not.toEqual([...agentOrder].sort()); // the capture has sessions completing out of order
  });

  it("shows ids whole", () => {
    const long = rows.filter((r) => r.span_id.length > 10 || r.trace_id.length > 30);
    expect(long.length).toBeGreaterThan(0);
    for (const r of long) {
      const line = table.find((l) => l.includes(r.trace_id) && l.includes(r.span_id));
      expect(line, `${r.trace_id} ${r.span_id}`).toBeDefined();
    }
  });
});
