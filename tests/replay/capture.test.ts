// Capture reader + decoders checked frame by frame against tshark on the fixtures in
// tests/fixtures/capture (README there says how each was made).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ipToString } from "../../capture/address.ts";
import { CaptureError, DecodedPacket, decodeFrame, openCapture, openCaptureBytes } from "../../capture/open.ts";
import { epochToMicros, inBatches, tsharkFields, tsharkFieldsAsync } from "./tshark.ts";

const DIR = join(import.meta.dirname, "../fixtures/capture");
const GOOD = readdirSync(DIR).filter((f) => /\.pcap(ng)?$/.test(f) && !f.startsWith("bad-"));

interface Decoded {
  number: number;
  timeUs: number;
  status: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payloadLength: number;
  seq: number;
  flags: number;
  linkType: number;
  cut: boolean;
}

function decodeAll(path: string, chunkSize?: number): { frames: Decoded[]; error?: CaptureError } {
  const r = openCapture(path, chunkSize);
  const p = new DecodedPacket();
  const frames: Decoded[] = [];
  try {
    for (let f = r.next(); f; f = r.next()) {
      const ok = decodeFrame(f, p);
      frames.push({
        number: f.number, timeUs: f.timeUs, status: p.status, linkType: f.linkType, cut: p.cutBySnaplen,
        src: ok ? ipToString(p.srcIp()) : "", dst: ok ? ipToString(p.dstIp()) : "",
        sport: p.srcPort, dport: p.dstPort, payloadLength: p.payloadLength, seq: p.tcpSeq, flags: p.tcpFlags,
      });
    }
  } catch (e) {
    if (e instanceof CaptureError) return { frames, error: e };
    throw e;
  } finally {
    r.close();
  }
  return { frames };
}

// The same columns from tshark. IP defragmentation off, and fragments left out: tshark decodes the
// UDP header of a first fragment, we report fragments without feeding them (as the agent).
const TRANSPORT_FIELDS = ["frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "udp.srcport",
  "tcp.dstport", "udp.dstport", "tcp.len", "udp.length", "tcp.seq_raw", "tcp.flags"];
const NOT_FRAGMENT = "(tcp or udp) and not (ip.flags.mf == 1 or ip.frag_offset > 0)";

function parseTransport(rows: string[][]) {
  return rows.map(([t, ip4s, ip6s, ip4d, ip6d, ts, us, td, ud, tlen, ulen, seq, flags]) => ({
    timeUs: epochToMicros(t!),
    src: ip4s || ip6s!,
    dst: ip4d || ip6d!,
    sport: Number(ts || us),
    dport: Number(td || ud),
    payloadLength: tlen ? Number(tlen) : Number(ulen) - 8,
    seq: seq ? Number(seq) : 0,
    flags: flags ? Number(flags) : 0,
  }));
}

describe("capture reader agrees with tshark", () => {
  const tshark = new Map<string, ReturnType<typeof parseTransport>>();
  beforeAll(async () => {
    const results = await inBatches(GOOD.map((file) => () =>
      tsharkFieldsAsync(join(DIR, file), TRANSPORT_FIELDS, NOT_FRAGMENT, ["ip.defragment:FALSE", "ipv6.defragment:FALSE"])));
    GOOD.forEach((file, i) => tshark.set(file, parseTransport(results[i]!)));
  });

  for (const file of GOOD) {
    it(file, () => {
      const path = join(DIR, file);
      const { frames, error } = decodeAll(path);
      expect(error).toBeUndefined();
      const ours = frames.filter((f) => f.status === "ok");
      const theirs = tshark.get(file)!;
      expect(ours.length).toBe(theirs.length);
      expect(ours.length).toBeGreaterThan(0);
      ours.forEach((o, i) => {
        const t = theirs[i]!;
        // SPB carries no timestamp.
        if (!file.includes("simple")) expect(o.timeUs).toBe(t.timeUs);
        expect([o.src, o.dst, o.sport, o.dport, o.seq, o.flags]).toEqual([t.src, t.dst, t.sport, t.dport, t.seq, t.flags]);
        if (o.cut) expect(o.payloadLength).toBeLessThanOrEqual(t.payloadLength);
        else expect(o.payloadLength).toBe(t.payloadLength);
      });
    });
  }
});

describe("decoding details", () => {
  it("reports IPv4 fragments instead of decoding them, and reads IPv4 options and IPv6 extension headers", () => {
    const path = join(DIR, "lo-ethernet.pcap");
    const { frames } = decodeAll(path);
    const fragments = tsharkFields(path, ["frame.number"], "ip.flags.mf == 1 or ip.frag_offset > 0", ["ip.defragment:FALSE"]);
    expect(fragments.length).toBe(2);
    expect(frames.filter((f) => f.status === "fragment").map((f) => f.number)).toEqual(fragments.map((r) => Number(r[0])));
    const withOptions = tsharkFields(path, ["frame.number"], "ip.hdr_len > 20 and tcp");
    const withDstOpts = tsharkFields(path, ["frame.number"], "ipv6.dstopts and tcp");
    expect(withOptions.length).toBeGreaterThan(0);
    expect(withDstOpts.length).toBeGreaterThan(0);
    for (const [n] of [...withOptions, ...withDstOpts]) expect(frames[Number(n) - 1]!.status).toBe("ok");
  });

  it("gives each pcapng interface its own link type and timestamp resolution", () => {
    const { frames } = decodeAll(join(DIR, "multi-interface.pcapng"));
    expect(new Set(frames.map((f) => f.linkType))).toEqual(new Set([1, 276]));
    expect(frames.every((f) => f.status === "ok")).toBe(true);
  });

  it("frames cut by snaplen keep the captured part of the payload", () => {
    // 72 bytes = Ethernet 14 + IPv4 20 + TCP 32 (with timestamps) + 6 bytes of the 10-12 byte messages.
    const { frames } = decodeAll(join(DIR, "v4-snaplen72.pcap"));
    // SYN and SYN-ACK (40-byte TCP header) lose options: ports and flags stay, payload is empty.
    const cut = frames.filter((f) => f.cut);
    expect(cut.map((f) => f.payloadLength)).toEqual([0, 0, 6, 6, 6, 6]);
    expect(cut[0]!.flags).toBe(0x002);
    expect(frames.every((f) => f.status === "ok")).toBe(true);
  });

  it("reads a file through a chunk smaller than one record the same way", () => {
    for (const file of ["lo-ethernet.pcap", "v4-extra-blocks.pcapng"]) {
      const whole = decodeAll(join(DIR, file));
      const tiny = decodeAll(join(DIR, file), 64);
      expect(tiny).toEqual(whole);
    }
  });
});

describe("broken files", () => {
  const cases: Array<[string, number, RegExp]> = [
    // [file, good frames before the error (tshark prints the same count), message]
    // Record offsets: 24-byte header, then 16 + caplen per record (74, 74, 66, 78, 66, 76 bytes...).
    ["bad-truncated-record.pcap", 5, /truncated record #6 at offset 462: needs 92 bytes, file has 38/],
    ["bad-truncated-header.pcap", 3, /truncated record header: record #4 at offset 286 has 14 of 16 bytes/],
    // (tshark rejects this file whole, so the count of 2 is from the offsets above)
    ["bad-caplen.pcap", 2, /corrupt record #3 at offset 204: captured length 16777216/],
    // Blocks: SHB 108 bytes, IDB 20, then EPBs of 108, 108, 100, 112, 100, 108...
    ["bad-truncated.pcapng", 5, /block #8 at offset 656: truncated block of type 0x6: needs 108 bytes, file has 44/],
    ["bad-trailer.pcapng", 2, /block #5 at offset 344: block length 100 does not match trailing length 104/],
  ];
  for (const [file, good, message] of cases) {
    it(`${file}: error says where, frames before it are kept`, () => {
      const path = join(DIR, file);
      const { frames, error } = decodeAll(path);
      expect(error).toBeInstanceOf(CaptureError);
      expect(error!.message).toMatch(message);
      expect(frames.length).toBe(good);
      if (!file.includes("caplen")) expect(tsharkFields(path, ["frame.number"], "tcp or udp").length).toBe(good);
    });
  }

  it("rejects what is not a capture", () => {
    expect(() => openCaptureBytes(Buffer.from("hello world, not a pcap"))).toThrow(/not a pcap or pcapng file/);
    expect(() => openCaptureBytes(Buffer.from("ab"))).toThrow(CaptureError);
    const shortHeader = readFileSync(join(DIR, "v4.pcap")).subarray(0, 20);
    expect(() => openCaptureBytes(shortHeader)).toThrow(/global header/);
  });
});
