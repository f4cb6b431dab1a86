// What a watch receives: computed from a snapshot and the subscription, and
// shared by every watch that asks the same thing of the same snapshot.
import { type ResourceType, inGlobCollection, isGlobCollection } from "@xdskit/xds-types";
import { type ListedTypeSnapshot, SetDigest } from "./snapshot.js";
import type { Subscription, SubscriptionTable } from "./subscriptions.js";
import type { EncodedResource, Snapshot, TypeSnapshot, WatchRequest, WatchResponse } from "./types.js";

const EMPTY = new Map<string, EncodedResource>();
const EMPTY_VERSION = new SetDigest().version();

/** What a response's `versions` map was computed from, so re-arming with it can skip the work. */
interface Provenance {
  readonly ts: TypeSnapshot | undefined;
  readonly sub: Subscription;
}
const provenance = new WeakMap<ReadonlyMap<string, string>, Provenance>();

// The versions map depends only on the type snapshot and the subscription, so
// every stream with the same subscription gets the same map object. Streams
// re-arm with it, which makes their share keys equal again even when their
// first requests differed (as Delta's always do), so later pushes are
// computed once for all of them. Only the latest type snapshot's map is kept.
function versionsOf(
  sub: Subscription,
  ts: TypeSnapshot | undefined,
  subscribed: readonly EncodedResource[],
): ReadonlyMap<string, string> {
  if (ts && sub.versions?.ts === ts) return sub.versions.map;
  const versions = new Map<string, string>();
  for (const r of subscribed) versions.set(r.name, r.version);
  provenance.set(versions, { ts, sub });
  if (ts) sub.versions = { ts, map: versions };
  return versions;
}

/**
 * True when the request re-arms with the versions of a response computed for
 * the very same subscription and type snapshot: then the client has
 * everything and the O(names) comparison can be skipped.
 */
export function upToDate(req: WatchRequest, sub: Subscription, ts: TypeSnapshot | undefined): boolean {
  if (!req.knownVersions) return false;
  const p = provenance.get(req.knownVersions);
  return p !== undefined && p.ts === ts && p.sub === sub;
}

// Identity numbers for known-version maps, so requests that pass the very
// same object (streams re-arming with the versions of one shared response)
// get the same key without walking their contents.
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

/** The part of a share key that says what the client already holds. */
export function knownKeyOf(req: WatchRequest): string {
  const known = req.knownVersions ? identity(req.knownVersions) : 0;
  return `${req.knownVersion ?? "\u0000"}|${known}`;
}

/**
 * Computes what a watch should receive now, or `null` when the client already
 * has everything (the watch stays parked).
 */
export function respond(
  req: WatchRequest,
  sub: Subscription,
  snap: Snapshot,
  type: ResourceType | undefined,
): WatchResponse | null {
  const ts = snap.types.get(req.typeUrl) as ListedTypeSnapshot | undefined;
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
  const versions = versionsOf(sub, ts, subscribed);

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
    return {
      nodeGroup: snap.nodeGroup,
      typeUrl: req.typeUrl,
      version,
      resources: subscribed,
      removed,
      versions,
      changedAt: ts?.changedAt,
    };
  }
  if (!known && req.knownVersion !== undefined && req.knownVersion === version) return null;
  if (changed.length === 0 && removed.length === 0) return null;
  return {
    nodeGroup: snap.nodeGroup,
    typeUrl: req.typeUrl,
    version,
    resources: changed,
    removed,
    versions,
    changedAt: ts?.changedAt,
  };
}

/**
 * Watches asking the same thing of the same type snapshot get one response
 * object (whatever their node group: composed groups share type snapshots),
 * so the ADS server encodes and assembles it once: whether a change fires them
 * together or they arrive one by one (a fleet reconnecting after a restart, or
 * subscribing while a push is under way). Only requests without versions, or
 * with the registry's own shared version maps, are cached: other known-version
 * maps are one stream's own and would never be asked for again.
 */
export function respondShared(
  table: SubscriptionTable,
  req: WatchRequest,
  sub: Subscription,
  snap: Snapshot,
  type: ResourceType | undefined,
): WatchResponse | null {
  const known = req.knownVersions;
  const ts = snap.types.get(req.typeUrl);
  if (!ts || (known && !provenance.has(known))) return respond(req, sub, snap, type);
  const key = knownKeyOf(req);
  let resp = table.cached(sub, ts, key);
  if (resp === undefined) {
    resp = respond(req, sub, snap, type);
    table.store(sub, ts, key, resp);
  }
  return resp;
}
