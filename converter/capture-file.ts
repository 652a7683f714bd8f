// `pinpoint-otel convert CAPTURE`: capture file → host-sim's reader and TCP reassembly → gRPC requests.
import type { Pipeline } from "./pipeline.ts";

/** Returns a one-line summary; throws with a clear message when the file cannot be read. */
export async function convertCapture(file: string, _pipeline: Pipeline, _collectorPorts: number[]): Promise<string> {
  // Wired to host-sim's flow reassembly once it exists (host-sim/flow); see GrpcCaptureDecoder.
  throw new Error(`convert ${file}: TCP reassembly from host-sim/flow is not available yet in this checkout`);
}
