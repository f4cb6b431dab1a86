import type { SnapshotRegistry, WatchResponse } from "@xdskit/snapshot";
import type { Logger } from "@xdskit/xds-types";
import type { AdsServerEvents } from "./events.js";
import type { AdsMetrics } from "./metrics.js";
import type { Authorizer, ResourceAuthorizer } from "./authorization.js";
import type { NamePool } from "./name-pool.js";
import type { PeerLimits } from "./peer-limits.js";
import type { SendBudget } from "./send-budget.js";

/** A response's bytes, ready to write, and the nonce they carry. */
export interface Assembled {
  readonly nonce: string;
  /** The number the nonce was made from: a stream never gets one at or below the last it was sent. */
  readonly seq: number;
  readonly bytes: Uint8Array;
}

/** What every stream handler shares with the server. */
export interface ServerContext {
  readonly registry: SnapshotRegistry;
  readonly log: Logger;
  readonly controlPlaneId: string | undefined;
  readonly maxResourceNamesPerRequest: number;
  /** See `AdsServerOptions.maxSubscribedNamesPerStream`. */
  readonly maxSubscribedNamesPerStream: number;
  /** Streams per client connection and connections. */
  readonly peers: PeerLimits;
  /** See `AdsServerOptions.maxInFlightBytesPerStream`. */
  readonly maxInFlightBytesPerStream: number;
  /** The server-wide budget (`AdsServerOptions.maxInFlightBytes`). */
  readonly sendBudget: SendBudget;
  /** See `AdsServerOptions.sendTimeoutMs` (0: never). */
  readonly sendTimeoutMs: number;
  /** SotW name sets shared by the streams that subscribed to the same names. */
  readonly namePool: NamePool;
  /** See `AdsServerOptions.authorize`. */
  readonly authorize: Authorizer | undefined;
  readonly authorizeTimeoutMs: number;
  /** See `AdsServerOptions.authorizeResource`, and the types it applies to. */
  readonly authorizeResource: ResourceAuthorizer | undefined;
  readonly sensitiveTypes: ReadonlySet<string>;
  readonly metrics: AdsMetrics | undefined;
  /**
   * Assembled bytes per shared registry response. Every stream that gets the
   * same response object gets the same bytes and nonce (nonces only need to be
   * unique per stream and type), so a fan-out assembles once, not per stream.
   */
  readonly assembled: WeakMap<WatchResponse, Assembled>;
  /** The same for Delta responses (a registry response may reach both kinds of stream). */
  readonly assembledDelta: WeakMap<WatchResponse, Assembled>;
  /** Issues the next nonce number; nonces are its base-36 text, so they grow with time. */
  nextNonce(): number;
  emit<E extends keyof AdsServerEvents>(event: E, ...args: Parameters<AdsServerEvents[E]>): void;
  /** True when the host listens to `event`: the per-request and per-write events are only built then. */
  listens(event: keyof AdsServerEvents): boolean;
}
