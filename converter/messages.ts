// Shapes of decoded Pinpoint messages, as protobufjs returns them from converter/proto
// (keepCase field names; 64-bit fields as Long or number) and span-decode.ts makes them.
// Hand-built objects of the same shape work too: every field may be missing and takes its
// proto3 default.

/** A protobufjs Long, or a plain number when the value fits. */
export type Int64 = number | { low: number; high: number; toNumber(): number; toString(): string };

/** A 64-bit value beyond a double's exact range, as its 32-bit halves (the part of Long the converter reads). */
export class Int64Bits {
  constructor(
    readonly low: number,
    readonly high: number,
  ) {}

  toNumber(): number {
    return this.high * 4294967296 + (this.low >>> 0);
  }

  toString(): string {
    return BigInt.asIntN(64, (BigInt(this.high >>> 0) << 32n) | BigInt(this.low >>> 0)).toString();
  }
}

export interface StringValueMsg {
  value?: string;
}

export interface PIntStringValueMsg {
  intValue?: number;
  stringValue?: StringValueMsg | null;
}

export interface PAnnotationValueMsg {
  stringValue?: string | null;
  boolValue?: boolean | null;
  intValue?: number | null;
  longValue?: Int64 | null;
  shortValue?: number | null;
  doubleValue?: number | null;
  binaryValue?: Uint8Array | null;
  byteValue?: number | null;
  intStringValue?: PIntStringValueMsg | null;
  stringStringValue?: { stringValue1?: StringValueMsg | null; stringValue2?: StringValueMsg | null } | null;
  intStringStringValue?: { intValue?: number; stringValue1?: StringValueMsg | null; stringValue2?: StringValueMsg | null } | null;
  longIntIntByteByteStringValue?: {
    longValue?: Int64;
    intValue1?: number;
    intValue2?: number;
    byteValue1?: number;
    byteValue2?: number;
    stringValue?: StringValueMsg | null;
  } | null;
  intBooleanIntBooleanValue?: { intValue1?: number; boolValue1?: boolean; intValue2?: number; boolValue2?: boolean } | null;
}

export interface PAnnotationMsg {
  key?: number;
  value?: PAnnotationValueMsg | null;
}

export interface PTransactionIdMsg {
  agentId?: string;
  agentStartTime?: Int64;
  sequence?: Int64;
}

export interface PMessageEventMsg {
  nextSpanId?: Int64;
  endPoint?: string;
  destinationId?: string;
}

export interface PAcceptEventMsg {
  rpc?: string;
  endPoint?: string;
  remoteAddr?: string;
  parentInfo?: { parentApplicationName?: string; parentApplicationType?: number; acceptorHost?: string } | null;
}

export interface PSpanEventMsg {
  sequence?: number;
  depth?: number;
  startElapsed?: number;
  endElapsed?: number;
  serviceType?: number;
  annotation?: PAnnotationMsg[];
  apiId?: number;
  exceptionInfo?: PIntStringValueMsg | null;
  nextEvent?: { messageEvent?: PMessageEventMsg | null } | null;
  asyncEvent?: number;
}

export interface PSpanMsg {
  version?: number;
  transactionId?: PTransactionIdMsg | null;
  spanId?: Int64;
  parentSpanId?: Int64;
  startTime?: Int64;
  elapsed?: number;
  apiId?: number;
  serviceType?: number;
  acceptEvent?: PAcceptEventMsg | null;
  annotation?: PAnnotationMsg[];
  flag?: number;
  err?: number;
  spanEvent?: PSpanEventMsg[];
  exceptionInfo?: PIntStringValueMsg | null;
  applicationServiceType?: number;
  loggingTransactionInfo?: number;
}

export interface PSpanChunkMsg {
  version?: number;
  transactionId?: PTransactionIdMsg | null;
  spanId?: Int64;
  endPoint?: string;
  spanEvent?: PSpanEventMsg[];
  applicationServiceType?: number;
  keyTime?: Int64;
  localAsyncId?: { asyncId?: number; sequence?: number } | null;
}

export interface PSpanMessageMsg {
  span?: PSpanMsg | null;
  spanChunk?: PSpanChunkMsg | null;
}

export interface PApiMetaDataMsg {
  apiId?: number;
  apiInfo?: string;
  line?: number;
  type?: number;
  location?: string;
}

export interface PSqlMetaDataMsg {
  sqlId?: number;
  sql?: string;
}

export interface PSqlUidMetaDataMsg {
  sqlUid?: Uint8Array;
  sql?: string;
}

export interface PStringMetaDataMsg {
  stringId?: number;
  stringValue?: string;
}

export interface PAgentInfoMsg {
  hostname?: string;
  ip?: string;
  ports?: string;
  serviceType?: number;
  pid?: number;
  agentVersion?: string;
  vmVersion?: string;
  container?: boolean;
}

/** Who sent a message: the gRPC metadata every agent call carries. */
export interface AgentHeader {
  agentId: string;
  applicationName: string;
  /** Agent start, epoch ms (the "starttime" header). */
  agentStartTime: number;
  agentName?: string;
}

export function int64Number(v: Int64 | undefined | null): number {
  if (v == null) return 0;
  return typeof v === "number" ? v : v.toNumber();
}

/** Low/high 32-bit halves of a 64-bit value (numbers beyond 2^53 lose precision, Longs do not). */
export function int64Parts(v: Int64 | undefined | null): { low: number; high: number } {
  if (v == null) return { low: 0, high: 0 };
  if (typeof v === "number") {
    if (Number.isSafeInteger(v)) {
      // Exact in a double: the halves without BigInt (this runs for every span and call event).
      const high = Math.floor(v / 4294967296);
      return { low: (v - high * 4294967296) | 0, high: high | 0 };
    }
    const b = BigInt.asUintN(64, BigInt(Math.trunc(v)));
    return { low: Number(b & 0xffffffffn) | 0, high: Number(b >> 32n) | 0 };
  }
  return { low: v.low, high: v.high };
}
