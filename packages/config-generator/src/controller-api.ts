// The discovery controller's public shape: its options, events, push records
// and methods. The controller itself is in controller.ts.
import type { Logger } from "@xdskit/xds-types";
import type { MemorySnapshotRegistry, SnapshotRegistryOptions } from "@xdskit/snapshot";
import type { EventEmitter } from "eventemitter3";
import type { ConfigGenerator } from "./generator.js";
import type { GroupBy } from "./group-view.js";
import type { ChangeKind, MeshConfig } from "./model.js";
import type { Proxy } from "./proxy.js";
import type { PushContext } from "./push-context.js";
import type { ConfigStore, ServiceRegistry, SourceEmitter } from "./sources.js";

/** What one push did, for events and the push-status page. */
export interface PushRecord {
  /** When it finished (ISO 8601). */
  readonly at: string;
  /** Why: the source changes merged into it. */
  readonly reasons: readonly string[];
  readonly kinds: readonly ChangeKind[];
  /** Types rebuilt (short names), or ["all"]. */
  readonly types: readonly string[];
  /** Node groups known when it ran. */
  readonly nodeGroups: number;
  /** Types changed across the parts built. */
  readonly resourcesChanged: number;
  /** Time to build and write, in ms. */
  readonly durationMs: number;
  /** Time from the first change merged into it to its start (debounce), in ms. */
  readonly queuedMs: number;
  /** Parts whose build failed (they keep their last good config). */
  readonly failed: number;
  /** Live streams of the node groups whose config changed. */
  readonly streamsReached: number;
}

/** Events of the discovery controller. */
export interface ControllerEvents {
  /** A push finished. */
  push: (event: PushRecord) => void;
  /**
   * A part's config (`scope/<kind>/<scope>` shared, or `workload/…`) or a
   * group's composition could not be built or was refused by the registry;
   * everything keeps its last good config and the part is rebuilt in full next time.
   */
  pushFailed: (event: { nodeGroup: string; error: Error }) => void;
  /** A node group was seen for the first time (or again after it was removed). */
  nodeGroupAdded: (event: { nodeGroup: string; proxy: Proxy }) => void;
  /** A node group was dropped with its snapshot: no stream used it for the idle period, or the host forgot it. */
  nodeGroupRemoved: (event: { nodeGroup: string; reason: string }) => void;
  /** A source refused new input (its last good state stays served). */
  sourceRejected: (event: { reason: string; error: Error }) => void;
}

/** Options of {@link createDiscoveryController}. */
export interface DiscoveryControllerOptions {
  services: ServiceRegistry;
  config?: ConfigStore;
  /** The generator; default `new DefaultConfigGenerator()`. */
  generator?: ConfigGenerator;
  /**
   * What the default node group key covers besides kind, cluster and a
   * sidecar's IP: node metadata keys, locality, or the node id. Per-workload
   * builders see exactly that of a proxy — reading anything else throws,
   * because every member of a group gets what was built for the first.
   */
  groupBy?: GroupBy;
  /**
   * Maps a proxy to its node group instead of `groupBy`. Builders then see
   * the first member's whole proxy: the function must cover what they read.
   */
  nodeGroup?: (proxy: Proxy) => string;
  /**
   * The scope of a proxy: proxies of one kind and scope share one build of
   * their outbound config. Default: the whole mesh (`"mesh"`); return, say,
   * the node's namespace to scope by namespace.
   */
  scope?: (proxy: Proxy) => string;
  /** The host's configuration of the whole mesh, handed to every builder as `push.meshConfig`. */
  meshConfig?: MeshConfig;
  /**
   * The mesh issues workload certificates in this trust domain (see
   * `@xdskit/mesh-ca`): sidecars then speak mutual TLS to each other, as
   * PeerAuthentications and DestinationRules say. Default: plaintext.
   */
  mtls?: { readonly trustDomain: string };
  /** More sources whose changes trigger pushes (e.g. a secrets folder feeding a registered builder). */
  sources?: readonly SourceEmitter[];
  /** Debounce quiet period in ms. Default 100. */
  debounceMs?: number;
  /** Longest a change may wait for its push, in ms. Default 10,000. */
  maxDelayMs?: number;
  /** Options of the snapshot registry the controller creates (its `nodeGroup` is the controller's). */
  registry?: Omit<SnapshotRegistryOptions, "nodeGroup">;
  logger?: Logger;
}

/** Turns source events into snapshots: generator mode of xdskit. */
export interface DiscoveryController extends Pick<EventEmitter<ControllerEvents>, "on" | "off" | "once"> {
  /** The registry to hand to `createAdsServer`. */
  readonly registry: MemorySnapshotRegistry;
  /** The generator in use. */
  readonly generator: ConfigGenerator;
  /** The push context of the last push. */
  pushContext(): PushContext;
  /** Node groups the controller builds for, with the proxy that represents each. */
  nodeGroups(): ReadonlyMap<string, Proxy>;
  /**
   * Drops a node group no live stream uses, with its snapshot (groups are
   * also dropped by themselves once idle: see the registry's
   * `nodeGroupIdleMs`). Returns false, and keeps it, while a stream uses it.
   */
  forgetNodeGroup(nodeGroup: string): boolean;
  /** True once the sources gave a model that passed validation; nothing is served before. */
  ready(): boolean;
  /** The last pushes, oldest first (at most 100). */
  recentPushes(): readonly PushRecord[];
  /** The controller's last refusal of the sources' output, while that output is still refused. */
  lastRejection(): { reason: string; error: Error; at: Date } | undefined;
  /**
   * Config objects refused one by one in the model now served (`what: reason`;
   * a refused object's last good version may be served in its place).
   */
  refusedObjects(): readonly string[];
  /** Runs any queued push now and waits for it. */
  flush(): Promise<void>;
  /** Stops listening to sources and drops queued pushes. */
  close(): void;
}
