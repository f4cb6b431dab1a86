import { create, type Message, type MessageInitShape } from "@bufbuild/protobuf";
import {
  httpConnectionManagerFilter,
  packAny,
  packHttpConnectionManager,
  routerHttpFilter,
  TypeUrl,
} from "@xdskit/xds-types";
import {
  type Cluster,
  Cluster_DiscoveryType,
  ClusterSchema,
} from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import type { AddressSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/address_pb";
import { HealthStatus } from "@xdskit/xds-types/gen/envoy/config/core/v3/health_check_pb";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import type { LocalityLbEndpointsSchema } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_components_pb";
import { type Listener, ListenerSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import type { Route, VirtualHost } from "@xdskit/xds-types/gen/envoy/config/route/v3/route_components_pb";
import {
  type RouteConfiguration,
  RouteConfigurationSchema,
} from "@xdskit/xds-types/gen/envoy/config/route/v3/route_pb";
import { TcpProxySchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb";
import type { SnapshotInput } from "@xdskit/snapshot";
import type { ChangeKind, RouteRule, Service } from "./model.js";
import type { Proxy } from "./proxy.js";
import type { PushContext } from "./push-context.js";

/** What a builder of any type gets. */
export interface BuildContext {
  readonly proxy: Proxy;
  readonly push: PushContext;
}

/** Builds the resources of one type URL for a proxy. */
export type ResourceBuilder = (ctx: BuildContext) => readonly Message[];

/**
 * Turns the model into xDS resources for one proxy (one node group), as
 * pilot's ConfigGenerator does. Extend {@link DefaultConfigGenerator} to
 * change one builder and keep the rest.
 */
export interface ConfigGenerator {
  buildClusters(proxy: Proxy, push: PushContext): Cluster[];
  buildEndpoints(proxy: Proxy, push: PushContext): ClusterLoadAssignment[];
  buildListeners(proxy: Proxy, push: PushContext): Listener[];
  /** Route configurations; `routeNames` narrows them when given. */
  buildRoutes(proxy: Proxy, push: PushContext, routeNames?: readonly string[]): RouteConfiguration[];
  /** Builders of every other type URL (secrets, runtime, extension configs, a host's own types). */
  builders(): ReadonlyMap<string, ResourceBuilder>;
}

/** The cluster name of a service, in Istio's `outbound|port||host` form. */
export function clusterName(service: Service, push: PushContext): string {
  return `outbound|${push.portOf(service)}||${service.name}`;
}

function socketAddress(address: string, port: number): MessageInitShape<typeof AddressSchema> {
  return { address: { case: "socketAddress", value: { address, portSpecifier: { case: "portValue", value: port } } } };
}

const ADS = { configSourceSpecifier: { case: "ads" as const, value: {} }, resourceApiVersion: 2 };

/** Which types a change of a kind touches (and so which builders a push must run). */
export function typesTouchedBy(kinds: Iterable<ChangeKind>): Set<string> {
  const out = new Set<string>();
  for (const k of kinds) {
    if (k === "endpoints") out.add(TypeUrl.ClusterLoadAssignment);
    if (k === "services") {
      for (const t of [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration])
        out.add(t);
    }
    if (k === "routes") out.add(TypeUrl.RouteConfiguration);
  }
  return out;
}

/**
 * Default builders for proxyless gRPC clients (API listeners with HCM + RDS,
 * EDS clusters, weighted routes with retries and timeouts) and sidecar Envoys
 * (outbound listeners per port with HCM or TCP proxy, an inbound listener,
 * clusters, routes). Override any `build*` method and call `super` for the rest.
 */
export class DefaultConfigGenerator implements ConfigGenerator {
  readonly #builders = new Map<string, ResourceBuilder>();

  /** Registers a builder for a type URL beyond CDS/EDS/LDS/RDS (or replaces one). Returns `this`. */
  registerBuilder(typeUrl: string, builder: ResourceBuilder): this {
    this.#builders.set(typeUrl, builder);
    return this;
  }

  builders(): ReadonlyMap<string, ResourceBuilder> {
    return this.#builders;
  }

  buildClusters(proxy: Proxy, push: PushContext): Cluster[] {
    const out: Cluster[] = [];
    for (const s of push.services.values()) {
      out.push(
        create(ClusterSchema, {
          name: clusterName(s, push),
          clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.EDS },
          edsClusterConfig: { edsConfig: ADS },
          connectTimeout: { seconds: 5n },
        }),
      );
    }
    if (proxy.kind === "sidecar") {
      for (const port of this.inboundPorts(proxy, push)) {
        out.push(
          create(ClusterSchema, {
            name: `inbound|${port}||`,
            clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.STATIC },
            connectTimeout: { seconds: 5n },
            loadAssignment: {
              clusterName: `inbound|${port}||`,
              endpoints: [
                {
                  lbEndpoints: [
                    { hostIdentifier: { case: "endpoint", value: { address: socketAddress("127.0.0.1", port) } } },
                  ],
                },
              ],
            },
          }),
        );
      }
    }
    return out;
  }

  buildEndpoints(_proxy: Proxy, push: PushContext): ClusterLoadAssignment[] {
    const out: ClusterLoadAssignment[] = [];
    for (const s of push.services.values()) {
      const byLocality = new Map<
        string,
        { locality: Service["endpoints"][number]["locality"]; eps: Service["endpoints"][number][] }
      >();
      for (const e of s.endpoints) {
        const key = `${e.locality?.region ?? ""}/${e.locality?.zone ?? ""}/${e.locality?.subZone ?? ""}`;
        const entry = byLocality.get(key) ?? { locality: e.locality, eps: [] };
        entry.eps.push(e);
        byLocality.set(key, entry);
      }
      const endpoints: MessageInitShape<typeof LocalityLbEndpointsSchema>[] = [];
      for (const { locality, eps } of byLocality.values()) {
        endpoints.push({
          locality: { region: locality?.region ?? "", zone: locality?.zone ?? "", subZone: locality?.subZone ?? "" },
          loadBalancingWeight: eps.reduce((sum, e) => sum + (e.weight ?? 1), 0),
          lbEndpoints: eps.map((e) => ({
            hostIdentifier: { case: "endpoint" as const, value: { address: socketAddress(e.address, e.port) } },
            loadBalancingWeight: e.weight ?? 1,
            healthStatus: e.healthy === false ? HealthStatus.UNHEALTHY : HealthStatus.HEALTHY,
          })),
        });
      }
      out.push(create(ClusterLoadAssignmentSchema, { clusterName: clusterName(s, push), endpoints }));
    }
    return out;
  }

  buildListeners(proxy: Proxy, push: PushContext): Listener[] {
    return proxy.kind === "proxyless" ? this.proxylessListeners(push) : this.sidecarListeners(proxy, push);
  }

  buildRoutes(proxy: Proxy, push: PushContext, routeNames?: readonly string[]): RouteConfiguration[] {
    const all = proxy.kind === "proxyless" ? this.proxylessRoutes(push) : this.sidecarRoutes(push);
    return routeNames ? all.filter((r) => routeNames.includes(r.name)) : all;
  }

  /** Every resource of a proxy, for the types in `types` (all when omitted). */
  generate(proxy: Proxy, push: PushContext, types?: ReadonlySet<string>): SnapshotInput {
    const want = (t: string) => !types || types.has(t);
    const out: Record<string, readonly Message[]> = {};
    if (want(TypeUrl.Cluster)) out[TypeUrl.Cluster] = this.buildClusters(proxy, push);
    if (want(TypeUrl.ClusterLoadAssignment)) out[TypeUrl.ClusterLoadAssignment] = this.buildEndpoints(proxy, push);
    if (want(TypeUrl.Listener)) out[TypeUrl.Listener] = this.buildListeners(proxy, push);
    if (want(TypeUrl.RouteConfiguration)) out[TypeUrl.RouteConfiguration] = this.buildRoutes(proxy, push);
    for (const [typeUrl, build] of this.builders()) if (want(typeUrl)) out[typeUrl] = build({ proxy, push });
    return out;
  }

  /** Ports of services that have an endpoint on this sidecar's IP. */
  protected inboundPorts(proxy: Proxy, push: PushContext): number[] {
    if (!proxy.ip) return [];
    const ports = new Set<number>();
    for (const s of push.services.values()) for (const e of s.endpoints) if (e.address === proxy.ip) ports.add(e.port);
    return [...ports].sort((a, b) => a - b);
  }

  /** The routes of one host: its rules, most specific first, then a catch-all to the service itself. */
  protected routesOf(service: Service, push: PushContext): Route[] {
    const routes: Route[] = [];
    let catchAll = false;
    for (const rule of push.routesFor(service.name)) {
      routes.push(this.routeOf(rule, push));
      if (!rule.pathPrefix && !rule.headers) catchAll = true;
    }
    if (!catchAll) {
      routes.push({
        match: { pathSpecifier: { case: "prefix", value: "" } },
        action: { case: "route", value: { clusterSpecifier: { case: "cluster", value: clusterName(service, push) } } },
      } as unknown as Route);
    }
    return routes;
  }

  /** One route from a rule: match on path prefix and headers; weighted clusters, timeout and retries. */
  protected routeOf(rule: RouteRule, push: PushContext): Route {
    const dest = rule.split.filter((d) => push.services.has(d.service));
    const cluster = (name: string) => clusterName(push.services.get(name) as Service, push);
    const action: Record<string, unknown> = {
      clusterSpecifier:
        dest.length === 1
          ? { case: "cluster", value: cluster(dest[0]?.service ?? "") }
          : {
              case: "weightedClusters",
              value: { clusters: dest.map((d) => ({ name: cluster(d.service), weight: d.weight })) },
            },
    };
    if (rule.timeoutMs !== undefined)
      action.timeout = { seconds: BigInt(Math.floor(rule.timeoutMs / 1000)), nanos: (rule.timeoutMs % 1000) * 1e6 };
    if (rule.retries)
      action.retryPolicy = {
        retryOn: rule.retries.on ?? "unavailable,cancelled,deadline-exceeded",
        numRetries: rule.retries.attempts,
      };
    return {
      match: {
        pathSpecifier: { case: "prefix", value: rule.pathPrefix ?? "" },
        headers: Object.entries(rule.headers ?? {}).map(([name, value]) => ({
          name,
          headerMatchSpecifier: { case: "stringMatch", value: { matchPattern: { case: "exact", value } } },
        })),
      },
      action: { case: "route", value: action },
    } as unknown as Route;
  }

  protected virtualHost(service: Service, push: PushContext): Partial<VirtualHost> {
    const port = push.portOf(service);
    return {
      name: `${service.name}:${port}`,
      domains: [service.name, `${service.name}:${port}`],
      routes: this.routesOf(service, push),
    };
  }

  protected proxylessListeners(push: PushContext): Listener[] {
    const out: Listener[] = [];
    for (const s of push.services.values()) {
      // gRPC names the listener after the dial target: xds:///echo and xds:///echo:8080.
      for (const name of [s.name, `${s.name}:${push.portOf(s)}`]) {
        out.push(
          create(ListenerSchema, {
            name,
            apiListener: {
              apiListener: packHttpConnectionManager({
                statPrefix: name,
                routeSpecifier: { case: "rds", value: { routeConfigName: s.name, configSource: ADS } },
                httpFilters: [routerHttpFilter()],
              }),
            },
          }),
        );
      }
    }
    return out;
  }

  protected proxylessRoutes(push: PushContext): RouteConfiguration[] {
    return [...push.services.values()].map((s) =>
      create(RouteConfigurationSchema, { name: s.name, virtualHosts: [this.virtualHost(s, push)] as never }),
    );
  }

  protected sidecarListeners(proxy: Proxy, push: PushContext): Listener[] {
    const byPort = new Map<number, Service[]>();
    for (const s of push.services.values()) {
      const p = push.portOf(s);
      byPort.set(p, [...(byPort.get(p) ?? []), s]);
    }
    const out: Listener[] = [];
    for (const [port, services] of [...byPort].sort((a, b) => a[0] - b[0])) {
      const tcp = services.every((s) => s.protocol === "tcp");
      const first = services[0] as Service;
      out.push(
        create(ListenerSchema, {
          name: `0.0.0.0_${port}`,
          address: socketAddress("0.0.0.0", port),
          filterChains: [
            {
              filters: [
                tcp
                  ? {
                      name: "envoy.filters.network.tcp_proxy",
                      configType: {
                        case: "typedConfig",
                        value: packAny(TcpProxySchema, {
                          statPrefix: `outbound_${port}`,
                          clusterSpecifier: { case: "cluster", value: clusterName(first, push) },
                        }),
                      },
                    }
                  : httpConnectionManagerFilter({
                      statPrefix: `outbound_0.0.0.0_${port}`,
                      routeSpecifier: { case: "rds", value: { routeConfigName: String(port), configSource: ADS } },
                      httpFilters: [routerHttpFilter()],
                    }),
              ],
            },
          ],
        }),
      );
    }
    const inbound = this.inboundPorts(proxy, push);
    if (proxy.kind === "sidecar" && inbound.length > 0) {
      out.push(
        create(ListenerSchema, {
          name: "virtualInbound",
          address: socketAddress("0.0.0.0", 15006),
          filterChains: inbound.map((port) => ({
            filterChainMatch: { destinationPort: port },
            filters: [
              {
                name: "envoy.filters.network.tcp_proxy",
                configType: {
                  case: "typedConfig" as const,
                  value: packAny(TcpProxySchema, {
                    statPrefix: `inbound_${port}`,
                    clusterSpecifier: { case: "cluster", value: `inbound|${port}||` },
                  }),
                },
              },
            ],
          })),
        }),
      );
    }
    return out;
  }

  protected sidecarRoutes(push: PushContext): RouteConfiguration[] {
    const byPort = new Map<number, Service[]>();
    for (const s of push.services.values()) {
      if (s.protocol === "tcp") continue;
      const p = push.portOf(s);
      byPort.set(p, [...(byPort.get(p) ?? []), s]);
    }
    return [...byPort].map(([port, services]) =>
      create(RouteConfigurationSchema, {
        name: String(port),
        virtualHosts: services.map((s) => this.virtualHost(s, push)) as never,
      }),
    );
  }
}
