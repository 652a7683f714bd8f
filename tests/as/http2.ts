// Harness for the codec library's HTTP/2 framing and gRPC message codecs
// (plugins/pinpoint-grpc/tests/http2.test.ts): feeds payloads to the two directions of
// connections and writes what the frames carried as text lines.
import { H2Direction, H2Sink } from "../../protocols/http2";
import { HeaderBlock } from "../../protocols/hpack";
import { GrpcDeframer, GrpcMessageSink } from "../../protocols/grpc";
export { alloc, outPtr, outLen } from "./io";
import { input, out } from "./io";

function line(s: string): void {
  out.utf8(s);
  out.u8(10);
}

class Messages extends GrpcMessageSink {
  onMessage(tag: u32, data: Uint8Array, start: i32, end: i32, length: u32, whole: bool, compressed: bool): void {
    line("M " + tag.toString() + " " + length.toString() + " " + (end - start).toString() + (whole ? " whole" : " part") + (compressed ? " z" : ""));
  }
}
const messages = new Messages();

class Recorder extends H2Sink {
  deframers: Map<u32, GrpcDeframer> = new Map();

  deframer(stream: u32, synced: bool): GrpcDeframer {
    if (!this.deframers.has(stream)) this.deframers.set(stream, new GrpcDeframer(synced));
    return this.deframers.get(stream);
  }

  onHeaders(streamId: u32, endStream: bool, block: HeaderBlock): void {
    let s = "H " + streamId.toString() + (endStream ? " end" : "") + " status=" + block.status.toString() + " unknown=" + block.unknown.toString();
    for (let i = 0; i < block.count; i++) s += " " + block.name(i) + "=" + block.value(i);
    line(s);
    this.deframer(streamId, true);
  }

  onData(streamId: u32, data: Uint8Array, start: i32, end: i32, frameStart: bool): void {
    line("D " + streamId.toString() + " " + (end - start).toString() + (frameStart ? " start" : ""));
    this.deframer(streamId, false).push(data, start, end, frameStart, messages, streamId);
  }

  onEndStream(streamId: u32): void {
    line("E " + streamId.toString());
  }

  onRstStream(streamId: u32, errorCode: u32): void {
    line("R " + streamId.toString() + " " + errorCode.toString());
  }

  onGoaway(lastStreamId: u32, errorCode: u32): void {
    line("G " + lastStreamId.toString() + " " + errorCode.toString());
  }

  onDataLost(streamId: u32): void {
    line("L " + streamId.toString());
    this.deframer(streamId, false).lose(messages, streamId);
  }

  onBytesLost(): void {
    line("X");
    const ids = this.deframers.keys();
    for (let i = 0; i < ids.length; i++) this.deframers.get(ids[i]).lose(messages, ids[i]);
  }
}

class Conn {
  dirs: H2Direction[] = [new H2Direction(), new H2Direction()];
  sinks: Recorder[] = [new Recorder(), new Recorder()];
}
const conns: Conn[] = [];

export function resetOutput(): void {
  out.reset();
}

export function newConn(): i32 {
  conns.push(new Conn());
  return conns.length - 1;
}

/** Feeds input to direction `dir` (0 client→server, 1 server→client) of a connection. */
export function feed(conn: i32, dir: i32, mayBeCut: bool): void {
  const c = conns[conn];
  c.dirs[dir].feed(input, mayBeCut, c.sinks[dir]);
}

/** "sawStart,desyncs,dropped,hpackCount,hpackInvalidations" of a direction. */
export function dirInfo(conn: i32, dir: i32): void {
  const d = conns[conn].dirs[dir];
  line(d.sawStart.toString() + "," + d.desyncs.toString() + "," + d.dropped.toString() + "," + d.hpack.count.toString() + "," + d.hpack.invalidations.toString());
}
