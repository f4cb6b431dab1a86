import { type DescMessage, type MessageShape, fromBinary } from "@bufbuild/protobuf";
import { type ServerDuplexStream, status } from "@grpc/grpc-js";
import { type ResourceType, findResourceType } from "@xdskit/xds-types";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { Connection, type Protocol } from "./connection.js";
import type { ConnectionRegistry } from "./connection-registry.js";
import { identityOf } from "./identity.js";
import type { RefusalReason } from "./peer-limits.js";
import { ReadHold } from "./read-hold.js";
import { resetCall } from "./reset.js";
import type { ServerContext } from "./server-context.js";

export { type ErrorDetail, announceRequest, recordAnswer } from "./answers.js";

/** What a stream handler needs beyond the shared context. */
export interface StreamEnv extends ServerContext {
  readonly connections: ConnectionRegistry;
  /** Every open stream, registered or not yet (shutdown closes them all). */
  readonly streams: Set<Connection>;
  /** True once shutdown began: new streams are refused. */
  readonly shuttingDown: () => boolean;
}

/** The parts of a request every stream flavour checks the same way. */
export interface RequestHead {
  readonly node: Node | undefined;
  readonly typeUrl: string;
  /** Names the request carries (subscribe + unsubscribe on Delta), for the per-request limit. */
  readonly nameCount: number;
}

/** A request that passed the common checks: the stream is registered and the type is known. */
export interface AcceptedRequest {
  readonly typeUrl: string;
  readonly type: ResourceType;
}

/** Handles the requests of one stream once they are decoded and checked. */
export interface StreamProtocol<Desc extends DescMessage> {
  readonly protocol: Protocol;
  readonly requestSchema: Desc;
  head(req: MessageShape<Desc>): RequestHead;
  handle(
    conn: Connection,
    req: MessageShape<Desc>,
    accepted: AcceptedRequest,
    tools: StreamTools,
    raw: Uint8Array,
  ): void;
  /**
   * Handles a request of a registered stream from its bytes alone when it
   * can (an ACK repeating its subscription); false sends it to the full decode.
   */
  fast?(conn: Connection, raw: Uint8Array, tools: StreamTools): boolean;
}

/** What a protocol handler may do to its stream. */
export interface StreamTools {
  /** Ends the stream with a status, logged and reported as `rejected` (and as a refusal when `limit` is given). */
  reject(code: status, details: string, limit?: RefusalReason): void;
}

/**
 * Where a stream is in its life:
 * `awaiting-node` — admitted, its first request (which must carry a node) not seen yet;
 * `authorizing` — the authorization hook is deciding, later requests wait in a bounded backlog;
 * `serving` — registered with its node and node group, requests handled as they come;
 * `ended` — closed for whatever reason; nothing more happens.
 */
export type StreamPhase = "awaiting-node" | "authorizing" | "serving" | "ended";

// Requests a client may send while its first one is being authorized.
const MAX_BACKLOG = 64;

/**
 * One xDS stream from admission to its end: decodes requests, registers the
 * connection on its first request, checks type URLs against the service and
 * the name limit, and ends cleanly on every path.
 */
class StreamLife<Desc extends DescMessage> implements StreamTools {
  phase: StreamPhase = "awaiting-node";
  readonly conn: Connection;
  readonly #backlog: Buffer[] = [];

  constructor(
    readonly call: ServerDuplexStream<Buffer, Uint8Array>,
    readonly env: StreamEnv,
    readonly service: string,
    /** ADS has it undefined; a per-type service refuses other types. */
    readonly fixedTypeUrl: string | undefined,
    readonly proto: StreamProtocol<Desc>,
  ) {
    this.conn = new Connection(call, safePeer(call), service, env, proto.protocol);
    this.conn.onSendTimeout = (waitedMs, bytes, typeName) => this.#sendTimedOut(waitedMs, bytes, typeName);
  }

  /** Admits the stream (or refuses it with a status) and starts listening. */
  start(): void {
    const { env, conn, call } = this;
    if (env.shuttingDown()) {
      this.phase = "ended";
      call.emit("error", { code: status.UNAVAILABLE, details: "the control plane is shutting down" });
      return;
    }
    const refusal = env.peers.admit(conn.peer);
    if (refusal) {
      this.phase = "ended";
      env.log.warn("stream refused", { peer: conn.peer, reason: refusal.reason });
      env.metrics?.refused?.(refusal.reason);
      env.emit("rejected", { peer: conn.peer, code: status.RESOURCE_EXHAUSTED, details: refusal.details });
      call.emit("error", { code: status.RESOURCE_EXHAUSTED, details: refusal.details });
      return;
    }
    env.streams.add(conn);
    conn.identity = identityOf(call);
    // Lets grpc-js's decoder drop each request once it is handled (see read-hold.ts).
    const hold = ReadHold.of(call);
    call.on("data", (chunk: Buffer) => {
      this.#onData(chunk);
      hold?.release();
    });
    call.on("end", () => {
      this.#finish("the client closed the stream");
      call.end();
    });
    call.on("error", (err: Error) => this.#finish(`stream error: ${err.message}`));
    call.on("cancelled", () => this.#finish("cancelled by the client"));
    call.on("close", () => this.#finish("stream closed"));
  }

  reject(code: status, details: string, limit?: RefusalReason): void {
    if (this.phase === "ended") return;
    const { env, conn } = this;
    env.log.warn("stream rejected", { connection: conn.id, peer: conn.peer, code, details });
    if (limit) env.metrics?.refused?.(limit);
    env.emit("rejected", { peer: conn.peer, code, details });
    this.#finish(details);
    this.call.emit("error", { code, details });
  }

  /**
   * The client has not taken a response for the send deadline: end the
   * stream. Its trailers cannot pass the bytes it does not read, so the
   * HTTP/2 stream is reset too, which frees what it buffered.
   */
  #sendTimedOut(waitedMs: number, bytes: number, typeName: string): void {
    if (this.phase === "ended") return;
    const { env, conn } = this;
    const details = `the client did not read a response for ${Math.round(waitedMs)} ms (${bytes} bytes unsent; the send timeout is ${env.sendTimeoutMs} ms)`;
    env.metrics?.sendError(typeName);
    env.emit("sendTimeout", { connection: conn.ref(), waitedMs: Math.round(waitedMs), bytes });
    this.reject(status.DEADLINE_EXCEEDED, details, "send_timeout");
    resetCall(this.call);
  }

  #finish(reason: string): void {
    if (this.phase === "ended") return;
    const wasServing = this.phase === "serving";
    this.phase = "ended";
    const { env, conn } = this;
    conn.close();
    env.streams.delete(conn);
    env.peers.leave(conn.peer);
    if (wasServing && env.connections.remove(conn)) {
      env.registry.releaseNodeGroup?.(conn.nodeGroup);
      env.metrics?.connections(-1);
      env.emit("disconnect", { connection: conn.ref(), reason });
    }
  }

  #onData(chunk: Buffer): void {
    if (this.phase === "ended") return;
    if (this.phase === "authorizing") {
      // Bounded: a client does not get to queue without limit before it is authorized.
      if (this.#backlog.length >= MAX_BACKLOG)
        this.reject(status.RESOURCE_EXHAUSTED, "too many requests before the stream was authorized");
      else this.#backlog.push(chunk);
      return;
    }
    this.#onRequest(chunk);
  }

  #onRequest(chunk: Buffer): void {
    if (this.phase === "ended") return;
    const { env, conn, proto } = this;
    try {
      if (this.phase === "serving" && proto.fast?.(conn, chunk, this)) return;
    } catch (err) {
      this.#failed(err);
      return;
    }
    let req: MessageShape<Desc>;
    try {
      req = fromBinary(proto.requestSchema, chunk);
    } catch (err) {
      this.reject(
        status.INVALID_ARGUMENT,
        `malformed ${proto.requestSchema.name}: ${err instanceof Error ? err.message : String(err)}`,
      );
      return;
    }
    const handle = () => {
      try {
        const accepted = this.#accept(proto.head(req));
        if (accepted) proto.handle(conn, req, accepted, this, chunk);
      } catch (err) {
        this.#failed(err);
      }
    };
    if (this.phase === "serving") {
      handle();
      return;
    }
    const node = proto.head(req).node;
    if (!node) {
      this.reject(
        status.INVALID_ARGUMENT,
        "the first request of a stream must carry a node (envoy.config.core.v3.Node)",
      );
      return;
    }
    conn.claimedNodeId = node.id;
    if (env.authorize) this.#authorize(node, handle);
    else if (this.#register(node)) handle();
  }

  // A method, not a field read: the phase changes behind TypeScript's narrowing.
  #ended(): boolean {
    return this.phase === "ended";
  }

  #failed(err: unknown): void {
    this.env.log.error("request handling failed", { connection: this.conn.id, error: String(err) });
    this.reject(status.INTERNAL, `the control plane failed to handle the request: ${String(err)}`);
  }

  /** Registers the stream with the node it is served as; false when the stream ended instead. */
  #register(node: Node): boolean {
    const { env, conn } = this;
    conn.node = node;
    try {
      conn.nodeGroup = env.registry.nodeGroup(node);
    } catch (err) {
      this.reject(status.INVALID_ARGUMENT, `cannot place node "${node.id}" in a node group: ${String(err)}`);
      return false;
    }
    env.connections.add(conn);
    env.registry.retainNodeGroup?.(conn.nodeGroup);
    this.phase = "serving";
    env.metrics?.connections(1);
    env.emit("connect", { connection: conn.ref(), node, service: this.service });
    return true;
  }

  // The call's text metadata, for the authorization hook.
  #metadata(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.call.metadata?.getMap() ?? {})) if (typeof v === "string") out[k] = v;
    return out;
  }

  /**
   * Asks the authorization hook about the first request, then registers the
   * stream and handles that request and whatever arrived meanwhile.
   */
  #authorize(node: Node, resume: () => void): void {
    const { env, conn } = this;
    const hook = env.authorize as NonNullable<StreamEnv["authorize"]>;
    this.phase = "authorizing";
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(
        () => fail(new Error(`the authorization hook did not answer within ${env.authorizeTimeoutMs} ms`)),
        env.authorizeTimeoutMs,
      );
    });
    Promise.race([
      Promise.resolve().then(() =>
        hook({ node, identity: conn.identity, peer: conn.peer, service: this.service, metadata: this.#metadata() }),
      ),
      timeout,
    ])
      .then(
        (result) => {
          if (this.phase === "ended") return;
          if (!result?.allow) {
            env.metrics?.refused?.("permission_denied");
            const reason = result?.reason || "not authorized";
            env.emit("denied", { peer: conn.peer, nodeId: node.id, identity: conn.identity, reason });
            this.reject(status.PERMISSION_DENIED, reason);
            return;
          }
          if (result.identity) conn.identity = result.identity;
          if (!this.#register(result.node ?? node)) return;
          resume();
          for (const chunk of this.#backlog.splice(0)) {
            if (this.#ended()) break;
            this.#onRequest(chunk);
          }
        },
        (err: unknown) => {
          env.log.error("authorization failed", { connection: conn.id, error: String(err) });
          this.reject(status.UNAVAILABLE, `authorization failed: ${err instanceof Error ? err.message : String(err)}`);
        },
      )
      .finally(() => clearTimeout(timer));
  }

  /** Common checks of a decoded request; undefined when it needs nothing more (or the stream ended). */
  #accept(head: RequestHead): AcceptedRequest | undefined {
    const { env, conn, service, fixedTypeUrl } = this;
    if (this.phase === "serving" && head.node && head.node.id !== conn.claimedNodeId) {
      env.metrics?.refused?.("node_changed");
      this.reject(
        status.INVALID_ARGUMENT,
        `the node id changed from "${conn.claimedNodeId}" to "${head.node.id}" on one stream; a stream keeps the node it started with`,
      );
      return undefined;
    }
    let typeUrl = head.typeUrl;
    if (fixedTypeUrl !== undefined) {
      if (typeUrl === "") typeUrl = fixedTypeUrl;
      else if (typeUrl !== fixedTypeUrl) {
        this.reject(
          status.INVALID_ARGUMENT,
          `type_url "${typeUrl}" was sent on ${service}, which serves only "${fixedTypeUrl}"`,
        );
        return undefined;
      }
    } else if (typeUrl === "") {
      this.reject(status.INVALID_ARGUMENT, "a request on the aggregated stream must set type_url");
      return undefined;
    }
    if (head.nameCount > env.maxResourceNamesPerRequest) {
      this.reject(
        status.RESOURCE_EXHAUSTED,
        `a request for ${typeUrl} names ${head.nameCount} resources; the limit is ${env.maxResourceNamesPerRequest}`,
        "max_names_per_request",
      );
      return undefined;
    }
    const type = env.registry.resourceType?.(typeUrl) ?? findResourceType(typeUrl);
    if (!type) {
      // Envoy may subscribe to types this control plane does not serve; the
      // stream stays up and the request goes unanswered.
      env.log.warn("request for an unknown type URL ignored", { connection: conn.id, typeUrl });
      env.emit("unknownType", { connection: conn.ref(), typeUrl });
      return undefined;
    }
    return { typeUrl, type };
  }
}

/**
 * Runs one xDS stream. ADS has `fixedTypeUrl` undefined; a per-type service
 * refuses other types.
 */
export function serveStream<Desc extends DescMessage>(
  call: ServerDuplexStream<Buffer, Uint8Array>,
  env: StreamEnv,
  service: string,
  fixedTypeUrl: string | undefined,
  proto: StreamProtocol<Desc>,
): void {
  new StreamLife(call, env, service, fixedTypeUrl, proto).start();
}

/** The peer address, or "unknown" if grpc-js cannot tell. */
export function safePeer(call: { getPeer(): string }): string {
  try {
    return call.getPeer();
  } catch {
    return "unknown";
  }
}
