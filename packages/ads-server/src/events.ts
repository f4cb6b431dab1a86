import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { PeerIdentity } from "./identity.js";

/** What identifies a connection in events. */
export interface ConnectionRef {
  readonly id: string;
  readonly nodeId: string;
  readonly nodeGroup: string;
  readonly peer: string;
  /** The client certificate's identity, on mTLS. */
  readonly identity: PeerIdentity | undefined;
}

/** Typed events of the ADS server (eventemitter3). */
export interface AdsServerEvents {
  /** A stream sent its first valid request and was registered. */
  connect: (event: { connection: ConnectionRef; node: Node; service: string }) => void;
  /** A registered stream ended (client went away, error, or shutdown). */
  disconnect: (event: { connection: ConnectionRef; reason: string }) => void;
  /** Any request that passed validation (before ACK/NACK classification). */
  request: (event: {
    connection: ConnectionRef;
    typeUrl: string;
    resourceNames: readonly string[];
    versionInfo: string;
    responseNonce: string;
  }) => void;
  /** The client accepted a response; `convergenceMs` is the time since the change behind it was seen, when known. */
  ack: (event: {
    connection: ConnectionRef;
    typeUrl: string;
    version: string;
    nonce: string;
    convergenceMs?: number;
  }) => void;
  /** The client rejected a response; it keeps its last good config. */
  nack: (event: {
    connection: ConnectionRef;
    typeUrl: string;
    version: string;
    nonce: string;
    errorCode: number;
    errorMessage: string;
  }) => void;
  /**
   * A SotW stream's first request for a type said it holds the current
   * version, all of it (a client reconnecting): nothing was sent, and the
   * version counts as ACKed.
   */
  resumed: (event: { connection: ConnectionRef; typeUrl: string; version: string }) => void;
  /** A response was written to a stream. */
  push: (event: {
    connection: ConnectionRef;
    typeUrl: string;
    version: string;
    nonce: string;
    resources: number;
    /** Delta: names sent in `removed_resources` (always 0 on SotW). */
    removed: number;
    bytes: number;
  }) => void;
  /** A stream asked for a type URL nobody serves; the request was ignored. */
  unknownType: (event: { connection: ConnectionRef; typeUrl: string }) => void;
  /**
   * A client did not read a response for the send deadline: its stream was
   * closed (DEADLINE_EXCEEDED, then reset) and what it held was freed.
   */
  sendTimeout: (event: { connection: ConnectionRef; waitedMs: number; bytes: number }) => void;
  /** A stream was closed by the server because of a bad request. */
  rejected: (event: { peer: string; code: number; details: string }) => void;
  /** The authorization hook refused a stream: it ended with PERMISSION_DENIED before any config was sent. */
  denied: (event: { peer: string; nodeId: string; identity: PeerIdentity | undefined; reason: string }) => void;
  /** A resource of a sensitive type was withheld from a client the per-resource hook refused it to. */
  resourceDenied: (event: { connection: ConnectionRef; typeUrl: string; name: string }) => void;
}
