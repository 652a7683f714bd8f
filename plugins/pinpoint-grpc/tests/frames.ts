// HTTP/2 frames and gRPC messages built by hand for the tests.

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** One frame: 9-byte header (length, type, flags, stream id) and payload. */
export function frame(type: number, flags: number, stream: number, payload: Uint8Array | number[]): Buffer {
  const p = Buffer.from(payload);
  const hd = Buffer.alloc(9);
  hd.writeUIntBE(p.length, 0, 3);
  hd[3] = type;
  hd[4] = flags;
  hd.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([hd, p]);
}

/** A length-prefixed gRPC message. */
export function grpcMessage(body: Uint8Array | string, compressed = false): Buffer {
  const b = Buffer.from(body);
  const p = Buffer.alloc(5);
  p[0] = compressed ? 1 : 0;
  p.writeUInt32BE(b.length, 1);
  return Buffer.concat([p, b]);
}
