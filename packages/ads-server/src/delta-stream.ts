import { type ServerDuplexStream, status } from "@grpc/grpc-js";
import { canonicalResourceName, isGlobCollection } from "@xdskit/xds-types";
import {
  type DeltaDiscoveryRequest,
  DeltaDiscoveryRequestSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import type { Connection } from "./connection.js";
import {
  type AcceptedRequest,
  type StreamEnv,
  type StreamProtocol,
  type StreamTools,
  announceRequest,
  recordAnswer,
  serveStream,
} from "./stream.js";
import { scanDeltaAck } from "./request-scan.js";
import { type TypeState, sameSet } from "./type-state.js";

// What a plain ACK subscribes to, as the host's request event tells it.
const NO_NAMES: readonly string[] = Object.freeze([]);

// Stands in the known versions for a name the client subscribed to and does
// not have: the registry then either sends the resource or, when it does not
// exist, lists the name in `removed_resources` (the Delta "does not exist").
const NOT_HELD = "";

/**
 * Serves one incremental (Delta) stream: ADS (`fixedTypeUrl` undefined) or a
 * per-type Delta service.
 */
export function serveDeltaStream(
  call: ServerDuplexStream<Buffer, Uint8Array>,
  env: StreamEnv,
  service: string,
  fixedTypeUrl?: string,
): void {
  serveStream(call, env, service, fixedTypeUrl, deltaProtocol(env));
}

function deltaProtocol(env: StreamEnv): StreamProtocol<typeof DeltaDiscoveryRequestSchema> {
  return {
    protocol: "delta",
    requestSchema: DeltaDiscoveryRequestSchema,
    head: (req) => ({
      node: req.node,
      typeUrl: req.typeUrl,
      nameCount:
        req.resourceNamesSubscribe.length +
        req.resourceNamesUnsubscribe.length +
        req.resourceLocatorsSubscribe.length +
        req.resourceLocatorsUnsubscribe.length +
        Object.keys(req.initialResourceVersions).length,
    }),
    handle: (conn, req, accepted, tools) => handleDelta(env, conn, req, accepted, tools),
    fast: (conn, raw) => {
      // Most requests are ACKs (a type URL and a nonce): handled without decoding.
      const ack = scanDeltaAck(raw);
      if (!ack || ack.typeUrl === "" || ack.responseNonce === "") return false;
      const state = conn.types.get(ack.typeUrl);
      // Only on a type this stream already subscribed to (accepted then).
      if (!state || state.requests === 0) return false;
      state.requests++;
      announceRequest(env, conn, ack.typeUrl, NO_NAMES, "", ack.responseNonce);
      answerNonce(env, conn, state, ack.responseNonce, undefined);
      return true;
    },
  };
}

/** Records what a request's nonce answers (an ACK, or a NACK with its error), if the nonce is one the stream sent. */
function answerNonce(
  env: StreamEnv,
  conn: Connection,
  state: TypeState,
  nonce: string,
  errorDetail: DeltaDiscoveryRequest["errorDetail"],
): void {
  if (nonce === "") return;
  const version = state.recentNonces.get(nonce);
  if (version === undefined) {
    // Too old or never sent: no ACK to record, but the subscription changes
    // below still apply (Delta requests carry them regardless of the nonce).
    env.metrics?.staleNonce?.(state.shortName);
    env.log.debug("unknown or stale nonce", { connection: conn.id, typeUrl: state.typeUrl, nonce });
    return;
  }
  state.recentNonces.delete(nonce);
  recordAnswer(env, conn, state, nonce, version, errorDetail);
}

function handleDelta(
  env: StreamEnv,
  conn: Connection,
  req: DeltaDiscoveryRequest,
  { typeUrl, type }: AcceptedRequest,
  tools: StreamTools,
) {
  const state = conn.state(typeUrl, type.shortName, type.fullState);
  const first = state.requests === 0;
  state.requests++;
  const subscribe = [...req.resourceNamesSubscribe, ...req.resourceLocatorsSubscribe.map((l) => l.name)];
  const unsubscribe = [...req.resourceNamesUnsubscribe, ...req.resourceLocatorsUnsubscribe.map((l) => l.name)];
  announceRequest(env, conn, typeUrl, subscribe, "", req.responseNonce);

  answerNonce(env, conn, state, req.responseNonce, req.errorDetail);

  // A plain ACK or NACK (most requests): nothing to subscribe or drop, so the
  // subscription is not copied and compared (O(names) for every ACK, as it was).
  if (!first && subscribe.length === 0 && unsubscribe.length === 0) return;

  let wildcard = state.wildcard;
  const names = new Set(state.names);
  // The legacy wildcard: a first request naming nothing, on a type that allows wildcard.
  if (first && subscribe.length === 0 && type.fullState) wildcard = true;
  for (const raw of subscribe) {
    if (raw === "*") wildcard = true;
    else names.add(canonicalResourceName(raw));
  }
  for (const raw of unsubscribe) {
    if (raw === "*") wildcard = false;
    else names.delete(canonicalResourceName(raw));
  }
  if (names.size > env.maxSubscribedNamesPerStream) {
    tools.reject(
      status.RESOURCE_EXHAUSTED,
      `the stream would be subscribed to ${names.size} ${type.shortName} names; the limit is ${env.maxSubscribedNamesPerStream} per type`,
      "max_subscribed_names",
    );
    return;
  }
  if (!first && wildcard === state.wildcard && sameSet(names, state.names)) {
    // Subscribed to what it had: like an ACK or NACK, the watch was re-armed
    // with what was sent, so a rejected version is not sent again and a newer one will be.
    return;
  }
  resubscribe(conn, state, wildcard, names, first ? req.initialResourceVersions : undefined);
}

/**
 * Applies a new subscription: forgets what the client dropped, asks the
 * registry for what is newly subscribed, and re-arms the watch.
 */
function resubscribe(
  conn: Connection,
  state: TypeState,
  wildcard: boolean,
  names: ReadonlySet<string>,
  initial: Readonly<Record<string, string>> | undefined,
): void {
  const previous = state.names;
  const held = new Map<string, string>();
  const source: Iterable<[string, string]> = initial
    ? Object.entries(initial).map(([n, v]) => [canonicalResourceName(n), v])
    : state.sentVersions;
  for (const [n, v] of source) {
    if (wildcard || names.has(n)) held.set(n, v);
    else state.ttl.delete(n);
  }
  const known = new Map(held);
  for (const n of names) {
    // A glob collection is a set, not a resource: it is never reported missing.
    if (!previous.has(n) && !known.has(n) && !isGlobCollection(n)) known.set(n, NOT_HELD);
  }
  state.wildcard = wildcard;
  state.names = names;
  state.sentVersions = held;
  const pending = state.pending;
  if (pending) {
    // What was queued for names the client just dropped is no longer wanted.
    const kept = pending.resources.filter((r) => wildcard || names.has(r.name));
    if (kept.length !== pending.resources.length) pending.resources = kept;
  }
  conn.arm(state, known);
}
