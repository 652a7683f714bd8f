// Drives build/rabbitmq.wasm through the host simulator as the agent does for one TCP
// connection: check_payload on the first payload, then parse_payload per payload.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { WasmHost, type CallCtx, type CustomInfo } from "../../../sdk/host.ts";
import { DIR_C2S, DIR_S2C, type Direction } from "../../../sdk/abi.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const PLUGIN = join(root, "build", "rabbitmq.wasm");

/** The plugin's and the SDK's AssemblyScript sources. */
function sources(): string[] {
  const plugin = join(root, "plugins", "rabbitmq");
  const sdk = join(root, "assembly");
  return [
    ...readdirSync(plugin).filter((f) => f.endsWith(".ts")).map((f) => join(plugin, f)),
    ...readdirSync(sdk, { recursive: true }).map(String).filter((f) => f.endsWith(".ts")).map((f) => join(sdk, f)),
  ];
}

/**
 * Builds the plugin unless build/rabbitmq.wasm is newer than its sources. Test files run
 * in parallel: one builds (holding a lock directory), the others wait for it.
 */
export function ensureBuilt(): string {
  const lock = `${PLUGIN}.lock`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    const built = existsSync(PLUGIN) ? statSync(PLUGIN).mtimeMs : 0;
    if (!sources().some((f) => statSync(f).mtimeMs > built)) return PLUGIN;
    try {
      mkdirSync(lock);
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} held for 3 minutes: a build died? remove it`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      continue;
    }
    try {
      execFileSync(process.execPath, ["--import", "tsx", join(root, "scripts", "build-plugins.ts"), "rabbitmq"], { cwd: root, stdio: "pipe" });
      return PLUGIN;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

export async function loadPlugin(): Promise<WasmHost> {
  return WasmHost.load([ensureBuilt()]);
}

export { DIR_C2S, DIR_S2C };

/** One connection: client 10.0.0.1:40000 → broker 10.0.0.2:5672. */
export class Connection {
  proto = 0;
  time = 1_000_000;

  constructor(
    readonly host: WasmHost,
    readonly flowId = 1,
    readonly bufSize = 65535,
  ) {}

  ctx(dir: Direction): CallCtx {
    const client = { ip: "10.0.0.1", port: 40000 };
    const broker = { ip: "10.0.0.2", port: 5672 };
    const [src, dst] = dir === DIR_C2S ? [client, broker] : [broker, client];
    return {
      srcIp: src.ip, dstIp: dst.ip, srcPort: src.port, dstPort: dst.port, direction: dir,
      flowId: BigInt(this.flowId), time: BigInt(this.time++), bufSize: this.bufSize,
    };
  }

  /** check_payload on the first payload, parse_payload on every one; the records of this payload. */
  send(dir: Direction, payload: Uint8Array): CustomInfo[] {
    if (this.proto === 0) {
      const claim = this.host.checkPayload(this.ctx(dir), payload);
      if (claim === null) return [];
      this.proto = claim.proto;
    }
    return this.host.parsePayload(this.ctx(dir), payload, this.proto) ?? [];
  }
}

/** A record's attributes as an object (later keys of the same name are kept as arrays' last). */
export function attrs(r: CustomInfo): Record<string, string> {
  return Object.fromEntries(r.attributes.map((a) => [a.key, a.val]));
}

/** "Class.Method" of a record, from whichever part carries it. */
export function typeOf(r: CustomInfo): string {
  return r.req.req_type || r.resp.req_type;
}
