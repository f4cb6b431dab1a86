// The contract between the snapshot registry and everything that reads or
// writes it (ads-server, config-generator, hosts). Additions must be optional
// so that other stores implementing SnapshotRegistry keep compiling.
import type { Message } from "@bufbuild/protobuf";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { ResourceType } from "@xdskit/xds-types";
import type { EventEmitter } from "eventemitter3";

/**
 * One resource as it lives in the registry: validated, encoded once, hashed.
 * Streams never re-encode it; they send `anyBytes` as they are.
 */
export interface EncodedResource {
  /** The name clients subscribe to (a Cluster's name, a CLA's cluster_name…). */
  readonly name: string;
  /** The type URL of the resource. */
  readonly typeUrl: string;
  /** Per-resource version: the content hash unless the host gave one. */
  readonly version: string;
  /** Hex content hash of the encoded message (stable across processes). */
  readonly hash: string;
  /** The message itself, for builders, debug pages and config dumps. Never mutate it. */
  readonly message: Message;
  /** Bytes of the `google.protobuf.Any` holding the message (no outer field tag). */
  readonly anyBytes: Uint8Array;
  /**
   * Bytes of the `envoy.service.discovery.v3.Resource` wrapper used by Delta
   * (name, version, resource, ttl), encoded on first use and then cached.
   */
  resourceBytes(): Uint8Array;
  /** Time to live in milliseconds (Delta TTL / heartbeats); absent when the resource does not expire. */
  readonly ttlMs?: number;
}

/** All resources of one type in one node group, with the version of the whole set. */
export interface TypeSnapshot {
  readonly typeUrl: string;
  /** Version of the set: derived from the resources' names and versions unless the host gave one. */
  readonly version: string;
  readonly resources: ReadonlyMap<string, EncodedResource>;
  /** When the change that made this version was seen (epoch ms), when the writer said. */
  readonly changedAt?: number | undefined;
}

/** A node group's configuration: one {@link TypeSnapshot} per type URL. */
export interface Snapshot {
  readonly nodeGroup: string;
  readonly types: ReadonlyMap<string, TypeSnapshot>;
  /** Shortcut for `types.get(typeUrl)`. */
  get(typeUrl: string): TypeSnapshot | undefined;
}

/** A resource as a host hands it in: the message, optionally with a version and a TTL. */
export type ResourceInput =
  | Message
  | { readonly resource: Message; readonly version?: string; readonly ttlMs?: number };

/**
 * What `setSnapshot` takes: per type URL either a list of resources, or a
 * list with an explicit version for the whole type.
 */
export type SnapshotInput = Readonly<
  Record<string, readonly ResourceInput[] | { readonly version?: string; readonly resources: readonly ResourceInput[] }>
>;

/** Options of `setSnapshot`. */
export interface SetSnapshotOptions {
  /** Reject the snapshot when the consistency check finds dangling references. Default: the registry's setting. */
  readonly consistent?: boolean;
  /**
   * When the change behind this snapshot was seen (epoch ms): the ADS server
   * measures convergence from it to each client's ACK. Default: unknown.
   */
  readonly changedAt?: number;
}

/** Options of `updateSnapshot`. */
export interface UpdateSnapshotOptions {
  /** When the change behind this update was seen (epoch ms); see {@link SetSnapshotOptions.changedAt}. */
  readonly changedAt?: number;
}

/** Upserts and removals for one type in one node group. */
export interface ResourceUpdate {
  readonly upsert?: readonly ResourceInput[];
  readonly remove?: readonly string[];
}

/**
 * What a watch asks for. `resourceNames` empty and `wildcard` false means
 * "nothing". Wildcard plus names (Delta) means every resource, and the named
 * ones even if they are not there yet (on-demand).
 */
export interface WatchRequest {
  readonly nodeGroup: string;
  readonly typeUrl: string;
  readonly wildcard: boolean;
  readonly resourceNames: ReadonlySet<string>;
  /**
   * SotW: the type version the client already has (the last one sent to it).
   * The watch parks while the current version equals it.
   */
  readonly knownVersion?: string;
  /**
   * Per-resource versions the client already has (Delta; SotW non-full-state
   * types). Resources whose version equals the known one are not sent again;
   * known names that are gone are reported in `removed`.
   */
  readonly knownVersions?: ReadonlyMap<string, string>;
  /** `delta` answers with changed resources and removals; `sotw` follows the SotW rules of the type. Default `sotw`. */
  readonly mode?: "sotw" | "delta";
}

/** What a watch callback receives: what the client does not have yet. */
export interface WatchResponse {
  readonly nodeGroup: string;
  readonly typeUrl: string;
  /** The type version after this change (SotW `version_info`, Delta `system_version_info`). */
  readonly version: string;
  /**
   * Resources to send. SotW full-state types: every subscribed resource that
   * exists. Other types and Delta: only the new or changed ones.
   */
  readonly resources: readonly EncodedResource[];
  /** Names the client knew (or subscribed to) that no longer exist. */
  readonly removed: readonly string[];
  /** Current per-resource versions of everything subscribed, so the caller can update its known versions. */
  readonly versions: ReadonlyMap<string, string>;
  /** When the change behind this version was seen (epoch ms), when the writer said. */
  readonly changedAt?: number | undefined;
}

/** Called with each response; a watch fires at most once per change. */
export type WatchCallback = (response: WatchResponse) => void;

/** Cancels a watch. Idempotent and O(1). */
export type CancelWatch = () => void;

/** A dangling reference found by the consistency check. */
export interface ConsistencyIssue {
  /** e.g. `route "r1" names cluster "c9" which is not in the snapshot` */
  readonly message: string;
  readonly fromType: string;
  readonly fromName: string;
  readonly toType: string;
  readonly toName: string;
}

/** Typed events a registry emits (eventemitter3). */
export interface SnapshotRegistryEvents {
  /** A whole snapshot was installed; `versions` are its type versions. */
  snapshotSet: (event: { nodeGroup: string; versions: ReadonlyMap<string, string> }) => void;
  /** An update changed one type of a group. */
  resourcesUpdated: (event: {
    nodeGroup: string;
    typeUrl: string;
    version: string;
    upserted: readonly string[];
    removed: readonly string[];
  }) => void;
  /** A snapshot or update was refused; the previous one stays. */
  validationFailed: (event: { nodeGroup: string; typeUrl?: string; error: Error }) => void;
  /** A group's snapshot was removed. */
  snapshotCleared: (event: { nodeGroup: string }) => void;
  /**
   * No stream has held the node group for the registry's idle period: its
   * owner (a generator, a host) may free it. The registry itself keeps the
   * snapshot, since it cannot know whether a host still wants it.
   */
  nodeGroupIdle: (event: { nodeGroup: string }) => void;
}

/**
 * The store the ADS engine reads from and generators write to. The in-memory
 * registry is the default; a host may plug another implementation.
 */
export interface SnapshotRegistry extends Pick<EventEmitter<SnapshotRegistryEvents>, "on" | "off" | "once"> {
  /** Maps a client's node to the node group whose snapshot it is served (default: `node.id`). */
  nodeGroup(node: Node): string;
  /** A stream now uses the node group (the ADS server calls it once per registered stream). */
  retainNodeGroup?(nodeGroup: string): void;
  /** A stream that retained the node group ended. */
  releaseNodeGroup?(nodeGroup: string): void;
  /** Validates, encodes and installs a whole snapshot; on any error the previous one stays untouched. */
  setSnapshot(nodeGroup: string, input: SnapshotInput, options?: SetSnapshotOptions): Snapshot;
  /** The current snapshot of a node group, if any. */
  getSnapshot(nodeGroup: string): Snapshot | undefined;
  /** Removes a node group's snapshot; watchers see every resource removed. */
  clearSnapshot(nodeGroup: string): void;
  /** Upserts and removes resources of one type, bumping only what changed. Returns the new type snapshot. */
  updateResources(nodeGroup: string, typeUrl: string, update: ResourceUpdate): TypeSnapshot;
  /**
   * Upserts and removes resources of several types as one change: every type
   * is validated (and, when consistency is enforced, checked together) before
   * any is installed, so a bad resource in one type leaves all of them as they
   * were; watchers of every changed type fire together, so streams push them
   * in make-before-break order. Returns the new snapshot (the same one when
   * nothing changed).
   */
  updateSnapshot(
    nodeGroup: string,
    updates: Readonly<Record<string, ResourceUpdate>>,
    options?: UpdateSnapshotOptions,
  ): Snapshot;
  /** Registers a one-shot watch: the callback fires once, right away (on a microtask) if the client lacks something, else on the next real change. */
  watch(request: WatchRequest, callback: WatchCallback): CancelWatch;
  /**
   * The resource type of a type URL as this registry knows it (built-in table
   * plus host-registered types). Optional: readers fall back to the built-in table.
   */
  resourceType?(typeUrl: string): ResourceType | undefined;
  /** Lists the node groups that have a snapshot. */
  nodeGroups(): readonly string[];
  /** Runs the consistency check on a snapshot (or the current one of a node group). */
  checkConsistency(snapshotOrGroup: Snapshot | string): readonly ConsistencyIssue[];
}
