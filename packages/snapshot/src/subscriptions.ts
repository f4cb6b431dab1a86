// Every cache keyed by what a client subscribed to lives here, owned by the
// live watches that use it: a subscription (type, mode, wildcard, names) is
// interned while at least one watch holds it and dropped soon after the last
// one goes, together with its shared versions map and its cached responses.
// It is not tied to a node group: groups that hold the very same type
// snapshot (composed of the same parts) share the answers too. A client that churns its subscriptions therefore costs memory
// only for what it subscribes to now, and nothing once it disconnects.
import crypto from "node:crypto";
import type { TypeSnapshot, WatchRequest, WatchResponse } from "./types.js";

/** A distinct set of names, shared by every subscription that names exactly these. */
interface NameSet {
  readonly id: number;
  readonly digest: string;
  refs: number;
  alive: boolean;
}

/** The responses of one subscription for one type snapshot, by the client's known versions. */
interface CachedResponses {
  readonly ts: TypeSnapshot;
  readonly byKnown: Map<string, WatchResponse | null>;
}

/**
 * One distinct subscription held by live watches. Watches with the same
 * subscription share its versions map and its responses.
 */
export class Subscription {
  refs = 0;
  /** Versions of the subscribed resources in `ts`; one map object for every watch of this subscription. */
  versions: { readonly ts: TypeSnapshot | undefined; readonly map: ReadonlyMap<string, string> } | undefined;
  /** Responses computed against one type snapshot (the latest asked for). */
  responses: CachedResponses | undefined;
  constructor(
    readonly key: string,
    readonly id: number,
    readonly names: NameSet,
  ) {}
}

/** Counts of what the table holds, for stats and leak checks. */
export interface SubscriptionStats {
  readonly subscriptions: number;
  readonly nameSets: number;
  readonly cachedResponses: number;
  readonly cachedResponseBytes: number;
}

// What a response keeps alive: its resources' bytes (and, in the ADS server,
// one assembled copy of them).
function sizeOf(resp: WatchResponse | null): number {
  if (!resp) return 64;
  let n = 64;
  for (const r of resp.resources) n += r.anyBytes.length + r.name.length;
  return n;
}

let nextId = 0;

/** Interns subscriptions and bounds the responses they cache. */
export class SubscriptionTable {
  readonly #byKey = new Map<string, Subscription>();
  readonly #setsByObject = new WeakMap<ReadonlySet<string>, NameSet>();
  readonly #setsByDigest = new Map<string, NameSet>();
  readonly #idle = new Set<Subscription>();
  #sweep: NodeJS.Immediate | undefined;
  // Cached responses in least-recently-stored order, across subscriptions.
  readonly #lru = new Map<string, { sub: Subscription; ts: TypeSnapshot; known: string; size: number }>();
  #cachedBytes = 0;

  constructor(readonly maxCachedResponseBytes: number) {}

  /** The subscription of a watch request, held until {@link release}. */
  acquire(req: WatchRequest): Subscription {
    const names = this.#nameSet(req.resourceNames);
    const key = `${req.typeUrl}\u0000${req.mode ?? "sotw"}\u0000${req.wildcard ? 1 : 0}\u0000${names.id}`;
    let sub = this.#byKey.get(key);
    if (!sub) {
      sub = new Subscription(key, ++nextId, names);
      names.refs++;
      this.#byKey.set(key, sub);
    }
    sub.refs++;
    this.#idle.delete(sub);
    return sub;
  }

  /** Gives back a hold; the subscription is dropped once no watch has held it for a turn of the event loop. */
  release(sub: Subscription): void {
    sub.refs--;
    if (sub.refs > 0) return;
    // Deferred: a fired watch is cancelled and re-armed with the same
    // subscription at once, which must find its caches still there.
    this.#idle.add(sub);
    this.#sweep ??= setImmediate(() => this.#collect());
    this.#sweep.unref?.();
  }

  #collect(): void {
    this.#sweep = undefined;
    for (const sub of this.#idle) {
      if (sub.refs > 0) continue;
      this.#byKey.delete(sub.key);
      this.#dropResponses(sub);
      sub.versions = undefined;
      const names = sub.names;
      names.refs--;
      if (names.refs === 0) {
        names.alive = false;
        this.#setsByDigest.delete(names.digest);
      }
    }
    this.#idle.clear();
  }

  // Equal name sets get one number, so streams that subscribed to the same
  // names share a subscription. Keyed once per set object: streams keep their
  // set between subscription changes, so names are walked only on a change.
  #nameSet(names: ReadonlySet<string>): NameSet {
    const known = this.#setsByObject.get(names);
    if (known?.alive) return known;
    // Names in request order: clients of one kind send them in the same order;
    // another order only costs sharing, never correctness.
    const hash = crypto.createHash("sha1");
    for (const n of names) hash.update(n).update("\n");
    const digest = `${names.size}:${hash.digest("hex")}`;
    let set = this.#setsByDigest.get(digest);
    if (!set) {
      set = { id: ++nextId, digest, refs: 0, alive: true };
      this.#setsByDigest.set(digest, set);
    }
    this.#setsByObject.set(names, set);
    return set;
  }

  /** A cached response of `sub` for `ts` and the client's known versions, or undefined. */
  cached(sub: Subscription, ts: TypeSnapshot, known: string): WatchResponse | null | undefined {
    const r = sub.responses;
    if (!r || r.ts !== ts) return undefined;
    return r.byKnown.get(known);
  }

  /** Caches a response; the oldest cached responses go when their bytes pass the budget. */
  store(sub: Subscription, ts: TypeSnapshot, known: string, resp: WatchResponse | null): void {
    if (sub.refs === 0) return;
    if (sub.responses?.ts !== ts) {
      this.#dropResponses(sub);
      sub.responses = { ts, byKnown: new Map() };
    }
    const size = sizeOf(resp);
    if (size > this.maxCachedResponseBytes) return;
    sub.responses.byKnown.set(known, resp);
    const key = `${sub.id}\u0000${known}`;
    const old = this.#lru.get(key);
    if (old) {
      this.#lru.delete(key);
      this.#cachedBytes -= old.size;
    }
    this.#lru.set(key, { sub, ts, known, size });
    this.#cachedBytes += size;
    for (const [k, e] of this.#lru) {
      if (this.#cachedBytes <= this.maxCachedResponseBytes) break;
      this.#lru.delete(k);
      this.#cachedBytes -= e.size;
      if (e.sub.responses?.ts === e.ts) e.sub.responses.byKnown.delete(e.known);
    }
  }

  #dropResponses(sub: Subscription): void {
    const r = sub.responses;
    if (!r) return;
    for (const known of r.byKnown.keys()) {
      const k = `${sub.id}\u0000${known}`;
      const e = this.#lru.get(k);
      if (e) {
        this.#lru.delete(k);
        this.#cachedBytes -= e.size;
      }
    }
    sub.responses = undefined;
  }

  /** What the table holds now. */
  stats(): SubscriptionStats {
    return {
      subscriptions: this.#byKey.size,
      nameSets: this.#setsByDigest.size,
      cachedResponses: this.#lru.size,
      cachedResponseBytes: this.#cachedBytes,
    };
  }
}
