import { fromBinary } from "@bufbuild/protobuf";
import { type ServerDuplexStream, status } from "@grpc/grpc-js";
import { findResourceType } from "@xdskit/xds-types";
import {
  type DiscoveryRequest,
  DiscoveryRequestSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import { Connection } from "./connection.js";
import type { ConnectionRegistry } from "./connection-registry.js";
import type { ServerContext } from "./server-context.js";

/** What a stream handler needs beyond the shared context. */
export interface StreamEnv extends ServerContext {
  readonly connections: ConnectionRegistry;
  /** Every open stream, registered or not yet (shutdown closes them all). */
  readonly streams: Set<Connection>;
  /** True once shutdown began: new streams are refused. */
  readonly shuttingDown: () => boolean;
}

/**
 * Serves one State-of-the-World stream: ADS (`fixedTypeUrl` undefined) or a
 * per-type service (`fixedTypeUrl` set, and requests for any other type are
 * refused).
 */
export function serveSotwStream(
  call: ServerDuplexStream<Buffer, Uint8Array>,
  env: StreamEnv,
  service: string,
  fixedTypeUrl?: string,
): void {
  const conn = new Connection(call, safePeer(call), service, env);
  if (env.shuttingDown()) {
    call.emit("error", { code: status.UNAVAILABLE, details: "the control plane is shutting down" });
    return;
  }
  env.streams.add(conn);
  let registered = false;
  let ended = false;

  const finish = (reason: string) => {
    if (ended) return;
    ended = true;
    conn.close();
    env.streams.delete(conn);
    if (registered && env.connections.remove(conn)) {
      env.metrics?.connections(-1);
      env.emit("disconnect", { connection: conn.ref(), reason });
    }
  };

  const reject = (code: status, details: string) => {
    env.log.warn("stream rejected", { connection: conn.id, peer: conn.peer, code, details });
    env.emit("rejected", { peer: conn.peer, code, details });
    finish(details);
    call.emit("error", { code, details });
  };

  const handle = (req: DiscoveryRequest) => {
    if (!registered) {
      if (!req.node) {
        reject(status.INVALID_ARGUMENT, "the first request of a stream must carry a node (envoy.config.core.v3.Node)");
        return;
      }
      conn.node = req.node;
      try {
        conn.nodeGroup = env.registry.nodeGroup(req.node);
      } catch (err) {
        reject(status.INVALID_ARGUMENT, `cannot place node "${req.node.id}" in a node group: ${String(err)}`);
        return;
      }
      env.connections.add(conn);
      registered = true;
      env.metrics?.connections(1);
      env.emit("connect", { connection: conn.ref(), node: req.node, service });
    }
    let typeUrl = req.typeUrl;
    if (fixedTypeUrl !== undefined) {
      if (typeUrl === "") typeUrl = fixedTypeUrl;
      else if (typeUrl !== fixedTypeUrl) {
        reject(
          status.INVALID_ARGUMENT,
          `type_url "${typeUrl}" was sent on ${service}, which serves only "${fixedTypeUrl}"`,
        );
        return;
      }
    } else if (typeUrl === "") {
      reject(status.INVALID_ARGUMENT, "a request on the aggregated stream must set type_url");
      return;
    }
    if (req.resourceNames.length > env.maxResourceNamesPerRequest) {
      reject(
        status.RESOURCE_EXHAUSTED,
        `a request for ${typeUrl} names ${req.resourceNames.length} resources; the limit is ${env.maxResourceNamesPerRequest}`,
      );
      return;
    }
    const type = env.registry.resourceType?.(typeUrl) ?? findResourceType(typeUrl);
    if (!type) {
      // Envoy may subscribe to types this control plane does not serve; the
      // stream stays up and the request goes unanswered.
      env.log.warn("request for an unknown type URL ignored", { connection: conn.id, typeUrl });
      env.emit("unknownType", { connection: conn.ref(), typeUrl });
      return;
    }
    const state = conn.state(typeUrl, type.shortName, type.fullState);
    state.requests++;
    env.emit("request", {
      connection: conn.ref(),
      typeUrl,
      resourceNames: req.resourceNames,
      versionInfo: req.versionInfo,
      responseNonce: req.responseNonce,
    });
    const nonce = req.responseNonce;
    if (nonce !== "") {
      if (nonce !== state.sentNonce) {
        env.log.debug("stale nonce ignored", { connection: conn.id, typeUrl, nonce, latest: state.sentNonce });
        return;
      }
      const version = state.sentVersion ?? "";
      if (req.errorDetail) {
        state.lastNack = {
          version,
          nonce,
          errorCode: req.errorDetail.code,
          errorMessage: req.errorDetail.message,
          at: new Date(),
        };
        env.metrics?.nack(type.shortName);
        env.log.info("NACK", {
          connection: conn.id,
          node: conn.nodeId,
          typeUrl,
          version,
          error: req.errorDetail.message,
        });
        env.emit("nack", {
          connection: conn.ref(),
          typeUrl,
          version,
          nonce,
          errorCode: req.errorDetail.code,
          errorMessage: req.errorDetail.message,
        });
      } else {
        state.ackedVersion = version;
        state.ackedAt = new Date();
        env.emit("ack", { connection: conn.ref(), typeUrl, version, nonce });
      }
    }
    const changed = state.applyNames(req.resourceNames);
    if (nonce === "" || changed) {
      if (state.fullState || nonce === "") {
        // Full-state types answer a new subscription with every subscribed resource,
        // even at the same version.
        conn.arm(state, undefined);
      } else {
        // Other types: only what is newly requested (or changed) is sent.
        const known = new Map<string, string>();
        for (const [n, v] of state.sentVersions) if (state.wildcard || state.names.has(n)) known.set(n, v);
        conn.arm(state, known);
      }
    }
    // An ACK or NACK with an unchanged subscription needs nothing more: the
    // watch was re-armed with the sent versions when the response went out, so
    // a rejected version is never sent again and a newer one will be.
  };

  call.on("data", (chunk: Buffer) => {
    if (ended) return;
    let req: DiscoveryRequest;
    try {
      req = fromBinary(DiscoveryRequestSchema, chunk);
    } catch (err) {
      reject(
        status.INVALID_ARGUMENT,
        `malformed DiscoveryRequest: ${err instanceof Error ? err.message : String(err)}`,
      );
      return;
    }
    try {
      handle(req);
    } catch (err) {
      env.log.error("request handling failed", { connection: conn.id, error: String(err) });
      reject(status.INTERNAL, `the control plane failed to handle the request: ${String(err)}`);
    }
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
