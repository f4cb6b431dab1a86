// A sidecar's inbound side under the mesh's security: per port the chains
// its PeerAuthentication mode asks for — mutual TLS terminated with the
// workload certificate, plaintext, or plaintext refused (STRICT) — each
// holding the workload's AuthorizationPolicies as RBAC filters: HTTP ones in
// an HTTP connection manager for HTTP and gRPC ports, network ones before a
// TCP proxy for the rest.
import { type MessageInitShape, create } from "@bufbuild/protobuf";
import { httpConnectionManagerFilter, packAny, routerHttpFilter } from "@xdskit/xds-types";
import {
  type Cluster,
  ClusterSchema,
  Cluster_DiscoveryType,
} from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import type { FilterChainSchema, Filter } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_components_pb";
import { FilterSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_components_pb";
import type { Listener } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import { RBACSchema as HttpRbacSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/http/rbac/v3/rbac_pb";
import { RBACSchema as NetworkRbacSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/network/rbac/v3/rbac_pb";
import { HttpFilterSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb";
import { HttpProtocolOptionsSchema } from "@xdskit/xds-types/gen/envoy/extensions/upstreams/http/v3/http_protocol_options_pb";
import type { PortProtocol } from "../model.js";
import type { AccessPolicy } from "../model-security.js";
import { RBAC_Action } from "@xdskit/xds-types/gen/envoy/config/rbac/v3/rbac_pb";
import { accessRbac } from "./access-rbac.js";
import { duration, inboundClusterName, socketAddress } from "./common.js";
import { tcpProxyFilter } from "./listeners.js";
import { inboundListener } from "./sidecar.js";
import { mtlsDownstreamSocket } from "./mtls.js";

type ChainInit = MessageInitShape<typeof FilterChainSchema>;

/** One inbound port as the secure builder needs it. */
export interface SecureTarget {
  readonly port: number;
  readonly address: string;
  readonly targetPort: number;
  /** The application protocol of the port (from the services the workload serves on it). */
  readonly protocol: PortProtocol | undefined;
  /** The PeerAuthentication mode of the port. */
  readonly mode: "strict" | "permissive" | "disable";
}

const isHttp = (p: PortProtocol | undefined) => p === "http" || p === "grpc";

function networkRbac(stat: string, rules: MessageInitShape<typeof NetworkRbacSchema>["rules"]): Filter {
  return create(FilterSchema, {
    name: "envoy.filters.network.rbac",
    configType: {
      case: "typedConfig",
      value: packAny(NetworkRbacSchema, { statPrefix: stat, ...(rules ? { rules } : {}) }),
    },
  });
}

function httpRbac(rules: MessageInitShape<typeof HttpRbacSchema>["rules"]) {
  return create(HttpFilterSchema, {
    name: "envoy.filters.http.rbac",
    configType: { case: "typedConfig", value: packAny(HttpRbacSchema, { ...(rules ? { rules } : {}) }) },
  });
}

// What a connection on one port goes through once it is admitted.
function portFilters(t: SecureTarget, policies: readonly AccessPolicy[]): Filter[] {
  const cluster = inboundClusterName(t.port);
  const stat = `inbound_${t.port}`;
  const http = isHttp(t.protocol);
  const rbac = accessRbac(policies, http);
  if (!http) {
    return [
      ...(rbac.deny ? [networkRbac(`${stat}_deny.`, rbac.deny)] : []),
      ...(rbac.allow ? [networkRbac(`${stat}_allow.`, rbac.allow)] : []),
      tcpProxyFilter(stat, cluster),
    ];
  }
  return [
    httpConnectionManagerFilter({
      statPrefix: stat,
      routeSpecifier: {
        case: "routeConfig",
        value: {
          name: stat,
          virtualHosts: [
            {
              name: stat,
              domains: ["*"],
              routes: [
                {
                  match: { pathSpecifier: { case: "prefix", value: "" } },
                  action: {
                    case: "route",
                    value: { clusterSpecifier: { case: "cluster", value: cluster }, timeout: duration(0) },
                  },
                },
              ],
            },
          ],
        },
      },
      httpFilters: [
        ...(rbac.deny ? [httpRbac(rbac.deny)] : []),
        ...(rbac.allow ? [httpRbac(rbac.allow)] : []),
        routerHttpFilter(),
      ],
    }),
  ];
}

/** The inbound listener of a workload under the mesh's security (see the module comment). */
export function secureVirtualInbound(
  targets: readonly SecureTarget[],
  policies: readonly AccessPolicy[],
  trustDomain: string | undefined,
): Listener {
  const chains: ChainInit[] = [];
  for (const t of targets) {
    const filters = portFilters(t, policies);
    const name = inboundClusterName(t.port);
    if (t.mode !== "disable" && trustDomain) {
      chains.push({
        name: `${name}-mtls`,
        filterChainMatch: { destinationPort: t.port, transportProtocol: "tls" },
        transportSocket: mtlsDownstreamSocket(trustDomain),
        filters,
      });
    }
    if (t.mode === "strict" && trustDomain) {
      // Plaintext refused: an allow filter with no policy closes every connection.
      chains.push({
        name: `${name}-plaintext-refused`,
        filterChainMatch: { destinationPort: t.port, transportProtocol: "raw_buffer" },
        filters: [
          networkRbac(`inbound_${t.port}_strict.`, { action: RBAC_Action.ALLOW, policies: {} }),
          tcpProxyFilter(name, name),
        ],
      });
    } else {
      chains.push({
        name: `${name}-plaintext`,
        filterChainMatch:
          trustDomain && t.mode !== "disable"
            ? { destinationPort: t.port, transportProtocol: "raw_buffer" }
            : { destinationPort: t.port },
        filters,
      });
    }
  }
  return inboundListener(
    chains,
    chains.some((c) => c.filterChainMatch?.transportProtocol),
  );
}

/** The inbound cluster of a port served through an HTTP connection manager: the application's own protocol upstream. */
export function secureInboundCluster(t: SecureTarget): Cluster {
  const name = inboundClusterName(t.port);
  const options =
    t.protocol === "grpc"
      ? {
          upstreamProtocolOptions: {
            case: "explicitHttpConfig" as const,
            value: { protocolConfig: { case: "http2ProtocolOptions" as const, value: {} } },
          },
        }
      : t.protocol === "http"
        ? {
            upstreamProtocolOptions: {
              case: "explicitHttpConfig" as const,
              value: { protocolConfig: { case: "httpProtocolOptions" as const, value: {} } },
            },
          }
        : undefined;
  return create(ClusterSchema, {
    name,
    clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.STATIC },
    connectTimeout: duration(5000),
    ...(options
      ? {
          typedExtensionProtocolOptions: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": packAny(HttpProtocolOptionsSchema, options),
          },
        }
      : {}),
    loadAssignment: {
      clusterName: name,
      endpoints: [
        {
          lbEndpoints: [
            { hostIdentifier: { case: "endpoint", value: { address: socketAddress(t.address, t.targetPort) } } },
          ],
        },
      ],
    },
  });
}
