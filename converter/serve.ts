// A Pinpoint collector stand-in: the gRPC services and ports agents call (@grpc/grpc-js), answering as
// the collector does, handing every request to the converter, and optionally forwarding everything
// byte for byte to a real collector (--upstream), including its answers and commands back to the agent.
import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import type { AgentHeader } from "./messages.ts";
import { agentHeaderOf } from "./ingest.ts";
import { pinpointMethods, PResult, type GrpcMethod } from "./schema.ts";

const identity = (b: Buffer): Buffer => b;
const EMPTY = Buffer.alloc(0);
const OK_RESULT = Buffer.from(PResult.encode(PResult.create({ success: true, message: "" })).finish());

/**
 * The server pings every connection after this long without a ping (ms) and closes it if the ping is
 * not answered within KEEPALIVE_TIMEOUT_MS: an agent whose host vanished (no FIN, no RST) otherwise
 * keeps its connection and open span/stat/ping streams on the server for good. Live agents' gRPC
 * clients answer pings by themselves.
 */
export const KEEPALIVE_MS = 60_000;
export const KEEPALIVE_TIMEOUT_MS = 20_000;

export interface CollectorOptions {
  host?: string;
  /** Ports the agent uses for agent/metadata/command, stat and span (0 = any free port). */
  agentPort?: number;
  statPort?: number;
  spanPort?: number;
  /** host:port of a real collector: its agent, stat and span ports are taken as the same three offsets. */
  upstream?: { host: string; agentPort: number; statPort: number; spanPort: number };
  /** Server keepalive ping period (ms), 0 = none; default KEEPALIVE_MS. */
  keepaliveMs?: number;
  /** Unanswered ping timeout (ms); default KEEPALIVE_TIMEOUT_MS. */
  keepaliveTimeoutMs?: number;
}

export interface CollectorStats {
  requests: number;
  forwarded: number;
  upstreamErrors: number;
}

export interface ReceivedRequest {
  path: string;
  header: AgentHeader;
  data: Buffer;
  receivedAtMs: number;
}

/** Emits "request" (ReceivedRequest) for every message an agent sends. */
export class PinpointCollector extends EventEmitter {
  readonly stats: CollectorStats = { requests: 0, forwarded: 0, upstreamErrors: 0 };
  private readonly server: grpc.Server;
  private readonly upstreamClients = new Map<string, grpc.Client>();
  ports = { agent: 0, stat: 0, span: 0 };

  constructor(private readonly opts: CollectorOptions = {}) {
    super();
    const keepaliveMs = opts.keepaliveMs ?? KEEPALIVE_MS;
    this.server = new grpc.Server({
      "grpc.max_receive_message_length": 64 << 20,
      // grpc-js reads 0 as "never"; so does this option.
      "grpc.keepalive_time_ms": keepaliveMs,
      "grpc.keepalive_timeout_ms": opts.keepaliveTimeoutMs ?? KEEPALIVE_TIMEOUT_MS,
    });
    const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
    const impl: grpc.UntypedServiceImplementation = {};
    for (const m of pinpointMethods()) {
      definition[m.path] = {
        path: m.path,
        requestStream: m.requestStream,
        responseStream: m.responseStream,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      };
      impl[m.path] = this.handler(m);
    }
    this.server.addService(definition, impl);
  }

  async start(): Promise<void> {
    const host = this.opts.host ?? "127.0.0.1";
    const bind = (port: number): Promise<number> =>
      new Promise((resolve, reject) =>
        this.server.bindAsync(`${host.includes(":") ? `[${host}]` : host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
      );
    this.ports = {
      agent: await bind(this.opts.agentPort ?? 9991),
      stat: await bind(this.opts.statPort ?? 9992),
      span: await bind(this.opts.spanPort ?? 9993),
    };
  }

  async stop(): Promise<void> {
    for (const c of this.upstreamClients.values()) c.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private received(path: string, metadata: grpc.Metadata, data: Buffer): void {
    this.stats.requests++;
    const header = agentHeaderOf((name) => {
      const v = metadata.get(name)[0];
      return v === undefined ? undefined : String(v);
    });
    const req: ReceivedRequest = { path, header, data, receivedAtMs: Date.now() };
    this.emit("request", req);
  }

  private upstream(m: GrpcMethod): grpc.Client | undefined {
    const up = this.opts.upstream;
    if (!up) return undefined;
    const port = m.service === "Span" ? up.spanPort : m.service === "Stat" ? up.statPort : up.agentPort;
    const key = `${up.host}:${port}`;
    let c = this.upstreamClients.get(key);
    if (!c) {
      c = new grpc.Client(key, grpc.credentials.createInsecure());
      this.upstreamClients.set(key, c);
    }
    return c;
  }

  private upstreamError = (): void => {
    this.stats.upstreamErrors++;
  };

  private handler(m: GrpcMethod): grpc.UntypedHandleCall {
    const upstream = (): grpc.Client | undefined => this.upstream(m);
    if (!m.requestStream && !m.responseStream) {
      return (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        this.received(m.path, call.metadata, call.request);
        const up = upstream();
        if (!up) return callback(null, m.path.startsWith("/v1.ProfilerCommandService/") ? EMPTY : OK_RESULT);
        this.stats.forwarded++;
        up.makeUnaryRequest(m.path, identity, identity, call.request, call.metadata, (err, res) => {
          if (err) {
            this.upstreamError();
            // The agent keeps working when the upstream is down: answer as the collector would.
            return callback(null, m.path.startsWith("/v1.ProfilerCommandService/") ? EMPTY : OK_RESULT);
          }
          callback(null, res ?? EMPTY);
        });
      };
    }
    if (m.requestStream && !m.responseStream) {
      return (call: grpc.ServerReadableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const up = upstream();
        let forward: grpc.ClientWritableStream<Buffer> | undefined;
        if (up) {
          forward = up.makeClientStreamRequest(m.path, identity, identity, call.metadata, (err) => {
            if (err) this.upstreamError();
          });
          forward.on("error", this.upstreamError);
        }
        call.on("data", (data: Buffer) => {
          this.received(m.path, call.metadata, data);
          if (forward) {
            this.stats.forwarded++;
            forward.write(data);
          }
        });
        call.on("end", () => {
          forward?.end();
          callback(null, EMPTY);
        });
        call.on("error", () => forward?.cancel());
      };
    }
    // Bidirectional (PingSession, command streams).
    return (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const up = upstream();
      let forward: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
      if (up) {
        forward = up.makeBidiStreamRequest(m.path, identity, identity, call.metadata);
        forward.on("data", (d: Buffer) => call.write(d));
        forward.on("error", this.upstreamError);
        forward.on("end", () => call.end());
      }
      call.on("data", (data: Buffer) => {
        this.received(m.path, call.metadata, data);
        if (forward) {
          this.stats.forwarded++;
          forward.write(data);
        } else if (m.method === "PingSession") {
          call.write(data); // the collector answers each ping with a ping
        }
      });
      call.on("end", () => {
        if (forward) forward.end();
        else call.end();
      });
      call.on("error", () => forward?.cancel());
    };
  }
}
