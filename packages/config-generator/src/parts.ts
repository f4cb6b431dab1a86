// The parts node groups are composed of: one shared part per scope (what
// every proxy of a kind and scope sees: outbound config) and one per distinct
// workload (inbound config). A part is built once however many groups use
// it, and dropped with its last user.
import type { Message } from "@bufbuild/protobuf";
import type { MemorySnapshotRegistry, ResourceUpdate, SnapshotInput } from "@xdskit/snapshot";
import type { ConfigGenerator } from "./generator.js";
import { guardedLocality } from "./group-view.js";
import type { Proxy } from "./proxy.js";
import type { PushContext } from "./push-context.js";
import type { ScopeChoice } from "./push-scopes.js";

/** One part: what it is built for, who uses it, whether it must be built in full. */
export interface Part {
  readonly name: string;
  readonly shared: boolean;
  /** The scope's view of a proxy (shared), or the proxy of the first group using it (workload). */
  readonly proxy: Proxy;
  /** Shared parts: what the scope sees (the push is narrowed to it when the part is built). */
  readonly choice?: ScopeChoice;
  readonly users: Set<string>;
  /**
   * True until a full build succeeded, and again after a build failed: such
   * a part is always built in full, so a scoped push never installs a partial
   * world.
   */
  needsFull: boolean;
}

/**
 * The scope's view of a proxy: what shared builders may read. Its locality
 * only when scopes are split by locality (`groupBy.locality`); reading it
 * otherwise throws, naming that option.
 */
export function scopeProxy(proxy: Proxy, scope: string, byLocality = false): Proxy {
  const locality = byLocality ? { ...proxy.locality } : guardedLocality();
  return {
    id: scope,
    cluster: scope,
    kind: proxy.kind,
    locality,
    ip: undefined,
    metadata: {},
    userAgent: "",
    labels: {},
  };
}

/** Scope and workload parts, with their users. */
export class PartTable {
  readonly #parts = new Map<string, Part>();

  constructor(
    readonly registry: MemorySnapshotRegistry,
    readonly generator: ConfigGenerator,
  ) {}

  /** The part, created (unbuilt) when new. */
  ensure(name: string, shared: boolean, proxy: Proxy, choice?: ScopeChoice): Part {
    let p = this.#parts.get(name);
    if (!p) {
      p = { name, shared, proxy, users: new Set(), needsFull: true, ...(choice ? { choice } : {}) };
      this.#parts.set(name, p);
    }
    return p;
  }

  get(name: string): Part | undefined {
    return this.#parts.get(name);
  }

  /** Every part. */
  all(): IterableIterator<Part> {
    return this.#parts.values();
  }

  /** A group stops using a part; the last user's going drops it and its resources. */
  release(name: string, group: string): void {
    const p = this.#parts.get(name);
    if (!p) return;
    p.users.delete(group);
    if (p.users.size > 0) return;
    this.#parts.delete(name);
    this.registry.clearSnapshot(name);
  }

  /**
   * Builds a part (in full when it needs it or `types` is undefined) and
   * writes it as one change. Returns how many types changed; throws what the
   * generator or the registry threw, leaving the part as it was.
   */
  build(part: Part, push: PushContext, types: ReadonlySet<string> | undefined, changedAt?: number): number {
    const full = part.needsFull || types === undefined;
    try {
      const input = part.shared
        ? this.generator.generateShared(
            part.proxy,
            part.choice ? push.forScope(part.choice) : push,
            full ? undefined : types,
          )
        : this.generator.generateWorkload(part.proxy, push, full ? undefined : types);
      const changed = this.#write(part.name, input, changedAt);
      if (full) part.needsFull = false;
      return changed;
    } catch (err) {
      part.needsFull = true;
      throw err;
    }
  }

  #write(name: string, input: SnapshotInput, changedAt: number | undefined): number {
    const when = changedAt !== undefined ? { changedAt } : {};
    const current = this.registry.getSnapshot(name);
    if (!current) {
      this.registry.setSnapshot(name, input, when);
      return Object.keys(input).length;
    }
    // Per type, only what changed is re-versioned; unchanged resources (the
    // same frozen objects from the generator's cache) cost a lookup. All
    // types go in as one change: a bad resource in any of them leaves the
    // part as it was.
    const updates: Record<string, ResourceUpdate> = {};
    for (const [typeUrl, list] of Object.entries(input)) {
      const resources = list as readonly Message[];
      const type = this.registry.resourceType(typeUrl);
      const held = current.get(typeUrl)?.resources;
      // Usually every name is still there: then nothing is removed, and no set is built to find out.
      let kept = 0;
      if (held) for (const r of resources) if (held.has(type?.nameOf(r) ?? "")) kept++;
      const remove: string[] = [];
      if (held && kept < held.size) {
        const names = new Set(resources.map((r) => type?.nameOf(r) ?? ""));
        for (const n of held.keys()) if (!names.has(n)) remove.push(n);
      }
      updates[typeUrl] = { upsert: resources, remove };
    }
    const next = this.registry.updateSnapshot(name, updates, when);
    let changed = 0;
    for (const typeUrl of Object.keys(updates)) {
      if (next.get(typeUrl)?.version !== current.get(typeUrl)?.version) changed += 1;
    }
    return changed;
  }
}
