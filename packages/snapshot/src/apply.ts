// Building one type's snapshot from what a host hands in: a whole set
// (setSnapshot) or upserts and removals over the previous set (updateSnapshot).
import { type ResourceType, XdsError } from "@xdskit/xds-types";
import { SetDigest, TypeSnapshotImpl } from "./snapshot.js";
import type { EncodedResource, ResourceInput, ResourceUpdate, SnapshotInput } from "./types.js";

/** Turns an input into the held, checked resource. */
export type Encode = (type: ResourceType, input: ResourceInput, where: string) => EncodedResource;

/** What an update did to one type. */
export interface TypeChange {
  readonly next: TypeSnapshotImpl;
  readonly upserted: string[];
  readonly removed: string[];
}

const EMPTY = new Map<string, EncodedResource>();

function same(a: EncodedResource, b: EncodedResource): boolean {
  return a === b || (a.hash === b.hash && a.version === b.version && a.ttlMs === b.ttlMs);
}

/** The resources of a whole-type entry (a list, or `{ version, resources }`); undefined when it is neither. */
export function inputsOf(entry: SnapshotInput[string]): readonly ResourceInput[] | undefined {
  const list = Array.isArray(entry)
    ? (entry as readonly ResourceInput[])
    : (entry as { resources: readonly ResourceInput[] } | undefined)?.resources;
  return Array.isArray(list) ? list : undefined;
}

/**
 * A whole type from a list (or `{ version, resources }`). Returns `prev` itself
 * when nothing changed, so identity (and cached bytes) stay stable.
 */
export function buildType(
  type: ResourceType,
  entry: SnapshotInput[string],
  prev: TypeSnapshotImpl | undefined,
  encode: Encode,
  where: string,
  changedAt?: number,
): TypeSnapshotImpl {
  const list = inputsOf(entry);
  const givenVersion = Array.isArray(entry) ? undefined : (entry as { version?: string } | undefined)?.version;
  if (!list) throw new XdsError("invalid_argument", `${where}: expected a list of resources`);
  const map = new Map<string, EncodedResource>();
  let unchanged = prev !== undefined && prev.resources.size === list.length;
  for (const item of list) {
    const enc = encode(type, item, where);
    if (map.has(enc.name)) {
      throw new XdsError(
        "duplicate_resource",
        `${where}: the name "${enc.name}" appears twice; names must be unique within a type`,
      );
    }
    const old = prev?.resources.get(enc.name);
    if (old && same(old, enc)) map.set(enc.name, old);
    else {
      map.set(enc.name, enc);
      unchanged = false;
    }
  }
  const digest = SetDigest.of(map);
  const version = givenVersion ?? digest.version();
  if (unchanged && prev && prev.version === version) return prev;
  return new TypeSnapshotImpl(type.typeUrl, version, map, digest, changedAt);
}

/** One type's upserts and removals over its previous set, or undefined when nothing changes. */
export function applyUpdate(
  type: ResourceType,
  prev: TypeSnapshotImpl | undefined,
  update: ResourceUpdate,
  encode: Encode,
  where: string,
  changedAt?: number,
): TypeChange | undefined {
  if (update === null || typeof update !== "object") {
    throw new XdsError("invalid_argument", `${where}: expected an update ({ upsert?, remove? }), got ${update}`);
  }
  const upserted: string[] = [];
  const removed: string[] = [];
  let map: Map<string, EncodedResource> | undefined;
  const digest = prev ? prev.digest.copy() : new SetDigest();
  const seen = new Set<string>();
  // The previous map is copied only once something actually changes.
  const writable = () => {
    map ??= new Map(prev?.resources ?? EMPTY);
    return map;
  };
  for (const item of update.upsert ?? []) {
    const enc = encode(type, item, where);
    if (seen.has(enc.name)) {
      throw new XdsError("duplicate_resource", `${where}: the name "${enc.name}" appears twice in one update`);
    }
    seen.add(enc.name);
    const old = (map ?? prev?.resources)?.get(enc.name);
    if (old && same(old, enc)) continue;
    if (old) digest.toggle(old, -1);
    digest.toggle(enc, 1);
    writable().set(enc.name, enc);
    upserted.push(enc.name);
  }
  for (const name of update.remove ?? []) {
    if (seen.has(name)) {
      throw new XdsError("invalid_argument", `${where}: "${name}" is both upserted and removed in one update`);
    }
    const old = (map ?? prev?.resources)?.get(name);
    if (!old) continue;
    digest.toggle(old, -1);
    writable().delete(name);
    removed.push(name);
  }
  if (upserted.length === 0 && removed.length === 0 && prev) return undefined;
  return {
    next: new TypeSnapshotImpl(
      type.typeUrl,
      digest.version(),
      map ?? new Map(prev?.resources ?? EMPTY),
      digest,
      changedAt,
    ),
    upserted,
    removed,
  };
}
