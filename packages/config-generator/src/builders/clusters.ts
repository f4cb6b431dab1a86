import { create } from "@bufbuild/protobuf";
import { packAny } from "@xdskit/xds-types";
import {
  type Cluster,
  Cluster_DiscoveryType,
  Cluster_LbPolicy,
  ClusterSchema,
} from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import { ClusterConfigSchema } from "@xdskit/xds-types/gen/envoy/extensions/clusters/aggregate/v3/cluster_pb";
import { HttpProtocolOptionsSchema } from "@xdskit/xds-types/gen/envoy/extensions/upstreams/http/v3/http_protocol_options_pb";
import type { Service } from "../model.js";
import type { ProxyKind } from "../proxy.js";
import type { PushContext } from "../push-context.js";
import {
  ADS,
  BLACKHOLE_CLUSTER,
  INBOUND_PASSTHROUGH_CLUSTER,
  PASSTHROUGH_CLUSTER,
  clusterName,
  duration,
  subsetClusterName,
  inboundClusterName,
  socketAddress,
} from "./common.js";
import { circuitBreakers, lbFields, outlierField, upstreamTls } from "./cluster-policy.js";
import { meshTransport } from "./mtls.js";
import { envoyUpstreamTls } from "./sds-tls.js";

const HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

// How an Envoy talks to a service's endpoints: gRPC needs HTTP/2, plain
// HTTP stays HTTP/1.1, and a service without a declared protocol gets what
// the caller spoke. Proxyless clients ignore this.
// A connection's request limit (connection pool's maxRequestsPerConnection)
// rides along in the same options.
function upstreamProtocol(service: Service): Cluster["typedExtensionProtocolOptions"] {
  if (service.protocol === "tcp" || service.protocol === "tls") return {};
  const perConnection = service.circuitBreaker?.maxRequestsPerConnection;
  if (service.protocol === "http" && perConnection === undefined) return {};
  const common =
    perConnection !== undefined ? { commonHttpProtocolOptions: { maxRequestsPerConnection: perConnection } } : {};
  const options =
    service.protocol === "grpc"
      ? packAny(HttpProtocolOptionsSchema, {
          ...common,
          upstreamProtocolOptions: {
            case: "explicitHttpConfig",
            value: { protocolConfig: { case: "http2ProtocolOptions", value: {} } },
          },
        })
      : service.protocol === "http"
        ? packAny(HttpProtocolOptionsSchema, {
            ...common,
            upstreamProtocolOptions: {
              case: "explicitHttpConfig",
              value: { protocolConfig: { case: "httpProtocolOptions", value: {} } },
            },
          })
        : packAny(HttpProtocolOptionsSchema, {
            ...common,
            upstreamProtocolOptions: {
              case: "useDownstreamProtocolConfig",
              value: { httpProtocolOptions: {}, http2ProtocolOptions: {} },
            },
          });
  return { [HTTP_PROTOCOL_OPTIONS]: options };
}

/**
 * The cluster of a service (or of one of its subsets), as the given kind of
 * client needs it: EDS for services with endpoints, logical DNS for a host
 * name, an aggregate of other services' clusters; with the service's
 * balancing, ejection, limits and TLS.
 */
export function outboundCluster(service: Service, push: PushContext, kind: ProxyKind, subset?: string): Cluster {
  const name = subset === undefined ? clusterName(service, push) : subsetClusterName(service, subset, push);
  const common = {
    name,
    connectTimeout: duration(service.connectTimeoutMs ?? 5000),
    typedExtensionProtocolOptions: kind === "proxyless" ? {} : upstreamProtocol(service),
  };
  if (service.passthrough) {
    // Connections go where the client sent them (Envoy only: gRPC clients get no such cluster).
    return create(ClusterSchema, {
      ...common,
      clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.ORIGINAL_DST },
      lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED,
    });
  }
  if (service.aggregate) {
    // The members are tried in order; their own clusters carry their policy.
    const clusters = service.aggregate.flatMap((m) => {
      const member = push.viewOf(m);
      return member ? [clusterName(member, push)] : [];
    });
    return create(ClusterSchema, {
      ...common,
      clusterDiscoveryType: {
        case: "clusterType",
        value: { name: "envoy.clusters.aggregate", typedConfig: packAny(ClusterConfigSchema, { clusters }) },
      },
      // Envoy wants the members to pick; gRPC refuses that enum and ignores the field.
      ...(kind === "proxyless" ? {} : { lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED }),
    });
  }
  const envoyTls = kind === "proxyless" ? undefined : envoyUpstreamTls(service.upstreamTls, service);
  const policy = {
    ...lbFields(service, kind),
    ...circuitBreakers(service),
    ...outlierField(service, kind),
    ...upstreamTls(service, kind),
    ...(envoyTls ? { transportSocket: envoyTls } : {}),
    // The mesh's own mutual TLS between sidecars (ISTIO_MUTUAL, or auto mTLS).
    ...(kind === "proxyless" || envoyTls ? {} : meshTransport(service, push, subset)),
  };
  if (service.dns) {
    return create(ClusterSchema, {
      ...common,
      ...policy,
      clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.LOGICAL_DNS },
      loadAssignment: {
        clusterName: name,
        endpoints: [
          {
            lbEndpoints: [
              {
                hostIdentifier: {
                  case: "endpoint",
                  value: { address: socketAddress(service.dns.host, service.dns.port) },
                },
              },
            ],
          },
        ],
      },
    });
  }
  return create(ClusterSchema, {
    ...common,
    ...policy,
    clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: ADS },
  });
}

/** A sidecar's cluster for one of its own ports: the workload on the loopback (or at `target`). */
export function inboundCluster(
  port: number,
  target: { address: string; port: number } = { address: "127.0.0.1", port },
): Cluster {
  const name = inboundClusterName(port);
  return create(ClusterSchema, {
    name,
    clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.STATIC },
    connectTimeout: duration(5000),
    loadAssignment: {
      clusterName: name,
      endpoints: [
        {
          lbEndpoints: [
            { hostIdentifier: { case: "endpoint", value: { address: socketAddress(target.address, target.port) } } },
          ],
        },
      ],
    },
  });
}

/** The clusters every sidecar has: original-destination passthroughs both ways, and a black hole. */
export function sidecarFixedClusters(): Cluster[] {
  const originalDst = (name: string) =>
    create(ClusterSchema, {
      name,
      clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.ORIGINAL_DST },
      lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED,
      connectTimeout: duration(5000),
    });
  return [
    originalDst(PASSTHROUGH_CLUSTER),
    originalDst(INBOUND_PASSTHROUGH_CLUSTER),
    create(ClusterSchema, {
      name: BLACKHOLE_CLUSTER,
      clusterDiscoveryType: { case: "type", value: Cluster_DiscoveryType.STATIC },
      connectTimeout: duration(5000),
    }),
  ];
}
