import { frozenService } from "./frozen.js";
import type { Gateway, MeshConfig, RouteRule, Service, WeightedDestination } from "./model.js";
import { portViewsOf } from "./port-views.js";
import { servicePort } from "./source-model.js";

/**
 * An immutable, indexed view of every service and route at one push, shared
 * by every builder of that push.
 */
export class PushContext {
  readonly services: ReadonlyMap<string, Service>;
  /**
   * Every service as builders build it: a service with several `ports` is
   * one single-port view per port (same name, its own `port`, endpoints on
   * the ports they serve it on); any other service is itself.
   */
  readonly views: readonly Service[];
  readonly routes: ReadonlyMap<string, readonly RouteRule[]>;
  /** Gateway ports by port number. */
  readonly gateways: ReadonlyMap<number, Gateway>;
  /** Why this push happened. */
  readonly reasons: readonly string[];
  /** The host's configuration of the whole mesh (see {@link MeshConfig}). */
  readonly meshConfig: Readonly<MeshConfig>;
  readonly createdAt = new Date();
  /** Ports of services that declare none, remembered by the controller (see `derivedPortsOf`). */
  readonly derivedPorts: ReadonlyMap<string, number>;

  constructor(
    services: readonly Service[],
    routes: readonly RouteRule[],
    reasons: readonly string[] = [],
    gateways: readonly Gateway[] = [],
    meshConfig: MeshConfig = {},
    derivedPorts: ReadonlyMap<string, number> = new Map(),
  ) {
    const byName = new Map<string, Service>();
    for (const s of services) byName.set(s.name, frozenService(s));
    const byHost = new Map<string, RouteRule[]>();
    for (const r of routes) {
      const list = byHost.get(r.host) ?? [];
      list.push(r);
      byHost.set(r.host, list);
    }
    this.services = byName;
    this.views = Object.freeze([...byName.values()].flatMap((sv) => portViewsOf(sv)));
    this.routes = byHost;
    this.gateways = new Map(
      [...gateways].sort((a, b) => a.port - b.port).map((g) => [g.port, Object.freeze({ ...g })]),
    );
    this.reasons = Object.freeze([...reasons]);
    this.meshConfig = Object.freeze({ ...meshConfig });
    this.derivedPorts = derivedPorts;
    Object.freeze(this);
  }

  /**
   * The port of a service: its own, else the one derived from its first
   * endpoint when it was first seen with endpoints (kept while it exists),
   * else its DNS target's, else 80.
   */
  portOf(service: Service): number {
    return servicePort(service, this.derivedPorts);
  }

  /** The single-port views of a service (see {@link views}); empty when there is no such service. */
  viewsOf(name: string): readonly Service[] {
    const s = this.services.get(name);
    return s ? portViewsOf(s) : [];
  }

  /**
   * The view of a service on `port`, or its first view when `port` is not
   * given; undefined when the service does not exist or has no such port.
   */
  viewOf(name: string, port?: number): Service | undefined {
    const all = this.viewsOf(name);
    return port === undefined ? all[0] : all.find((v) => this.portOf(v) === port);
  }

  /**
   * Where a route's destination sends a request that came in on `from` (a
   * view): the port it names; else the same port, when the destination has
   * it; else the destination's first. Undefined when there is no such service.
   */
  destinationOf(d: WeightedDestination, from: Service): Service | undefined {
    if (d.port !== undefined) return this.viewOf(d.service, d.port);
    return this.viewOf(d.service, this.portOf(from)) ?? this.viewOf(d.service);
  }

  /** True when `view` is what a client naming no port gets: the service's only or first port. */
  isDefaultPort(view: Service): boolean {
    return this.viewsOf(view.name)[0] === view || !this.services.get(view.name)?.ports;
  }

  /** Rules for a host, most specific (longest path prefix, with headers) first. */
  routesFor(host: string): readonly RouteRule[] {
    const rules = [...(this.routes.get(host) ?? [])];
    return rules.sort(
      (a, b) =>
        (b.pathPrefix?.length ?? 0) - (a.pathPrefix?.length ?? 0) ||
        Object.keys(b.headers ?? {}).length - Object.keys(a.headers ?? {}).length,
    );
  }
}
