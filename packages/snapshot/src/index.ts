// Curated entry point of @xdskit/snapshot.
export { createSnapshotRegistry } from "./memory-registry.js";
export type { MemorySnapshotRegistry, RegistryStats, SnapshotRegistryOptions } from "./registry-api.js";
export { checkConsistency } from "./consistency.js";
export { contentHash, heartbeatResource } from "./encode.js";
export {
  sotwBody,
  deltaBody,
  assembleDiscoveryResponse,
  assembleDeltaDiscoveryResponse,
  encodeAny,
} from "./wire.js";
export type { DiscoveryResponseHeader, DeltaDiscoveryResponseHeader } from "./wire.js";
export type {
  CancelWatch,
  ConsistencyIssue,
  EncodedResource,
  ResourceInput,
  ResourceUpdate,
  SetSnapshotOptions,
  UpdateSnapshotOptions,
  Snapshot,
  SnapshotInput,
  SnapshotRegistry,
  SnapshotRegistryEvents,
  TypeSnapshot,
  WatchCallback,
  WatchRequest,
  WatchResponse,
} from "./types.js";
