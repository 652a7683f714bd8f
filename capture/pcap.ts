// Classic libpcap files: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-03.html
// Both byte orders, micro- and nanosecond magic, and the "modified" (Kuznetzov) variant.
import { ChunkedReader } from "./chunked-file.ts";
import { CaptureError, newFrame, type CaptureReader, type Frame } from "./frame.ts";

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const MAGIC_MODIFIED = 0xa1b2cd34;
const GLOBAL_HEADER = 24;
/** Wireshark's own ceiling for one record; anything larger means a corrupt length field. */
const MAX_CAPLEN = 262_144;

export function isPcapMagic(magic: Uint8Array): boolean {
  const be = (magic[0]! << 24 | magic[1]! << 16 | magic[2]! << 8 | magic[3]!) >>> 0;
  const le = (magic[3]! << 24 | magic[2]! << 16 | magic[1]! << 8 | magic[0]!) >>> 0;
  return [MAGIC_US, MAGIC_NS, MAGIC_MODIFIED].some((m) => m === be || m === le);
}

export class PcapReader implements CaptureReader {
  readonly format = "pcap";
  readonly linkType: number;
  readonly snaplen: number;
  private readonly le: boolean;
  private readonly nanos: boolean;
  private readonly recordHeader: number;
  private readonly maxCaplen: number;
  private readonly frame: Frame = newFrame();
  private count = 0;

  constructor(private readonly reader: ChunkedReader) {
    const h = reader.peek(GLOBAL_HEADER);
    if (!h) throw new CaptureError(`pcap: file too short for the ${GLOBAL_HEADER}-byte global header`, 0, 0);
    const magicBE = h.readUInt32BE(0);
    const magicLE = h.readUInt32LE(0);
    this.le = magicLE === MAGIC_US || magicLE === MAGIC_NS || magicLE === MAGIC_MODIFIED;
    const magic = this.le ? magicLE : magicBE;
    if (magic !== MAGIC_US && magic !== MAGIC_NS && magic !== MAGIC_MODIFIED) {
      throw new CaptureError(`pcap: bad magic 0x${magicBE.toString(16)}`, 0, 0);
    }
    this.nanos = magic === MAGIC_NS;
    this.recordHeader = magic === MAGIC_MODIFIED ? 24 : 16;
    this.snaplen = this.u32(h, 16);
    // The link-type field's upper bits carry FCS information; the type itself is the low 16 bits.
    this.linkType = this.u32(h, 20) & 0xffff;
    this.maxCaplen = Math.max(this.snaplen, MAX_CAPLEN);
    reader.skip(GLOBAL_HEADER);
    this.frame.linkType = this.linkType;
  }

  get bytesRead(): number {
    return this.reader.bytesRead;
  }

  next(): Frame | null {
    const r = this.reader;
    const offset = r.position;
    const hdrLen = this.recordHeader;
    let at = r.ensure(hdrLen);
    if (at < 0) {
      if (r.buffered() === 0) return null;
      throw new CaptureError(
        `pcap: truncated record header: record #${this.count + 1} at offset ${offset} has ${r.buffered()} of ${hdrLen} bytes`,
        offset, this.count + 1);
    }
    const b = r.buffer;
    const sec = this.le ? b.readUInt32LE(at) : b.readUInt32BE(at);
    const frac = this.le ? b.readUInt32LE(at + 4) : b.readUInt32BE(at + 4);
    const caplen = this.le ? b.readUInt32LE(at + 8) : b.readUInt32BE(at + 8);
    const wirelen = this.le ? b.readUInt32LE(at + 12) : b.readUInt32BE(at + 12);
    if (caplen > this.maxCaplen) {
      throw new CaptureError(
        `pcap: corrupt record #${this.count + 1} at offset ${offset}: captured length ${caplen} exceeds ${this.maxCaplen}`,
        offset, this.count + 1);
    }
    if (this.nanos ? frac >= 1_000_000_000 : frac >= 1_000_000) {
      throw new CaptureError(
        `pcap: corrupt record #${this.count + 1} at offset ${offset}: sub-second field ${frac} out of range`,
        offset, this.count + 1);
    }
    at = r.ensure(hdrLen + caplen);
    if (at < 0) {
      throw new CaptureError(
        `pcap: truncated record #${this.count + 1} at offset ${offset}: needs ${hdrLen + caplen} bytes, file has ${r.buffered()}`,
        offset, this.count + 1);
    }
    const f = this.frame;
    f.chunk = r.plainBuffer;
    f.start = at + hdrLen;
    f.end = at + hdrLen + caplen;
    f.timeUs = sec * 1_000_000 + (this.nanos ? Math.floor(frac / 1000) : frac);
    f.wireLength = wirelen;
    f.number = ++this.count;
    f.offset = offset;
    r.skip(hdrLen + caplen);
    return f;
  }

  close(): void {
    this.reader.close();
  }

  private u32(b: Buffer, off: number): number {
    return this.le ? b.readUInt32LE(off) : b.readUInt32BE(off);
  }
}
