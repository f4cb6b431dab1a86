import { type DescMessage, type MessageShape, fromBinary } from "@bufbuild/protobuf";
import { type ServerDuplexStream, status } from "@grpc/grpc-js";
import { type ResourceType, findResourceType } from "@xdskit/xds-types";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { identityOf } from "./identity.js";
import { Connection, type Protocol } from "./connection.js";
import type { ConnectionRegistry } from "./connection-registry.js";
import type { RefusalReason } from "./peer-limits.js";
import type { ServerContext } from "./server-context.js";
import type { TypeState } from "./type-state.js";

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
 * Runs one xDS stream: decodes requests, registers the connection on its
 * first request (which must carry a node), checks the type URL against the
 * service and the name limit, and ends the stream cleanly on every path.
 * ADS has `fixedTypeUrl` undefined; a per-type service refuses other types.
 */
export function serveStream<Desc extends DescMessage>(
  call: ServerDuplexStream<Buffer, Uint8Array>,
  env: StreamEnv,
  service: string,
  fixedTypeUrl: string | undefined,
  proto: StreamProtocol<Desc>,
): void {
  const conn = new Connection(call, safePeer(call), service, env, proto.protocol);
  if (env.shuttingDown()) {
    call.emit("error", { code: status.UNAVAILABLE, details: "the control plane is shutting down" });
    return;
  }
  const refusal = env.peers.admit(conn.peer);
  if (refusal) {
    env.log.warn("stream refused", { peer: conn.peer, reason: refusal.reason });
    env.metrics?.refused?.(refusal.reason);
    env.emit("rejected", { peer: conn.peer, code: status.RESOURCE_EXHAUSTED, details: refusal.details });
    call.emit("error", { code: status.RESOURCE_EXHAUSTED, details: refusal.details });
    return;
  }
  env.streams.add(conn);
  conn.identity = identityOf(call);
  let registered = false;
  let ended = false;
  // While the authorization hook decides, later requests wait here, in order.
  let authorizing = false;
  const backlog: Buffer[] = [];

  const finish = (reason: string) => {
    if (ended) return;
    ended = true;
    conn.close();
    env.streams.delete(conn);
    env.peers.leave(conn.peer);
    if (registered && env.connections.remove(conn)) {
      env.registry.releaseNodeGroup?.(conn.nodeGroup);
      env.metrics?.connections(-1);
      env.emit("disconnect", { connection: conn.ref(), reason });
    }
  };

  const reject = (code: status, details: string, limit?: RefusalReason) => {
    if (ended) return;
    env.log.warn("stream rejected", { connection: conn.id, peer: conn.peer, code, details });
    if (limit) env.metrics?.refused?.(limit);
    env.emit("rejected", { peer: conn.peer, code, details });
    finish(details);
    call.emit("error", { code, details });
  };
  const tools: StreamTools = { reject };

  /** Registers the stream with the node it is served as; false when the stream ended instead. */
  const register = (node: Node): boolean => {
    conn.node = node;
    try {
      conn.nodeGroup = env.registry.nodeGroup(node);
    } catch (err) {
      reject(status.INVALID_ARGUMENT, `cannot place node "${node.id}" in a node group: ${String(err)}`);
      return false;
    }
    env.connections.add(conn);
    env.registry.retainNodeGroup?.(conn.nodeGroup);
    registered = true;
    env.metrics?.connections(1);
    env.emit("connect", { connection: conn.ref(), node, service });
    return true;
  };

  const deny = (node: Node, reason: string) => {
    env.metrics?.refused?.("permission_denied");
    env.emit("denied", { peer: conn.peer, nodeId: node.id, identity: conn.identity, reason });
    reject(status.PERMISSION_DENIED, reason);
  };

  /**
   * Asks the authorization hook about the first request, then registers the
   * stream and handles that request and whatever arrived meanwhile.
   */
  const authorize = (node: Node, resume: () => void) => {
    const hook = env.authorize as NonNullable<StreamEnv["authorize"]>;
    authorizing = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(
        () => fail(new Error(`the authorization hook did not answer within ${env.authorizeTimeoutMs} ms`)),
        env.authorizeTimeoutMs,
      );
    });
    Promise.race([
      Promise.resolve().then(() => hook({ node, identity: conn.identity, peer: conn.peer, service })),
      timeout,
    ])
      .then(
        (result) => {
          if (ended) return;
          if (!result?.allow) {
            deny(node, result?.reason || "not authorized");
            return;
          }
          if (!register(result.node ?? node)) return;
          authorizing = false;
          resume();
          for (const chunk of backlog.splice(0)) {
            if (ended) break;
            onRequest(chunk);
          }
        },
        (err: unknown) => {
          env.log.error("authorization failed", { connection: conn.id, error: String(err) });
          reject(status.UNAVAILABLE, `authorization failed: ${err instanceof Error ? err.message : String(err)}`);
        },
      )
      .finally(() => clearTimeout(timer));
  };

  /** Common checks of a decoded request; undefined when it needs nothing more (or the stream ended). */
  const accept = (head: RequestHead): AcceptedRequest | undefined => {
    if (registered && head.node && head.node.id !== conn.claimedNodeId) {
      env.metrics?.refused?.("node_changed");
      reject(
        status.INVALID_ARGUMENT,
        `the node id changed from "${conn.claimedNodeId}" to "${head.node.id}" on one stream; a stream keeps the node it started with`,
      );
      return undefined;
    }
    let typeUrl = head.typeUrl;
    if (fixedTypeUrl !== undefined) {
      if (typeUrl === "") typeUrl = fixedTypeUrl;
      else if (typeUrl !== fixedTypeUrl) {
        reject(
          status.INVALID_ARGUMENT,
          `type_url "${typeUrl}" was sent on ${service}, which serves only "${fixedTypeUrl}"`,
        );
        return undefined;
      }
    } else if (typeUrl === "") {
      reject(status.INVALID_ARGUMENT, "a request on the aggregated stream must set type_url");
      return undefined;
    }
    if (head.nameCount > env.maxResourceNamesPerRequest) {
      reject(
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
  };

  const onRequest = (chunk: Buffer) => {
    if (ended) return;
    try {
      if (registered && proto.fast?.(conn, chunk, tools)) return;
    } catch (err) {
      env.log.error("request handling failed", { connection: conn.id, error: String(err) });
      reject(status.INTERNAL, `the control plane failed to handle the request: ${String(err)}`);
      return;
    }
    let req: MessageShape<Desc>;
    try {
      req = fromBinary(proto.requestSchema, chunk);
    } catch (err) {
      reject(
        status.INVALID_ARGUMENT,
        `malformed ${proto.requestSchema.name}: ${err instanceof Error ? err.message : String(err)}`,
      );
      return;
    }
    const handle = () => {
      try {
        const accepted = accept(proto.head(req));
        if (accepted) proto.handle(conn, req, accepted, tools, chunk);
      } catch (err) {
        env.log.error("request handling failed", { connection: conn.id, error: String(err) });
        reject(status.INTERNAL, `the control plane failed to handle the request: ${String(err)}`);
      }
    };
    if (registered) {
      handle();
      return;
    }
    const node = proto.head(req).node;
    if (!node) {
      reject(status.INVALID_ARGUMENT, "the first request of a stream must carry a node (envoy.config.core.v3.Node)");
      return;
    }
    conn.claimedNodeId = node.id;
    if (env.authorize) authorize(node, handle);
    else if (register(node)) handle();
  };

  call.on("data", (chunk: Buffer) => {
    if (ended) return;
    if (authorizing) {
      // Bounded: a client does not get to queue without limit before it is authorized.
      if (backlog.length >= 64) reject(status.RESOURCE_EXHAUSTED, "too many requests before the stream was authorized");
      else backlog.push(chunk);
      return;
    }
    onRequest(chunk);
  });
  call.on("end", () => {
    finish("the client closed the stream");
    call.end();
  });
  call.on("error", (err: Error) => finish(`stream error: ${err.message}`));
  call.on("cancelled", () => finish("cancelled by the client"));
  call.on("close", () => finish("stream closed"));
}

/** The peer address, or "unknown" if grpc-js cannot tell. */
export function safePeer(call: { getPeer(): string }): string {
  try {
    return call.getPeer();
  } catch {
    return "unknown";
  }
}

/** The error a client sent back with a NACK. */
export interface ErrorDetail {
  readonly code: number;
  readonly message: string;
}

/**
 * Records a client's answer to the response that carried `nonce` (at
 * `version`): a NACK when `errorDetail` is present (the presence, not the
 * version, is what marks a rejection), an ACK otherwise.
 */
export function recordAnswer(
  env: ServerContext,
  conn: Connection,
  state: TypeState,
  nonce: string,
  version: string,
  errorDetail: ErrorDetail | undefined,
): void {
  if (errorDetail) {
    state.lastNack = {
      version,
      nonce,
      errorCode: errorDetail.code,
      errorMessage: errorDetail.message,
      at: new Date(),
    };
    env.metrics?.nack(state.shortName);
    env.log.info("NACK", {
      connection: conn.id,
      node: conn.nodeId,
      typeUrl: state.typeUrl,
      version,
      error: errorDetail.message,
    });
    env.emit("nack", {
      connection: conn.ref(),
      typeUrl: state.typeUrl,
      version,
      nonce,
      errorCode: errorDetail.code,
      errorMessage: errorDetail.message,
    });
  } else {
    state.ackedVersion = version;
    state.ackedAt = new Date();
    let convergenceMs: number | undefined;
    // The ACK of the latest response closes the loop from the change behind it.
    if (nonce === state.sentNonce && state.sentChangedAt !== undefined) {
      convergenceMs = Math.max(0, Date.now() - state.sentChangedAt);
      state.sentChangedAt = undefined;
      env.metrics?.convergence?.(state.shortName, convergenceMs / 1000);
    }
    env.emit("ack", {
      connection: conn.ref(),
      typeUrl: state.typeUrl,
      version,
      nonce,
      ...(convergenceMs !== undefined ? { convergenceMs } : {}),
    });
  }
}
