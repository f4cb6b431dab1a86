import type { Message } from "@bufbuild/protobuf";
import { TypeUrl } from "@xdskit/xds-types";
import type { Cluster } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import type { ClusterLoadAssignment } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import type { Listener } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import type { RouteConfiguration } from "@xdskit/xds-types/gen/envoy/config/route/v3/route_pb";
import type { SnapshotInput } from "@xdskit/snapshot";
import { inboundCluster, outboundCluster, sidecarFixedClusters } from "./build/clusters.js";
import { loadAssignment } from "./build/endpoints.js";
import { gatewayListener, gatewayRouteName, proxylessListeners } from "./build/listeners.js";
import { allowAnyVirtualHost, routeConfiguration, serviceVirtualHost } from "./build/routes.js";
import { isTcpPort, outboundPortListener, servicesByPort, virtualInbound, virtualOutbound } from "./build/sidecar.js";
import type { ChangeKind } from "./model.js";
import type { Proxy } from "./proxy.js";
import type { PushContext } from "./push-context.js";

export { clusterName } from "./build/common.js";

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
    if (k === "gateways") {
      out.add(TypeUrl.Listener);
      out.add(TypeUrl.RouteConfiguration);
    }
  }
  return out;
}

/**
 * Default builders for three kinds of client:
 *
 * * **proxyless gRPC**: an API listener per service named after the dial
 *   target, a route configuration per service, EDS clusters and assignments;
 * * **sidecar Envoys**, in Istio's layout (see `build/sidecar.ts`):
 *   `virtualOutbound` on 15001, per-port outbound listeners that do not bind,
 *   `virtualInbound` on 15006, route configurations per port, EDS clusters,
 *   inbound clusters to the workload on the loopback, passthrough clusters;
 * * **gateways** (`router~…` nodes): a bound listener per gateway port of the
 *   mesh, routing each of its hosts by authority.
 *
 * Override any `build*` method (or the protected pieces) and call `super` for the rest.
 */
export class DefaultConfigGenerator implements ConfigGenerator {
  readonly #builders = new Map<string, ResourceBuilder>();

  /** Registers a builder for a type URL beyond CDS/EDS/LDS/RDS (or replaces one). Returns `this`. */
  registerBuilder(typeUrl: string, builder: ResourceBuilder): this {
    this.#builders.set(typeUrl, builder);
    return this;
  }

  /** The builders registered for other type URLs. */
  builders(): ReadonlyMap<string, ResourceBuilder> {
    return this.#builders;
  }

  /** Every service's EDS cluster; sidecars also get their inbound and passthrough clusters. */
  buildClusters(proxy: Proxy, push: PushContext): Cluster[] {
    const out = [...push.services.values()].map((s) => outboundCluster(s, push, proxy.kind));
    if (proxy.kind === "sidecar") {
      for (const port of this.inboundPorts(proxy, push)) out.push(inboundCluster(port));
      out.push(...sidecarFixedClusters());
    }
    return out;
  }

  /** Every service's endpoints. */
  buildEndpoints(_proxy: Proxy, push: PushContext): ClusterLoadAssignment[] {
    return [...push.services.values()].map((s) => loadAssignment(s, push));
  }

  /** Listeners for the proxy's kind. */
  buildListeners(proxy: Proxy, push: PushContext): Listener[] {
    switch (proxy.kind) {
      case "proxyless":
        return this.proxylessListeners(push);
      case "gateway":
        return this.gatewayListeners(push);
      default:
        return this.sidecarListeners(proxy, push);
    }
  }

  /** Route configurations for the proxy's kind. */
  buildRoutes(proxy: Proxy, push: PushContext, routeNames?: readonly string[]): RouteConfiguration[] {
    const all =
      proxy.kind === "proxyless"
        ? this.proxylessRoutes(push)
        : proxy.kind === "gateway"
          ? this.gatewayRoutes(push)
          : this.sidecarRoutes(push);
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

  /** API listeners for every service. */
  protected proxylessListeners(push: PushContext): Listener[] {
    return [...push.services.values()].flatMap((s) => proxylessListeners(s, push));
  }

  /** A route configuration per service, named after it. */
  protected proxylessRoutes(push: PushContext): RouteConfiguration[] {
    return [...push.services.values()].map((s) =>
      routeConfiguration(s.name, [serviceVirtualHost(s, push, "proxyless")]),
    );
  }

  /** virtualOutbound, an outbound listener per service port, and virtualInbound. */
  protected sidecarListeners(proxy: Proxy, push: PushContext): Listener[] {
    const out = [virtualOutbound()];
    for (const [port, services] of servicesByPort(push)) out.push(outboundPortListener(port, services, push));
    out.push(virtualInbound(this.inboundPorts(proxy, push)));
    return out;
  }

  /** A route configuration per HTTP port: a virtual host per service, and `allow_any` for the rest. */
  protected sidecarRoutes(push: PushContext): RouteConfiguration[] {
    return servicesByPort(push)
      .filter(([, services]) => !isTcpPort(services))
      .map(([port, services]) =>
        routeConfiguration(String(port), [
          ...services.filter((s) => s.protocol !== "tcp").map((s) => serviceVirtualHost(s, push, "sidecar")),
          allowAnyVirtualHost(),
        ]),
      );
  }

  /** A bound listener per gateway port. */
  protected gatewayListeners(push: PushContext): Listener[] {
    return [...push.gateways.values()].map((g) => gatewayListener(g));
  }

  /** A route configuration per gateway port: a virtual host per host, matched with any port. */
  protected gatewayRoutes(push: PushContext): RouteConfiguration[] {
    return [...push.gateways.values()].map((g) =>
      routeConfiguration(
        gatewayRouteName(g),
        g.hosts.flatMap((h) => {
          const s = push.services.get(h);
          return s ? [serviceVirtualHost(s, push, "gateway", [h, `${h}:*`])] : [];
        }),
      ),
    );
  }
}
