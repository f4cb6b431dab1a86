import { createHash } from "node:crypto";
import type { EncodedResource, Snapshot, TypeSnapshot } from "./types.js";

/**
 * An order-independent digest of a set of (name, version) pairs: the XOR of a
 * 64-bit hash of each pair, plus the count. The same set gives the same digest
 * in every process and replica, and one upsert or removal updates it in O(1)
 * instead of re-hashing the whole set.
 */
export class SetDigest {
  constructor(
    public hi = 0,
    public lo = 0,
    public count = 0,
  ) {}

  /** Adds (or, applied twice, removes) one resource. */
  toggle(r: Pick<EncodedResource, "name" | "version" | "hash">, sign: 1 | -1): void {
    // A content-derived version already identifies name and content (the name
    // is inside the encoded message), so its hash is reused; a host-given
    // version is hashed together with the name.
    const hex =
      r.version === r.hash ? r.hash : createHash("sha1").update(r.name).update("\0").update(r.version).digest("hex");
    this.hi = (this.hi ^ Number.parseInt(hex.slice(0, 8), 16)) >>> 0;
    this.lo = (this.lo ^ Number.parseInt(hex.slice(8, 16), 16)) >>> 0;
    this.count += sign;
  }

  copy(): SetDigest {
    return new SetDigest(this.hi, this.lo, this.count);
  }

  /** The digest of the union of disjoint sets: the same as the digest of their resources together. */
  static combine(digests: readonly SetDigest[]): SetDigest {
    const d = new SetDigest();
    for (const x of digests) {
      d.hi = (d.hi ^ x.hi) >>> 0;
      d.lo = (d.lo ^ x.lo) >>> 0;
      d.count += x.count;
    }
    return d;
  }

  /** The version string of the set. */
  version(): string {
    return `${this.count.toString(36)}-${this.hi.toString(16).padStart(8, "0")}${this.lo.toString(16).padStart(8, "0")}`;
  }

  /** Digest of a whole set. */
  static of(resources: ReadonlyMap<string, EncodedResource>): SetDigest {
    const d = new SetDigest();
    for (const r of resources.values()) d.toggle(r, 1);
    return d;
  }
}

/** What the registry needs of a type snapshot beyond the public contract. */
export interface ListedTypeSnapshot extends TypeSnapshot {
  /** Every resource as one shared array (so wildcard watchers share one response body). */
  list(): readonly EncodedResource[];
  /** Digest of the set, kept for O(1) incremental updates and unions. */
  readonly digest: SetDigest;
}

/** An immutable set of resources of one type. */
export class TypeSnapshotImpl implements ListedTypeSnapshot {
  #list: readonly EncodedResource[] | undefined;
  constructor(
    readonly typeUrl: string,
    readonly version: string,
    readonly resources: ReadonlyMap<string, EncodedResource>,
    /** Digest of the set, kept for O(1) incremental updates. */
    readonly digest: SetDigest,
    readonly changedAt?: number | undefined,
  ) {}

  /** Every resource as one shared array (so wildcard watchers share one response body). */
  list(): readonly EncodedResource[] {
    this.#list ??= [...this.resources.values()];
    return this.#list;
  }
}

/** An immutable node-group snapshot. */
export class SnapshotImpl implements Snapshot {
  constructor(
    readonly nodeGroup: string,
    readonly types: ReadonlyMap<string, TypeSnapshot>,
  ) {}
  get(typeUrl: string): TypeSnapshot | undefined {
    return this.types.get(typeUrl);
  }
}

/** A read-only view of several disjoint maps as one. */
class UnionMap implements ReadonlyMap<string, EncodedResource> {
  readonly size: number;
  constructor(readonly parts: readonly ReadonlyMap<string, EncodedResource>[]) {
    let n = 0;
    for (const p of parts) n += p.size;
    this.size = n;
  }
  get(key: string): EncodedResource | undefined {
    for (const p of this.parts) {
      const r = p.get(key);
      if (r) return r;
    }
    return undefined;
  }
  has(key: string): boolean {
    return this.parts.some((p) => p.has(key));
  }
  forEach(fn: (value: EncodedResource, key: string, map: ReadonlyMap<string, EncodedResource>) => void): void {
    for (const [k, v] of this) fn(v, k, this);
  }
  *entries(): MapIterator<[string, EncodedResource]> {
    for (const p of this.parts) yield* p.entries();
  }
  *keys(): MapIterator<string> {
    for (const p of this.parts) yield* p.keys();
  }
  *values(): MapIterator<EncodedResource> {
    for (const p of this.parts) yield* p.values();
  }
  [Symbol.iterator](): MapIterator<[string, EncodedResource]> {
    return this.entries();
  }
}

/**
 * The resources of one type across the parts of a composed node group: a
 * view, not a copy, so composing a group costs nothing per resource. Its
 * version is the digest of the union, the same a flat snapshot of the same
 * resources would have.
 */
export class UnionTypeSnapshot implements ListedTypeSnapshot {
  readonly resources: ReadonlyMap<string, EncodedResource>;
  readonly digest: SetDigest;
  readonly version: string;
  readonly changedAt: number | undefined;
  #list: readonly EncodedResource[] | undefined;
  constructor(
    readonly typeUrl: string,
    readonly parts: readonly ListedTypeSnapshot[],
  ) {
    this.resources = new UnionMap(parts.map((p) => p.resources));
    this.digest = SetDigest.combine(parts.map((p) => p.digest));
    this.version = this.digest.version();
    let latest: number | undefined;
    for (const p of parts)
      if (p.changedAt !== undefined && (latest === undefined || p.changedAt > latest)) latest = p.changedAt;
    this.changedAt = latest;
  }
  list(): readonly EncodedResource[] {
    this.#list ??= this.parts.flatMap((p) => p.list());
    return this.#list;
  }
}
