// Builders memoized by the inputs they read (Istio's XDS cache, done in the
// framework): a resource is rebuilt only when its inputs changed, and the same
// frozen object is handed on otherwise, so the registry neither re-encodes
// nor re-checks it. Slots not used by a push are dropped at its end.
import { findResourceType } from "@xdskit/xds-types";
import { compactMessage } from "./compact.js";

/** Counts of the last push and of what the cache holds. */
export interface BuildCacheStats {
  /** Resources built in the last push (inputs changed or first seen). */
  readonly built: number;
  /** Resources reused unchanged in the last push. */
  readonly reused: number;
  /** Slots held. */
  readonly slots: number;
}

interface Slot {
  readonly typeUrl: string;
  inputs: string;
  value: unknown;
  round: number;
}

/**
 * Freezes a message and everything in it (typed arrays excepted, which cannot
 * be frozen): a shared output that someone tries to change fails loudly
 * instead of changing every group's config at once.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value) || ArrayBuffer.isView(value)) return value;
  for (const v of Object.values(value as object)) deepFreeze(v);
  return Object.freeze(value);
}

/** A built value (a message of the type or a list of them) in its compact form; anything else as it is. */
function compacted<T>(typeUrl: string, value: T): T {
  const schema = findResourceType(typeUrl)?.schema;
  if (!schema) return value;
  if (Array.isArray(value)) return value.map((m) => compactMessage(schema, m as object)) as T;
  return typeof value === "object" && value !== null ? compactMessage(schema, value) : value;
}

/** A cache of built resources by slot and inputs. */
export class BuildCache {
  readonly #slots = new Map<string, Map<string, Slot>>();
  #round = 0;
  #built = 0;
  #reused = 0;

  /** The value of type `typeUrl` built for `slot` from `inputs`, building (and freezing) it when the inputs differ. */
  get<T>(typeUrl: string, slot: string, inputs: string, build: () => T): T {
    let slots = this.#slots.get(typeUrl);
    if (!slots) {
      slots = new Map();
      this.#slots.set(typeUrl, slots);
    }
    const s = slots.get(slot);
    if (s && s.inputs === inputs) {
      s.round = this.#round;
      this.#reused++;
      return s.value as T;
    }
    const value = deepFreeze(compacted(typeUrl, build()));
    slots.set(slot, { typeUrl, inputs, value, round: this.#round });
    this.#built++;
    return value;
  }

  /** Starts counting a push. */
  begin(): void {
    this.#round++;
    this.#built = 0;
    this.#reused = 0;
  }

  /** Drops the slots of the types the push built that it did not use (resources of services that are gone). */
  end(builtTypes: ReadonlySet<string> | undefined): void {
    for (const [typeUrl, slots] of this.#slots) {
      if (builtTypes && !builtTypes.has(typeUrl)) continue;
      for (const [k, s] of slots) if (s.round !== this.#round) slots.delete(k);
    }
  }

  /** Counts of the last push. */
  stats(): BuildCacheStats {
    let slots = 0;
    for (const m of this.#slots.values()) slots += m.size;
    return { built: this.#built, reused: this.#reused, slots };
  }
}
