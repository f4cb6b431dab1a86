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
  /** A node group was seen for the first time. */
  nodeGroupAdded: (event: { nodeGroup: string; proxy: Proxy }) => void;
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
  /** Node groups seen so far, with the proxy that represents each. */
  nodeGroups(): ReadonlyMap<string, Proxy>;
  /** Runs any queued push now and waits for it. */
  flush(): Promise<void>;
  /** Stops listening to sources and drops queued pushes. */
  close(): void;
}

class Controller extends EventEmitter<ControllerEvents> implements DiscoveryController {
  readonly registry: MemorySnapshotRegistry;
  readonly generator: DefaultConfigGenerator;
  readonly #groups = new Map<string, Proxy>();
  readonly #options: DiscoveryControllerOptions;
  readonly #queue: PushQueue;
  readonly #log: Logger;
  #push: PushContext;
  readonly #onChange = (c: { kinds: readonly ChangeKind[]; reason: string }) => this.#queue.enqueue(c);
  readonly #onRejected = (e: { reason: string; error: Error }) => {
    this.#log.warn("source rejected input", { reason: e.reason, error: e.error.message });
    this.emit("sourceRejected", e);
  };

  constructor(options: DiscoveryControllerOptions) {
    super();
    if (!options?.services) throw new XdsError("invalid_argument", "createDiscoveryController needs a services source");
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.generator = options.generator ?? new DefaultConfigGenerator();
    this.registry = createSnapshotRegistry({ ...options.registry, nodeGroup: (node) => this.#nodeGroupOf(node) });
    this.#push = this.#newPush(["initial"]);
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

  #newPush(reasons: readonly string[]): PushContext {
    return new PushContext(this.#options.services.services(), this.#options.config?.routes() ?? [], reasons);
  }

  // Called by the registry when a stream arrives: a new group gets its
  // snapshot right away, so the client's first watch is answered.
  #nodeGroupOf(node: Node): string {
    const proxy = proxyFromNode(node);
    const group = (this.#options.nodeGroup ?? defaultNodeGroup)(proxy);
    if (!this.#groups.has(group)) {
      this.#groups.set(group, proxy);
      this.emit("nodeGroupAdded", { nodeGroup: group, proxy });
      this.#build(group, proxy, this.#push, undefined);
    }
    return group;
  }

  /** Builds and writes one group; returns how many resources changed, or -1 on failure. */
  #build(group: string, proxy: Proxy, push: PushContext, types: ReadonlySet<string> | undefined): number {
    try {
      const input = this.generator.generate(proxy, push, types);
      const current = this.registry.getSnapshot(group);
      if (!current) {
        this.registry.setSnapshot(group, input);
        let n = 0;
        for (const list of Object.values(input)) n += (list as readonly Message[]).length;
        return n;
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
      let changed = 0;
      for (const typeUrl of Object.keys(updates)) {
        if (next.get(typeUrl)?.version !== current.get(typeUrl)?.version) changed += 1;
      }
      return changed;
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.#log.warn("node group build failed; last good config kept", { nodeGroup: group, error: error.message });
      this.emit("pushFailed", { nodeGroup: group, error });
      return -1;
    }
  }

  async #runPush(req: PushRequest): Promise<void> {
    const started = performance.now();
    const push = this.#newPush(req.reasons);
    this.#push = push;
    const types = typesTouchedBy(req.kinds);
    for (const t of this.generator.builders().keys()) types.add(t);
    let changed = 0;
    let failed = 0;
    for (const [group, proxy] of this.#groups) {
      const n = this.#build(group, proxy, push, types);
      if (n < 0) failed++;
      else changed += n;
    }
    this.emit("push", {
      reasons: req.reasons,
      kinds: [...req.kinds],
      types: [...types].map((t) => this.registry.resourceType(t)?.shortName ?? t),
      nodeGroups: this.#groups.size,
      resourcesChanged: changed,
      durationMs: performance.now() - started,
      failed,
    });
  }

  pushContext(): PushContext {
    return this.#push;
  }

  nodeGroups(): ReadonlyMap<string, Proxy> {
    return this.#groups;
  }

  flush(): Promise<void> {
    return this.#queue.flush();
  }

  close(): void {
    this.#queue.close();
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
