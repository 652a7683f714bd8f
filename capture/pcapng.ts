// pcapng: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html
// Section Header (either byte order, several sections), Interface Description (link type,
// if_tsresol, if_tsoffset), Enhanced and Simple Packet blocks, the obsolete Packet block;
// every other block type is skipped by its length.
import { ChunkedReader } from "./chunked-file.ts";
import { CaptureError, newFrame, ticksToMicros, type CaptureReader, type Frame } from "./frame.ts";

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const PB_OBSOLETE = 0x00000002;
const SPB = 0x00000003;
const EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_END = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

interface Interface {
  linkType: number;
  snaplen: number;
  unitsPerSecond: number;
  offsetUs: number;
}

export function isPcapngMagic(magic: Uint8Array): boolean {
  return magic[0] === 0x0a && magic[1] === 0x0d && magic[2] === 0x0d && magic[3] === 0x0a;
}

export class PcapngReader implements CaptureReader {
  readonly format = "pcapng";
  private le = true;
  private interfaces: Interface[] = [];
  private readonly frame: Frame = newFrame();
  private blocks = 0;
  private frames = 0;
  /** Interfaces of every section seen, in order (for reporting). */
  readonly allInterfaces: Interface[] = [];

  constructor(private readonly reader: ChunkedReader) {
    const h = reader.peek(4);
    if (!h || !isPcapngMagic(h)) throw new CaptureError("pcapng: file does not start with a Section Header Block", 0, 0);
  }

  get bytesRead(): number {
    return this.reader.bytesRead;
  }

  next(): Frame | null {
    for (;;) {
      const r = this.reader;
      const offset = r.position;
      const blockNo = this.blocks + 1;
      let at = r.ensure(8);
      if (at < 0) {
        if (r.buffered() === 0) return null;
        throw this.error(`truncated block header (${r.buffered()} of 8 bytes)`, offset, blockNo);
      }
      let b = r.buffer;
      const typeRaw = b.readUInt32LE(at);
      if (typeRaw === SHB) {
        // The byte order is not known until the SHB's byte-order magic is read.
        at = r.ensure(12);
        if (at < 0) throw this.error("truncated Section Header Block", offset, blockNo);
        b = r.buffer;
        const magicLE = b.readUInt32LE(at + 8);
        if (magicLE === BYTE_ORDER_MAGIC) this.le = true;
        else if (b.readUInt32BE(at + 8) === BYTE_ORDER_MAGIC) this.le = false;
        else throw this.error(`bad byte-order magic 0x${b.readUInt32BE(at + 8).toString(16)} in Section Header Block`, offset, blockNo);
      }
      const type = this.le ? b.readUInt32LE(at) : b.readUInt32BE(at);
      const total = this.le ? b.readUInt32LE(at + 4) : b.readUInt32BE(at + 4);
      if (total < 12 || total % 4 !== 0) throw this.error(`bad block length ${total} (block type 0x${type.toString(16)})`, offset, blockNo);
      if (type !== SHB && type !== IDB && type !== EPB && type !== SPB && type !== PB_OBSOLETE) {
        // Unknown/uninteresting block (NRB, ISB, DSB, custom...): skip it without buffering it whole.
        if (r.ensure(total) < 0 && r.buffered() < total && this.isTruncatedSkip(total)) {
          throw this.error(`truncated block of type 0x${type.toString(16)}: needs ${total} bytes, file has ${r.buffered()}`, offset, blockNo);
        }
        this.blocks++;
        r.skip(total);
        continue;
      }
      at = r.ensure(total);
      if (at < 0) throw this.error(`truncated block of type 0x${type.toString(16)}: needs ${total} bytes, file has ${r.buffered()}`, offset, blockNo);
      b = r.buffer;
      const trailer = this.le ? b.readUInt32LE(at + total - 4) : b.readUInt32BE(at + total - 4);
      if (trailer !== total) throw this.error(`block length ${total} does not match trailing length ${trailer}`, offset, blockNo);
      this.blocks++;
      const body = at + 8;
      const bodyEnd = at + total - 4;
      let frame: Frame | null = null;
      const plain = r.plainBuffer;
      switch (type) {
        case SHB:
          this.interfaces = [];
          break;
        case IDB:
          this.readInterface(b, body, bodyEnd, offset, blockNo);
          break;
        case EPB:
          frame = this.readEnhanced(b, plain, body, bodyEnd, offset, blockNo);
          break;
        case SPB:
          frame = this.readSimple(b, plain, body, bodyEnd, offset, blockNo);
          break;
        case PB_OBSOLETE:
          frame = this.readObsolete(b, plain, body, bodyEnd, offset, blockNo);
          break;
      }
      r.skip(total);
      if (frame) return frame;
    }
  }

  close(): void {
    this.reader.close();
  }

  private isTruncatedSkip(total: number): boolean {
    // Blocks bigger than the reader's record ceiling are skipped blind; only a short file is an error.
    return total <= 256 << 20;
  }

  private error(what: string, offset: number, blockNo: number): CaptureError {
    return new CaptureError(`pcapng: block #${blockNo} at offset ${offset}: ${what}`, offset, blockNo);
  }

  private u16(b: Buffer, o: number): number {
    return this.le ? b.readUInt16LE(o) : b.readUInt16BE(o);
  }

  private u32(b: Buffer, o: number): number {
    return this.le ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }

  private readInterface(b: Buffer, body: number, end: number, offset: number, blockNo: number): void {
    if (end - body < 8) throw this.error("Interface Description Block too short", offset, blockNo);
    const iface: Interface = { linkType: this.u16(b, body), snaplen: this.u32(b, body + 4), unitsPerSecond: 1_000_000, offsetUs: 0 };
    let o = body + 8;
    while (o + 4 <= end) {
      const code = this.u16(b, o);
      const len = this.u16(b, o + 2);
      if (code === OPT_END) break;
      if (o + 4 + len > end) throw this.error(`option ${code} overruns the Interface Description Block`, offset, blockNo);
      if (code === IF_TSRESOL && len >= 1) {
        const v = b[o + 4]!;
        const exp = v & 0x7f;
        iface.unitsPerSecond = v & 0x80 ? 2 ** exp : 10 ** exp;
        if (!Number.isFinite(iface.unitsPerSecond) || iface.unitsPerSecond < 1 || exp > 63) {
          throw this.error(`unsupported if_tsresol 0x${v.toString(16)}`, offset, blockNo);
        }
      } else if (code === IF_TSOFFSET && len >= 8) {
        const hi = this.le ? b.readInt32LE(o + 8) : b.readInt32BE(o + 4);
        const lo = this.le ? b.readUInt32LE(o + 4) : b.readUInt32BE(o + 8);
        iface.offsetUs = (hi * 0x1_0000_0000 + lo) * 1_000_000;
      }
      o += 4 + ((len + 3) & ~3);
    }
    this.interfaces.push(iface);
    this.allInterfaces.push(iface);
  }

  private iface(id: number, offset: number, blockNo: number): Interface {
    const i = this.interfaces[id];
    if (!i) throw this.error(`packet refers to interface ${id}, but the section has ${this.interfaces.length}`, offset, blockNo);
    return i;
  }

  private fill(b: Uint8Array, dataAt: number, caplen: number, wirelen: number, iface: Interface, id: number, timeUs: number, offset: number): Frame {
    const f = this.frame;
    f.chunk = b;
    f.start = dataAt;
    f.end = dataAt + caplen;
    f.linkType = iface.linkType;
    f.interfaceId = id;
    f.timeUs = timeUs + iface.offsetUs;
    f.wireLength = wirelen;
    f.number = ++this.frames;
    f.offset = offset;
    return f;
  }

  private readEnhanced(b: Buffer, plain: Uint8Array, body: number, end: number, offset: number, blockNo: number): Frame {
    if (end - body < 20) throw this.error("Enhanced Packet Block too short", offset, blockNo);
    const id = this.u32(b, body);
    const iface = this.iface(id, offset, blockNo);
    const caplen = this.u32(b, body + 12);
    const wirelen = this.u32(b, body + 16);
    if (body + 20 + caplen > end) throw this.error(`captured length ${caplen} overruns the Enhanced Packet Block`, offset, blockNo);
    const t = ticksToMicros(this.u32(b, body + 4), this.u32(b, body + 8), iface.unitsPerSecond);
    return this.fill(plain, body + 20, caplen, wirelen, iface, id, t, offset);
  }

  private readSimple(b: Buffer, plain: Uint8Array, body: number, end: number, offset: number, blockNo: number): Frame {
    if (end - body < 4) throw this.error("Simple Packet Block too short", offset, blockNo);
    const iface = this.iface(0, offset, blockNo);
    const wirelen = this.u32(b, body);
    // SPB has no captured-length field: it is the original length cut by the interface snaplen.
    let caplen = Math.min(wirelen, end - body - 4);
    if (iface.snaplen > 0) caplen = Math.min(caplen, iface.snaplen);
    // SPB carries no timestamp.
    return this.fill(plain, body + 4, caplen, wirelen, iface, 0, 0, offset);
  }

  private readObsolete(b: Buffer, plain: Uint8Array, body: number, end: number, offset: number, blockNo: number): Frame {
    if (end - body < 20) throw this.error("Packet Block too short", offset, blockNo);
    const id = this.u16(b, body);
    const iface = this.iface(id, offset, blockNo);
    const caplen = this.u32(b, body + 12);
    const wirelen = this.u32(b, body + 16);
    if (body + 20 + caplen > end) throw this.error(`captured length ${caplen} overruns the Packet Block`, offset, blockNo);
    const t = ticksToMicros(this.u32(b, body + 4), this.u32(b, body + 8), iface.unitsPerSecond);
    return this.fill(plain, body + 20, caplen, wirelen, iface, id, t, offset);
  }
}
