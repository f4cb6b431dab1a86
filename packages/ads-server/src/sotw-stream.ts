import { type ServerDuplexStream, status } from "@grpc/grpc-js";
import {
  type DiscoveryRequest,
  DiscoveryRequestSchema,
} from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import type { Connection } from "./connection.js";
import { createHash } from "node:crypto";
import { findResourceType } from "@xdskit/xds-types";
import { namesKeyOf, scanDiscoveryRequest } from "./request-scan.js";
import {
  type AcceptedRequest,
  type ErrorDetail,
  type StreamEnv,
  type StreamProtocol,
  type StreamTools,
  announceRequest,
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
    handle: (conn, req, accepted, tools, raw) => {
      const scanned = scanDiscoveryRequest(raw);
      const namesKey = scanned ? namesKeyOf(scanned) : listKey(req.resourceNames);
      const namesRaw = scanned && scanned.nameCount > 0 ? scanned.namesBytes : undefined;
      handleSotw(
        env,
        conn,
        { ...fieldsOf(req), resourceNames: req.resourceNames, namesKey, namesRaw },
        accepted,
        tools,
      );
    },
    fast: (conn, raw, tools) => {
      // A request without node or error repeating the stream's subscription
      // byte for byte (an ACK): handled without decoding its names.
      // Most requests are ACKs repeating one of the stream's subscriptions.
      const s = scanDiscoveryRequest(raw, conn.knownNames());
      if (!s || s.needsDecode || s.typeUrl === "") return false;
      const state = conn.types.get(s.typeUrl);
      if (!state || state.namesKey === undefined) return false;
      const same =
        s.nameCount === 0
          ? state.namesKey === ""
          : state.namesRaw !== undefined && sameBytes(state.namesRaw, s.namesBytes);
      if (!same) return false;
      const type = env.registry.resourceType?.(s.typeUrl) ?? findResourceType(s.typeUrl);
      if (!type) return false;
      handleSotw(
        env,
        conn,
        {
          typeUrl: s.typeUrl,
          versionInfo: s.versionInfo,
          responseNonce: s.responseNonce,
          resourceNames: state.namesList,
          errorDetail: undefined,
          namesKey: state.namesKey,
          namesRaw: undefined,
        },
        { typeUrl: s.typeUrl, type },
        tools,
      );
      return true;
    },
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/** A SotW request as the state machine reads it. */
interface SotwRequest {
  readonly typeUrl: string;
  readonly versionInfo: string;
  readonly responseNonce: string;
  readonly resourceNames: readonly string[];
  readonly errorDetail: ErrorDetail | undefined;
  /** Identifies the names (see request-scan). */
  readonly namesKey: string;
  /** The names' wire bytes, when read from the wire. */
  readonly namesRaw: Uint8Array | undefined;
}

function fieldsOf(req: DiscoveryRequest): Omit<SotwRequest, "resourceNames" | "namesKey" | "namesRaw"> {
  return {
    typeUrl: req.typeUrl,
    versionInfo: req.versionInfo,
    responseNonce: req.responseNonce,
    errorDetail: req.errorDetail,
  };
}

// The key of names the scanner could not read as one run of bytes.
function listKey(names: readonly string[]): string {
  return names.length === 0 ? "" : `list:${names.length}:${createHash("sha1").update(names.join("\n")).digest("hex")}`;
}

function handleSotw(
  env: StreamEnv,
  conn: Connection,
  req: SotwRequest,
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
  announceRequest(env, conn, typeUrl, req.resourceNames, req.versionInfo, req.responseNonce);
  const nonce = req.responseNonce;
  if (nonce !== "") {
    if (nonce !== state.sentNonce) {
      env.metrics?.staleNonce?.(state.shortName);
      env.log.debug("stale nonce ignored", { connection: conn.id, typeUrl, nonce, latest: state.sentNonce });
      return;
    }
    recordAnswer(env, conn, state, nonce, state.sentVersion ?? "", req.errorDetail);
  }
  const changed = state.applySotwNames(req.resourceNames, req.namesKey, req.namesRaw, env.namePool);
  // A client (re)connecting says which version it holds: if that is still
  // the current one and it holds all of it, nothing is sent until the next
  // change (see Connection: the check needs the response it would get).
  if (nonce === "" && state.sentVersion === undefined && req.versionInfo !== "") {
    state.resumeVersion = req.versionInfo;
  }
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
