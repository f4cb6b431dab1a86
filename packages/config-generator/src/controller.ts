import { type Logger, silentLogger, XdsError } from "@xdskit/xds-types";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import {
  createSnapshotRegistry,
  type MemorySnapshotRegistry,
  type ResourceUpdate,
  type SnapshotRegistryOptions,
} from "@xdskit/snapshot";
import type { Message } from "@bufbuild/protobuf";
import { EventEmitter } from "eventemitter3";
import { DefaultConfigGenerator, typesTouchedBy } from "./generator.js";
import type { ChangeKind } from "./model.js";
import { defaultNodeGroup, type Proxy, proxyFromNode } from "./proxy.js";
import { PushContext } from "./push-context.js";
import { type AcceptedModel, ModelRejected, acceptModel } from "./source-model.js";
import { createPushQueue, type PushQueue, type PushRequest } from "./push-queue.js";
import type { ConfigStore, ServiceRegistry } from "./sources.js";

/** Events of the discovery controller. */
export interface ControllerEvents {
  /** A push finished. */
  push: (event: {
    reasons: readonly string[];
    kinds: readonly ChangeKind[];
    types: readonly string[];
    nodeGroups: number;
    resourcesChanged: number;
    durationMs: number;
    failed: number;
  }) => void;
  /** A node group's config could not be built or was refused by the registry; it keeps its last good config. */
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
  generator?: DefaultConfigGenerator;
  /** Maps a proxy to its node group; default: kind + cluster (+ IP for sidecars). */
  nodeGroup?: (proxy: Proxy) => string;
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
  readonly generator: DefaultConfigGenerator;
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
  /** The controller's last refusal of the sources' output, while that output is still refused. */
  lastRejection(): { reason: string; error: Error; at: Date } | undefined;
  /** Runs any queued push now and waits for it. */
  flush(): Promise<void>;
  /** Stops listening to sources and drops queued pushes. */
  close(): void;
}

/** What the controller knows of one node group. */
interface GroupState {
  /** The proxy the group's config is built for (the first client that named it). */
  readonly proxy: Proxy;
  /**
   * True until a full build of the group succeeded, and again after any build
   * failed: such a group is always built in full, so a scoped push never
   * installs a partial world (CDS or LDS from a build that did not make them).
   */
  needsFull: boolean;
}

class Controller extends EventEmitter<ControllerEvents> implements DiscoveryController {
  readonly registry: MemorySnapshotRegistry;
  readonly generator: DefaultConfigGenerator;
  readonly #groups = new Map<string, GroupState>();
  readonly #options: DiscoveryControllerOptions;
  readonly #queue: PushQueue;
  readonly #log: Logger;
  #push: PushContext;
  /** The last services and routes that passed validation; undefined until the sources first gave some. */
  #model: AcceptedModel | undefined;
  #lastRejection: { reason: string; error: Error; at: Date } | undefined;
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
    this.#model = this.#accept(undefined);
    this.#push = new PushContext(
      this.#model?.services ?? [],
      this.#model?.routes ?? [],
      ["initial"],
      this.#model?.gateways,
    );
    this.#queue = createPushQueue({
      debounceMs: options.debounceMs ?? 100,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      onPush: (req) => this.#runPush(req),
      onError: (err) => this.#log.error("push failed", { error: String(err) }),
    });
    for (const src of [options.services, options.config]) {
      src?.on("change", this.#onChange);
      src?.on("rejected", this.#onRejected);
    }
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
    const group = (this.#options.nodeGroup ?? defaultNodeGroup)(proxy);
    if (!this.#groups.has(group)) {
      const state: GroupState = { proxy, needsFull: true };
      this.#groups.set(group, state);
      this.emit("nodeGroupAdded", { nodeGroup: group, proxy });
      // Nothing is served before the sources gave a model that passed validation.
      if (this.#model) this.#build(group, state, this.#push, undefined);
    }
    return group;
  }

  /** Builds and writes one group; returns how many types changed, or -1 on failure. */
  #build(group: string, state: GroupState, push: PushContext, scope: ReadonlySet<string> | undefined): number {
    const full = state.needsFull || scope === undefined;
    try {
      const input = this.generator.generate(state.proxy, push, full ? undefined : scope);
      const current = this.registry.getSnapshot(group);
      if (!current) {
        this.registry.setSnapshot(group, input);
        state.needsFull = false;
        return Object.keys(input).length;
      }
      // Per type, only what changed is re-versioned; unchanged resources keep
      // their version and fire nothing. All types go in as one change: a bad
      // resource in any of them leaves the group's whole config as it was.
      const updates: Record<string, ResourceUpdate> = {};
      for (const [typeUrl, list] of Object.entries(input)) {
        const resources = list as readonly Message[];
        const type = this.registry.resourceType(typeUrl);
        const names = new Set(resources.map((r) => type?.nameOf(r) ?? ""));
        const remove = [...(current.get(typeUrl)?.resources.keys() ?? [])].filter((n) => !names.has(n));
        updates[typeUrl] = { upsert: resources, remove };
      }
      const next = this.registry.updateSnapshot(group, updates);
      if (full) state.needsFull = false;
      let changed = 0;
      for (const typeUrl of Object.keys(updates)) {
        if (next.get(typeUrl)?.version !== current.get(typeUrl)?.version) changed += 1;
      }
      return changed;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      state.needsFull = true;
      this.#log.warn("node group build failed; last good config kept", { nodeGroup: group, error: error.message });
      this.emit("pushFailed", { nodeGroup: group, error });
      return -1;
    }
  }

  async #runPush(req: PushRequest): Promise<void> {
    const started = performance.now();
    const first = this.#model === undefined;
    const model = this.#accept(this.#model);
    if (!model || model === this.#model) return;
    this.#model = model;
    const push = new PushContext(model.services, model.routes, req.reasons, model.gateways);
    this.#push = push;
    // The first model builds every group in full; later ones only what the change touched.
    let types: Set<string> | undefined;
    if (!first) {
      types = typesTouchedBy(req.kinds);
      for (const t of this.generator.builders().keys()) types.add(t);
    }
    let changed = 0;
    let failed = 0;
    for (const [group, state] of this.#groups) {
      const n = this.#build(group, state, push, types);
      if (n < 0) failed++;
      else changed += n;
    }
    this.emit("push", {
      reasons: req.reasons,
      kinds: [...req.kinds],
      types: types ? [...types].map((t) => this.registry.resourceType(t)?.shortName ?? t) : ["all"],
      nodeGroups: this.#groups.size,
      resourcesChanged: changed,
      durationMs: performance.now() - started,
      failed,
    });
  }

  #forget(group: string, reason: string): boolean {
    if (this.registry.liveNodeGroups().has(group)) return false;
    const known = this.#groups.delete(group);
    if (this.registry.getSnapshot(group)) this.registry.clearSnapshot(group);
    if (known) {
      this.#log.debug("node group removed", { nodeGroup: group, reason });
      this.emit("nodeGroupRemoved", { nodeGroup: group, reason });
    }
    return known;
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
    for (const src of [this.#options.services, this.#options.config]) {
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
