// Parked watches per (node group, type URL), and firing them: each watch is
// answered with the response its subscription shares with every other watch
// asking the same thing of the same type snapshot.
import type { Logger, ResourceType } from "@xdskit/xds-types";
import { respondShared, upToDate } from "./respond.js";
import type { Subscription, SubscriptionTable } from "./subscriptions.js";
import type { CancelWatch, Snapshot, WatchCallback, WatchRequest, WatchResponse } from "./types.js";

interface Watch {
  readonly request: WatchRequest;
  readonly callback: WatchCallback;
  /** The interned subscription: watches with the same one share versions maps and responses. */
  readonly sub: Subscription;
  active: boolean;
}

/** One-shot watches, by node group and type. */
export class WatchTable {
  // By node group, then type: a group's types are found without a walk over
  // every group's (a new group among thousands asks for them).
  readonly #groups = new Map<string, Map<string, Set<Watch>>>();
  #count = 0;

  constructor(
    readonly subs: SubscriptionTable,
    readonly log: Logger,
    readonly resourceType: (typeUrl: string) => ResourceType | undefined,
  ) {}

  /** Parks a watch; answers it on a microtask when `snap` already has something the client lacks. */
  add(request: WatchRequest, callback: WatchCallback, snap: Snapshot | undefined): CancelWatch {
    let types = this.#groups.get(request.nodeGroup);
    if (!types) {
      types = new Map();
      this.#groups.set(request.nodeGroup, types);
    }
    let set = types.get(request.typeUrl);
    if (!set) {
      set = new Set();
      types.set(request.typeUrl, set);
    }
    const w: Watch = { request, callback, sub: this.subs.acquire(request), active: true };
    set.add(w);
    this.#count++;
    const now =
      snap && !upToDate(request, w.sub, snap.types.get(request.typeUrl))
        ? respondShared(this.subs, request, w.sub, snap, this.resourceType(request.typeUrl))
        : null;
    if (now) {
      // Answer on a microtask, not inside watch(): the caller gets its cancel
      // function first, and a callback that re-arms cannot race the return value.
      queueMicrotask(() => {
        if (!w.active) return;
        this.#cancel(w);
        this.#invoke(w, now);
      });
    }
    return () => this.#cancel(w);
  }

  /** Answers every watch of the group on the given types that lacks something in `snap`. */
  fire(nodeGroup: string, typeUrls: Iterable<string>, snap: Snapshot): void {
    for (const typeUrl of typeUrls) {
      // Looked up per type: a callback may re-arm a watch of this group.
      const set = this.#groups.get(nodeGroup)?.get(typeUrl);
      if (!set) continue;
      const type = this.resourceType(typeUrl);
      for (const w of [...set]) {
        if (!w.active) continue;
        const resp = respondShared(this.subs, w.request, w.sub, snap, type);
        if (!resp) continue;
        this.#cancel(w);
        this.#invoke(w, resp);
      }
    }
  }

  /** Type URLs some watch of the node group is parked on. */
  watchedTypes(nodeGroup: string): Iterable<string> {
    return [...(this.#groups.get(nodeGroup)?.keys() ?? [])];
  }

  /** Parked watches. */
  get count(): number {
    return this.#count;
  }

  #invoke(w: Watch, resp: WatchResponse): void {
    try {
      w.callback(resp);
    } catch (err) {
      this.log.error("watch callback threw", {
        nodeGroup: w.request.nodeGroup,
        typeUrl: resp.typeUrl,
        error: String(err),
      });
    }
  }

  #cancel(w: Watch): void {
    if (!w.active) return;
    w.active = false;
    const types = this.#groups.get(w.request.nodeGroup);
    const set = types?.get(w.request.typeUrl);
    set?.delete(w);
    if (set?.size === 0) {
      types?.delete(w.request.typeUrl);
      if (types?.size === 0) this.#groups.delete(w.request.nodeGroup);
    }
    this.#count--;
    this.subs.release(w.sub);
  }
}
