// What the SDK reads of a call's context and payload (assembly/context.ts), call after
// call through the host simulator: the context object and payload view are reused and
// the process name is made again only when it changes, so every field must still be
// the one of the current call.
import { beforeAll, describe, expect, it } from "vitest";
import { WasmHost, type CallCtx } from "../../sdk/host.ts";
import { buildTestPlugin } from "../support/as-harness.ts";

let host: WasmHost;

beforeAll(async () => {
  host = await WasmHost.load([{ name: "echo", bytes: await buildTestPlugin("tests/as/ctx-plugin.ts") }]);
}, 120_000);

function echo(ctx: CallCtx, payload: Uint8Array): Record<string, string> {
  const recs = host.parsePayload(ctx, payload, 77);
  expect(recs).toHaveLength(1);
  return Object.fromEntries(recs![0].attributes.map((a) => [a.key, a.val]));
}

const base: CallCtx = { srcIp: "10.1.2.3", dstIp: "10.4.5.6", srcPort: 40000, dstPort: 9092, direction: 0, flowId: 7, bufSize: 4096, time: 123456789 };
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe("ParseCtx, call after call", () => {
  it("gives each call its own fields, process name and payload", () => {
    const calls: [CallCtx, Uint8Array][] = [
      [{ ...base, processName: "nginx" }, bytes(10, 1)],
      [{ ...base, processName: "" }, bytes(3000, 2)],
      [{ ...base, processName: "nginx" }, bytes(5, 3)],
      [{ ...base, processName: "node·x", srcIp: "2001:db8::1", dstIp: "2001:db8::2", direction: 1, l4: 17, ebpfType: 1, flowId: 2n ** 63n + 5n }, bytes(1, 4)],
      [{ ...base, processName: "node·x", bufSize: 16 }, bytes(40, 5)],
      [{ ...base, processName: "nginy" }, new Uint8Array(0)],
      [{ ...base, processName: new Uint8Array([0x6e, 0xff, 0x78]) }, bytes(70000, 1)],
    ];
    const got = calls.map(([c, p]) => echo(c, p));
    expect(got.map((r) => r.process)).toEqual(["nginx", "", "nginx", "node·x", "node·x", "nginy", "n\ufffdx"]);
    expect(got.map((r) => r.payload)).toEqual(["10/10", "3000/6000", "5/15", "1/4", "16/80", "0/0", "4096/4096"]);
    expect(got.map((r) => r.again)).toEqual(["10", "3000", "5", "1", "16", "0", "4096"]);
    expect(got[0]).toMatchObject({ src: "10.1.2.3:40000", dst: "10.4.5.6:9092", l4: "6", l7: "77", ebpf: "255", time: "123456789", direction: "0", flow: "7", buf: "4096" });
    expect(got[3]).toMatchObject({ src: "2001:db8:0:0:0:0:0:1:40000", dst: "2001:db8:0:0:0:0:0:2:9092", l4: "17", ebpf: "1", direction: "1", flow: String(2n ** 63n + 5n) });
    expect(got[4]).toMatchObject({ src: "10.1.2.3:40000", l4: "6", buf: "16" });
  });
});
