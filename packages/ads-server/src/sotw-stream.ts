import { type ServerDuplexStream, status } from "@grpc/grpc-js";
import {
  type DiscoveryRequest,
  DiscoveryRequestSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import type { Connection } from "./connection.js";
import {
  type AcceptedRequest,
  type StreamEnv,
  type StreamProtocol,
  type StreamTools,
  recordAnswer,
  serveStream,
} from "./stream.js";

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
  serveStream(call, env, service, fixedTypeUrl, sotwProtocol(env));
}

function sotwProtocol(env: StreamEnv): StreamProtocol<typeof DiscoveryRequestSchema> {
  return {
    protocol: "sotw",
    requestSchema: DiscoveryRequestSchema,
    head: (req) => ({ node: req.node, typeUrl: req.typeUrl, nameCount: req.resourceNames.length }),
    handle: (conn, req, accepted, tools) => handleSotw(env, conn, req, accepted, tools),
  };
}

function handleSotw(
  env: StreamEnv,
  conn: Connection,
  req: DiscoveryRequest,
  { typeUrl, type }: AcceptedRequest,
  tools: StreamTools,
): void {
  if (req.resourceNames.length > env.maxSubscribedNamesPerStream) {
    tools.reject(
      status.RESOURCE_EXHAUSTED,
      `the stream would be subscribed to ${req.resourceNames.length} ${type.shortName} names; the limit is ${env.maxSubscribedNamesPerStream} per type`,
      "max_subscribed_names",
    );
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
    recordAnswer(env, conn, state, nonce, state.sentVersion ?? "", req.errorDetail);
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
}
