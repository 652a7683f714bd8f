// `npm run replay-digest -- OUT`: one line per fixture capture and mode (packet at the agent's
// 1024-byte truncation, stream at 65535) with every plugin of build/ loaded: the number of
// rows, a hash of the rows and a hash of the summary (timings zeroed). Two digests taken
// before and after a refactor are equal when replay behaves the same on every capture.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { replayCapture } from "../sdk/replay.ts";
import { capturesUnder, shippedPlugins } from "../tests/support/coexist.ts";

const sha = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 16);
const out: string[] = [];
for (const capture of capturesUnder("tests/fixtures", "plugins")) {
  for (const mode of ["packet", "stream"] as const) {
    const rows: string[] = [];
    let summary: string;
    try {
      const s = await replayCapture({ capture, plugins: shippedPlugins(), mode, payloadTruncation: mode === "stream" ? 65535 : 1024, onRow: (r) => rows.push(JSON.stringify(r)) });
      const plugins = s.plugins.map((p) => ({ ...p, hooks: Object.fromEntries(Object.entries(p.hooks).map(([k, h]) => [k, { ...h, lastDurationUs: 0 }])) }));
      summary = JSON.stringify({ ...s, elapsedMs: 0, packetsPerSec: 0, megabytesPerSec: 0, plugins });
    } catch (e) {
      summary = String(e);
    }
    out.push(`${capture} ${mode} ${rows.length} ${sha(rows.join("\n"))} ${sha(summary)}`);
  }
}
const file = process.argv[2];
if (file) writeFileSync(file, out.join("\n") + "\n");
else process.stdout.write(out.join("\n") + "\n");
