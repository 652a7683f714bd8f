// Entry point of the capture layer: open a pcap or pcapng file (told apart by its magic) and
// decode frames down to TCP/UDP.
import { fstatSync, openSync, statSync } from "node:fs";
import { ChunkedReader, fileSource, gunzipSource, memorySource, streamSource, type ByteSource } from "./chunked-file.ts";
import { CaptureError, Frame, type CaptureReader } from "./frame.ts";
import { decodeLink } from "./link.ts";
import { DecodedPacket } from "./packet.ts";
import { isPcapMagic, PcapReader } from "./pcap.ts";
import { isPcapngMagic, PcapngReader } from "./pcapng.ts";

export { CaptureError, DecodedPacket, Frame };
export type { CaptureReader };

const GZIP_MAGIC = [0x1f, 0x8b];

export function openCaptureSource(source: ByteSource, chunkSize?: number): CaptureReader {
  let reader = new ChunkedReader(source, chunkSize);
  let magic = reader.peek(4);
  if (magic && magic[0] === GZIP_MAGIC[0] && magic[1] === GZIP_MAGIC[1]) {
    // A gzip-compressed capture (.pcap.gz): read through an inflater.
    reader = new ChunkedReader(gunzipSource(reader.rest()), chunkSize);
    try {
      magic = reader.peek(4);
    } catch (e) {
      reader.close();
      throw e;
    }
  }
  if (!magic) {
    reader.close();
    throw new CaptureError(`not a capture file: ${reader.buffered()} bytes`, 0, 0);
  }
  try {
    if (isPcapngMagic(magic)) return new PcapngReader(reader);
    if (isPcapMagic(magic)) return new PcapReader(reader);
  } catch (e) {
    reader.close();
    throw e;
  }
  reader.close();
  const hex = Buffer.from(magic).toString("hex");
  throw new CaptureError(`not a pcap or pcapng file (starts with 0x${hex})`, 0, 0);
}

/**
 * A capture file (pcap, pcapng, either gzip-compressed), or "-" for standard input; a pipe
 * (`tcpdump -w - | host-sim replay -`, /dev/stdin) is read in order, never seeked.
 */
export function openCapture(path: string, chunkSize?: number): CaptureReader {
  // Standard input by its own descriptor: opening /dev/stdin again fails when it is a socket.
  const stdin = path === "-" || path === "/dev/stdin";
  try {
    const stat = stdin ? fstatSync(0) : statSync(path);
    if (stat.isDirectory()) throw new CaptureError(`${path} is a folder, not a capture file`, 0, 0);
    if (stdin) return openCaptureSource(streamSource(0, false), chunkSize);
    if (stat.isFIFO() || stat.isCharacterDevice() || stat.isSocket()) return openCaptureSource(streamSource(openSync(path, "r"), true), chunkSize);
    return openCaptureSource(fileSource(path), chunkSize);
  } catch (e) {
    if (e instanceof CaptureError) throw e;
    throw new CaptureError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 0, 0);
  }
}

export function openCaptureBytes(bytes: Uint8Array, chunkSize?: number): CaptureReader {
  return openCaptureSource(memorySource(bytes), chunkSize);
}

/** Decodes one frame into `out` (reused). Returns true when it is TCP or UDP. */
export function decodeFrame(frame: Frame, out: DecodedPacket): boolean {
  out.reset(frame.chunk, frame.start, frame.end, frame.timeUs, frame.wireLength);
  return decodeLink(frame.linkType, out);
}
