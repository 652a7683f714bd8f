// A damaged capture through the whole replay, every shipped plugin loaded: bytes flipped,
// overwritten and cut anywhere in real captures (pcap and pcapng headers, link, IP and TCP
// headers, payloads, timestamps). The replay either finishes or stops with a CaptureError,
// the one error host-sim reports as a line that says where; anything else would reach the
// user as a stack trace.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CaptureError } from "../../capture/open.ts";
import { WasmHost } from "../../sdk/host.ts";
import { replayCapture } from "../../sdk/replay.ts";
import { root, shippedPlugins } from "../support/coexist.ts";

const CAPTURES = [
  "tests/fixtures/mixed/mixed.pcap",
  "tests/fixtures/capture/v4-nanos.pcapng",
  "tests/fixtures/capture/multi-interface.pcapng",
  "tests/fixtures/capture/toy.pcap",
  "tests/fixtures/capture/lo-ethernet.pcap",
  "tests/fixtures/pinpoint/pinpoint-midstream.pcap",
].map((f) => readFileSync(join(root, f)));

const ROUNDS = 150;

describe("a damaged capture", () => {
  it(`${ROUNDS} damaged copies of real captures: each replays, or stops with a CaptureError`, async () => {
    const host = await WasmHost.load(shippedPlugins());
    let seed = 20261207;
    const random = (n: number) => Math.floor(((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * n);
    const outcomes = { finished: 0, captureError: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const b = Buffer.from(CAPTURES[round % CAPTURES.length]!);
      const damage = random(4);
      for (let k = 1 + random(8); k > 0; k--) {
        // Half the damage in the first 256 bytes: the file header, the first records' headers.
        const at = random(random(2) === 0 ? Math.min(256, b.length - 4) : b.length - 4);
        if (damage === 0) b[at] ^= 1 << random(8);
        else if (damage === 1) b[at] = random(256);
        else if (damage === 2) b.writeUInt32LE(random(2 ** 32), at);
        else b.writeUInt32LE(0xffffffff, at);
      }
      const capture = random(5) === 0 ? b.subarray(0, random(b.length)) : b;
      try {
        await replayCapture({ capture, host, mode: random(2) === 0 ? "packet" : "stream", enableProtocols: random(2) === 0 ? ["Dubbo"] : [], onRow: () => {} });
        outcomes.finished++;
      } catch (e) {
        if (!(e instanceof CaptureError)) expect.fail(`round ${round} (damage ${damage}): ${(e as Error).stack}`);
        outcomes.captureError++;
      }
    }
    // Both outcomes occur: the damage reaches the capture reader and gets past it.
    expect(outcomes.finished).toBeGreaterThan(0);
    expect(outcomes.captureError).toBeGreaterThan(0);
  }, 180_000);
});
