import type { Message } from "@bufbuild/protobuf";
import { TypeUrl } from "@xdskit/xds-types";
import type { Cluster } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import type { ClusterLoadAssignment } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import type { Listener } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import type { RouteConfiguration } from "@xdskit/xds-types/gen/envoy/config/route/v3/route_pb";
import type { SnapshotInput } from "@xdskit/snapshot";
import { inboundCluster, outboundCluster, sidecarFixedClusters } from "./builders/clusters.js";
import { loadAssignment } from "./builders/endpoints.js";
import { clusterInputs, serviceKey } from "./builders/inputs.js";
import {
  type Memo,
  gatewayListenerSet,
  gatewayRouteSet,
  proxylessListenerSet,
  proxylessRouteSet,
  sidecarListenerSet,
  sidecarRouteSet,
} from "./builders/kind-sets.js";
import { BuildCache, type BuildCacheStats } from "./builders/memo.js";
import { portsByIp, servicesByIp, servingPorts } from "./builders/indexes.js";
import { serverListeners } from "./builders/servers.js";
import { secureInboundCluster, secureVirtualInbound } from "./builders/inbound.js";
import { InboundKeys, type InboundPlan, inboundPlan } from "./builders/workload-inbound.js";
import { virtualInbound } from "./builders/sidecar.js";
import type { BuilderOptions, ClusterOrigin, ConfigGenerator, ResourceBuilder } from "./generator-api.js";
import type { Subset } from "./model.js";
import type { Proxy } from "./proxy.js";
import type { PushContext } from "./push-context.js";
import { accessPoliciesOf } from "./push-security.js";
import { withTraffic } from "./push-policies.js";

export { clusterName, parseClusterName, subsetClusterName } from "./builders/common.js";

export type {
  BuildContext,
  BuilderOptions,
  ClusterOrigin,
  ConfigGenerator,
  ResourceBuilder,
} from "./generator-api.js";
export { typesTouchedBy } from "./generator-api.js";

/**
 * Default builders for three kinds of client:
 *
 * * **proxyless gRPC**: an API listener per service named after the dial
 *   target, a route configuration per service, EDS clusters and assignments;
 * * **sidecar Envoys**, in Istio's layout (see `build/sidecar.ts`):
 *   `virtualOutbound` on 15001, per-port outbound listeners that do not bind,
 *   route configurations per port, EDS clusters, passthrough clusters — all
 *   shared — and per workload `virtualInbound` on 15006 with inbound clusters
 *   to the workload on the loopback;
 * * **gateways** (`router~…` nodes): a bound listener per gateway port of the
 *   mesh, routing each of its hosts by authority.
 *
 * Every resource is memoized by the inputs it reads (a service's name, port,
 * protocol, endpoints, its routes…): a push that changes one service rebuilds
 * that service's resources once. Outputs are frozen and shared: to change one
 * in an override, `clone()` it (protobuf-es) or build your own.
 */
export class DefaultConfigGenerator implements ConfigGenerator {
  // By type URL and sharing: a type may have a shared builder and a per-workload one (gateway
  // credentials for every proxy of a scope, and each workload's own certificate).
  readonly #builders = new Map<
    string,
    { typeUrl: string; build: ResourceBuilder; shared: boolean; key: ((proxy: Proxy) => string) | undefined }
  >();
  readonly #cache = new BuildCache();
  readonly #inboundKeys = new InboundKeys();

  /**
   * Registers a builder for a type URL beyond CDS/EDS/LDS/RDS (or replaces
   * the one of the same sharing). A type may have one shared and one
   * per-workload builder; their resources' names must differ. Returns `this`.
   */
  registerBuilder(typeUrl: string, builder: ResourceBuilder, options: BuilderOptions = {}): this {
    const shared = options.shared ?? false;
    this.#builders.set(`${typeUrl}\u0000${shared}`, { typeUrl, build: builder, shared, key: options.workloadKey });
    return this;
  }

  /** The builders registered for other type URLs (the shared one of a type that has both). */
  builders(): ReadonlyMap<string, ResourceBuilder> {
    const out = new Map<string, ResourceBuilder>();
    for (const b of this.#builders.values()) if (b.shared || !out.has(b.typeUrl)) out.set(b.typeUrl, b.build);
    return out;
  }

  extraTypes(): Iterable<string> {
    return new Set([...this.#builders.values()].map((b) => b.typeUrl));
  }

  beginPush(): void {
    this.#cache.begin();
  }

  endPush(types: ReadonlySet<string> | undefined): void {
    this.#cache.end(types);
  }

  /** Resources built and reused in the last push, and slots held. */
  cacheStats(): BuildCacheStats {
    return this.#cache.stats();
  }

  /** A memoized build of one resource. */
  protected memo<T extends Message | readonly Message[]>(
    typeUrl: string,
    slot: string,
    inputs: string,
    build: () => T,
  ): T {
    return this.#cache.get(typeUrl, slot, inputs, build);
  }

  /**
   * Decorates each outbound cluster this generator builds — the service's
   * own and one per subset — knowing the service (and subset) it was built
   * from. The default returns it unchanged. Override it to add per-service
   * policy the model does not carry; return a changed copy (`clone()` from
   * protobuf-es: built clusters are frozen and shared), or the cluster as it
   * is. The result is memoized with the cluster, rebuilt when the service
   * changes (its labels and metadata included): read only the origin, never
   * outside state.
   */
  protected decorateCluster(cluster: Cluster, _origin: ClusterOrigin): Cluster {
    return cluster;
  }

  /** Every service's EDS cluster (as the proxy's kind needs it); sidecars also get the passthrough clusters. */
  buildClusters(proxy: Proxy, push: PushContext): Cluster[] {
    const envoy = proxy.kind !== "proxyless";
    const decorated = this.decorateCluster !== DefaultConfigGenerator.prototype.decorateCluster;
    const out: Cluster[] = [];
    for (const s of push.views) {
      const kind = envoy ? "envoy" : "grpc";
      const at = `${s.name}:${push.portOf(s)}`;
      // A decorator may read anything of the service: then all of it is an input.
      const inputs = decorated ? `${clusterInputs(s, push)}|${serviceKey(s, push)}` : clusterInputs(s, push);
      if (s.passthrough && !envoy) continue;
      const build = (subset: Subset | undefined) => {
        // A subset's own traffic policy (a DestinationRule subset's) over the service's.
        const cluster = outboundCluster(withTraffic(s, subset?.trafficPolicy), push, proxy.kind, subset?.name);
        return decorated ? this.decorateCluster(cluster, { service: s, subset, proxy, push }) : cluster;
      };
      out.push(this.memo(TypeUrl.Cluster, `${kind}|${at}`, inputs, () => build(undefined)));
      for (const sub of s.subsets ?? []) {
        const subInputs = sub.trafficPolicy ? `${inputs}|${JSON.stringify(sub.trafficPolicy)}` : inputs;
        out.push(this.memo(TypeUrl.Cluster, `${kind}|${at}|${sub.name}`, subInputs, () => build(sub)));
      }
    }
    if (proxy.kind === "sidecar")
      out.push(...this.memo(TypeUrl.Cluster, "sidecar-fixed", "", () => sidecarFixedClusters()));
    return out;
  }

  /** A sidecar's clusters for its own ports (the workload on the loopback, or its Sidecar's ingress targets). */
  buildInboundClusters(proxy: Proxy, push: PushContext): Cluster[] {
    if (proxy.kind !== "sidecar") return [];
    const plan = this.inboundPlan(proxy, push);
    return plan.targets.map((t) =>
      plan.secure
        ? this.memo(TypeUrl.Cluster, `inbound|${t.port}|secure`, JSON.stringify(t), () => secureInboundCluster(t))
        : this.memo(TypeUrl.Cluster, `inbound|${t.port}|${t.address}:${t.targetPort}`, "", () =>
            inboundCluster(t.port, { address: t.address, port: t.targetPort }),
          ),
    );
  }

  /**
   * Every service's endpoints (dns and aggregate services have none). A
   * service failing over to the nearest locality reads the scope's locality
   * (the controller's `groupBy.locality`).
   */
  buildEndpoints(proxy: Proxy, push: PushContext): ClusterLoadAssignment[] {
    const out: ClusterLoadAssignment[] = [];
    for (const s of push.views) {
      if (s.dns || s.aggregate || s.passthrough) continue;
      const near = s.localityFailover === "nearest" ? proxy.locality : undefined;
      const at = `${s.name}:${push.portOf(s)}${near ? `@${near.region ?? ""}/${near.zone ?? ""}/${near.subZone ?? ""}` : ""}`;
      out.push(
        this.memo(TypeUrl.ClusterLoadAssignment, at, serviceKey(s, push), () =>
          loadAssignment(s, push, undefined, near),
        ),
      );
      for (const sub of s.subsets ?? []) {
        out.push(
          this.memo(TypeUrl.ClusterLoadAssignment, `${at}|${sub.name}`, serviceKey(s, push), () =>
            loadAssignment(s, push, sub, near),
          ),
        );
      }
    }
    return out;
  }

  /** Listeners every proxy of the kind shares. */
  buildListeners(proxy: Proxy, push: PushContext): Listener[] {
    switch (proxy.kind) {
      case "proxyless":
        return this.proxylessListeners(push);
      case "gateway":
        return this.gatewayListeners(push);
      default:
        return this.sidecarListeners(push);
    }
  }

  /** A sidecar's own listener: virtualInbound (with mutual TLS and authorization when the mesh has them). */
  buildInboundListeners(proxy: Proxy, push: PushContext): Listener[] {
    if (proxy.kind !== "sidecar") return [];
    const plan = this.inboundPlan(proxy, push);
    if (plan.secure)
      return [
        this.memo(TypeUrl.Listener, "virtualInbound|secure", plan.key, () =>
          secureVirtualInbound(plan.targets, plan.policies, push.security.trustDomain),
        ),
      ];
    const ports = plan.targets.map((t) => t.port);
    return [this.memo(TypeUrl.Listener, "virtualInbound", ports.join(","), () => virtualInbound(ports))];
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

  generateShared(scope: Proxy, push: PushContext, types?: ReadonlySet<string>): SnapshotInput {
    const want = (t: string) => !types || types.has(t);
    const out: Record<string, readonly Message[]> = {};
    if (want(TypeUrl.Cluster)) out[TypeUrl.Cluster] = this.buildClusters(scope, push);
    if (want(TypeUrl.ClusterLoadAssignment)) out[TypeUrl.ClusterLoadAssignment] = this.buildEndpoints(scope, push);
    if (want(TypeUrl.Listener)) out[TypeUrl.Listener] = this.buildListeners(scope, push);
    if (want(TypeUrl.RouteConfiguration)) out[TypeUrl.RouteConfiguration] = this.buildRoutes(scope, push);
    for (const b of this.#builders.values())
      if (b.shared && want(b.typeUrl)) out[b.typeUrl] = b.build({ proxy: scope, push });
    return out;
  }

  generateWorkload(proxy: Proxy, push: PushContext, types?: ReadonlySet<string>): SnapshotInput {
    const want = (t: string) => !types || types.has(t);
    const out: Record<string, readonly Message[]> = {};
    if (proxy.kind === "sidecar") {
      if (want(TypeUrl.Cluster)) out[TypeUrl.Cluster] = this.buildInboundClusters(proxy, push);
      if (want(TypeUrl.Listener)) out[TypeUrl.Listener] = this.buildInboundListeners(proxy, push);
    }
    if (proxy.kind === "proxyless" && want(TypeUrl.Listener))
      out[TypeUrl.Listener] = this.buildServerListeners(proxy, push);
    for (const b of this.#builders.values())
      if (!b.shared && want(b.typeUrl)) out[b.typeUrl] = b.build({ proxy, push });
    return out;
  }

  workloadKey(proxy: Proxy, push: PushContext): string {
    const own = [...this.#builders.values()].filter((b) => !b.shared);
    // A per-workload builder of the host's that does not say what it reads
    // may read anything of the proxy: then only the proxy's own group shares
    // its workload part.
    if (own.some((b) => !b.key)) return `${proxy.kind}:${proxy.id}`;
    const extra = own.map((b) => `|${b.key?.(proxy) ?? ""}`).join("");
    return `${this.#defaultWorkloadKey(proxy, push)}${extra}`;
  }

  #defaultWorkloadKey(proxy: Proxy, push: PushContext): string {
    if (proxy.kind === "sidecar") return `sidecar:${this.#sidecarKey(proxy, push)}`;
    // A proxyless node serving on its IP gets server listeners named after
    // it; the key names what they are built from, so an endpoint change that
    // moves a service onto or off the IP builds a new part.
    const ip = proxy.ip;
    const serving = proxy.kind === "proxyless" && ip ? servicesByIp(push).get(ip) : undefined;
    if (serving && ip) {
      // The workload's AuthorizationPolicies go into its server listeners.
      const policies = accessPoliciesOf(push.security, proxy).map((p) => p.name);
      return `proxyless:${ip}:${servingPorts(serving, ip)}${policies.length ? `|${policies.join(",")}` : ""}`;
    }
    return proxy.kind;
  }

  // The inbound plan's key, remembered (see InboundKeys) unless a subclass
  // builds the inbound side its own way.
  #sidecarKey(proxy: Proxy, push: PushContext): string {
    const own =
      this.inboundPlan === DefaultConfigGenerator.prototype.inboundPlan &&
      this.inboundPorts === DefaultConfigGenerator.prototype.inboundPorts;
    const compute = () => this.inboundPlan(proxy, push).key;
    return own ? this.#inboundKeys.keyOf(proxy, push, compute) : compute();
  }

  /**
   * Listeners for the xDS-enabled gRPC servers (gRFC A36) of a proxyless node
   * with an IP (node id `…~IP~…` or metadata INSTANCE_IPS): one per port a
   * service has an endpoint on at that IP, with its TLS and authorization.
   */
  buildServerListeners(proxy: Proxy, push: PushContext): Listener[] {
    const services = proxy.ip ? servicesByIp(push).get(proxy.ip) : undefined;
    if (!proxy.ip || !services) return [];
    const ip = proxy.ip;
    const policies = accessPoliciesOf(push.security, proxy);
    const inputs = `${servingPorts(services, ip)}|${JSON.stringify([services.map((s) => [s.tls, s.authorization]), policies])}`;
    return this.memo(TypeUrl.Listener, `server|${ip}`, inputs, () => serverListeners(services, ip, policies));
  }

  /** Every resource of one proxy, shared and its own, for the types in `types` (all when omitted). */
  generate(proxy: Proxy, push: PushContext, types?: ReadonlySet<string>): SnapshotInput {
    const shared = this.generateShared(proxy, push, types);
    const own = this.generateWorkload(proxy, push, types);
    const out: Record<string, readonly Message[]> = {};
    for (const t of new Set([...Object.keys(shared), ...Object.keys(own)])) {
      out[t] = [
        ...((shared[t] as readonly Message[] | undefined) ?? []),
        ...((own[t] as readonly Message[] | undefined) ?? []),
      ];
    }
    return out;
  }

  /** What a sidecar's inbound side is built from (see `builders/workload-inbound.ts`). */
  protected inboundPlan(proxy: Proxy, push: PushContext): InboundPlan {
    return inboundPlan(proxy, push, this.inboundPorts(proxy, push));
  }

  /** Ports of services that have an endpoint on this sidecar's IP. */
  protected inboundPorts(proxy: Proxy, push: PushContext): number[] {
    if (!proxy.ip) return [];
    return portsByIp(push).get(proxy.ip) ?? [];
  }

  // Each kind's shared listeners and routes (see builders/kind-sets.ts),
  // through this generator's memo so overrides see every build.
  readonly #memo: Memo = (typeUrl, slot, inputs, build) => this.memo(typeUrl, slot, inputs, build);

  /** API listeners for every service. */
  protected proxylessListeners(push: PushContext): Listener[] {
    return proxylessListenerSet(push, this.#memo);
  }

  /** A route configuration per service, named after it. */
  protected proxylessRoutes(push: PushContext): RouteConfiguration[] {
    return proxylessRouteSet(push, this.#memo);
  }

  /** virtualOutbound and an outbound listener per service port. */
  protected sidecarListeners(push: PushContext): Listener[] {
    return sidecarListenerSet(push, this.#memo);
  }

  /** A route configuration per HTTP port: a virtual host per service, and `allow_any` for the rest. */
  protected sidecarRoutes(push: PushContext): RouteConfiguration[] {
    return sidecarRouteSet(push, this.#memo);
  }

  /** A bound listener per gateway port: the mesh file's by service, and named gateways' servers. */
  protected gatewayListeners(push: PushContext): Listener[] {
    return gatewayListenerSet(push, this.#memo);
  }

  /** Route configurations of gateway ports: a virtual host per host (matched with any port). */
  protected gatewayRoutes(push: PushContext): RouteConfiguration[] {
    return gatewayRouteSet(push, this.#memo);
  }
}
