import type { Message, Registry } from "@bufbuild/protobuf";
import {
  type Logger,
  type ResourceType,
  XdsError,
  findResourceType,
  inGlobCollection,
  isGlobCollection,
  silentLogger,
} from "@xdskit/xds-types";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { EventEmitter } from "eventemitter3";
import { checkConsistency } from "./consistency.js";
import { encodeResource } from "./encode.js";
import { SetDigest, SnapshotImpl, TypeSnapshotImpl } from "./snapshot.js";
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
}

/** The in-memory registry, with introspection used by tests and debug pages. */
export interface MemorySnapshotRegistry extends SnapshotRegistry {
  /** Number of parked watches (all node groups and types). */
  watchCount(): number;
  /** The resource type known for a type URL (built-in or registered), if any. */
  resourceType(typeUrl: string): ResourceType | undefined;
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
  /** Identifies requests that must get identical answers, so they share one response (and one body). */
  readonly shareKey: string;
  active: boolean;
}

// Identity numbers for maps and sets, so requests that pass the very same
// object (streams re-arming with the versions of one shared response) get the
// same key without walking their contents.
const identities = new WeakMap<object, number>();
let nextIdentity = 0;
function identity(o: object): number {
  let id = identities.get(o);
  if (id === undefined) {
    id = ++nextIdentity;
    identities.set(o, id);
  }
  return id;
}

// The names part of a share key, built once per name set: streams re-arm with
// the same set object after every push, so this walks the names only when a
// subscription changes. Equal contents get equal numbers, so streams that
// subscribed to the same names still share responses.
const nameSetKeys = new WeakMap<ReadonlySet<string>, number>();
const nameSetIds = new Map<string, number>();
let nextNameSetId = 0;
function nameSetKey(names: ReadonlySet<string>): number {
  let id = nameSetKeys.get(names);
  if (id === undefined) {
    // Names in request order: clients of one kind send them in the same order;
    // a different order only costs sharing, never correctness.
    let text = "";
    for (const n of names) text += `${n}\n`;
    id = nameSetIds.get(text);
    if (id === undefined) {
      id = ++nextNameSetId;
      // Bounded: past the cap, new sets simply stop sharing with equal ones.
      if (nameSetIds.size < 100_000) nameSetIds.set(text, id);
    }
    nameSetKeys.set(names, id);
  }
  return id;
}

function shareKeyOf(req: WatchRequest): string {
  const known = req.knownVersions ? identity(req.knownVersions) : 0;
  return `${req.mode ?? "sotw"}|${req.wildcard ? 1 : 0}|${req.knownVersion ?? "\u0000"}|${known}|${nameSetKey(req.resourceNames)}`;
}

/** What a response's `versions` map was computed from, so re-arming with it can skip the work. */
interface Provenance {
  readonly ts: TypeSnapshot | undefined;
  /** {@link nameSetKey} of the names: equal sets of different streams compare equal. */
  readonly names: number;
  readonly wildcard: boolean;
  readonly mode: string;
}
const provenance = new WeakMap<ReadonlyMap<string, string>, Provenance>();

// The versions map depends only on the type snapshot and the subscription, so
// every stream with the same subscription gets the same map object. Streams
// re-arm with it, which makes their share keys equal again even when their
// first requests differed (as Delta's always do), so later pushes are
// computed once for all of them.
const versionMaps = new WeakMap<TypeSnapshot, Map<string, ReadonlyMap<string, string>>>();

function versionsOf(
  req: WatchRequest,
  ts: TypeSnapshot | undefined,
  subscribed: readonly EncodedResource[],
): ReadonlyMap<string, string> {
  const names = nameSetKey(req.resourceNames);
  const mode = req.mode ?? "sotw";
  const key = `${names}|${req.wildcard ? 1 : 0}|${mode}`;
  let byKey = ts ? versionMaps.get(ts) : undefined;
  const cached = byKey?.get(key);
  if (cached) return cached;
  const versions = new Map<string, string>();
  for (const r of subscribed) versions.set(r.name, r.version);
  provenance.set(versions, { ts, names, wildcard: req.wildcard, mode });
  if (ts) {
    if (!byKey) {
      byKey = new Map();
      versionMaps.set(ts, byKey);
    }
    byKey.set(key, versions);
  }
  return versions;
}

/**
 * True when the request re-arms with the versions of a response computed for
 * the very same subscription and type snapshot: then the client has
 * everything and the O(names) comparison can be skipped.
 */
function upToDate(req: WatchRequest, ts: TypeSnapshot | undefined): boolean {
  if (!req.knownVersions) return false;
  const p = provenance.get(req.knownVersions);
  return (
    p !== undefined &&
    p.ts === ts &&
    p.names === nameSetKey(req.resourceNames) &&
    p.wildcard === req.wildcard &&
    p.mode === (req.mode ?? "sotw")
  );
}

/**
 * Computes what a watch should receive now, or `null` when the client already
 * has everything (the watch stays parked).
 */
function respond(req: WatchRequest, snap: Snapshot, type: ResourceType | undefined): WatchResponse | null {
  const ts = snap.types.get(req.typeUrl) as TypeSnapshotImpl | undefined;
  const all = ts?.resources ?? EMPTY;
  const version = ts?.version ?? EMPTY_VERSION;
  const delta = req.mode === "delta";
  const fullState = !delta && (type?.fullState ?? false);

  let subscribed: readonly EncodedResource[];
  // xdstp:// glob collections among the names stand for every resource directly in their path.
  let globs: string[] | undefined;
  if (req.wildcard) {
    // Wildcard plus explicit names: the named ones are in `all` already, or missing.
    subscribed = ts ? ts.list() : [];
  } else {
    const list: EncodedResource[] = [];
    for (const name of req.resourceNames) {
      const r = all.get(name);
      if (r) list.push(r);
      else if (isGlobCollection(name)) (globs ??= []).push(name);
    }
    if (globs) {
      const seen = new Set(list.map((r) => r.name));
      for (const r of all.values()) {
        if (!seen.has(r.name) && globs.some((g) => inGlobCollection(g, r.name))) list.push(r);
      }
    }
    subscribed = list;
  }
  const versions = versionsOf(req, ts, subscribed);

  const known = req.knownVersions;
  const removed: string[] = [];
  let changed: readonly EncodedResource[] = subscribed;
  if (known) {
    for (const name of known.keys()) {
      if (all.has(name)) continue;
      if (req.wildcard || req.resourceNames.has(name) || globs?.some((g) => inGlobCollection(g, name))) {
        removed.push(name);
      }
    }
    changed = subscribed.filter((r) => known.get(r.name) !== r.version);
  }

  if (fullState) {
    if (known) {
      if (changed.length === 0 && removed.length === 0) return null;
    } else if (req.knownVersion !== undefined && req.knownVersion === version) {
      return null;
    }
    return { nodeGroup: snap.nodeGroup, typeUrl: req.typeUrl, version, resources: subscribed, removed, versions };
  }
  if (!known && req.knownVersion !== undefined && req.knownVersion === version) return null;
  if (changed.length === 0 && removed.length === 0) return null;
  return { nodeGroup: snap.nodeGroup, typeUrl: req.typeUrl, version, resources: changed, removed, versions };
}

const EMPTY_VERSION = new SetDigest().version();

// How many valid content hashes a registry remembers (about 100 bytes each).
const VALID_CONTENT_LIMIT = 500_000;

// Responses per snapshot and share key. Watches asking the same thing of the
// same snapshot get one response object, so the ADS server encodes and
// assembles it once: whether a change fires them together or they arrive one
// by one (a fleet reconnecting after a control-plane restart, or subscribing
// while a push is under way). Only requests without versions, or with the
// registry's own shared version maps, are kept: other known-version maps are
// one stream's own and would never be asked for again.
const responseCache = new WeakMap<Snapshot, Map<string, WatchResponse | null>>();
const RESPONSE_CACHE_LIMIT = 1024;

function respondShared(w: Watch, snap: Snapshot, type: ResourceType | undefined): WatchResponse | null {
  const known = w.request.knownVersions;
  if (known && !provenance.has(known)) return respond(w.request, snap, type);
  let cache = responseCache.get(snap);
  if (!cache) {
    cache = new Map();
    responseCache.set(snap, cache);
  }
  const key = `${w.request.typeUrl}\u0000${w.shareKey}`;
  let resp = cache.get(key);
  if (resp === undefined) {
    resp = respond(w.request, snap, type);
    // Bounded per snapshot: past the cap, start over rather than grow.
    if (cache.size >= RESPONSE_CACHE_LIMIT) cache.clear();
    cache.set(key, resp);
  }
  return resp;
}

class InMemorySnapshotRegistry extends EventEmitter<SnapshotRegistryEvents> implements MemorySnapshotRegistry {
  readonly #snapshots = new Map<string, SnapshotImpl>();
  readonly #watches = new Map<string, Set<Watch>>();
  readonly #types = new Map<string, ResourceType>();
  readonly #options: SnapshotRegistryOptions;
  readonly #log: Logger;
  #watchCount = 0;
  /** Content hashes that passed the built-in checks. */
  readonly #validContent = new Set<string>();

  constructor(options: SnapshotRegistryOptions) {
    super();
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    for (const t of options.resourceTypes ?? []) this.#types.set(t.typeUrl, t);
  }

  nodeGroup(node: Node): string {
    return this.#options.nodeGroup ? this.#options.nodeGroup(node) : node.id;
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
    const touched = new Set(changes.map((c) => c.next.typeUrl));
    // A group's first snapshot also answers watchers of the types it lacks (they get nothing, not a wait).
    if (!prev) for (const t of this.#watchedTypes(nodeGroup)) touched.add(t);
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
    const w: Watch = { request, callback, set, shareKey: shareKeyOf(request), active: true };
    set.add(w);
    this.#watchCount++;
    const snap = this.#snapshots.get(request.nodeGroup);
    const now =
      snap && !upToDate(request, snap.types.get(request.typeUrl))
        ? respondShared(w, snap, this.resourceType(request.typeUrl))
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
        const resp = respondShared(w, snap, type);
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
