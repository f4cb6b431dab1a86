import { EventEmitter } from "eventemitter3";
import type { Service } from "./model.js";
import type { ConfigStore, ServiceRegistry, SourceEvents } from "./sources.js";

/** Several service registries as one. */
export interface AggregateRegistry extends ServiceRegistry {
  /** Stops listening to the registries. */
  close(): void;
}

/**
 * Merges several service registries into one, as pilot's aggregate
 * controller does: a service found in several registries gets the endpoints
 * of all of them (first registry's port and protocol win).
 */
export function createAggregateRegistry(registries: readonly ServiceRegistry[]): AggregateRegistry {
  const emitter = new EventEmitter<SourceEvents>();
  const forward = {
    change: (c: Parameters<SourceEvents["change"]>[0]) => emitter.emit("change", c),
    rejected: (e: Parameters<SourceEvents["rejected"]>[0]) => emitter.emit("rejected", e),
  };
  for (const r of registries) {
    r.on("change", forward.change);
    r.on("rejected", forward.rejected);
  }
  const services = (): readonly Service[] => {
    const merged = new Map<string, Service>();
    for (const r of registries) {
      for (const s of r.services()) {
        const prev = merged.get(s.name);
        merged.set(s.name, prev ? { ...prev, endpoints: [...prev.endpoints, ...s.endpoints] } : s);
      }
    }
    return [...merged.values()];
  };
  return {
    services,
    ready: () => registries.every((r) => r.ready?.() ?? true),
    allowsEmpty: () => registries.every((r) => r.allowsEmpty?.() ?? false),
    on: emitter.on.bind(emitter) as ServiceRegistry["on"],
    off: emitter.off.bind(emitter) as ServiceRegistry["off"],
    close: () => {
      for (const r of registries) {
        r.off("change", forward.change);
        r.off("rejected", forward.rejected);
      }
    },
  };
}

/** Several config stores as one. */
export interface AggregateConfig extends ConfigStore {
  /** Stops listening to the stores. */
  close(): void;
}

/**
 * Joins several config stores (a mesh file's routes and Istio resources,
 * say): their routes, gateways, policies, TCP routes and sidecar scopes side
 * by side, in the order the stores are given; ready when all are.
 */
export function createAggregateConfig(stores: readonly ConfigStore[]): AggregateConfig {
  const emitter = new EventEmitter<SourceEvents>();
  const forward = {
    change: (c: Parameters<SourceEvents["change"]>[0]) => emitter.emit("change", c),
    rejected: (e: Parameters<SourceEvents["rejected"]>[0]) => emitter.emit("rejected", e),
  };
  for (const s of stores) {
    s.on("change", forward.change);
    s.on("rejected", forward.rejected);
  }
  const all = <T>(read: (s: ConfigStore) => readonly T[] | undefined): T[] => stores.flatMap((s) => read(s) ?? []);
  return {
    routes: () => all((s) => s.routes()),
    gateways: () => all((s) => s.gateways?.()),
    policies: () => all((s) => s.policies?.()),
    tcpRoutes: () => all((s) => s.tcpRoutes?.()),
    sidecars: () => all((s) => s.sidecars?.()),
    peerAuthentications: () => all((s) => s.peerAuthentications?.()),
    accessPolicies: () => all((s) => s.accessPolicies?.()),
    ready: () => stores.every((s) => s.ready?.() ?? true),
    on: emitter.on.bind(emitter) as ConfigStore["on"],
    off: emitter.off.bind(emitter) as ConfigStore["off"],
    close: () => {
      for (const s of stores) {
        s.off("change", forward.change);
        s.off("rejected", forward.rejected);
      }
    },
  };
}
