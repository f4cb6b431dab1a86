import {
  type ChannelOptions,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type UntypedHandleCall,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import type { SnapshotRegistry } from "@xdskit/snapshot";
import { type Logger, TypeUrl, XdsError, silentLogger } from "@xdskit/xds-types";
import type { Authorizer, ResourceAuthorizer } from "./authorization.js";
import { EventEmitter } from "eventemitter3";
import { rawServiceDefinition } from "./codec.js";
import type { Connection } from "./connection.js";
import { ConnectionRegistry } from "./connection-registry.js";
import { csdsHandlers } from "./csds.js";
import type { AdsServerEvents } from "./events.js";
import { serveFetch } from "./fetch.js";
import type { AdsMetrics } from "./metrics.js";
import { adsService, csdsService, perTypeServices } from "./services.js";
import { serveDeltaStream } from "./delta-stream.js";
import { NamePool } from "./name-pool.js";
import { PeerLimits } from "./peer-limits.js";
import { SendBudget } from "./send-budget.js";
import { serveSotwStream } from "./sotw-stream.js";
import type { StreamEnv } from "./stream.js";
import { DEFAULT_LISTEN_BACKLOG, useListenBacklog } from "./listen-backlog.js";

/** HTTP/2 keepalive and connection-age settings of the server's own gRPC server. */
export interface KeepaliveOptions {
  /** Send a keepalive ping after this much idle time. Default 30 s. */
  timeMs?: number;
  /** Close the connection if a ping is not answered within this. Default 10 s. */
  timeoutMs?: number;
  /** Smallest interval between client pings the server tolerates. Default 10 s (Envoy and gRPC clients ping less often). */
  minClientPingIntervalMs?: number;
  /** Close connections idle (no streams) for this long. Default: never. */
  maxConnectionIdleMs?: number;
  /** Close connections older than this (spreads clients over replicas). Default: never. */
  maxConnectionAgeMs?: number;
  /** Grace after `maxConnectionAgeMs` for streams to finish. Default: 30 s. */
  maxConnectionAgeGraceMs?: number;
}

/** Options of {@link createAdsServer}. */
export interface AdsServerOptions {
  /** Where configuration comes from. */
  registry: SnapshotRegistry;
  /** Register on this host-owned gRPC server instead of creating one (then `listen` is not used). */
  server?: Server;
  /** `control_plane.identifier` sent in every response. Default: none. */
  controlPlaneId?: string;
  /** Largest request a client may send, in bytes (own server only). Default 4 MiB. */
  maxReceiveMessageBytes?: number;
  /** Most resource names in one request; more ends the stream with RESOURCE_EXHAUSTED. Default 10,000. */
  maxResourceNamesPerRequest?: number;
  /**
   * Most names one stream may be subscribed to, per type (Delta subscriptions
   * grow request by request); more ends the stream with RESOURCE_EXHAUSTED.
   * Default 50,000.
   */
  maxSubscribedNamesPerStream?: number;
  /**
   * Most client connections with open xDS streams; a stream from a further
   * connection is refused with RESOURCE_EXHAUSTED. Default 20,000.
   */
  maxConnections?: number;
  /**
   * The listen queue of `listen()`'s port: connections the kernel holds
   * while the server is busy (a fleet connecting at once). Default 4096;
   * Linux caps it at net.core.somaxconn.
   */
  listenBacklog?: number;
  /**
   * Most xDS streams one client connection may hold open; further streams are
   * refused with RESOURCE_EXHAUSTED (the own server also advertises it as the
   * HTTP/2 concurrent-stream limit). Default 1,000.
   */
  maxStreamsPerConnection?: number;
  /**
   * Bytes of responses a stream may have written that HTTP/2 flow control has
   * not yet taken. Past it, newer responses wait in the stream's queue (one per
   * type, latest wins) instead of piling up in memory for a client that reads
   * slowly. One response is always let through, however big. Default 1 MiB.
   */
  maxInFlightBytesPerStream?: number;
  /**
   * Bytes of responses all streams together may have written that HTTP/2
   * has not yet taken. Past it, streams wait their turn (longest-waiting
   * first), so a push to many streams goes in waves and its memory stays
   * bounded whatever the number of streams. Default 16 MiB.
   */
  maxInFlightBytes?: number;
  /**
   * A stream whose oldest unsent response has waited this long (in ms) for
   * the client to read it stops counting against `maxInFlightBytes`: a
   * client that stopped reading never holds back other streams' pushes. It
   * keeps its own cap (`maxInFlightBytesPerStream`). Default 2,000.
   */
  stalledAfterMs?: number;
  /**
   * A stream whose oldest unsent response has waited this long (in ms) is
   * closed with DEADLINE_EXCEEDED and its HTTP/2 stream reset, freeing what
   * it held (`sendTimeout` event, `pilot_xds_send_errors`,
   * `refused{reason="send_timeout"}`). 0 never closes one. Default 30,000.
   */
  sendTimeoutMs?: number;
  /** Keepalive settings (own server only). */
  keepalive?: KeepaliveOptions;
  /**
   * Decides on the first request of every stream whether it may be served:
   * with the node it claims, its verified identity (mTLS), its address and
   * service. A denial ends the stream with PERMISSION_DENIED and the reason,
   * before anything is sent (`denied` event, `refused{reason="permission_denied"}`).
   * See `spiffeNodePolicy` for Istio's rule. Default: every stream is served.
   */
  authorize?: Authorizer;
  /** How long the authorization hook may take, in ms; past it the stream ends with UNAVAILABLE. Default 10,000. */
  authorizeTimeoutMs?: number;
  /**
   * Decides, for each resource of a sensitive type, whether the client may
   * receive it; one it may not does not exist for that client (SotW: not
   * sent; Delta: listed as removed) and is counted, never sent. See
   * `secretsByNamespace`. Default: every resource may be sent.
   */
  authorizeResource?: ResourceAuthorizer;
  /** Type URLs `authorizeResource` applies to. Default: secrets (SDS). */
  sensitiveTypes?: readonly string[];
  /** Register the per-type services (CDS, EDS, LDS, RDS, SRDS, VHDS, SDS, RTDS, ECDS) besides ADS. Default true. */
  perTypeServices?: boolean;
  /** Register CSDS. Default true. */
  csds?: boolean;
  /** Metrics hooks, e.g. `createPromMetrics()` from `@xdskit/ads-server/prom`. Default: none. */
  metrics?: AdsMetrics;
  /** Diagnostics. Default: silent. */
  logger?: Logger;
}

/** The server-wide send budget as debug pages show it. */
export interface SendBudgetStatus {
  /** Response bytes written to streams, not yet taken by HTTP/2, that count against the budget. */
  readonly inFlightBytes: number;
  readonly maxBytes: number;
  /** Streams waiting for room. */
  readonly waitingStreams: number;
  /** Streams that stopped reading: their bytes no longer count (see `stalledAfterMs`). */
  readonly stalledStreams: number;
}

/** A running ADS server. */
export interface AdsServer extends Pick<EventEmitter<AdsServerEvents>, "on" | "off" | "once"> {
  /** The registered streams. */
  readonly connections: ConnectionRegistry;
  /** Client connections (distinct peers) with at least one open xDS stream. */
  clientConnectionCount(): number;
  /** Response bytes written to streams and not yet taken by HTTP/2, across the server, and streams waiting for room. */
  sendBudget(): SendBudgetStatus;
  /** Registers the xDS services on a gRPC server (done at creation when `options.server` is given). */
  addTo(server: Server): void;
  /** Starts the server's own gRPC server. Returns the bound port. Default address `127.0.0.1:0`. */
  listen(address?: string, credentials?: ServerCredentials): Promise<number>;
  /**
   * Graceful shutdown: refuse new streams, flush what is pending, close every
   * stream with UNAVAILABLE (clients reconnect, to another replica if there
   * is one), then stop the own server; force-closes after `graceMs`.
   */
  shutdown(graceMs?: number): Promise<void>;
}

function keepaliveChannelOptions(k: KeepaliveOptions, maxReceive: number): ChannelOptions {
  const o: ChannelOptions = {
    "grpc.max_receive_message_length": maxReceive,
    "grpc.max_send_message_length": -1,
    "grpc.keepalive_time_ms": k.timeMs ?? 30_000,
    "grpc.keepalive_timeout_ms": k.timeoutMs ?? 10_000,
    "grpc.http2.min_ping_interval_without_data_ms": k.minClientPingIntervalMs ?? 10_000,
    "grpc.keepalive_permit_without_calls": 1,
  };
  if (k.maxConnectionIdleMs !== undefined) o["grpc.max_connection_idle_ms"] = k.maxConnectionIdleMs;
  if (k.maxConnectionAgeMs !== undefined) o["grpc.max_connection_age_ms"] = k.maxConnectionAgeMs;
  if (k.maxConnectionAgeGraceMs !== undefined) o["grpc.max_connection_age_grace_ms"] = k.maxConnectionAgeGraceMs;
  return o;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!(v > 0)) throw new XdsError("invalid_argument", `${name} must be positive, got ${value}`);
  return v;
}

class AdsServerImpl extends EventEmitter<AdsServerEvents> implements AdsServer {
  readonly connections = new ConnectionRegistry();
  readonly #streams = new Set<Connection>();
  readonly #options: AdsServerOptions;
  readonly #env: StreamEnv;
  #own: Server | undefined;
  #shuttingDown = false;
  readonly #peers: PeerLimits;
  readonly #budget: SendBudget;

  constructor(options: AdsServerOptions) {
    super();
    if (!options?.registry)
      throw new XdsError("invalid_argument", "createAdsServer needs a registry (a SnapshotRegistry)");
    const maxNames = positive(options.maxResourceNamesPerRequest, 10_000, "maxResourceNamesPerRequest");
    const maxInFlight = positive(options.maxInFlightBytesPerStream, 1024 * 1024, "maxInFlightBytesPerStream");
    const sendTimeoutMs = options.sendTimeoutMs ?? 30_000;
    if (!(sendTimeoutMs >= 0)) {
      throw new XdsError("invalid_argument", `sendTimeoutMs must be 0 (never) or more, got ${options.sendTimeoutMs}`);
    }
    const sendBudget = new SendBudget({
      maxBytes: positive(options.maxInFlightBytes, 16 * 1024 * 1024, "maxInFlightBytes"),
      stalledAfterMs: positive(options.stalledAfterMs, 2_000, "stalledAfterMs"),
      sendTimeoutMs,
    });
    this.#budget = sendBudget;
    const maxSubscribed = positive(options.maxSubscribedNamesPerStream, 50_000, "maxSubscribedNamesPerStream");
    const peers = new PeerLimits(
      positive(options.maxConnections, 20_000, "maxConnections"),
      positive(options.maxStreamsPerConnection, 1_000, "maxStreamsPerConnection"),
    );
    this.#peers = peers;
    this.#options = options;
    const emit = this.emit.bind(this) as StreamEnv["emit"];
    let nonces = 0;
    this.#env = {
      registry: options.registry,
      log: options.logger ?? silentLogger,
      controlPlaneId: options.controlPlaneId,
      maxResourceNamesPerRequest: maxNames,
      maxInFlightBytesPerStream: maxInFlight,
      maxSubscribedNamesPerStream: maxSubscribed,
      sendBudget,
      sendTimeoutMs,
      namePool: new NamePool(),
      authorize: options.authorize,
      authorizeTimeoutMs: positive(options.authorizeTimeoutMs, 10_000, "authorizeTimeoutMs"),
      authorizeResource: options.authorizeResource,
      sensitiveTypes: new Set(options.sensitiveTypes ?? [TypeUrl.Secret]),
      peers,
      metrics: options.metrics,
      emit: (event, ...args) => {
        try {
          emit(event, ...args);
        } catch (err) {
          // A throwing host listener must not break the stream that emitted.
          (options.logger ?? silentLogger).error("event listener threw", { event, error: String(err) });
        }
      },
      listens: (event) => this.listenerCount(event) > 0,
      assembled: new WeakMap(),
      assembledDelta: new WeakMap(),
      nextNonce: () => ++nonces,
      connections: this.connections,
      streams: this.#streams,
      shuttingDown: () => this.#shuttingDown,
    };
    if (options.server) this.addTo(options.server);
  }

  clientConnectionCount(): number {
    return this.#peers.connectionCount();
  }

  sendBudget(): SendBudgetStatus {
    return {
      inFlightBytes: this.#budget.inFlightBytes,
      maxBytes: this.#budget.maxBytes,
      waitingStreams: this.#budget.waiting,
      stalledStreams: this.#budget.stalled,
    };
  }

  addTo(server: Server): void {
    const env = this.#env;
    server.addService(rawServiceDefinition(adsService), {
      StreamAggregatedResources: (call: ServerDuplexStream<Buffer, Uint8Array>) =>
        serveSotwStream(call, env, adsService.typeName),
      DeltaAggregatedResources: (call: ServerDuplexStream<Buffer, Uint8Array>) =>
        serveDeltaStream(call, env, adsService.typeName),
    } as Record<string, UntypedHandleCall>);
    if (this.#options.perTypeServices !== false) {
      for (const { service, typeUrl } of perTypeServices) {
        const handlers: Record<string, UntypedHandleCall> = {};
        for (const m of service.methods) {
          if (m.methodKind === "bidi_streaming" && m.name.startsWith("Stream")) {
            handlers[m.name] = (call: ServerDuplexStream<Buffer, Uint8Array>) =>
              serveSotwStream(call, env, service.typeName, typeUrl);
          } else if (m.methodKind === "bidi_streaming" && m.name.startsWith("Delta")) {
            handlers[m.name] = (call: ServerDuplexStream<Buffer, Uint8Array>) =>
              serveDeltaStream(call, env, service.typeName, typeUrl);
          } else if (m.methodKind === "unary") {
            handlers[m.name] = (call: ServerUnaryCall<Buffer, Uint8Array>, cb: sendUnaryData<Uint8Array>) =>
              serveFetch(env, typeUrl, call, cb);
          }
        }
        server.addService(rawServiceDefinition(service), handlers);
      }
    }
    if (this.#options.csds !== false) {
      server.addService(
        rawServiceDefinition(csdsService),
        csdsHandlers(env) as unknown as Record<string, UntypedHandleCall>,
      );
    }
  }

  async listen(address = "127.0.0.1:0", credentials = ServerCredentials.createInsecure()): Promise<number> {
    if (this.#options.server) {
      throw new XdsError(
        "invalid_argument",
        "this ADS server was registered on a host server; start that server instead",
      );
    }
    if (this.#own) throw new XdsError("invalid_argument", "listen() was already called");
    const server = new Server({
      ...keepaliveChannelOptions(
        this.#options.keepalive ?? {},
        this.#options.maxReceiveMessageBytes ?? 4 * 1024 * 1024,
      ),
      // One above the limit: the stream past it is refused with a clear status instead of queued by HTTP/2.
      "grpc.max_concurrent_streams": this.#peers.maxStreamsPerConnection + 1,
    });
    if (!useListenBacklog(server, positive(this.#options.listenBacklog, DEFAULT_LISTEN_BACKLOG, "listenBacklog")))
      (this.#options.logger ?? silentLogger).warn(
        "grpc-js offers no HTTP/2 server factory to set the listen backlog; Node's 511 applies",
      );
    this.addTo(server);
    this.#own = server;
    return await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, credentials, (err, port) => {
        if (err) {
          this.#own = undefined;
          reject(new XdsError("unavailable", `cannot listen on ${address}: ${err.message}`, { cause: err }));
        } else resolve(port);
      });
    });
  }

  async shutdown(graceMs = 5_000): Promise<void> {
    this.#shuttingDown = true;
    const own = this.#own;
    const deadline = Date.now() + graceMs;
    // Let responses already queued reach the clients, within the deadline.
    for (const c of this.#streams) c.flush();
    while (Date.now() < deadline && [...this.#streams].some((c) => c.pendingCount() > 0)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const c of [...this.#streams]) {
      c.call.emit("error", { code: status.UNAVAILABLE, details: "the control plane is shutting down" });
    }
    this.#budget.close();
    if (!own) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      own.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    // Whatever the graceful close left open goes now, so a shut-down server
    // holds no connection a client keeps alive.
    own.forceShutdown();
    this.#own = undefined;
  }
}

/**
 * Creates the ADS engine over a snapshot registry. Pass `server` to register
 * on a host's grpc-js server, or call `listen()` to run its own.
 */
export function createAdsServer(options: AdsServerOptions): AdsServer {
  return new AdsServerImpl(options);
}
