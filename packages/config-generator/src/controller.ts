import { type Logger, silentLogger, XdsError } from "@xdskit/xds-types";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { createSnapshotRegistry, type MemorySnapshotRegistry } from "@xdskit/snapshot";
import { EventEmitter } from "eventemitter3";
import { type ConfigGenerator, DefaultConfigGenerator, typesTouchedBy } from "./generator.js";
import { type Part, PartTable } from "./parts.js";
import { GroupPlacement, type GroupState } from "./group-placement.js";
import { groupKeyOf, groupView } from "./group-view.js";
import { type Proxy, proxyFromNode } from "./proxy.js";
import { PushContext } from "./push-context.js";
import type { SourceChange, SourceEmitter } from "./sources.js";
import { type AcceptedModel, ModelRejected, acceptModel, modelChanges } from "./source-model.js";
import { createPushQueue, type PushQueue, type PushRequest } from "./push-queue.js";

import type {
  ControllerEvents,
  DiscoveryController,
  DiscoveryControllerOptions,
  PushRecord,
} from "./controller-api.js";

export type {
  ControllerEvents,
  DiscoveryController,
  DiscoveryControllerOptions,
  PushRecord,
} from "./controller-api.js";

class Controller extends EventEmitter<ControllerEvents> implements DiscoveryController {
  readonly registry: MemorySnapshotRegistry;
  readonly generator: ConfigGenerator;
  readonly #groups = new Map<string, GroupState>();
  readonly #parts: PartTable;
  readonly #placement: GroupPlacement;
  readonly #options: DiscoveryControllerOptions;
  readonly #queue: PushQueue;
  readonly #log: Logger;
  #push: PushContext;
  /** The last services and routes that passed validation; undefined until the sources first gave some. */
  #model: AcceptedModel | undefined;
  #lastRejection: { reason: string; error: Error; at: Date } | undefined;
  readonly #pushes: PushRecord[] = [];
  readonly #onChange = (c: SourceChange) => this.#queue.enqueue(c);
  // A refusal reaching the controller twice (a source it listens to directly
  // and through an aggregate) is one refusal: the same error object.
  #lastRefusal: Error | undefined;
  readonly #onRejected = (e: { reason: string; error: Error }) => {
    if (e.error === this.#lastRefusal) return;
    this.#lastRefusal = e.error;
    this.#rejected(e.reason, e.error, false);
  };
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
    this.#placement = new GroupPlacement(this.registry, this.#parts, this.generator, options, this.#log, (e) =>
      this.emit("pushFailed", e),
    );
    this.#model = this.#accept(undefined);
    this.#push = this.#pushContext(this.#model, ["initial"]);
    this.#queue = createPushQueue({
      debounceMs: options.debounceMs ?? 100,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      onPush: (req) => this.#runPush(req),
      onError: (err) => this.#log.error("push failed", { error: String(err) }),
    });
    for (const src of this.#sources()) {
      src.on("change", this.#onChange);
      src.on("rejected", this.#onRejected);
    }
  }

  // Each distinct source once: one object is often both the services and the config source.
  #sources(): Set<SourceEmitter> {
    const o = this.#options;
    const all = [o.services, o.config, ...(o.sources ?? [])].filter((s): s is SourceEmitter => s !== undefined);
    return new Set(all);
  }

  #pushContext(model: AcceptedModel | undefined, reasons: readonly string[]): PushContext {
    return new PushContext(
      model?.services ?? [],
      model?.routes ?? [],
      reasons,
      model?.gateways,
      this.#options.meshConfig,
      model?.derivedPorts,
      {
        policies: model?.policies ?? [],
        tcpRoutes: model?.tcpRoutes ?? [],
        sidecars: model?.sidecars ?? [],
        peerAuthentications: model?.peerAuthentications ?? [],
        accessPolicies: model?.accessPolicies ?? [],
        ...(this.#options.mtls ? { mtls: this.#options.mtls } : {}),
      },
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
      // Objects refused alone: each reported once, while it stays refused.
      const before = new Set(previous?.refused ?? []);
      for (const r of model.refused) {
        if (!before.has(r)) this.#rejected("a config object was refused; the rest is served", new Error(r), false);
      }
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
      const view = this.#options.nodeGroup ? proxy : groupView(proxy, group, this.#options.groupBy);
      const state: GroupState = { proxy: view, original: proxy, scope: "", workload: undefined };
      this.#groups.set(group, state);
      state.scope = this.#placement.ensureScope(group, state, this.#push);
      this.emit("nodeGroupAdded", { nodeGroup: group, proxy });
      // Nothing is served before the sources gave a model that passed validation.
      if (this.#model) this.#buildNewGroup(group, state);
    }
    return group;
  }

  /**
   * Builds what a new group needs (its scope's first build, a new workload
   * part) and composes it; a build made here is recorded as a push like any
   * other, so the first client's config shows on the push-status page.
   */
  #buildNewGroup(group: string, state: GroupState): void {
    const started = performance.now();
    this.#generator("begin");
    let changed = 0;
    let failed = 0;
    // Placing the group builds its scope (when new) and its workload part.
    const attempted = new Set<string>();
    this.#placement.place(group, state, this.#push, attempted, (n) => {
      if (n < 0) failed++;
      else changed += n;
    });
    this.#generator("end", new Set());
    if (changed === 0 && failed === 0) return;
    this.#record({
      at: new Date().toISOString(),
      reasons: [`first client of node group ${group}`],
      kinds: [],
      types: ["all"],
      nodeGroups: this.#groups.size,
      resourcesChanged: changed,
      durationMs: performance.now() - started,
      // Built the moment the client arrived: nothing was queued.
      queuedMs: 0,
      failed,
      // The stream that named the group registers right after this.
      streamsReached: 1,
    });
  }

  #record(record: PushRecord): void {
    this.#pushes.push(record);
    if (this.#pushes.length > 100) this.#pushes.shift();
    this.emit("push", record);
  }

  #generator(phase: "begin" | "end", types?: ReadonlySet<string>): void {
    if (phase === "begin") this.generator.beginPush?.();
    else this.generator.endPush?.(types);
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
      const n = this.#placement.buildPart(part, push, types, req.firstAt);
      if (n < 0) failed++;
      else if (n > 0) {
        changed += n;
        changedParts.add(part.name);
      }
    };
    // Shared parts first, once each; then every group onto its workload part
    // (a part tried here is not tried again for a group in the same push).
    const attempted = new Set<string>();
    for (const part of [...this.#parts.all()])
      if (part.shared) {
        attempted.add(part.name);
        build(part);
      }
    for (const [group, state] of this.#groups) {
      const name = this.#placement.workloadPart(state.scope, state, push);
      const part = this.#parts.get(name);
      if (part && !attempted.has(name) && this.registry.getSnapshot(name)) {
        attempted.add(name);
        build(part);
      }
      const before = state.workload;
      this.#placement.place(group, state, push, attempted);
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
    this.#record(record);
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

  refusedObjects(): readonly string[] {
    return this.#model?.refused ?? [];
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
    for (const src of this.#sources()) {
      src.off("change", this.#onChange);
      src.off("rejected", this.#onRejected);
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
