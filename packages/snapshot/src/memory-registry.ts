import type { Message, Registry } from "@bufbuild/protobuf";
import { type Logger, type ResourceType, XdsError, findResourceType, silentLogger } from "@xdskit/xds-types";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { EventEmitter } from "eventemitter3";
import { checkConsistency } from "./consistency.js";
import { encodeResource } from "./encode.js";
import { respondShared, upToDate } from "./respond.js";
import { SetDigest, SnapshotImpl, TypeSnapshotImpl } from "./snapshot.js";
import { type Subscription, type SubscriptionStats, SubscriptionTable } from "./subscriptions.js";
import type {
  CancelWatch,
  ConsistencyIssue,
  EncodedResource,
  ResourceInput,
  ResourceUpdate,
  SetSnapshotOptions,
  Snapshot,
  SnapshotInput,
  SnapshotRegistry,
  SnapshotRegistryEvents,
  TypeSnapshot,
  WatchCallback,
  WatchRequest,
  WatchResponse,
} from "./types.js";
import { defaultAnyRegistry, ruleProblems, structuralProblems } from "./validate.js";

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
export interface RegistryStats extends SubscriptionStats {
  /** Node groups with a snapshot. */
  readonly snapshots: number;
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
  /** Counts of snapshots, live groups, watches, subscriptions and cached responses. */
  stats(): RegistryStats;
}

const EMPTY = new Map<string, EncodedResource>();

/** What an update did to one type. */
interface TypeChange {
  readonly next: TypeSnapshotImpl;
  readonly upserted: string[];
  readonly removed: string[];
}

interface Watch {
  readonly request: WatchRequest;
  readonly callback: WatchCallback;
  readonly set: Set<Watch>;
  /** The interned subscription: watches with the same one share versions maps and responses. */
  readonly sub: Subscription;
  active: boolean;
}

// How many valid content hashes a registry remembers (about 100 bytes each).
const VALID_CONTENT_LIMIT = 500_000;

class InMemorySnapshotRegistry extends EventEmitter<SnapshotRegistryEvents> implements MemorySnapshotRegistry {
  readonly #snapshots = new Map<string, SnapshotImpl>();
  readonly #watches = new Map<string, Set<Watch>>();
  readonly #types = new Map<string, ResourceType>();
  readonly #options: SnapshotRegistryOptions;
  readonly #log: Logger;
  #watchCount = 0;
  /** Content hashes that passed the built-in checks. */
  readonly #validContent = new Set<string>();
  readonly #subs: SubscriptionTable;
  /** Streams holding each node group. */
  readonly #refs = new Map<string, number>();
  /** Idle timers of groups no stream holds. */
  readonly #idle = new Map<string, NodeJS.Timeout>();
  readonly #idleMs: number;

  constructor(options: SnapshotRegistryOptions) {
    super();
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    for (const t of options.resourceTypes ?? []) this.#types.set(t.typeUrl, t);
    this.#idleMs = options.nodeGroupIdleMs ?? 60_000;
    if (!(this.#idleMs >= 0)) {
      throw new XdsError("invalid_argument", `nodeGroupIdleMs must be 0 or more, got ${options.nodeGroupIdleMs}`);
    }
    this.#subs = new SubscriptionTable(options.maxCachedResponseBytes ?? 64 * 1024 * 1024);
  }

  nodeGroup(node: Node): string {
    const group = this.#options.nodeGroup ? this.#options.nodeGroup(node) : node.id;
    // A group named for a client that never holds it must not stay forever.
    if (!this.#refs.has(group)) this.#startIdle(group);
    return group;
  }

  retainNodeGroup(nodeGroup: string): void {
    this.#refs.set(nodeGroup, (this.#refs.get(nodeGroup) ?? 0) + 1);
    const timer = this.#idle.get(nodeGroup);
    if (timer) clearTimeout(timer);
    this.#idle.delete(nodeGroup);
  }

  releaseNodeGroup(nodeGroup: string): void {
    const n = (this.#refs.get(nodeGroup) ?? 0) - 1;
    if (n > 0) {
      this.#refs.set(nodeGroup, n);
      return;
    }
    this.#refs.delete(nodeGroup);
    this.#startIdle(nodeGroup);
  }

  #startIdle(nodeGroup: string): void {
    if (this.#idle.has(nodeGroup)) return;
    const timer = setTimeout(() => {
      this.#idle.delete(nodeGroup);
      if (this.#refs.has(nodeGroup)) return;
      this.#log.debug("node group idle", { nodeGroup });
      this.emit("nodeGroupIdle", { nodeGroup });
    }, this.#idleMs);
    timer.unref();
    this.#idle.set(nodeGroup, timer);
  }

  liveNodeGroups(): ReadonlyMap<string, number> {
    return this.#refs;
  }

  stats(): RegistryStats {
    return {
      snapshots: this.#snapshots.size,
      liveNodeGroups: this.#refs.size,
      watches: this.#watchCount,
      ...this.#subs.stats(),
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

  #encode(type: ResourceType, input: ResourceInput, where: string): EncodedResource {
    const enc = encodeResource(type, input, where);
    const problems: string[] = [];
    // The built-in checks depend only on the content, which the hash names
    // (type URL included): content already found valid is not walked again,
    // so rebuilding a group, or another group, with unchanged resources costs
    // no checking.
    if (!this.#validContent.has(enc.hash)) {
      if (this.#options.structuralValidation !== false) problems.push(...structuralProblems(type.typeUrl, enc.message));
      if (this.#options.protoRules !== false)
        problems.push(...ruleProblems(type.schema, enc.message, this.#options.anyRegistry ?? defaultAnyRegistry));
      if (problems.length === 0) {
        if (this.#validContent.size >= VALID_CONTENT_LIMIT) this.#validContent.clear();
        this.#validContent.add(enc.hash);
      }
    }
    const extra = this.#options.validate?.(type.typeUrl, enc.message);
    if (extra) problems.push(...extra);
    if (problems.length > 0) {
      throw new XdsError("invalid_resource", `${where} "${enc.name}" is invalid: ${problems.join("; ")}`);
    }
    return enc;
  }

  setSnapshot(nodeGroup: string, input: SnapshotInput, options?: SetSnapshotOptions): Snapshot {
    let snap: SnapshotImpl;
    const prev = this.#snapshots.get(nodeGroup);
    try {
      if (!nodeGroup) throw new XdsError("invalid_argument", "setSnapshot needs a non-empty node group");
      const types = new Map<string, TypeSnapshot>();
      for (const [typeUrl, entry] of Object.entries(input)) {
        const type = this.#typeOrThrow(typeUrl, nodeGroup);
        const list = Array.isArray(entry)
          ? (entry as readonly ResourceInput[])
          : (entry as { resources: readonly ResourceInput[] }).resources;
        const givenVersion = Array.isArray(entry) ? undefined : (entry as { version?: string }).version;
        if (!Array.isArray(list)) {
          throw new XdsError(
            "invalid_argument",
            `node group "${nodeGroup}", ${type.shortName}: expected a list of resources`,
          );
        }
        const where = `node group "${nodeGroup}", ${type.shortName}`;
        const prevTs = prev?.types.get(typeUrl) as TypeSnapshotImpl | undefined;
        const map = new Map<string, EncodedResource>();
        let same = prevTs !== undefined && prevTs.resources.size === list.length;
        for (const item of list) {
          const enc = this.#encode(type, item, where);
          if (map.has(enc.name)) {
            throw new XdsError(
              "duplicate_resource",
              `${where}: the name "${enc.name}" appears twice; names must be unique within a type`,
            );
          }
          // Keep the object already served when nothing changed, so identity (and cached bytes) stay stable.
          const old = prevTs?.resources.get(enc.name);
          if (old && old.hash === enc.hash && old.version === enc.version && old.ttlMs === enc.ttlMs)
            map.set(enc.name, old);
          else {
            map.set(enc.name, enc);
            same = false;
          }
        }
        const digest = SetDigest.of(map);
        const version = givenVersion ?? digest.version();
        if (same && prevTs && prevTs.version === version) types.set(typeUrl, prevTs);
        else types.set(typeUrl, new TypeSnapshotImpl(typeUrl, version, map, digest));
      }
      snap = new SnapshotImpl(nodeGroup, types);
      if (options?.consistent ?? this.#options.consistent ?? false) this.#assertConsistent(snap);
    } catch (err) {
      this.#failed(nodeGroup, undefined, err);
      throw err;
    }
    this.#snapshots.set(nodeGroup, snap);
    const versions = new Map<string, string>();
    for (const [t, ts] of snap.types) versions.set(t, ts.version);
    this.#log.debug("snapshot set", { nodeGroup, types: snap.types.size });
    this.emit("snapshotSet", { nodeGroup, versions });
    const touched = new Set<string>();
    for (const [t, ts] of snap.types) if (prev?.types.get(t) !== ts) touched.add(t);
    if (prev) for (const t of prev.types.keys()) if (!snap.types.has(t)) touched.add(t);
    if (!prev) for (const t of this.#watchedTypes(nodeGroup)) touched.add(t);
    this.#fire(nodeGroup, touched, snap);
    return snap;
  }

  /** Type URLs some watch of the node group is parked on. */
  *#watchedTypes(nodeGroup: string): Iterable<string> {
    const prefix = `${nodeGroup}\u0000`;
    for (const key of this.#watches.keys()) if (key.startsWith(prefix)) yield key.slice(prefix.length);
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
    this.#snapshots.delete(nodeGroup);
    this.emit("snapshotCleared", { nodeGroup });
    // Watchers learn that everything is gone; new watches park until a snapshot is set again.
    this.#fire(nodeGroup, new Set(prev.types.keys()), new SnapshotImpl(nodeGroup, new Map()));
  }

  updateResources(nodeGroup: string, typeUrl: string, update: ResourceUpdate): TypeSnapshot {
    const snap = this.updateSnapshot(nodeGroup, { [typeUrl]: update });
    return snap.get(typeUrl) as TypeSnapshot;
  }

  updateSnapshot(nodeGroup: string, updates: Readonly<Record<string, ResourceUpdate>>): Snapshot {
    const prev = this.#snapshots.get(nodeGroup);
    const changes: TypeChange[] = [];
    let snap: SnapshotImpl;
    let typeUrl: string | undefined;
    try {
      if (!nodeGroup) throw new XdsError("invalid_argument", "updateSnapshot needs a non-empty node group");
      const types = new Map(prev?.types ?? []);
      for (const [t, update] of Object.entries(updates)) {
        typeUrl = t;
        const change = this.#applyUpdate(nodeGroup, t, prev?.types.get(t) as TypeSnapshotImpl | undefined, update);
        if (!change) continue;
        changes.push(change);
        types.set(t, change.next);
      }
      typeUrl = undefined;
      // Nothing changed: the same snapshot object, and nothing fires.
      if (prev && changes.length === 0) return prev;
      snap = new SnapshotImpl(nodeGroup, types);
      // Checked once all types are applied, so a cluster and the route that
      // uses it can arrive in one update.
      if (this.#options.consistent) this.#assertConsistent(snap);
    } catch (err) {
      this.#failed(nodeGroup, typeUrl, err);
      throw err;
    }
    this.#snapshots.set(nodeGroup, snap);
    for (const c of changes) {
      this.emit("resourcesUpdated", {
        nodeGroup,
        typeUrl: c.next.typeUrl,
        version: c.next.version,
        upserted: c.upserted,
        removed: c.removed,
      });
    }
    // One firing for every changed type: streams queue them together and push in make-before-break order.
    // Unlike setSnapshot, an update says nothing of the types it does not
    // name, so watchers of those are not answered (a full-state type is only
    // ever sent from something that produced it).
    const touched = new Set(changes.map((c) => c.next.typeUrl));
    this.#fire(nodeGroup, touched, snap);
    return snap;
  }

  /** One type's upserts and removals over its previous snapshot, or undefined when nothing changes. */
  #applyUpdate(
    nodeGroup: string,
    typeUrl: string,
    prevTs: TypeSnapshotImpl | undefined,
    update: ResourceUpdate,
  ): TypeChange | undefined {
    const type = this.#typeOrThrow(typeUrl, nodeGroup);
    const where = `node group "${nodeGroup}", ${type.shortName}`;
    if (update === null || typeof update !== "object") {
      throw new XdsError("invalid_argument", `${where}: expected an update ({ upsert?, remove? }), got ${update}`);
    }
    const upserted: string[] = [];
    const removed: string[] = [];
    const map = new Map(prevTs?.resources ?? EMPTY);
    const digest = prevTs ? prevTs.digest.copy() : new SetDigest();
    const seen = new Set<string>();
    for (const item of update.upsert ?? []) {
      const enc = this.#encode(type, item, where);
      if (seen.has(enc.name)) {
        throw new XdsError("duplicate_resource", `${where}: the name "${enc.name}" appears twice in one update`);
      }
      seen.add(enc.name);
      const old = map.get(enc.name);
      if (old && old.hash === enc.hash && old.version === enc.version && old.ttlMs === enc.ttlMs) continue;
      if (old) digest.toggle(old, -1);
      digest.toggle(enc, 1);
      map.set(enc.name, enc);
      upserted.push(enc.name);
    }
    for (const name of update.remove ?? []) {
      if (seen.has(name)) {
        throw new XdsError("invalid_argument", `${where}: "${name}" is both upserted and removed in one update`);
      }
      const old = map.get(name);
      if (!old) continue;
      digest.toggle(old, -1);
      map.delete(name);
      removed.push(name);
    }
    if (upserted.length === 0 && removed.length === 0 && prevTs) return undefined;
    return { next: new TypeSnapshotImpl(typeUrl, digest.version(), map, digest), upserted, removed };
  }

  watch(request: WatchRequest, callback: WatchCallback): CancelWatch {
    const key = `${request.nodeGroup}\u0000${request.typeUrl}`;
    let set = this.#watches.get(key);
    if (!set) {
      set = new Set();
      this.#watches.set(key, set);
    }
    const w: Watch = { request, callback, set, sub: this.#subs.acquire(request), active: true };
    set.add(w);
    this.#watchCount++;
    const snap = this.#snapshots.get(request.nodeGroup);
    const now =
      snap && !upToDate(request, w.sub, snap.types.get(request.typeUrl))
        ? respondShared(this.#subs, request, w.sub, snap, this.resourceType(request.typeUrl))
        : null;
    if (now) {
      // Answer on a microtask, not inside watch(): the caller gets its cancel
      // function first, and a callback that re-arms cannot race the return value.
      queueMicrotask(() => {
        if (!w.active) return;
        this.#cancel(w, key);
        this.#invoke(w, now);
      });
    }
    return () => this.#cancel(w, key);
  }

  #invoke(w: Watch, resp: WatchResponse): void {
    try {
      w.callback(resp);
    } catch (err) {
      this.#log.error("watch callback threw", { nodeGroup: resp.nodeGroup, typeUrl: resp.typeUrl, error: String(err) });
    }
  }

  #cancel(w: Watch, key: string): void {
    if (!w.active) return;
    w.active = false;
    w.set.delete(w);
    this.#watchCount--;
    this.#subs.release(w.sub);
    if (w.set.size === 0 && this.#watches.get(key) === w.set) this.#watches.delete(key);
  }

  #fire(nodeGroup: string, typeUrls: ReadonlySet<string>, snap: Snapshot): void {
    for (const typeUrl of typeUrls) {
      const key = `${nodeGroup}\u0000${typeUrl}`;
      const set = this.#watches.get(key);
      if (!set) continue;
      const type = this.resourceType(typeUrl);
      // Watches asking the same thing get the same response object (see respondShared).
      for (const w of [...set]) {
        if (!w.active) continue;
        const resp = respondShared(this.#subs, w.request, w.sub, snap, type);
        if (!resp) continue;
        this.#cancel(w, key);
        this.#invoke(w, resp);
      }
    }
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
    return this.#watchCount;
  }
}

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
