// Realistic resources for tests and benchmarks (not exported from the package index).
import { create } from "@bufbuild/protobuf";
import { TypeUrl, httpConnectionManagerFilter, packHttpConnectionManager, routerHttpFilter } from "@xdskit/xds-types";
import {
  type Cluster,
  Cluster_DiscoveryType,
  ClusterSchema,
} from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import { type Listener, ListenerSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import {
  type RouteConfiguration,
  RouteConfigurationSchema,
} from "@xdskit/xds-types/gen/envoy/config/route/v3/route_pb";

/** An EDS cluster fed over ADS. */
export function edsCluster(name: string, extra: { connectTimeoutSeconds?: number } = {}): Cluster {
  return create(ClusterSchema, {
    name,
    clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: { configSourceSpecifier: { case: "ads", value: {} } } },
    connectTimeout: { seconds: BigInt(extra.connectTimeoutSeconds ?? 5) },
  });
}

/** A CLA with `count` endpoints on 127.0.0.1 starting at `basePort`, in one locality. */
export function cla(clusterName: string, count = 1, basePort = 10000): ClusterLoadAssignment {
  return create(ClusterLoadAssignmentSchema, {
    clusterName,
    endpoints: [
      {
        locality: { region: "local", zone: "a" },
        loadBalancingWeight: 1,
        lbEndpoints: Array.from({ length: count }, (_, i) => ({
          hostIdentifier: {
            case: "endpoint" as const,
            value: {
              address: {
                address: {
                  case: "socketAddress" as const,
                  value: { address: "127.0.0.1", portSpecifier: { case: "portValue" as const, value: basePort + i } },
                },
              },
            },
          },
          loadBalancingWeight: 1,
        })),
      },
    ],
  });
}

/** A proxyless-gRPC style API listener whose HCM fetches `routeName` over RDS. */
export function apiListener(name: string, routeName = name): Listener {
  return create(ListenerSchema, {
    name,
    apiListener: {
      apiListener: packHttpConnectionManager({
        statPrefix: name,
        routeSpecifier: {
          case: "rds",
          value: { routeConfigName: routeName, configSource: { configSourceSpecifier: { case: "ads", value: {} } } },
        },
        httpFilters: [routerHttpFilter()],
      }),
    },
  });
}

/** An Envoy-style listener on a port with an HCM filter pointing at `routeName`. */
export function portListener(name: string, port: number, routeName: string): Listener {
  return create(ListenerSchema, {
    name,
    address: {
      address: {
        case: "socketAddress",
        value: { address: "0.0.0.0", portSpecifier: { case: "portValue", value: port } },
      },
    },
    filterChains: [
      {
        filters: [
          httpConnectionManagerFilter({
            statPrefix: name,
            routeSpecifier: {
              case: "rds",
              value: {
                routeConfigName: routeName,
                configSource: { configSourceSpecifier: { case: "ads", value: {} } },
              },
            },
            httpFilters: [routerHttpFilter()],
          }),
        ],
      },
    ],
  });
}

/** A route configuration with one virtual host for `domain`, splitting traffic over weighted clusters. */
export function weightedRoute(name: string, domain: string, split: readonly [string, number][]): RouteConfiguration {
  return create(RouteConfigurationSchema, {
    name,
    virtualHosts: [
      {
        name: domain,
        domains: [domain],
        routes: [
          {
            match: { pathSpecifier: { case: "prefix", value: "" } },
            action: {
              case: "route",
              value:
                split.length === 1
                  ? { clusterSpecifier: { case: "cluster", value: split[0]?.[0] ?? "" } }
                  : {
                      clusterSpecifier: {
                        case: "weightedClusters",
                        value: { clusters: split.map(([c, w]) => ({ name: c, weight: w })) },
                      },
                    },
            },
          },
        ],
      },
    ],
  });
}

/** A consistent world: `n` services, each with a listener, route, cluster and CLA. */
export function world(n: number, endpointsPerCla = 1) {
  const names = Array.from({ length: n }, (_, i) => `svc-${i}`);
  return {
    [TypeUrl.Listener]: names.map((s) => apiListener(s)),
    [TypeUrl.RouteConfiguration]: names.map((s) => weightedRoute(s, s, [[s, 100]])),
    [TypeUrl.Cluster]: names.map((s) => edsCluster(s)),
    [TypeUrl.ClusterLoadAssignment]: names.map((s, i) => cla(s, endpointsPerCla, 20000 + i * endpointsPerCla)),
  };
}
