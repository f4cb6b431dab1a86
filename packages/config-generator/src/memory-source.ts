import { XdsError } from "@xdskit/xds-types";
import { EventEmitter } from "eventemitter3";
import { frozenService } from "./frozen.js";
import type { RouteRule, Service, ServiceEndpoint } from "./model.js";
import type { ConfigStore, ServiceRegistry, SourceEvents } from "./sources.js";
import { validateRoute, validateService } from "./validate-model.js";

/** An in-memory service registry and config store with a programmatic API. */
export interface MemorySource extends ServiceRegistry, ConfigStore {
  /** Adds or replaces a service. */
  setService(service: Service): void;
  /** Replaces only the endpoints of an existing service (an EDS-only change). */
  setEndpoints(name: string, endpoints: readonly ServiceEndpoint[]): void;
  /** Removes a service; returns whether it existed. */
  removeService(name: string): boolean;
  /** Replaces every routing rule. */
  setRoutes(routes: readonly RouteRule[]): void;
}

class MemorySourceImpl extends EventEmitter<SourceEvents> implements MemorySource {
  #services = new Map<string, Service>();
  #routes: readonly RouteRule[] = [];

  services(): readonly Service[] {
    return [...this.#services.values()];
  }

  routes(): readonly RouteRule[] {
    return this.#routes;
  }

  setService(service: Service): void {
    validateService(service, `service "${service?.name}"`);
    const existed = this.#services.has(service.name);
    this.#services.set(service.name, frozenService(service));
    this.emit("change", {
      kinds: ["services", "endpoints"],
      reason: `service ${service.name} ${existed ? "updated" : "added"}`,
    });
  }

  setEndpoints(name: string, endpoints: readonly ServiceEndpoint[]): void {
    const s = this.#services.get(name);
    if (!s) throw new XdsError("not_found", `no service "${name}" to set endpoints on; add it with setService first`);
    const next = frozenService({ ...s, endpoints });
    validateService(next, `service "${name}"`);
    this.#services.set(name, next);
    this.emit("change", { kinds: ["endpoints"], reason: `endpoints of ${name}` });
  }

  removeService(name: string): boolean {
    if (!this.#services.delete(name)) return false;
    this.emit("change", { kinds: ["services", "endpoints"], reason: `service ${name} removed` });
    return true;
  }

  // Every change here is an explicit call, so an empty registry is meant.
  allowsEmpty(): boolean {
    return true;
  }

  setRoutes(routes: readonly RouteRule[]): void {
    routes.forEach((r, i) => {
      validateRoute(r, `routes[${i}]`);
    });
    this.#routes = [...routes];
    this.emit("change", { kinds: ["routes"], reason: "routes replaced" });
  }
}

/** Creates an empty in-memory source; feed it with `setService`, `setEndpoints`, `setRoutes`. */
export function createMemorySource(): MemorySource {
  return new MemorySourceImpl();
}
