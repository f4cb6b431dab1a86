// Composed node groups: a group's snapshot as the union of parts (other
// node groups' snapshots), so what many groups share — a scope's outbound
// config — is held and computed once, and only what differs (a workload's
// inbound config) is per group. Groups composed of the same parts get the
// very same type snapshot objects, so their watchers share responses.
import { XdsError } from "@xdskit/xds-types";
import { type ListedTypeSnapshot, SnapshotImpl, UnionTypeSnapshot } from "./snapshot.js";
import type { Snapshot } from "./types.js";

// Unions by their parts' identities (nested weak maps), so equal
// compositions share one object and a part's old versions can be collected.
type UnionCache = WeakMap<object, UnionCache | UnionTypeSnapshot>;

/** Which groups are composed of which parts. */
export class Compositions {
  readonly #parts = new Map<string, readonly string[]>();
  readonly #users = new Map<string, Set<string>>();
  readonly #unions: UnionCache = new WeakMap();

  /** The parts of a composed group, or undefined when it is a plain group. */
  partsOf(group: string): readonly string[] | undefined {
    return this.#parts.get(group);
  }

  /** Groups composed of a part. */
  usersOf(part: string): ReadonlySet<string> {
    return this.#users.get(part) ?? EMPTY;
  }

  /** Records (or replaces) a group's parts. */
  set(group: string, parts: readonly string[]): void {
    this.delete(group);
    this.#parts.set(group, [...parts]);
    for (const p of parts) {
      let set = this.#users.get(p);
      if (!set) {
        set = new Set();
        this.#users.set(p, set);
      }
      set.add(group);
    }
  }

  /** Forgets a group's composition. */
  delete(group: string): void {
    const parts = this.#parts.get(group);
    if (!parts) return;
    this.#parts.delete(group);
    for (const p of parts) {
      const set = this.#users.get(p);
      set?.delete(group);
      if (set?.size === 0) this.#users.delete(p);
    }
  }

  /** Number of composed groups. */
  get size(): number {
    return this.#parts.size;
  }

  /**
   * The snapshot of `group` composed of the given part snapshots (a missing
   * part counts as empty). Throws when two parts hold the same name in a type.
   */
  compose(group: string, parts: readonly string[], snapshots: (part: string) => Snapshot | undefined): SnapshotImpl {
    const byType = new Map<string, ListedTypeSnapshot[]>();
    const owners = new Map<ListedTypeSnapshot, string>();
    for (const part of parts) {
      for (const [typeUrl, ts] of snapshots(part)?.types ?? []) {
        const list = byType.get(typeUrl) ?? [];
        list.push(ts as ListedTypeSnapshot);
        owners.set(ts as ListedTypeSnapshot, part);
        byType.set(typeUrl, list);
      }
    }
    const types = new Map<string, ListedTypeSnapshot>();
    for (const [typeUrl, list] of byType) {
      // A part with nothing of a type adds nothing: the other part's own object is used.
      const nonEmpty = list.filter((ts) => ts.resources.size > 0);
      if (nonEmpty.length > 1) types.set(typeUrl, this.#union(group, typeUrl, nonEmpty, owners));
      else types.set(typeUrl, (nonEmpty[0] ?? list[0]) as ListedTypeSnapshot);
    }
    return new SnapshotImpl(group, types);
  }

  #union(
    group: string,
    typeUrl: string,
    parts: readonly ListedTypeSnapshot[],
    owners: ReadonlyMap<ListedTypeSnapshot, string>,
  ): UnionTypeSnapshot {
    let level: UnionCache = this.#unions;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i] as ListedTypeSnapshot;
      let next = level.get(part) as UnionCache | undefined;
      if (!next) {
        next = new WeakMap();
        level.set(part, next);
      }
      level = next;
    }
    const last = parts[parts.length - 1] as ListedTypeSnapshot;
    const hit = level.get(last);
    if (hit instanceof UnionTypeSnapshot) return hit;
    assertDisjoint(group, typeUrl, parts, owners);
    const union = new UnionTypeSnapshot(typeUrl, parts);
    level.set(last, union);
    return union;
  }
}

const EMPTY: ReadonlySet<string> = new Set();

function assertDisjoint(
  group: string,
  typeUrl: string,
  parts: readonly ListedTypeSnapshot[],
  owners: ReadonlyMap<ListedTypeSnapshot, string>,
): void {
  // Checked against the smaller parts: a workload part is small, a scope large.
  const sorted = [...parts].sort((a, b) => a.resources.size - b.resources.size);
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i] as ListedTypeSnapshot;
    for (const name of a.resources.keys()) {
      for (let j = i + 1; j < sorted.length; j++) {
        const b = sorted[j] as ListedTypeSnapshot;
        if (b.resources.has(name)) {
          throw new XdsError(
            "duplicate_resource",
            `node group "${group}": parts "${owners.get(a)}" and "${owners.get(b)}" both hold ${typeUrl.split(".").pop()} "${name}"; the parts of a group must not overlap`,
          );
        }
      }
    }
  }
}
