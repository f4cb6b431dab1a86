// Where a node group's config comes from: the shared part (scope) its proxy
// may see and the workload part it needs, each built once however many
// groups use it, composed into the group's snapshot only when both hold a
// whole good build. The controller decides when; this decides onto what.
import type { Logger } from "@xdskit/xds-types";
import type { MemorySnapshotRegistry } from "@xdskit/snapshot";
import type { DiscoveryControllerOptions } from "./controller-api.js";
import type { ConfigGenerator } from "./generator.js";
import { type Part, type PartTable, scopeProxy } from "./parts.js";
import type { Proxy } from "./proxy.js";
import type { PushContext } from "./push-context.js";

/** What the controller knows of one node group. */
export interface GroupState {
  /** The proxy the group's workload config is built for (the first client that named it), as builders may see it. */
  readonly proxy: Proxy;
  /** The same proxy, whole (its scope is decided from it). */
  readonly original: Proxy;
  /** Its shared part (scope). */
  scope: string;
  /** The workload part it is composed with now, if composed. */
  workload: string | undefined;
}

/** Places node groups on parts and builds the parts they need. */
export class GroupPlacement {
  constructor(
    private readonly registry: MemorySnapshotRegistry,
    private readonly parts: PartTable,
    private readonly generator: ConfigGenerator,
    private readonly options: Pick<DiscoveryControllerOptions, "nodeGroup" | "groupBy" | "scope">,
    private readonly log: Logger,
    private readonly failed: (event: { nodeGroup: string; error: Error }) => void,
  ) {}

  /**
   * The shared part (scope) a group's proxy uses under `push` — what it may
   * see — created when new, with the group among its users. Scopes follow
   * the config: a Sidecar or an export added later moves the group.
   */
  ensureScope(group: string, state: GroupState, push: PushContext): string {
    const proxy = state.original;
    // Locality-aware builds (failover to the nearest endpoints) are shared
    // by the proxies of one locality, so the scope is split by it too.
    const byLocality = !this.options.nodeGroup && this.options.groupBy?.locality === true;
    const l = proxy.locality;
    const where = byLocality ? `/${l.region ?? ""}/${l.zone ?? ""}/${l.subZone ?? ""}` : "";
    const choice = push.scopeOf(state.proxy);
    const host = this.options.scope?.(proxy) ?? "mesh";
    const scopeName = `${proxy.kind}/${choice.key === "mesh" ? host : `${host}+${choice.key}`}${where}`;
    const name = `scope/${scopeName}`;
    this.parts.ensure(name, true, scopeProxy(proxy, scopeName, byLocality), choice).users.add(group);
    return name;
  }

  /** Builds a part; returns how many types changed, or -1 (reported as failed) when it failed. */
  buildPart(part: Part, push: PushContext, types: ReadonlySet<string> | undefined, changedAt?: number): number {
    try {
      return this.parts.build(part, push, types, changedAt);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.log.warn("build failed; the last good config is kept", { part: part.name, error: error.message });
      this.failed({ nodeGroup: part.name, error });
      return -1;
    }
  }

  /** The name of the workload part a group's proxy needs under `push`, within `scope`. */
  workloadPart(scope: string, state: GroupState, push: PushContext): string {
    return `workload/${scope.slice("scope/".length)}/${this.generator.workloadKey(state.proxy, push)}`;
  }

  /**
   * Puts a group on the workload part its proxy needs now (building that part
   * when new) and composes it of its scope and workload parts — only once
   * both have a good build, so a group never serves a partial world.
   */
  place(
    group: string,
    state: GroupState,
    push: PushContext,
    attempted: Set<string>,
    built?: (changed: number) => void,
  ): void {
    // The scope may have moved (a Sidecar or an export changed what the proxy sees).
    const scope = this.ensureScope(group, state, push);
    const scopePart = this.parts.get(scope);
    if (scopePart && !this.registry.getSnapshot(scope) && !attempted.has(scope)) {
      attempted.add(scope);
      // Built whether or not anyone counts it (`built?.(…)` would skip the build without a counter).
      const n = this.buildPart(scopePart, push, undefined);
      built?.(n);
    }
    const name = this.workloadPart(scope, state, push);
    const part = this.parts.ensure(name, false, state.proxy);
    part.users.add(group);
    // A new part is built (in full) once per push, whoever needs it first.
    if (!this.registry.getSnapshot(name) && !attempted.has(name)) {
      attempted.add(name);
      const n = this.buildPart(part, push, undefined);
      built?.(n);
    }
    const drop = () => {
      if (name !== state.workload) this.parts.release(name, group);
      if (scope !== state.scope) this.parts.release(scope, group);
    };
    // Both parts hold a whole good build (a part's first snapshot always
    // comes from a full one), or the group keeps what it has.
    if (!this.registry.getSnapshot(scope) || !this.registry.getSnapshot(name)) {
      drop();
      return;
    }
    if (state.workload === name && state.scope === scope && this.registry.getSnapshot(group)) return;
    try {
      this.registry.composeSnapshot(group, [scope, name]);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.failed({ nodeGroup: group, error });
      drop();
      return;
    }
    const old = state.workload;
    const oldScope = state.scope;
    state.workload = name;
    state.scope = scope;
    if (old && old !== name) this.parts.release(old, group);
    if (oldScope !== scope) this.parts.release(oldScope, group);
  }
}
