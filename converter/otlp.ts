// OTLP encoding with the official @opentelemetry/otlp-transformer serializers.
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { OtelSpan } from "./otel-span.ts";

type SerializerInput = Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0];

/** ExportTraceServiceRequest, protobuf bytes. */
export function encodeProtobuf(spans: OtelSpan[]): Uint8Array {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans as unknown as SerializerInput);
  if (!bytes) throw new Error("otlp-transformer returned no protobuf payload");
  return bytes;
}

/** ExportTraceServiceRequest in the OTLP/JSON mapping (hex ids, string nanoseconds), as text. */
export function encodeJson(spans: OtelSpan[]): string {
  const bytes = JsonTraceSerializer.serializeRequest(spans as unknown as SerializerInput);
  if (!bytes) throw new Error("otlp-transformer returned no JSON payload");
  return new TextDecoder().decode(bytes);
}
