import type { Message } from "@bufbuild/protobuf";
import { type Logger, type ResourceType, XdsError, findResourceType, silentLogger } from "@xdskit/xds-types";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { EventEmitter } from "eventemitter3";
import { type TypeChange, applyUpdate, buildType, inputsOf } from "./apply.js";
import { Compositions } from "./compose.js";
import { checkConsistency } from "./consistency.js";
import { WriteAhead } from "./write-ahead.js";
import { encodeResource } from "./encode.js";
import { GroupLifetimes } from "./group-lifetimes.js";
import type { MemorySnapshotRegistry, RegistryStats, SnapshotRegistryOptions } from "./registry-api.js";
import { SnapshotImpl, type TypeSnapshotImpl } from "./snapshot.js";
import { ResourceStore } from "./store.js";
import { SubscriptionTable } from "./subscriptions.js";
import type {
  CancelWatch,
  ConsistencyIssue,
  EncodedResource,
  ResourceInput,
  ResourceUpdate,
  SetSnapshotOptions,
  Snapshot,
  SnapshotInput,
  SnapshotRegistryEvents,
  TypeSnapshot,
  UpdateSnapshotOptions,
  WatchCallback,
  WatchRequest,
} from "./types.js";
import { resourceProblems } from "./validate.js";
import { WatchTable } from "./watches.js";

const isMessage = (x: ResourceInput): x is Message => typeof (x as Message).$typeName === "string";

class InMemorySnapshotRegistry extends EventEmitter<SnapshotRegistryEvents> implements MemorySnapshotRegistry {
  readonly #snapshots = new Map<string, SnapshotImpl>();
  readonly #types = new Map<string, ResourceType>();
  readonly #options: SnapshotRegistryOptions;
  readonly #log: Logger;
  readonly #store = new ResourceStore();
  readonly #ahead = new WriteAhead(this.#store);
  readonly #compositions = new Compositions();
  readonly #subs: SubscriptionTable;
  readonly #watches: WatchTable;
  readonly #lifetimes: GroupLifetimes;

  constructor(options: SnapshotRegistryOptions) {
    super();
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    for (const t of options.resourceTypes ?? []) this.#types.set(t.typeUrl, t);
    const idleMs = options.nodeGroupIdleMs ?? 60_000;
    if (!(idleMs >= 0)) {
      throw new XdsError("invalid_argument", `nodeGroupIdleMs must be 0 or more, got ${options.nodeGroupIdleMs}`);
    }
    this.#lifetimes = new GroupLifetimes(idleMs, (nodeGroup) => {
      this.#log.debug("node group idle", { nodeGroup });
      this.emit("nodeGroupIdle", { nodeGroup });
    });
    this.#subs = new SubscriptionTable(options.maxCachedResponseBytes ?? 64 * 1024 * 1024);
    this.#watches = new WatchTable(this.#subs, this.#log, (t) => this.resourceType(t));
  }

  nodeGroup(node: Node): string {
    const group = this.#options.nodeGroup ? this.#options.nodeGroup(node) : node.id;
    // A group named for a client that never holds it must not stay forever.
    this.#lifetimes.named(group);
    return group;
  }

  retainNodeGroup(nodeGroup: string): void {
    this.#lifetimes.retain(nodeGroup);
  }

  releaseNodeGroup(nodeGroup: string): void {
    this.#lifetimes.release(nodeGroup);
  }

  liveNodeGroups(): ReadonlyMap<string, number> {
    return this.#lifetimes.live;
  }

  stats(): RegistryStats {
    return {
      snapshots: this.#snapshots.size,
      composed: this.#compositions.size,
      liveNodeGroups: this.#lifetimes.live.size,
      watches: this.#watches.count,
      ...this.#subs.stats(),
      ...this.#store.stats(),
    };
  }

  resourceType(typeUrl: string): ResourceType | undefined {
    return this.#types.get(typeUrl) ?? findResourceType(typeUrl);
  }

  #typeOrThrow(typeUrl: string, nodeGroup: string): ResourceType {
    const type = this.resourceType(typeUrl);
    if (!type) {
      throw new XdsError(
        "unknown_type_url",
        `node group "${nodeGroup}": unknown type URL "${typeUrl}"; expected a built-in xDS type or one registered with resourceTypes`,
      );
    }
    return type;
  }

  // Encodes and checks one input, or finds it already held: the same content
  // is one object in every group, checked once while held. A frozen message
  // handed in again is not even encoded again.
  readonly #encode = (type: ResourceType, input: ResourceInput, where: string): EncodedResource => {
    const bare = isMessage(input) ? input : undefined;
    let enc = bare ? this.#store.encodingOf(bare, type.typeUrl) : undefined;
    if (!enc) {
      enc = encodeResource(type, input, where, this.#ahead.bytesOf(input));
      if (bare) this.#store.rememberEncoding(bare, enc);
    }
    const held = this.#store.find(enc);
    const problems = resourceProblems(this.#options, type, enc.message, !held);
    if (problems.length > 0) {
      throw new XdsError("invalid_resource", `${where} "${enc.name}" is invalid: ${problems.join("; ")}`);
    }
    return held ?? enc;
  };

  #assertWritable(nodeGroup: string, what: string): void {
    if (!nodeGroup) throw new XdsError("invalid_argument", `${what} needs a non-empty node group`);
    if (this.#compositions.partsOf(nodeGroup)) {
      throw new XdsError(
        "invalid_argument",
        `node group "${nodeGroup}" is composed of parts (${this.#compositions.partsOf(nodeGroup)?.join(", ")}); write to its parts`,
      );
    }
  }

  setSnapshot(nodeGroup: string, input: SnapshotInput, options?: SetSnapshotOptions): Snapshot {
    const prev = this.#snapshots.get(nodeGroup);
    let snap: SnapshotImpl;
    let users: Map<string, SnapshotImpl>;
    try {
      this.#assertWritable(nodeGroup, "setSnapshot");
      const types = new Map<string, TypeSnapshot>();
      for (const [typeUrl, entry] of Object.entries(input)) {
        const type = this.#typeOrThrow(typeUrl, nodeGroup);
        const prevTs = prev?.types.get(typeUrl) as TypeSnapshotImpl | undefined;
        const where = `node group "${nodeGroup}", ${type.shortName}`;
        types.set(
          typeUrl,
          this.#ahead.around(type, inputsOf(entry), () =>
            buildType(type, entry, prevTs, this.#encode, where, options?.changedAt),
          ),
        );
      }
      snap = new SnapshotImpl(nodeGroup, types);
      users = this.#recomposeUsers(nodeGroup, snap);
      if (options?.consistent ?? this.#options.consistent ?? false) {
        // A part is partial by nature: the groups composed of it are checked instead.
        if (users.size === 0) this.#assertConsistent(snap);
        for (const u of users.values()) this.#assertConsistent(u);
      }
    } catch (err) {
      this.#failed(nodeGroup, undefined, err);
      throw err;
    }
    const versions = new Map<string, string>();
    for (const [t, ts] of snap.types) versions.set(t, ts.version);
    const touched = new Set<string>();
    for (const [t, ts] of snap.types) if (prev?.types.get(t) !== ts) touched.add(t);
    if (prev) for (const t of prev.types.keys()) if (!snap.types.has(t)) touched.add(t);
    // A first snapshot is a complete statement: watchers of types it lacks get "nothing".
    if (!prev) for (const t of this.#watches.watchedTypes(nodeGroup)) touched.add(t);
    this.#install(nodeGroup, prev, snap, touched, users);
    this.#log.debug("snapshot set", { nodeGroup, types: snap.types.size });
    this.emit("snapshotSet", { nodeGroup, versions });
    return snap;
  }

  updateResources(nodeGroup: string, typeUrl: string, update: ResourceUpdate): TypeSnapshot {
    const snap = this.updateSnapshot(nodeGroup, { [typeUrl]: update });
    return snap.get(typeUrl) as TypeSnapshot;
  }

  updateSnapshot(
    nodeGroup: string,
    updates: Readonly<Record<string, ResourceUpdate>>,
    options?: UpdateSnapshotOptions,
  ): Snapshot {
    const prev = this.#snapshots.get(nodeGroup);
    const changes: TypeChange[] = [];
    let snap: SnapshotImpl;
    let users: Map<string, SnapshotImpl>;
    let typeUrl: string | undefined;
    try {
      this.#assertWritable(nodeGroup, "updateSnapshot");
      const types = new Map(prev?.types ?? []);
      for (const [t, update] of Object.entries(updates)) {
        typeUrl = t;
        const type = this.#typeOrThrow(t, nodeGroup);
        const where = `node group "${nodeGroup}", ${type.shortName}`;
        const prevTs = prev?.types.get(t) as TypeSnapshotImpl | undefined;
        const upserts = Array.isArray((update as { upsert?: unknown } | null)?.upsert) ? update.upsert : undefined;
        const change = this.#ahead.around(type, upserts, () =>
          applyUpdate(type, prevTs, update, this.#encode, where, options?.changedAt),
        );
        if (!change) continue;
        changes.push(change);
        types.set(t, change.next);
      }
      typeUrl = undefined;
      // Nothing changed: the same snapshot object, and nothing fires.
      if (prev && changes.length === 0) return prev;
      snap = new SnapshotImpl(nodeGroup, types);
      users = this.#recomposeUsers(nodeGroup, snap);
      // Checked once all types are applied, so a cluster and the route that
      // uses it can arrive in one update.
      if (this.#options.consistent) {
        if (users.size === 0) this.#assertConsistent(snap);
        for (const u of users.values()) this.#assertConsistent(u);
      }
    } catch (err) {
      this.#failed(nodeGroup, typeUrl, err);
      throw err;
    }
    for (const c of changes) {
      this.emit("resourcesUpdated", {
        nodeGroup,
        typeUrl: c.next.typeUrl,
        version: c.next.version,
        upserted: c.upserted,
        removed: c.removed,
      });
    }
    // One firing for every changed type: streams queue them together and push
    // in make-before-break order. Unlike setSnapshot, an update says nothing
    // of the types it does not name, so watchers of those are not answered (a
    // full-state type is only ever sent from something that produced it).
    this.#install(nodeGroup, prev, snap, new Set(changes.map((c) => c.next.typeUrl)), users);
    return snap;
  }

  composeSnapshot(nodeGroup: string, parts: readonly string[]): Snapshot {
    const prev = this.#snapshots.get(nodeGroup);
    let snap: SnapshotImpl;
    try {
      if (!nodeGroup) throw new XdsError("invalid_argument", "composeSnapshot needs a non-empty node group");
      if (prev && !this.#compositions.partsOf(nodeGroup)) {
        throw new XdsError(
          "invalid_argument",
          `node group "${nodeGroup}" holds its own snapshot; clear it before composing it`,
        );
      }
      if (!Array.isArray(parts) || parts.length === 0) {
        throw new XdsError("invalid_argument", `composeSnapshot("${nodeGroup}") needs at least one part`);
      }
      for (const p of parts) {
        if (p === nodeGroup || this.#compositions.partsOf(p)) {
          throw new XdsError(
            "invalid_argument",
            `node group "${p}" cannot be a part of "${nodeGroup}": parts are plain groups`,
          );
        }
      }
      snap = this.#compositions.compose(nodeGroup, parts, (p) => this.#snapshots.get(p));
      if (this.#options.consistent) this.#assertConsistent(snap);
    } catch (err) {
      this.#failed(nodeGroup, undefined, err);
      throw err;
    }
    this.#compositions.set(nodeGroup, parts);
    const touched = new Set<string>();
    for (const [t, ts] of snap.types) if (prev?.types.get(t) !== ts) touched.add(t);
    if (prev) for (const t of prev.types.keys()) if (!snap.types.has(t)) touched.add(t);
    if (!prev) for (const t of this.#watches.watchedTypes(nodeGroup)) touched.add(t);
    this.#snapshots.set(nodeGroup, snap);
    this.#watches.fire(nodeGroup, touched, snap);
    return snap;
  }

  partsOf(nodeGroup: string): readonly string[] | undefined {
    return this.#compositions.partsOf(nodeGroup);
  }

  /** The new snapshots of the groups composed of `part`, were it `next` (throws on overlapping parts). */
  #recomposeUsers(part: string, next: Snapshot | undefined): Map<string, SnapshotImpl> {
    const out = new Map<string, SnapshotImpl>();
    for (const user of this.#compositions.usersOf(part)) {
      const parts = this.#compositions.partsOf(user) ?? [];
      out.set(
        user,
        this.#compositions.compose(user, parts, (p) => (p === part ? next : this.#snapshots.get(p))),
      );
    }
    return out;
  }

  /** Installs a plain group's snapshot (or its removal), moves resource holds, and fires it and its users. */
  #install(
    nodeGroup: string,
    prev: SnapshotImpl | undefined,
    next: SnapshotImpl | undefined,
    touched: ReadonlySet<string>,
    users: ReadonlyMap<string, SnapshotImpl>,
  ): void {
    for (const [t, ts] of next?.types ?? []) {
      const old = prev?.types.get(t);
      if (old !== ts) this.#store.swap(old?.resources, ts.resources);
    }
    for (const [t, ts] of prev?.types ?? []) if (!next?.types.has(t)) this.#store.swap(ts.resources, EMPTY);
    if (next) this.#snapshots.set(nodeGroup, next);
    else this.#snapshots.delete(nodeGroup);
    this.#watches.fire(nodeGroup, touched, next ?? new SnapshotImpl(nodeGroup, new Map()));
    for (const [user, snap] of users) {
      const before = this.#snapshots.get(user);
      const changed: string[] = [];
      for (const [t, ts] of snap.types) if (before?.types.get(t) !== ts) changed.push(t);
      for (const t of before?.types.keys() ?? []) if (!snap.types.has(t)) changed.push(t);
      this.#snapshots.set(user, snap);
      this.#watches.fire(user, changed, snap);
    }
  }

  #assertConsistent(snap: Snapshot): void {
    const issues = checkConsistency(snap);
    if (issues.length > 0) {
      throw new XdsError(
        "inconsistent_snapshot",
        `node group "${snap.nodeGroup}": ${issues.length} dangling reference(s):\n  ${issues.map((i) => i.message).join("\n  ")}`,
      );
    }
  }

  #failed(nodeGroup: string, typeUrl: string | undefined, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.#log.warn("snapshot rejected", { nodeGroup, error: error.message });
    this.emit("validationFailed", typeUrl === undefined ? { nodeGroup, error } : { nodeGroup, typeUrl, error });
  }

  getSnapshot(nodeGroup: string): Snapshot | undefined {
    return this.#snapshots.get(nodeGroup);
  }

  clearSnapshot(nodeGroup: string): void {
    const prev = this.#snapshots.get(nodeGroup);
    if (!prev) return;
    this.emit("snapshotCleared", { nodeGroup });
    const touched = new Set(prev.types.keys());
    if (this.#compositions.partsOf(nodeGroup)) {
      // A composed group holds nothing of its own: only the composition goes.
      this.#compositions.delete(nodeGroup);
      this.#snapshots.delete(nodeGroup);
      this.#watches.fire(nodeGroup, touched, new SnapshotImpl(nodeGroup, new Map()));
      return;
    }
    // Watchers learn that everything is gone; groups composed of it lose its part.
    this.#install(nodeGroup, prev, undefined, touched, this.#recomposeUsers(nodeGroup, undefined));
  }

  watch(request: WatchRequest, callback: WatchCallback): CancelWatch {
    return this.#watches.add(request, callback, this.#snapshots.get(request.nodeGroup));
  }

  nodeGroups(): readonly string[] {
    return [...this.#snapshots.keys()];
  }

  checkConsistency(snapshotOrGroup: Snapshot | string): readonly ConsistencyIssue[] {
    const snap = typeof snapshotOrGroup === "string" ? this.#snapshots.get(snapshotOrGroup) : snapshotOrGroup;
    if (!snap) {
      throw new XdsError("not_found", `no snapshot for node group "${String(snapshotOrGroup)}"`);
    }
    return checkConsistency(snap);
  }

  watchCount(): number {
    return this.#watches.count;
  }
}

const EMPTY: ReadonlyMap<string, EncodedResource> = new Map();

/**
 * Creates the default in-memory snapshot registry.
 *
 * Watches are one-shot: a callback fires at most once (on a microtask right
 * after `watch()` when the client lacks something, else on the next real
 * change), and the watch is then done. The ADS stream re-arms it with the
 * versions it sent.
 */
export function createSnapshotRegistry(options: SnapshotRegistryOptions = {}): MemorySnapshotRegistry {
  return new InMemorySnapshotRegistry(options);
}
