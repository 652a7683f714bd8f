// `host-sim call`: in-process through main(), and once through the npx entry point.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../host-sim/cli.ts";
import { scriptWat, wat } from "./support.ts";
import { inProcess } from "../support/in-process.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const plugin = join(root, "build", "http-hooks.wasm");
const dir = mkdtempSync(join(tmpdir(), "host-sim-cli-"));
const file = (name: string, content: string | Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

const run = (...argv: string[]) => inProcess(() => main(argv));

const json = async (...argv: string[]) => {
  const r = await run(...argv);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.out);
};

beforeAll(async () => {
  if (!existsSync(plugin)) throw new Error("build/http-hooks.wasm is missing: run npm run build");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("host-sim call", () => {
  it("parse_payload asks check_payload first and prints the agent's records", async () => {
    const payload = file("toy.txt", "TOY 7 GET /users\nTOY 8 PUT /x\n");
    const out = await json("call", "--plugin", plugin, "--hook", "parse_payload", "--payload", payload, "--time", "5", "--process", "curl");
    expect(out.check).toEqual({ proto: 200, msg_type: "request", name: "Toy", instance: "http-hooks.wasm" });
    expect(out.result.map((r: { request_id: number; req: { endpoint: string } }) => [r.request_id, r.req.endpoint])).toEqual([
      [7, "GET /users"],
      [8, "PUT /x"],
    ]);
    expect(out.ctx).toEqual({
      src: "192.168.1.10:51000",
      dst: "192.168.1.20:8080",
      l4: "tcp",
      ebpf_type: 255,
      time: "5",
      direction: "c2s",
      process_name: "curl",
      flow_id: "1",
      buf_size: 1024,
    });
    expect(out.plugins[0]).toMatchObject({ name: "http-hooks.wasm", hook_bitmap: "0xe0000000000000000000000000000001", uses_wasi: false });
    expect(out.counters[0].hooks.parse_payload).toMatchObject({ calls: 1, failures: 0 });
  });

  it("every context field is settable: IPv6, UDP, eBPF, flow id, buf size (payload cut)", async () => {
    const payload = file("resp.txt", "TOY 3 0 fine\n" + "x".repeat(400));
    const out = await json(
      "call", "--plugin", plugin, "--hook", "parse_payload", "--payload", payload, "--direction", "s2c", "--proto", "200",
      "--src", "[fd00::1]:9000", "--dst", "[fd00::2]:40000", "--l4", "udp", "--ebpf-type", "8", "--flow-id", "18446744073709551615", "--buf-size", "300",
    );
    expect(out.ctx).toMatchObject({ src: "fd00::1:9000", dst: "fd00::2:40000", l4: "udp", ebpf_type: 8, direction: "s2c", flow_id: "18446744073709551615", buf_size: 300 });
    expect(out.payload_truncated_to).toBe(300);
    expect(out.check).toBeUndefined();
    expect(out.result[0].resp).toMatchObject({ status: "ok", code: 0, result: "fine" });
  });

  it("on_http_req / on_http_resp / on_custom_message", async () => {
    const req = file("req.http", "GET /a HTTP/1.1\r\nX-Request-ID: r-1\r\n\r\n");
    const out = await json("call", "--plugin", plugin, "--hook", "on_http_req", "--payload", req, "--path", "/a", "--host", "h");
    expect(out.result.trace.x_request_id_0).toBe("r-1");
    expect(out.result.attributes).toContainEqual({ key: "http_path", val: "/a" });

    const resp = file("resp.http", "HTTP/1.1 200 OK\r\nX-Biz-Code: 42\r\n\r\n");
    const r = await json("call", "--plugin", plugin, "--hook", "on_http_resp", "--payload", resp, "--direction", "s2c", "--status-code", "200", "--status", "ok", "--endpoint", "/a");
    expect(r.result.resp).toMatchObject({ status: "server_error", code: 42 });

    const m = await json("call", "--plugin", plugin, "--hook", "on_custom_message", "--type-code", "dubbo", "--message", req);
    expect(m.result.attributes).toContainEqual({ key: "custom_message_type", val: "40" });
    const none = await json("call", "--plugin", plugin, "--hook", "on_custom_message", "--type-code", "104", "--hook-point", "0");
    expect(none.result).toBeNull();
  });

  it.each([
    [["call", "--hook", "check_payload"], /--plugin is required/],
    [["call", "--plugin", plugin, "--hook", "nope"], /--hook must be one of/],
    [["call", "--plugin", plugin, "--hook", "check_payload", "--src", "1.2.3.4"], /--src must be IP:PORT/],
    [["call", "--plugin", plugin, "--hook", "check_payload", "--src", "1.2.3.999:5"], /not an IPv4 or IPv6 address/],
    [["call", "--plugin", plugin, "--hook", "check_payload", "--src", "[::1]:5"], /must both be IPv4 or both IPv6/],
    [["call", "--plugin", plugin, "--hook", "check_payload", "--buf-size", "70000"], /--buf-size must be an integer in 1..65535, got "70000"/],
    [["call", "--plugin", plugin, "--hook", "on_http_resp", "--status", "fine"], /--status must be one of ok, timeout/],
    [["call", "--plugin", plugin, "--hook", "on_custom_message"], /needs --type-code/],
    [["call", "--plugin", plugin, "--hook", "on_custom_message", "--type-code", "40", "--proto", "3"], /--proto does not apply to on_custom_message/],
    [["call", "--plugin", plugin, "--hook", "check_payload", "--payload", "/nonexistent"], /cannot read payload \/nonexistent/],
    [["call", "--plugin", plugin, "--hook", "check_payload", "--bogus"], /Unknown option '--bogus'/],
    [["nope"], /unknown command "nope"/],
  ])("user error %j → one line, exit 2", async (argv, message) => {
    const r = await run(...(argv as string[]));
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it("a module the agent would refuse is reported by name", async () => {
    const bad = file("bad.wasm", await wat(scriptWat({ imports: '(import "env" "abort" (func (param i32 i32 i32 i32)))' })));
    const r = await run("call", "--plugin", bad, "--hook", "check_payload");
    expect(r.code).toBe(2);
    expect(r.err).toBe("host-sim call: bad.wasm: imports env.abort, which the agent does not offer (AssemblyScript: build with --use abort=<your abort that logs and traps>)\n");
  });
});

describe("bin/host-sim.mjs", () => {
  const exec = promisify(execFile);
  const bin = join(root, "bin", "host-sim.mjs");

  it("runs the TypeScript cli through tsx", async () => {
    const { stdout } = await exec(process.execPath, [bin, "call", "--plugin", plugin, "--hook", "check_payload", "--payload", file("t.txt", "TOY 1 0 ok\n")], { timeout: 60_000 });
    expect(JSON.parse(stdout).result).toEqual({ proto: 200, msg_type: "response", name: "Toy", instance: "http-hooks.wasm" });
  });

  it("exits 2 with one line for a user error", async () => {
    const err = await exec(process.execPath, [bin, "call", "--hook", "check_payload"], { timeout: 60_000 }).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2, stderr: "host-sim call: --plugin is required\n" });
  });
});
