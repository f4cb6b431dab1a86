import { type Logger, silentLogger, XdsError } from "@xdskit/xds-types";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { createSnapshotRegistry, type MemorySnapshotRegistry, type SnapshotRegistryOptions } from "@xdskit/snapshot";
import { EventEmitter } from "eventemitter3";
import { type ConfigGenerator, DefaultConfigGenerator, typesTouchedBy } from "./generator.js";
import { type Part, PartTable, scopeProxy } from "./parts.js";
import type { ChangeKind, MeshConfig } from "./model.js";
import { type GroupBy, groupKeyOf, groupView } from "./group-view.js";
import { type Proxy, proxyFromNode } from "./proxy.js";
import { PushContext } from "./push-context.js";
import { type AcceptedModel, ModelRejected, acceptModel, modelChanges } from "./source-model.js";
import { createPushQueue, type PushQueue, type PushRequest } from "./push-queue.js";
import type { ConfigStore, ServiceRegistry, SourceEmitter } from "./sources.js";

/** Events of the discovery controller. */
/** What one push did, for events and the push-status page. */
export interface PushRecord {
  /** When it finished (ISO 8601). */
  readonly at: string;
  /** Why: the source changes merged into it. */
  readonly reasons: readonly string[];
  readonly kinds: readonly ChangeKind[];
  /** Types rebuilt (short names), or ["all"]. */
  readonly types: readonly string[];
  /** Node groups known when it ran. */
  readonly nodeGroups: number;
  /** Types changed across the parts built. */
  readonly resourcesChanged: number;
  /** Time to build and write, in ms. */
  readonly durationMs: number;
  /** Time from the first change merged into it to its start (debounce), in ms. */
  readonly queuedMs: number;
  /** Parts whose build failed (they keep their last good config). */
  readonly failed: number;
  /** Live streams of the node groups whose config changed. */
  readonly streamsReached: number;
}

/** Events of the discovery controller. */
export interface ControllerEvents {
  /** A push finished. */
  push: (event: PushRecord) => void;
  /**
   * A part's config (`scope/<kind>/<scope>` shared, or `workload/…`) or a
   * group's composition could not be built or was refused by the registry;
   * everything keeps its last good config and the part is rebuilt in full next time.
   */
  pushFailed: (event: { nodeGroup: string; error: Error }) => void;
  /** A node group was seen for the first time (or again after it was removed). */
  nodeGroupAdded: (event: { nodeGroup: string; proxy: Proxy }) => void;
  /** A node group was dropped with its snapshot: no stream used it for the idle period, or the host forgot it. */
  nodeGroupRemoved: (event: { nodeGroup: string; reason: string }) => void;
  /** A source refused new input (its last good state stays served). */
  sourceRejected: (event: { reason: string; error: Error }) => void;
}

/** Options of {@link createDiscoveryController}. */
export interface DiscoveryControllerOptions {
  services: ServiceRegistry;
  config?: ConfigStore;
  /** The generator; default `new DefaultConfigGenerator()`. */
  generator?: ConfigGenerator;
  /**
   * What the default node group key covers besides kind, cluster and a
   * sidecar's IP: node metadata keys, locality, or the node id. Per-workload
   * builders see exactly that of a proxy — reading anything else throws,
   * because every member of a group gets what was built for the first.
   */
  groupBy?: GroupBy;
  /**
   * Maps a proxy to its node group instead of `groupBy`. Builders then see
   * the first member's whole proxy: the function must cover what they read.
   */
  nodeGroup?: (proxy: Proxy) => string;
  /**
   * The scope of a proxy: proxies of one kind and scope share one build of
   * their outbound config. Default: the whole mesh (`"mesh"`); return, say,
   * the node's namespace to scope by namespace.
   */
  scope?: (proxy: Proxy) => string;
  /** The host's configuration of the whole mesh, handed to every builder as `push.meshConfig`. */
  meshConfig?: MeshConfig;
  /** More sources whose changes trigger pushes (e.g. a secrets folder feeding a registered builder). */
  sources?: readonly SourceEmitter[];
  /** Debounce quiet period in ms. Default 100. */
  debounceMs?: number;
  /** Longest a change may wait for its push, in ms. Default 10,000. */
  maxDelayMs?: number;
  /** Options of the snapshot registry the controller creates (its `nodeGroup` is the controller's). */
  registry?: Omit<SnapshotRegistryOptions, "nodeGroup">;
  logger?: Logger;
}

/** Turns source events into snapshots: generator mode of xdskit. */
export interface DiscoveryController extends Pick<EventEmitter<ControllerEvents>, "on" | "off" | "once"> {
  /** The registry to hand to `createAdsServer`. */
  readonly registry: MemorySnapshotRegistry;
  /** The generator in use. */
  readonly generator: ConfigGenerator;
  /** The push context of the last push. */
  pushContext(): PushContext;
  /** Node groups the controller builds for, with the proxy that represents each. */
  nodeGroups(): ReadonlyMap<string, Proxy>;
  /**
   * Drops a node group no live stream uses, with its snapshot (groups are
   * also dropped by themselves once idle: see the registry's
   * `nodeGroupIdleMs`). Returns false, and keeps it, while a stream uses it.
   */
  forgetNodeGroup(nodeGroup: string): boolean;
  /** True once the sources gave a model that passed validation; nothing is served before. */
  ready(): boolean;
  /** The last pushes, oldest first (at most 100). */
  recentPushes(): readonly PushRecord[];
  /** The controller's last refusal of the sources' output, while that output is still refused. */
  lastRejection(): { reason: string; error: Error; at: Date } | undefined;
  /** Runs any queued push now and waits for it. */
  flush(): Promise<void>;
  /** Stops listening to sources and drops queued pushes. */
  close(): void;
}

/** What the controller knows of one node group. */
interface GroupState {
  /** The proxy the group's workload config is built for (the first client that named it). */
  readonly proxy: Proxy;
  /** Its shared part (scope). */
  readonly scope: string;
  /** The workload part it is composed with now, if composed. */
  workload: string | undefined;
}

class Controller extends EventEmitter<ControllerEvents> implements DiscoveryController {
  readonly registry: MemorySnapshotRegistry;
  readonly generator: ConfigGenerator;
  readonly #groups = new Map<string, GroupState>();
  readonly #parts: PartTable;
  readonly #options: DiscoveryControllerOptions;
  readonly #queue: PushQueue;
  readonly #log: Logger;
  #push: PushContext;
  /** The last services and routes that passed validation; undefined until the sources first gave some. */
  #model: AcceptedModel | undefined;
  #lastRejection: { reason: string; error: Error; at: Date } | undefined;
  readonly #pushes: PushRecord[] = [];
  readonly #onChange = (c: { kinds: readonly ChangeKind[]; reason: string }) => this.#queue.enqueue(c);
  readonly #onRejected = (e: { reason: string; error: Error }) => this.#rejected(e.reason, e.error, false);
  readonly #onIdle = (e: { nodeGroup: string }) => {
    this.#forget(e.nodeGroup, "no stream used it for the idle period");
  };

  constructor(options: DiscoveryControllerOptions) {
    super();
    if (!options?.services) throw new XdsError("invalid_argument", "createDiscoveryController needs a services source");
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.generator = options.generator ?? new DefaultConfigGenerator();
    this.registry = createSnapshotRegistry({ ...options.registry, nodeGroup: (node) => this.#nodeGroupOf(node) });
    this.registry.on("nodeGroupIdle", this.#onIdle);
    this.#parts = new PartTable(this.registry, this.generator);
    this.#model = this.#accept(undefined);
    this.#push = this.#pushContext(this.#model, ["initial"]);
    this.#queue = createPushQueue({
      debounceMs: options.debounceMs ?? 100,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      onPush: (req) => this.#runPush(req),
      onError: (err) => this.#log.error("push failed", { error: String(err) }),
    });
    for (const src of [options.services, options.config, ...(options.sources ?? [])]) {
      src?.on("change", this.#onChange);
      src?.on("rejected", this.#onRejected);
    }
  }

  #pushContext(model: AcceptedModel | undefined, reasons: readonly string[]): PushContext {
    return new PushContext(
      model?.services ?? [],
      model?.routes ?? [],
      reasons,
      model?.gateways,
      this.#options.meshConfig,
    );
  }

  #rejected(reason: string, error: Error, own = true): void {
    // A source's own refusals are its to clear (it keeps serving its last good
    // state); the controller tracks only the models it refused itself.
    if (own) this.#lastRejection = { reason, error, at: new Date() };
    this.#log.warn("source rejected input", { reason, error: error.message });
    this.emit("sourceRejected", { reason, error });
  }

  /** The sources' output if it passes validation, else the last good model (and a `sourceRejected`). */
  #accept(previous: AcceptedModel | undefined): AcceptedModel | undefined {
    try {
      const model = acceptModel(this.#options.services, this.#options.config, previous);
      this.#lastRejection = undefined;
      return model;
    } catch (err) {
      if (!(err instanceof ModelRejected)) throw err;
      if (!err.notReady) this.#rejected("source output rejected; the last good config stays", err);
      return previous;
    }
  }

  // Called by the registry when a stream arrives: a new group gets its
  // snapshot right away, so the client's first watch is answered.
  #nodeGroupOf(node: Node): string {
    const proxy = proxyFromNode(node);
    const group = this.#options.nodeGroup ? this.#options.nodeGroup(proxy) : groupKeyOf(proxy, this.#options.groupBy);
    if (!this.#groups.has(group)) {
      // Locality-aware builds (failover to the nearest endpoints) are shared
      // by the proxies of one locality, so the scope is split by it too.
      const byLocality = !this.#options.nodeGroup && this.#options.groupBy?.locality === true;
      const l = proxy.locality;
      const where = byLocality ? `/${l.region ?? ""}/${l.zone ?? ""}/${l.subZone ?? ""}` : "";
      const scopeName = `${proxy.kind}/${this.#options.scope?.(proxy) ?? "mesh"}${where}`;
      const view = this.#options.nodeGroup ? proxy : groupView(proxy, group, this.#options.groupBy);
      const state: GroupState = { proxy: view, scope: `scope/${scopeName}`, workload: undefined };
      this.#groups.set(group, state);
      this.#parts.ensure(state.scope, true, scopeProxy(proxy, scopeName, byLocality)).users.add(group);
      this.emit("nodeGroupAdded", { nodeGroup: group, proxy });
      // Nothing is served before the sources gave a model that passed validation.
      if (this.#model) {
        this.#generator("begin");
        const scope = this.#parts.get(state.scope);
        if (scope && !this.registry.getSnapshot(scope.name)) this.#buildPart(scope, this.#push, undefined);
        this.#placeGroup(group, state, this.#push, new Set());
        this.#generator("end", new Set());
      }
    }
    return group;
  }

  #generator(phase: "begin" | "end", types?: ReadonlySet<string>): void {
    if (phase === "begin") this.generator.beginPush?.();
    else this.generator.endPush?.(types);
  }

  /** Builds a part; returns how many types changed, or -1 (with `pushFailed`) when it failed. */
  #buildPart(part: Part, push: PushContext, types: ReadonlySet<string> | undefined, changedAt?: number): number {
    try {
      return this.#parts.build(part, push, types, changedAt);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.#log.warn("build failed; the last good config is kept", { part: part.name, error: error.message });
      this.emit("pushFailed", { nodeGroup: part.name, error });
      return -1;
    }
  }

  /**
   * Puts a group on the workload part its proxy needs now (building that part
   * when new) and composes it of its scope and workload parts — only once
   * both have a good build, so a group never serves a partial world.
   */
  #placeGroup(group: string, state: GroupState, push: PushContext, attempted: Set<string>): void {
    const name = this.#workloadPart(state, push);
    const part = this.#parts.ensure(name, false, state.proxy);
    part.users.add(group);
    // A new part is built (in full) once per push, whoever needs it first.
    if (!this.registry.getSnapshot(name) && !attempted.has(name)) {
      attempted.add(name);
      this.#buildPart(part, push, undefined);
    }
    // Both parts hold a whole good build (a part's first snapshot always
    // comes from a full one), or the group keeps what it has.
    if (!this.registry.getSnapshot(state.scope) || !this.registry.getSnapshot(name)) {
      if (name !== state.workload) this.#parts.release(name, group);
      return;
    }
    if (state.workload === name && this.registry.getSnapshot(group)) return;
    try {
      this.registry.composeSnapshot(group, [state.scope, name]);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.emit("pushFailed", { nodeGroup: group, error });
      if (name !== state.workload) this.#parts.release(name, group);
      return;
    }
    const old = state.workload;
    state.workload = name;
    if (old && old !== name) this.#parts.release(old, group);
  }

  #workloadPart(state: GroupState, push: PushContext): string {
    return `workload/${state.scope.slice("scope/".length)}/${this.generator.workloadKey(state.proxy, push)}`;
  }

  async #runPush(req: PushRequest): Promise<void> {
    const started = performance.now();
    const first = this.#model === undefined;
    const previous = this.#model;
    const model = this.#accept(this.#model);
    if (!model || model === this.#model) return;
    this.#model = model;
    const push = this.#pushContext(model, req.reasons);
    this.#push = push;
    // The first model builds everything in full; later ones only what the change touched.
    let types: Set<string> | undefined;
    if (!first) {
      // The model's own differences, beside what the sources said.
      const kinds = new Set([...req.kinds, ...modelChanges(previous as AcceptedModel, model)]);
      types = typesTouchedBy(kinds);
      for (const t of this.generator.extraTypes?.() ?? []) types.add(t);
    }
    this.#generator("begin");
    let changed = 0;
    let failed = 0;
    const changedParts = new Set<string>();
    const build = (part: Part) => {
      const n = this.#buildPart(part, push, types, req.firstAt);
      if (n < 0) failed++;
      else if (n > 0) {
        changed += n;
        changedParts.add(part.name);
      }
    };
    // Shared parts first, once each; then every group onto its workload part.
    for (const part of [...this.#parts.all()]) if (part.shared) build(part);
    const attempted = new Set<string>();
    for (const [group, state] of this.#groups) {
      const name = this.#workloadPart(state, push);
      const part = this.#parts.get(name);
      if (part && !attempted.has(name) && this.registry.getSnapshot(name)) {
        attempted.add(name);
        build(part);
      }
      const before = state.workload;
      this.#placeGroup(group, state, push, attempted);
      if (state.workload !== before && state.workload) changedParts.add(state.workload);
    }
    this.#generator("end", types);
    let streamsReached = 0;
    const live = this.registry.liveNodeGroups();
    for (const [group, state] of this.#groups) {
      if (changedParts.has(state.scope) || (state.workload && changedParts.has(state.workload)))
        streamsReached += live.get(group) ?? 0;
    }
    const record: PushRecord = {
      at: new Date().toISOString(),
      reasons: req.reasons,
      kinds: [...req.kinds],
      types: types ? [...types].map((t) => this.registry.resourceType(t)?.shortName ?? t) : ["all"],
      nodeGroups: this.#groups.size,
      resourcesChanged: changed,
      durationMs: performance.now() - started,
      queuedMs: Math.max(0, Date.now() - (performance.now() - started) - req.firstAt),
      failed,
      streamsReached,
    };
    this.#pushes.push(record);
    if (this.#pushes.length > 100) this.#pushes.shift();
    this.emit("push", record);
  }

  recentPushes(): readonly PushRecord[] {
    return this.#pushes;
  }

  #forget(group: string, reason: string): boolean {
    if (this.registry.liveNodeGroups().has(group)) return false;
    const state = this.#groups.get(group);
    if (!state) return false;
    this.#groups.delete(group);
    if (this.registry.getSnapshot(group)) this.registry.clearSnapshot(group);
    if (state.workload) this.#parts.release(state.workload, group);
    this.#parts.release(state.scope, group);
    this.#log.debug("node group removed", { nodeGroup: group, reason });
    this.emit("nodeGroupRemoved", { nodeGroup: group, reason });
    return true;
  }

  forgetNodeGroup(nodeGroup: string): boolean {
    return this.#forget(nodeGroup, "forgotten by the host");
  }

  ready(): boolean {
    return this.#model !== undefined;
  }

  lastRejection(): { reason: string; error: Error; at: Date } | undefined {
    return this.#lastRejection;
  }

  pushContext(): PushContext {
    return this.#push;
  }

  nodeGroups(): ReadonlyMap<string, Proxy> {
    return new Map([...this.#groups].map(([g, s]) => [g, s.proxy]));
  }

  flush(): Promise<void> {
    return this.#queue.flush();
  }

  close(): void {
    this.#queue.close();
    this.registry.off("nodeGroupIdle", this.#onIdle);
    for (const src of [this.#options.services, this.#options.config, ...(this.#options.sources ?? [])]) {
      src?.off("change", this.#onChange);
      src?.off("rejected", this.#onRejected);
    }
  }
}

/**
 * Wires sources, the push queue and a generator to a snapshot registry it
 * creates: source events are debounced and merged, each push rebuilds only
 * the types the change touched, once per node group, and writes only what
 * changed. Hand `controller.registry` to `createAdsServer`.
 */
export function createDiscoveryController(options: DiscoveryControllerOptions): DiscoveryController {
  return new Controller(options);
}
