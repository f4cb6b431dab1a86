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

/** An immutable set of resources of one type. */
export class TypeSnapshotImpl implements TypeSnapshot {
  #list: readonly EncodedResource[] | undefined;
  constructor(
    readonly typeUrl: string,
    readonly version: string,
    readonly resources: ReadonlyMap<string, EncodedResource>,
    /** Digest of the set, kept for O(1) incremental updates. */
    readonly digest: SetDigest,
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
