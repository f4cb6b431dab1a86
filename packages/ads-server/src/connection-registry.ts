import { status } from "@grpc/grpc-js";
import type { Connection } from "./connection.js";
import type { PeerIdentity } from "./identity.js";

/** Per-type state of a connection as debug pages and CSDS show it. */
export interface TypeStatus {
  readonly typeUrl: string;
  readonly shortName: string;
  readonly wildcard: boolean;
  readonly resourceNames: readonly string[];
  readonly sentVersion: string | undefined;
  readonly sentNonce: string | undefined;
  readonly ackedVersion: string | undefined;
  /** SotW: the client reconnected holding the current version, so nothing was resent. */
  readonly resumed: boolean;
  readonly lastNack:
    | { readonly version: string; readonly nonce: string; readonly errorMessage: string; readonly at: string }
    | undefined;
  /** Names and versions the client has been sent. */
  readonly resources: Readonly<Record<string, string>>;
}

/** A connection as listed by the registry. */
export interface ConnectionInfo {
  readonly id: string;
  readonly peer: string;
  readonly nodeId: string;
  readonly nodeCluster: string;
  readonly nodeGroup: string;
  readonly service: string;
  /** The client certificate's identity, on mTLS. */
  readonly identity: PeerIdentity | undefined;
  readonly connectedAt: string;
  /** Responses waiting for HTTP/2 flow control (at most one per type). */
  readonly pendingResponses: number;
  /** Bytes written to the stream that HTTP/2 flow control has not yet taken. */
  readonly inFlightBytes: number;
  /**
   * How long (ms) the oldest unsent response has waited for the client to
   * read it, once the stream counts as stalled (no longer held against the
   * server-wide budget; closed at the send timeout). Absent while it reads.
   */
  readonly stalledMs?: number;
  readonly types: readonly TypeStatus[];
}

function stalled(c: Connection): { stalledMs?: number } {
  const ms = c.stalledMs();
  return ms === undefined ? {} : { stalledMs: ms };
}

/** Describes a connection for debug pages. */
export function describeConnection(c: Connection): ConnectionInfo {
  return {
    id: c.id,
    peer: c.peer,
    nodeId: c.nodeId,
    nodeCluster: c.node?.cluster ?? "",
    nodeGroup: c.nodeGroup,
    service: c.service,
    identity: c.identity,
    connectedAt: c.connectedAt.toISOString(),
    pendingResponses: c.pendingCount(),
    inFlightBytes: c.inFlightBytes(),
    ...stalled(c),
    types: [...c.types.values()].map((s) => ({
      typeUrl: s.typeUrl,
      shortName: s.shortName,
      wildcard: s.wildcard,
      resourceNames: [...s.names],
      sentVersion: s.sentVersion,
      sentNonce: s.sentNonce,
      ackedVersion: s.ackedVersion,
      resumed: s.resumed,
      lastNack: s.lastNack
        ? {
            version: s.lastNack.version,
            nonce: s.lastNack.nonce,
            errorMessage: s.lastNack.errorMessage,
            at: s.lastNack.at.toISOString(),
          }
        : undefined,
      resources: Object.fromEntries(s.sentVersions),
    })),
  };
}

/**
 * Every registered stream (as pilot's addCon/removeCon keep them): list, look
 * up by id or node id, count, disconnect.
 */
export class ConnectionRegistry {
  readonly #byId = new Map<string, Connection>();
  readonly #byNode = new Map<string, Set<Connection>>();

  /** Registers a stream once its node is known. */
  add(c: Connection): void {
    this.#byId.set(c.id, c);
    let set = this.#byNode.get(c.nodeId);
    if (!set) {
      set = new Set();
      this.#byNode.set(c.nodeId, set);
    }
    set.add(c);
  }

  /** Removes a stream; returns whether it was registered. */
  remove(c: Connection): boolean {
    if (!this.#byId.delete(c.id)) return false;
    const set = this.#byNode.get(c.nodeId);
    set?.delete(c);
    if (set && set.size === 0) this.#byNode.delete(c.nodeId);
    return true;
  }

  /** Number of registered streams. */
  count(): number {
    return this.#byId.size;
  }

  /** Every registered stream, described. */
  list(): ConnectionInfo[] {
    return [...this.#byId.values()].map(describeConnection);
  }

  /** One stream by connection id. */
  get(id: string): ConnectionInfo | undefined {
    const c = this.#byId.get(id);
    return c ? describeConnection(c) : undefined;
  }

  /** Every stream of a node id (a node may hold several, e.g. ADS plus a per-type stream). */
  byNodeId(nodeId: string): ConnectionInfo[] {
    return [...(this.#byNode.get(nodeId) ?? [])].map(describeConnection);
  }

  /** The live connection objects (internal: CSDS and shutdown use them). */
  connections(): IterableIterator<Connection> {
    return this.#byId.values();
  }

  /**
   * Closes a stream with UNAVAILABLE (clients reconnect on it). Returns false
   * when no such connection exists.
   */
  disconnect(id: string, reason = "disconnected by the control plane"): boolean {
    const c = this.#byId.get(id);
    if (!c) return false;
    c.call.emit("error", { code: status.UNAVAILABLE, details: reason });
    return true;
  }
}
