import type { SnapshotRegistry } from "@xdskit/snapshot";
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
  emit<E extends keyof AdsServerEvents>(event: E, ...args: Parameters<AdsServerEvents[E]>): void;
}
