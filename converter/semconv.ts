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
  if (v.stringValue != null) return v.stringValue;
  if (v.intValue != null) return v.intValue;
  if (v.longValue != null) return int64Number(v.longValue);
  if (v.boolValue != null) return v.boolValue;
  if (v.shortValue != null) return v.shortValue;
  if (v.doubleValue != null) return v.doubleValue;
  if (v.byteValue != null) return v.byteValue;
  if (v.binaryValue != null) return Buffer.from(v.binaryValue).toString("base64");
  if (v.intStringValue) return joined(v.intStringValue.intValue, v.intStringValue.stringValue?.value);
  if (v.stringStringValue) return joined(v.stringStringValue.stringValue1?.value, v.stringStringValue.stringValue2?.value);
  if (v.intStringStringValue) {
    const x = v.intStringStringValue;
    return joined(x.intValue, x.stringValue1?.value, x.stringValue2?.value);
  }
  if (v.longIntIntByteByteStringValue) {
    const x = v.longIntIntByteByteStringValue;
    return joined(int64Number(x.longValue), x.intValue1, x.intValue2, x.byteValue1, x.byteValue2, x.stringValue?.value);
  }
  if (v.intBooleanIntBooleanValue) {
    const x = v.intBooleanIntBooleanValue;
    return joined(x.intValue1, x.boolValue1, x.intValue2, x.boolValue2);
  }
  return undefined;
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
  attrs[`${prefix}.address`] = host;
  if (port) attrs[`${prefix}.port`] = Number(port);
}
