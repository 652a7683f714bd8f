// The table people read: rows in start-time order (the agent sends a session when it
// completes or times out), and ids whole, however long.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isoMicros, type FlowLogRow } from "../../sdk/row.ts";
import { inTimeOrder } from "../../host-sim/output.ts";
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

describe("inTimeOrder", () => {
  it("lets every row out once, in stable start-time order, when many rows wait and leave in bulk", async () => {
    const out: FlowLogRow[] = [];
    const sink = { write: (r: FlowLogRow) => void out.push(r), closed: false, backpressure: () => null, close: async () => {} };
    const windowUs = 5_000_000;
    const w = inTimeOrder(sink, windowUs);
    // 20,000 rows over ~200 s, each up to 4 s late (within the window), some at equal times.
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const rows = Array.from({ length: 20_000 }, (_, i) => {
      const us = 1_700_000_000_000_000 + i * 10_000 - Math.floor(rand() * 400) * 10_000;
      return { start_time: isoMicros(us), flow_id: i } as unknown as FlowLogRow;
    });
    for (const r of rows) w.write(r);
    await w.close();
    const expected = rows.map((r, i) => ({ r, i, at: Date.parse(r.start_time.slice(0, 23) + "Z") * 1000 + Number(r.start_time.slice(23, 26)) }))
      .sort((a, b) => a.at - b.at || a.i - b.i).map((x) => x.r);
    expect(out).toHaveLength(rows.length);
    expect(out.map((r) => r.flow_id)).toEqual(expected.map((r) => r.flow_id));
  });
});

describe("a capture whose clock is past what a Date holds (year 586381, as tshark shows it)", () => {
  const far = replay(join(root, "tests/fixtures/capture/toy-far-future.pcapng"), "jsonl").trim().split("\n").map((l) => JSON.parse(l) as FlowLogRow);
  const table = replay(join(root, "tests/fixtures/capture/toy-far-future.pcapng"), "table").trim().split("\n").slice(1);
  const toy = replay(join(root, "tests/fixtures/capture/toy.pcap"), "jsonl").trim().split("\n");

  it("gives every row of the same capture at its real time, with the year written whole", () => {
    expect(far).toHaveLength(toy.length);
    for (const r of far) {
      expect(r.start_time).toMatch(/^\+586381-05-03T08:17:1\d\.\d{6}Z$/);
      expect(r.end_time).toMatch(/^\+586381-05-03T08:17:1\d\.\d{6}Z$/);
    }
  });

  it("lists every row in the table, in time order, the time of day in its column", () => {
    expect(table).toHaveLength(far.length);
    const times = table.map((l) => l.slice(0, 15));
    for (const t of times) expect(t).toMatch(/^08:17:1\d\.\d{6}$/);
    expect(times).toEqual([...times].sort());
  });
});
