// Pinpoint annotations → OpenTelemetry semantic-convention attributes.
import { AnnotationKey } from "./codes.ts";
import { int64Number, type PAnnotationMsg, type PAnnotationValueMsg } from "./messages.ts";

export type AttrValue = string | number | boolean;
export type Attributes = Record<string, AttrValue>;

/** Metadata lookups a mapping needs (per agent). */
export interface MetadataView {
  sql(id: number): string | undefined;
  string(id: number): string | undefined;
}

/** The single primitive a Pinpoint annotation value stands for (composites joined readably). */
export function annotationValue(v: PAnnotationValueMsg | null | undefined): AttrValue | undefined {
  if (!v) return undefined;
  // protobufjs 8 messages answer an absent oneof member with its default (stringValue "", through the
  // prototype), so "!= null" would take every value for an empty string: its discriminator `field`
  // names the member that is set. Plain objects (span-decode.ts, hand-built) have absent members absent.
  const set = (v as { field?: unknown }).field;
  if (typeof set === "string") return memberValue(v, set);
  for (const name of MEMBERS) if (v[name] != null) return memberValue(v, name);
  return undefined;
}

/** PAnnotationValue's oneof members, in the order they were looked for before (the first one present wins). */
const MEMBERS = [
  "stringValue",
  "intValue",
  "longValue",
  "boolValue",
  "shortValue",
  "doubleValue",
  "byteValue",
  "binaryValue",
  "intStringValue",
  "stringStringValue",
  "intStringStringValue",
  "longIntIntByteByteStringValue",
  "intBooleanIntBooleanValue",
] as const;

function memberValue(v: PAnnotationValueMsg, name: string): AttrValue | undefined {
  switch (name) {
    case "stringValue":
      return v.stringValue ?? undefined;
    case "intValue":
      return v.intValue ?? undefined;
    case "longValue":
      return v.longValue != null ? int64Number(v.longValue) : undefined;
    case "boolValue":
      return v.boolValue ?? undefined;
    case "shortValue":
      return v.shortValue ?? undefined;
    case "doubleValue":
      return v.doubleValue ?? undefined;
    case "byteValue":
      return v.byteValue ?? undefined;
    case "binaryValue":
      return v.binaryValue != null ? Buffer.from(v.binaryValue).toString("base64") : undefined;
    case "intStringValue":
      return v.intStringValue ? joined(v.intStringValue.intValue, v.intStringValue.stringValue?.value) : undefined;
    case "stringStringValue":
      return v.stringStringValue ? joined(v.stringStringValue.stringValue1?.value, v.stringStringValue.stringValue2?.value) : undefined;
    case "intStringStringValue": {
      const x = v.intStringStringValue;
      return x ? joined(x.intValue, x.stringValue1?.value, x.stringValue2?.value) : undefined;
    }
    case "longIntIntByteByteStringValue": {
      const x = v.longIntIntByteByteStringValue;
      return x ? joined(int64Number(x.longValue), x.intValue1, x.intValue2, x.byteValue1, x.byteValue2, x.stringValue?.value) : undefined;
    }
    case "intBooleanIntBooleanValue": {
      const x = v.intBooleanIntBooleanValue;
      return x ? joined(x.intValue1, x.boolValue1, x.intValue2, x.boolValue2) : undefined;
    }
    default:
      return undefined;
  }
}

function joined(...parts: unknown[]): string {
  return parts.filter((p) => p !== undefined && p !== null && p !== "").join(" ");
}

/** Writes the attributes of one annotation; returns the API description when key is API. */
export function mapAnnotation(a: PAnnotationMsg, attrs: Attributes, meta: MetadataView): void {
  const key = a.key ?? 0;
  const v = a.value;
  switch (key) {
    case AnnotationKey.SQL_ID: {
      const x = v?.intStringStringValue;
      const id = x?.intValue ?? (typeof annotationValue(v) === "number" ? (annotationValue(v) as number) : 0);
      attrs["pinpoint.sql_id"] = id;
      const sql = meta.sql(id);
      if (sql !== undefined) attrs["db.query.text"] = sql;
      if (x?.stringValue1?.value) attrs["pinpoint.sql.output"] = x.stringValue1.value;
      if (x?.stringValue2?.value) attrs["pinpoint.sql.bind_values"] = x.stringValue2.value;
      return;
    }
    case AnnotationKey.SQL_BINDVALUE:
      setIfDefined(attrs, "pinpoint.sql.bind_values", annotationValue(v));
      return;
    case AnnotationKey.HTTP_URL: {
      const url = annotationValue(v);
      if (typeof url === "string") {
        attrs["pinpoint.http.url"] = url;
        attrs["url.full"] = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
      }
      return;
    }
    case AnnotationKey.HTTP_PARAM:
      setIfDefined(attrs, "url.query", annotationValue(v));
      return;
    case AnnotationKey.HTTP_STATUS_CODE: {
      const code = Number(annotationValue(v));
      if (Number.isFinite(code)) attrs["http.response.status_code"] = code;
      return;
    }
    case AnnotationKey.DUBBO_ARGS:
      setIfDefined(attrs, "pinpoint.dubbo.args", annotationValue(v));
      return;
    case AnnotationKey.DUBBO_RESULT:
      setIfDefined(attrs, "pinpoint.dubbo.result", annotationValue(v));
      return;
    case AnnotationKey.KAFKA_TOPIC:
    case AnnotationKey.RABBITMQ_EXCHANGE:
      setIfDefined(attrs, "messaging.destination.name", annotationValue(v));
      return;
    case AnnotationKey.KAFKA_PARTITION: {
      const p = annotationValue(v);
      if (p !== undefined) attrs["messaging.destination.partition.id"] = String(p);
      return;
    }
    case AnnotationKey.KAFKA_OFFSET:
      setIfDefined(attrs, "messaging.kafka.offset", annotationValue(v));
      return;
    case AnnotationKey.KAFKA_CONSUMER_GROUP:
      setIfDefined(attrs, "messaging.consumer.group.name", annotationValue(v));
      return;
    case AnnotationKey.RABBITMQ_ROUTINGKEY:
      setIfDefined(attrs, "messaging.rabbitmq.destination.routing_key", annotationValue(v));
      return;
    case AnnotationKey.API:
      setIfDefined(attrs, "pinpoint.api", annotationValue(v));
      return;
    default:
      if (key < 0 && key >= -30) setIfDefined(attrs, `pinpoint.args.${-key - 1}`, annotationValue(v));
      else setIfDefined(attrs, `pinpoint.annotation.${key}`, annotationValue(v));
  }
}

function setIfDefined(attrs: Attributes, key: string, v: AttrValue | undefined): void {
  if (v !== undefined) attrs[key] = v;
}

/** host:port (or host, or [v6]:port) → server.address / server.port (or client.*). */
export function setServerAddress(attrs: Attributes, hostPort: string | undefined, prefix: "server" | "client" = "server"): void {
  if (!hostPort) return;
  const [host, port] = splitHostPort(hostPort);
  if (prefix === "server") {
    attrs["server.address"] = host;
    if (port !== undefined) attrs["server.port"] = port;
  } else {
    attrs["client.address"] = host;
    if (port !== undefined) attrs["client.port"] = port;
  }
}

/**
 * Split end points, by the text: a service's few peers recur in every span and event, and the
 * regular expressions cost more than the rest of the attribute. Bounded: cleared when full.
 */
const HOST_PORTS = new Map<string, readonly [string, number | undefined]>();
const MAX_HOST_PORTS = 4096;

function splitHostPort(hostPort: string): readonly [string, number | undefined] {
  const known = HOST_PORTS.get(hostPort);
  if (known) return known;
  let host = hostPort;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  if (bracketed) {
    host = bracketed[1];
    port = bracketed[2];
  } else if (hostPort.indexOf(":") === hostPort.lastIndexOf(":")) {
    const m = /^(.*):(\d+)$/.exec(hostPort);
    if (m) {
      host = m[1];
      port = m[2];
    }
  }
  const split = [host, port ? Number(port) : undefined] as const;
  if (HOST_PORTS.size >= MAX_HOST_PORTS) HOST_PORTS.clear();
  HOST_PORTS.set(hostPort, split);
  return split;
}
