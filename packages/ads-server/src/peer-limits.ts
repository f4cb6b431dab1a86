/** Why a stream was refused before it was served; also the `reason` label of the refusal metric. */
export type RefusalReason =
  | "max_connections"
  | "max_streams_per_connection"
  | "max_names_per_request"
  | "max_subscribed_names"
  | "shutting_down"
  | "permission_denied"
  | "node_changed"
  | "resource_denied"
  | "send_timeout";

/**
 * Counts open streams per client connection, so one client cannot open
 * streams without bound and the server holds a bounded number of
 * connections. A connection is known by its peer address (`ip:port`, unique
 * per TCP connection); peers grpc-js cannot name (Unix sockets) are not
 * limited here — the HTTP/2 stream limit still applies to them.
 */
export class PeerLimits {
  readonly #streams = new Map<string, number>();

  constructor(
    readonly maxConnections: number,
    readonly maxStreamsPerConnection: number,
  ) {}

  /** Admits a new stream from `peer`, or says why not. */
  admit(peer: string): { reason: RefusalReason; details: string } | undefined {
    if (peer === "unknown") return undefined;
    const n = this.#streams.get(peer) ?? 0;
    if (n === 0 && this.#streams.size >= this.maxConnections) {
      return {
        reason: "max_connections",
        details: `the control plane serves at most ${this.maxConnections} client connections; try another replica or later`,
      };
    }
    if (n >= this.maxStreamsPerConnection) {
      return {
        reason: "max_streams_per_connection",
        details: `a connection may hold at most ${this.maxStreamsPerConnection} xDS streams; ${peer} has ${n}`,
      };
    }
    this.#streams.set(peer, n + 1);
    return undefined;
  }

  /** A stream admitted for `peer` ended. */
  leave(peer: string): void {
    const n = (this.#streams.get(peer) ?? 0) - 1;
    if (n > 0) this.#streams.set(peer, n);
    else this.#streams.delete(peer);
  }

  /** Client connections with at least one open stream. */
  connectionCount(): number {
    return this.#streams.size;
  }
}
