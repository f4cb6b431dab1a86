import { frozenService } from "./frozen.js";
import type { Gateway, MeshConfig, RouteRule, Service, WeightedDestination } from "./model.js";
import type { SidecarScope, TcpRoute } from "./model-routing.js";
import type { DestinationPolicy } from "./policy.js";
import { portViewsOf } from "./port-views.js";
import type { Proxy } from "./proxy.js";
import { withPolicy } from "./push-policies.js";
import { type ScopeChoice, type ScopeInputs, restricts, scopeOf, sourceSelectorsOf, visibleIn } from "./push-scopes.js";
import { servicePort } from "./source-model.js";
import type { AccessPolicy, PeerAuthenticationPolicy } from "./model-security.js";
import type { SecurityPolicies } from "./push-security.js";

/** What a push holds beyond services, routes and gateways (Istio's traffic API). */
export interface PushExtras {
  /** Destination policies, merged over the services they name. */
  readonly policies?: readonly DestinationPolicy[];
  readonly tcpRoutes?: readonly TcpRoute[];
  /** Sidecar scopes: what groups of sidecars see. */
  readonly sidecars?: readonly SidecarScope[];
  /** The namespace whose plain Sidecar applies mesh-wide (Istio's root namespace). Default `istio-system`. */
  readonly rootNamespace?: string;
  /** The outbound policy of a scoped push (set by {@link PushContext.forScope}). */
  readonly outboundTrafficPolicy?: "allow-any" | "registry-only";
  /** The namespace of a scoped push's clients (set by {@link PushContext.forScope}). */
  readonly clientNamespace?: string;
  /** The key of a scoped push's scope (set by {@link PushContext.forScope}). */
  readonly scopeKey?: string;
  /** Mutual TLS modes of workloads (PeerAuthentications). */
  readonly peerAuthentications?: readonly PeerAuthenticationPolicy[];
  /** Who may call workloads (AuthorizationPolicies). */
  readonly accessPolicies?: readonly AccessPolicy[];
  /**
   * The mesh issues workload certificates (SDS `default` and `ROOTCA`) in
   * this trust domain: sidecars then speak mutual TLS to each other.
   */
  readonly mtls?: { readonly trustDomain: string };
}

/**
 * An immutable, indexed view of every service and route at one push, shared
 * by every builder of that push.
 */
export class PushContext {
  /** Every service, with the destination policy for its host merged over it. */
  readonly services: ReadonlyMap<string, Service>;
  /**
   * Every service as builders build it: a service with several `ports` is
   * one single-port view per port (same name, its own `port`, endpoints on
   * the ports they serve it on); any other service is itself.
   */
  readonly views: readonly Service[];
  readonly routes: ReadonlyMap<string, readonly RouteRule[]>;
  /** Gateway ports by port number (the first gateway of each port). */
  readonly gateways: ReadonlyMap<number, Gateway>;
  /** Every gateway entry (several may share a port: Istio's servers). */
  readonly gatewayList: readonly Gateway[];
  readonly tcpRoutes: readonly TcpRoute[];
  readonly policies: readonly DestinationPolicy[];
  readonly sidecars: readonly SidecarScope[];
  /** `registry-only`: destinations outside the mesh are refused (a Sidecar's outbound policy). */
  readonly outboundTrafficPolicy: "allow-any" | "registry-only";
  /** A scoped push: the namespace its clients are in (their services' short names resolve in it). */
  readonly clientNamespace: string | undefined;
  /**
   * `mesh`, or the key of the scope this push was narrowed to: builders of
   * resources that differ between scopes (a port's listener and routes) keep
   * one memo slot per scope with it.
   */
  readonly scopeKey: string;
  /** Why this push happened. */
  readonly reasons: readonly string[];
  /** The host's configuration of the whole mesh (see {@link MeshConfig}). */
  readonly meshConfig: Readonly<MeshConfig>;
  readonly createdAt = new Date();
  /** Ports of services that declare none, remembered by the controller (see `derivedPortsOf`). */
  readonly derivedPorts: ReadonlyMap<string, number>;
  readonly #rawServices: readonly Service[];
  readonly #rawRoutes: readonly RouteRule[];
  readonly #extras: PushExtras;
  readonly #scoped = new Map<string, PushContext>();
  readonly #choices = new WeakMap<Proxy, ScopeChoice>();
  readonly #scopeInputs: ScopeInputs;
  /** Security policies of workloads, and whether the mesh speaks mutual TLS. */
  readonly security: SecurityPolicies & { readonly trustDomain: string | undefined };

  constructor(
    services: readonly Service[],
    routes: readonly RouteRule[],
    reasons: readonly string[] = [],
    gateways: readonly Gateway[] = [],
    meshConfig: MeshConfig = {},
    derivedPorts: ReadonlyMap<string, number> = new Map(),
    extras: PushExtras = {},
  ) {
    const policies = extras.policies ?? [];
    const policyOf = new Map<string, DestinationPolicy>();
    for (const p of policies) if (!policyOf.has(p.host)) policyOf.set(p.host, p);
    // Wildcard hosts (`*.example.com`) apply where no exact one does, the longest first.
    const wild = [...policyOf.values()]
      .filter((p) => p.host.startsWith("*"))
      .sort((a, b) => b.host.length - a.host.length);
    const policyFor = (name: string) =>
      policyOf.get(name) ?? wild.find((p) => p.host === "*" || name.endsWith(p.host.slice(1)));
    const byName = new Map<string, Service>();
    for (const s of services) byName.set(s.name, withPolicy(frozenService(s), policyFor(s.name)));
    const byHost = new Map<string, RouteRule[]>();
    for (const r of routes) {
      const list = byHost.get(r.host) ?? [];
      list.push(r);
      byHost.set(r.host, list);
    }
    this.services = byName;
    this.views = Object.freeze([...byName.values()].flatMap((sv) => portViewsOf(sv)));
    this.routes = byHost;
    const sorted = [...gateways].sort((a, b) => a.port - b.port);
    this.gatewayList = Object.freeze(sorted.map((g) => Object.freeze({ ...g })));
    const firstByPort = new Map<number, Gateway>();
    for (const g of this.gatewayList) if (!firstByPort.has(g.port)) firstByPort.set(g.port, g);
    this.gateways = firstByPort;
    this.tcpRoutes = Object.freeze([...(extras.tcpRoutes ?? [])]);
    this.policies = Object.freeze([...policies]);
    this.sidecars = Object.freeze([...(extras.sidecars ?? [])]);
    this.outboundTrafficPolicy = extras.outboundTrafficPolicy ?? "allow-any";
    this.clientNamespace = extras.clientNamespace;
    this.scopeKey = extras.scopeKey ?? "mesh";
    this.security = Object.freeze({
      peerAuthentications: Object.freeze([...(extras.peerAuthentications ?? [])]),
      accessPolicies: Object.freeze([...(extras.accessPolicies ?? [])]),
      rootNamespace: extras.rootNamespace ?? "istio-system",
      mtls: extras.mtls !== undefined,
      trustDomain: extras.mtls?.trustDomain,
    });
    this.reasons = Object.freeze([...reasons]);
    this.meshConfig = Object.freeze({ ...meshConfig });
    this.derivedPorts = derivedPorts;
    this.#rawServices = services;
    this.#rawRoutes = routes;
    this.#extras = extras;
    this.#scopeInputs = {
      sidecars: this.sidecars,
      restricted: restricts({ services, routes, policies, tcpRoutes: this.tcpRoutes }),
      namespaced: services.some((s) => s.namespace !== undefined),
      sourceSelectors: sourceSelectorsOf(routes, this.tcpRoutes),
      gatewaySelectors: this.gatewayList.flatMap((g) =>
        g.name !== undefined && g.selector !== undefined ? [{ name: g.name, selector: g.selector }] : [],
      ),
      rootNamespace: extras.rootNamespace ?? "istio-system",
    };
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
  destinationOf(d: Pick<WeightedDestination, "service" | "port">, from: Service | undefined): Service | undefined {
    if (d.port !== undefined) return this.viewOf(d.service, d.port);
    return (from ? this.viewOf(d.service, this.portOf(from)) : undefined) ?? this.viewOf(d.service);
  }

  /** True when `view` is what a client naming no port gets: the service's only or first port. */
  isDefaultPort(view: Service): boolean {
    return this.viewsOf(view.name)[0] === view || !this.services.get(view.name)?.ports;
  }

  /**
   * Rules for a host where `gateway` applies them (`mesh`: sidecars and
   * proxyless clients): ordered rules first, in their order (first match
   * wins), then the rest most specific (longest path prefix, with headers) first.
   */
  routesFor(host: string, gateway = "mesh"): readonly RouteRule[] {
    const rules = (this.routes.get(host) ?? []).filter((r) => (r.gateways ?? ["mesh"]).includes(gateway));
    return rules.sort((a, b) => {
      if (a.order !== undefined || b.order !== undefined)
        return (a.order ?? Number.MAX_SAFE_INTEGER) - (b.order ?? Number.MAX_SAFE_INTEGER);
      return (
        (b.pathPrefix?.length ?? 0) - (a.pathPrefix?.length ?? 0) ||
        Object.keys(b.headers ?? {}).length - Object.keys(a.headers ?? {}).length
      );
    });
  }

  /** The hosts that have rules bound to a gateway. */
  gatewayHosts(gateway: string): string[] {
    const out: string[] = [];
    for (const [host, rules] of this.routes) if (rules.some((r) => r.gateways?.includes(gateway))) out.push(host);
    return out.sort();
  }

  /** TCP and TLS routes of a host where `gateway` applies them, in their order. */
  tcpRoutesFor(host: string, gateway = "mesh"): readonly TcpRoute[] {
    return this.tcpRoutes
      .filter((r) => r.host === host && (r.gateways ?? ["mesh"]).includes(gateway))
      .sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  }

  /** What a client may see: its scope (see `push-scopes.ts`). */
  scopeOf(proxy: Proxy): ScopeChoice {
    // Asked several times per proxy per push (its scope part, its workload
    // key, its inbound plan): computed once.
    let choice = this.#choices.get(proxy);
    if (!choice) {
      choice = scopeOf(proxy, this.#scopeInputs);
      this.#choices.set(proxy, choice);
    }
    return choice;
  }

  /** This push as a scope sees it (the push itself for `mesh`); computed once per scope. */
  forScope(choice: ScopeChoice): PushContext {
    if (choice.key === "mesh") return this;
    let scoped = this.#scoped.get(choice.key);
    if (!scoped) {
      // The scope's Sidecar as this push has it (it may have been edited since the scope was made).
      const name = choice.sidecar?.name;
      const current = name === undefined ? undefined : this.sidecars.find((s) => s.name === name);
      if (current) choice = { ...choice, sidecar: current };
      const seen = visibleIn(
        { services: this.#rawServices, routes: this.#rawRoutes, policies: this.policies, tcpRoutes: this.tcpRoutes },
        choice,
      );
      // A gateway proxy gets the gateways without a selector and those selecting it.
      const selected = choice.gateways;
      const gateways = selected
        ? this.gatewayList.filter((g) => g.name === undefined || g.selector === undefined || selected.has(g.name))
        : this.gatewayList;
      scoped = new PushContext(seen.services, seen.routes, this.reasons, gateways, this.meshConfig, this.derivedPorts, {
        ...this.#extras,
        policies: seen.policies,
        tcpRoutes: seen.tcpRoutes,
        // What was left of the matches is resolved: the scoped push needs no more scoping.
        sidecars: [],
        outboundTrafficPolicy: choice.sidecar?.outboundTrafficPolicy ?? "allow-any",
        ...(choice.namespace ? { clientNamespace: choice.namespace } : {}),
        scopeKey: choice.key,
      });
      this.#scoped.set(choice.key, scoped);
    }
    return scoped;
  }
}
