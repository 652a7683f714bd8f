// Loads the project's own Pinpoint .proto files (converter/proto/v1) with protobufjs.
import path from "node:path";
import { fileURLToPath } from "node:url";
import Long from "long";
import protobuf from "protobufjs";

// 64-bit span ids need Long: without it (e.g. when protobufjs' optional require of "long" fails
// under a bundler or test runner) they decode as lossy doubles.
protobuf.util.Long = Long;
protobuf.configure();

const PROTO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "proto");

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // Imports are written as "v1/X.proto"; google/protobuf/* come from protobufjs' bundled copies.
  root.resolvePath = (_origin, target) => (target.startsWith("google/") ? target : path.join(PROTO_DIR, target));
  root.loadSync(["v1/Span.proto", "v1/Stat.proto", "v1/Service.proto"], { keepCase: true });
  root.resolveAll();
  return root;
}

export const pinpointRoot = loadRoot();

function type(name: string): protobuf.Type {
  return pinpointRoot.lookupType(`v1.${name}`);
}

export const PSpanMessage = type("PSpanMessage");
export const PSpan = type("PSpan");
export const PSpanChunk = type("PSpanChunk");
export const PApiMetaData = type("PApiMetaData");
export const PSqlMetaData = type("PSqlMetaData");
export const PSqlUidMetaData = type("PSqlUidMetaData");
export const PStringMetaData = type("PStringMetaData");
export const PAgentInfo = type("PAgentInfo");
export const PResult = type("PResult");
export const PStatMessage = type("PStatMessage");
export const PPing = type("PPing");

export interface GrpcMethod {
  path: string;
  service: string;
  method: string;
  requestType: string;
  requestStream: boolean;
  responseStream: boolean;
}

/** Every gRPC method the agents call, from Service.proto. */
export function pinpointMethods(): GrpcMethod[] {
  const ns = pinpointRoot.lookup("v1") as protobuf.Namespace;
  const out: GrpcMethod[] = [];
  for (const nested of ns.nestedArray) {
    if (!(nested instanceof protobuf.Service)) continue;
    for (const m of nested.methodsArray) {
      out.push({
        path: `/v1.${nested.name}/${m.name}`,
        service: nested.name,
        method: m.name,
        requestType: m.requestType,
        requestStream: !!m.requestStream,
        responseStream: !!m.responseStream,
      });
    }
  }
  return out;
}
