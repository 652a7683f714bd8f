// Pinpoint AnnotationKey and ServiceType codes that the mapping to OpenTelemetry uses.
// Sources: Pinpoint's AnnotationKey / ServiceType definitions and plugin constants
// (KafkaConstants, RabbitMQClientConstants, Dubbo), pinpoint-node-agent's service-type.js.

export const AnnotationKey = {
  API: 12,
  API_METADATA: 13,
  SQL_ID: 20,
  SQL_BINDVALUE: 24,
  SQL_UID: 25,
  HTTP_URL: 40,
  HTTP_PARAM: 41,
  HTTP_STATUS_CODE: 46,
  DUBBO_ARGS: 90,
  DUBBO_RESULT: 91,
  RABBITMQ_EXCHANGE: 130,
  RABBITMQ_ROUTINGKEY: 131,
  KAFKA_TOPIC: 140,
  KAFKA_PARTITION: 141,
  KAFKA_OFFSET: 142,
  KAFKA_CONSUMER_GROUP: 145,
} as const;

/** SpanKind as numbered by @opentelemetry/api (OTLP's value minus one). */
export const Kind = { INTERNAL: 0, SERVER: 1, CLIENT: 2, PRODUCER: 3, CONSUMER: 4 } as const;
export type KindValue = (typeof Kind)[keyof typeof Kind];

export interface ServiceTypeInfo {
  name: string;
  /** Kind for a span event (an outgoing call or a local method). */
  eventKind: KindValue;
  /** Kind for a PSpan (an entry point) of this type. */
  spanKind: KindValue;
  attributes?: Record<string, string>;
}

const db = (name: string, system: string): ServiceTypeInfo => ({ name, eventKind: Kind.CLIENT, spanKind: Kind.SERVER, attributes: { "db.system": system } });
const rpc = (name: string, system: string): ServiceTypeInfo => ({ name, eventKind: Kind.CLIENT, spanKind: Kind.SERVER, attributes: { "rpc.system": system } });
const queue = (name: string, system: string): ServiceTypeInfo => ({ name, eventKind: Kind.PRODUCER, spanKind: Kind.CONSUMER, attributes: { "messaging.system": system } });
const internal = (name: string): ServiceTypeInfo => ({ name, eventKind: Kind.INTERNAL, spanKind: Kind.SERVER });
const server = (name: string): ServiceTypeInfo => ({ name, eventKind: Kind.INTERNAL, spanKind: Kind.SERVER });

const KNOWN: Record<number, ServiceTypeInfo> = {
  100: internal("ASYNC"),
  1010: server("TOMCAT"),
  1011: internal("TOMCAT_METHOD"),
  1110: { ...server("DUBBO_PROVIDER"), attributes: { "rpc.system": "apache_dubbo" } },
  1210: server("SPRING_BOOT"),
  1400: server("NODE"),
  1401: internal("NODE_METHOD"),
  1800: server("GO"),
  2100: db("MYSQL", "mysql"),
  2101: db("MYSQL_EXECUTE_QUERY", "mysql"),
  2650: db("MONGO", "mongodb"),
  2651: db("MONGO_EXECUTE_QUERY", "mongodb"),
  6600: internal("EXPRESS"),
  6610: internal("KOA"),
  6620: internal("HAPI"),
  6630: internal("RESTIFY"),
  8200: db("REDIS", "redis"),
  8202: db("IOREDIS", "redis"),
  8203: db("ELASTICSEARCH", "elasticsearch"),
  8205: db("MYSQL", "mysql"),
  8300: queue("RABBITMQ_CLIENT", "rabbitmq"),
  8301: internal("RABBITMQ_CLIENT_INTERNAL"),
  8310: queue("ACTIVEMQ_CLIENT", "activemq"),
  8400: queue("ROCKETMQ_CLIENT", "rocketmq"),
  8660: queue("KAFKA_CLIENT", "kafka"),
  8661: internal("KAFKA_CLIENT_INTERNAL"),
  8670: queue("PULSAR_CLIENT", "pulsar"),
  9052: rpc("HTTP_CLIENT_4", "http"),
  9053: internal("HTTP_CLIENT_4_INTERNAL"),
  9056: rpc("ASYNC_HTTP_CLIENT", "http"),
  9057: internal("ASYNC_HTTP_CLIENT_INTERNAL"),
  9110: rpc("DUBBO_CONSUMER", "apache_dubbo"),
  99999: internal("CALLBACK_DUMMY"),
};

/** Maps a service type code; unknown codes fall back on Pinpoint's code ranges. */
export function serviceTypeInfo(code: number): ServiceTypeInfo {
  const known = KNOWN[code];
  if (known) return known;
  const name = `SERVICE_TYPE_${code}`;
  if (code >= 1000 && code < 2000) return server(name);
  if (code >= 2000 && code < 3000) return { name, eventKind: Kind.CLIENT, spanKind: Kind.SERVER };
  if (code >= 8000 && code < 9000) return { name, eventKind: Kind.CLIENT, spanKind: Kind.SERVER };
  if (code >= 9000 && code < 10000) return { name, eventKind: Kind.CLIENT, spanKind: Kind.SERVER };
  return internal(name);
}
