// `--filter`: a subset of BPF/tcpdump filter syntax, evaluated on decoded packets.
//   host ADDR | net ADDR/LEN | port N | portrange N-M   (each may start with src or dst)
//   tcp | udp | ip | ip6 | tcp port N | udp port N
//   and && or || not ! ( )
import { parseIp } from "./address.ts";
import type { DecodedPacket } from "./packet.ts";

/** A filter expression that cannot be compiled; the message says what is wrong. */
export class FilterError extends Error {
  override name = "FilterError";
}

export type PacketFilter = (p: DecodedPacket) => boolean;

type Side = "src" | "dst" | "either";

function tokenize(text: string): string[] {
  return text.match(/\(|\)|&&|\|\||!|[^\s()!&|]+/g) ?? [];
}

function matchesAt(p: DecodedPacket, at: number, ip: Uint8Array, prefixBits: number): boolean {
  const d = p.data;
  let bits = prefixBits;
  for (let i = 0; i < ip.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((d[at + i]! & mask) !== (ip[i]! & mask)) return false;
  }
  return true;
}

function addressTest(side: Side, text: string, isNet: boolean): PacketFilter {
  let addr = text;
  let bits = -1;
  if (isNet || text.includes("/")) {
    const [a, b] = text.split("/");
    addr = a!;
    bits = b === undefined ? -1 : Number(b);
  }
  let ip: Uint8Array;
  try {
    ip = parseIp(addr);
  } catch {
    throw new FilterError(`--filter: not an IP address: ${JSON.stringify(addr)}`);
  }
  const version = ip.length === 16 ? 6 : 4;
  const prefix = bits < 0 ? ip.length * 8 : bits;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > ip.length * 8) throw new FilterError(`--filter: bad prefix length in ${text}`);
  const src: PacketFilter = (p) => p.ipVersion === version && matchesAt(p, p.srcIpAt, ip, prefix);
  const dst: PacketFilter = (p) => p.ipVersion === version && matchesAt(p, p.dstIpAt, ip, prefix);
  return side === "src" ? src : side === "dst" ? dst : (p) => src(p) || dst(p);
}

function portTest(side: Side, lo: number, hi: number): PacketFilter {
  if (side === "src") return (p) => p.srcPort >= lo && p.srcPort <= hi;
  if (side === "dst") return (p) => p.dstPort >= lo && p.dstPort <= hi;
  return (p) => (p.srcPort >= lo && p.srcPort <= hi) || (p.dstPort >= lo && p.dstPort <= hi);
}

function parsePort(text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || n > 65535) throw new FilterError(`--filter: bad port ${JSON.stringify(text ?? "")}`);
  return n;
}

export function compileFilter(text: string): PacketFilter {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];

  const orExpr = (): PacketFilter => {
    let left = andExpr();
    while (peek() === "or" || peek() === "||") {
      next();
      const l = left;
      const r = andExpr();
      left = (p) => l(p) || r(p);
    }
    return left;
  };
  const andExpr = (): PacketFilter => {
    let left = notExpr();
    while (peek() === "and" || peek() === "&&") {
      next();
      const l = left;
      const r = notExpr();
      left = (p) => l(p) && r(p);
    }
    return left;
  };
  const notExpr = (): PacketFilter => {
    if (peek() === "not" || peek() === "!") {
      next();
      const inner = notExpr();
      return (p) => !inner(p);
    }
    return primary();
  };
  const primary = (): PacketFilter => {
    const t = next();
    if (t === undefined) throw new FilterError("--filter: expression ends too early");
    if (t === "(") {
      const inner = orExpr();
      if (next() !== ")") throw new FilterError("--filter: missing )");
      return inner;
    }
    if (t === "tcp" || t === "udp") {
      const proto = t === "tcp" ? 6 : 17;
      const isProto: PacketFilter = (p) => p.ipProto === proto;
      // "tcp port 80" = "tcp and port 80"
      if (["port", "portrange", "src", "dst"].includes(peek() ?? "")) {
        const rest = primary();
        return (p) => isProto(p) && rest(p);
      }
      return isProto;
    }
    if (t === "ip") return (p) => p.ipVersion === 4;
    if (t === "ip6") return (p) => p.ipVersion === 6;
    let side: Side = "either";
    let kind = t;
    if (t === "src" || t === "dst") {
      side = t;
      kind = next() ?? "";
    }
    switch (kind) {
      case "host":
        return addressTest(side, next() ?? "", false);
      case "net":
        return addressTest(side, next() ?? "", true);
      case "port": {
        const n = parsePort(next());
        return portTest(side, n, n);
      }
      case "portrange": {
        const [lo, hi] = (next() ?? "").split("-");
        const a = parsePort(lo);
        const b = parsePort(hi);
        return portTest(side, Math.min(a, b), Math.max(a, b));
      }
      default:
        throw new FilterError(`--filter: unexpected ${JSON.stringify(kind)} (supported: host, net, port, portrange, src, dst, tcp, udp, ip, ip6, and, or, not, parentheses)`);
    }
  };

  const f = orExpr();
  if (i < tokens.length) throw new FilterError(`--filter: unexpected ${JSON.stringify(tokens[i])}`);
  return f;
}
