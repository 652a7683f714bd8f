// Entry point of the capture layer: open a pcap or pcapng file (told apart by its magic) and
// decode frames down to TCP/UDP.
import { ChunkedReader, fileSource, memorySource, type ByteSource } from "./chunked-file.ts";
import { CaptureError, Frame, type CaptureReader } from "./frame.ts";
import { decodeLink } from "./link.ts";
import { DecodedPacket } from "./packet.ts";
import { isPcapMagic, PcapReader } from "./pcap.ts";
import { isPcapngMagic, PcapngReader } from "./pcapng.ts";

export { CaptureError, DecodedPacket, Frame };
export type { CaptureReader };

export function openCaptureSource(source: ByteSource, chunkSize?: number): CaptureReader {
  const reader = new ChunkedReader(source, chunkSize);
  const magic = reader.peek(4);
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

export function openCapture(path: string, chunkSize?: number): CaptureReader {
  return openCaptureSource(fileSource(path), chunkSize);
}

export function openCaptureBytes(bytes: Uint8Array, chunkSize?: number): CaptureReader {
  return openCaptureSource(memorySource(bytes), chunkSize);
}

/** Decodes one frame into `out` (reused). Returns true when it is TCP or UDP. */
export function decodeFrame(frame: Frame, out: DecodedPacket): boolean {
  out.reset(frame.chunk, frame.start, frame.end, frame.timeUs, frame.wireLength);
  return decodeLink(frame.linkType, out);
}
