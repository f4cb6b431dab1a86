import type { SnapshotRegistry, WatchResponse } from "@xdskit/snapshot";
import type { Logger } from "@xdskit/xds-types";
import type { AdsServerEvents } from "./events.js";
import type { AdsMetrics } from "./metrics.js";

/** What every stream handler shares with the server. */
export interface ServerContext {
  readonly registry: SnapshotRegistry;
  readonly log: Logger;
  readonly controlPlaneId: string | undefined;
  readonly maxResourceNamesPerRequest: number;
  readonly metrics: AdsMetrics | undefined;
  /**
   * Assembled bytes per shared registry response. Every stream that gets the
   * same response object gets the same bytes and nonce (nonces only need to be
   * unique per stream and type), so a fan-out assembles once, not per stream.
   */
  readonly assembled: WeakMap<WatchResponse, { readonly nonce: string; readonly bytes: Uint8Array }>;
  /** The same for Delta responses (a registry response may reach both kinds of stream). */
  readonly assembledDelta: WeakMap<WatchResponse, { readonly nonce: string; readonly bytes: Uint8Array }>;
  /** Issues a nonce unique within this server. */
  nextNonce(): string;
  emit<E extends keyof AdsServerEvents>(event: E, ...args: Parameters<AdsServerEvents[E]>): void;
}
