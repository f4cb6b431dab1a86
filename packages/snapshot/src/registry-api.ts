// The in-memory registry's public shape: its options, the statistics it
// reports, and what it offers beyond the SnapshotRegistry contract.
import type { Registry, Message } from "@bufbuild/protobuf";
import type { Logger, ResourceType } from "@xdskit/xds-types";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { StoreStats } from "./store.js";
import type { SubscriptionStats } from "./subscriptions.js";
import type { Snapshot, SnapshotRegistry } from "./types.js";

/** Options of {@link createSnapshotRegistry}. */
export interface SnapshotRegistryOptions {
  /** Maps a client's node to its node group. Default: `node.id`. */
  nodeGroup?: (node: Node) => string;
  /** Run the consistency check on every `setSnapshot`/`updateResources` and reject dangling references. Default false. */
  consistent?: boolean;
  /** Apply the built-in structural rules (EDS clusters need eds_cluster_config, …). Default true. */
  structuralValidation?: boolean;
  /**
   * Check the protoc-gen-validate rules Envoy's protos declare (non-empty
   * names, port ≤ 65535, positive timeouts, required oneofs, …): what Envoy
   * would NACK is refused here with the field path. Default true.
   */
  protoRules?: boolean;
  /**
   * Schemas the rule check uses to look inside `Any` fields. Default: the HTTP
   * connection manager, router and TLS contexts; pass `xdsRegistry` from
   * `@xdskit/xds-types/registry` to check every extension type.
   */
  anyRegistry?: Registry;
  /** Extra host rules: return the broken rules of a resource as sentences (empty or undefined when fine). */
  validate?: (typeUrl: string, resource: Message) => readonly string[] | undefined;
  /** Resource types beyond the built-in table (see `defineResourceType`), so hosts can serve their own type URLs. */
  resourceTypes?: readonly ResourceType[];
  /** Where diagnostics go. Default: nowhere. */
  logger?: Logger;
  /**
   * How long a node group stays after its last stream left (or after it was
   * named for a client that never held it) before `nodeGroupIdle` fires, so
   * its owner can free it. Reconnecting within it costs no rebuild.
   * Default 60,000 ms.
   */
  nodeGroupIdleMs?: number;
  /**
   * Bytes of responses kept for watches that ask the same thing of the same
   * snapshot later (reconnect storms); the oldest go first past it. Default 64 MiB.
   */
  maxCachedResponseBytes?: number;
}

/** What a registry holds, for debug pages and leak checks. */
export interface RegistryStats extends SubscriptionStats, StoreStats {
  /** Node groups with a snapshot (plain or composed). */
  readonly snapshots: number;
  /** Node groups composed of parts. */
  readonly composed: number;
  /** Node groups some stream holds now. */
  readonly liveNodeGroups: number;
  /** Parked watches. */
  readonly watches: number;
}

/** The in-memory registry, with introspection used by tests and debug pages. */
export interface MemorySnapshotRegistry extends SnapshotRegistry {
  /** Number of parked watches (all node groups and types). */
  watchCount(): number;
  /** The resource type known for a type URL (built-in or registered), if any. */
  resourceType(typeUrl: string): ResourceType | undefined;
  retainNodeGroup(nodeGroup: string): void;
  releaseNodeGroup(nodeGroup: string): void;
  /** Node groups with at least one live stream, and how many streams each has. */
  liveNodeGroups(): ReadonlyMap<string, number>;
  /** Counts of snapshots, live groups, watches, subscriptions, cached responses and held resources. */
  stats(): RegistryStats;
  /**
   * Serves `nodeGroup` the union of other groups' snapshots (its parts): what
   * many groups share is held once, in a part, and only what differs is per
   * group. A part's changes reach every group composed of it; groups composed
   * of the same parts share type snapshots, and so responses. Parts must not
   * hold the same name in a type. Calling it again replaces the parts; a group
   * that holds its own snapshot cannot be composed (clear it first).
   */
  composeSnapshot(nodeGroup: string, parts: readonly string[]): Snapshot;
  /** The parts of a composed group, or undefined for a plain one. */
  partsOf(nodeGroup: string): readonly string[] | undefined;
}
