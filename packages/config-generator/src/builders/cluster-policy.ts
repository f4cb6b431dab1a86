// A service's traffic policy as cluster fields: load balancing, outlier
// detection, circuit breakers and upstream TLS, each in the form both Envoy
// and gRPC clients read (they differ for load balancing: gRPC takes the
// typed policy list of gRFC A52, with fallbacks; Envoy takes the enum).
import type { MessageInitShape } from "@bufbuild/protobuf";
import { packAny } from "@xdskit/xds-types";
import {
  type Cluster,
  type ClusterSchema,
  Cluster_LbPolicy,
  Cluster_RingHashLbConfig_HashFunction,
} from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import type { CircuitBreakersSchema } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/circuit_breaker_pb";
import type { OutlierDetectionSchema } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/outlier_detection_pb";
import { RoutingPriority } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { ClientSideWeightedRoundRobinSchema } from "@xdskit/xds-types/gen/envoy/extensions/load_balancing_policies/client_side_weighted_round_robin/v3/client_side_weighted_round_robin_pb";
import { LeastRequestSchema } from "@xdskit/xds-types/gen/envoy/extensions/load_balancing_policies/least_request/v3/least_request_pb";
import { RoundRobinSchema } from "@xdskit/xds-types/gen/envoy/extensions/load_balancing_policies/round_robin/v3/round_robin_pb";
import { WrrLocalitySchema } from "@xdskit/xds-types/gen/envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality_pb";
import { UpstreamTlsContextSchema } from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/tls/v3/tls_pb";
import type { CommonTlsContextSchema } from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/tls/v3/tls_pb";
import type { StringMatcherSchema } from "@xdskit/xds-types/gen/envoy/type/matcher/v3/string_pb";
import type { Service } from "../model.js";
import type { CircuitBreaker, OutlierDetection, ServiceTls } from "../policy.js";
import type { ProxyKind } from "../proxy.js";
import { duration } from "./common.js";

/** Fields of a cluster as a plain object (spreadable into `create`). */
export type ClusterFields = Exclude<MessageInitShape<typeof ClusterSchema>, Cluster>;
type ClusterInit = ClusterFields;

/** The TLS transport socket's name. */
export const TLS_TRANSPORT_SOCKET = "envoy.transport_sockets.tls";

function policy(name: string, typedConfig: ReturnType<typeof packAny>) {
  return { typedExtensionConfig: { name, typedConfig } };
}

// gRPC balances localities by weight only inside wrr_locality; its endpoint
// picking list ends in round robin, so a client without the asked-for
// policy falls back to it instead of refusing the cluster.
function grpcPolicyList(first: ReturnType<typeof policy> | undefined) {
  const roundRobin = policy("envoy.load_balancing_policies.round_robin", packAny(RoundRobinSchema, {}));
  const endpointPicking = { policies: first ? [first, roundRobin] : [roundRobin] };
  return {
    policies: [
      policy(
        "envoy.load_balancing_policies.wrr_locality",
        packAny(WrrLocalitySchema, { endpointPickingPolicy: endpointPicking }),
      ),
    ],
  };
}

/** The load-balancing fields of a service's cluster for one kind of client. */
export function lbFields(service: Service, kind: ProxyKind): ClusterInit {
  const lb = service.loadBalancer;
  if (!lb || lb.policy === "round-robin") return {};
  // gRPC has no random policy: round robin is its nearest.
  if (lb.policy === "random") return kind === "proxyless" ? {} : { lbPolicy: Cluster_LbPolicy.RANDOM };
  if (lb.policy === "ring-hash") {
    // Every client reads the enum form; gRPC takes only xxHash.
    return {
      lbPolicy: Cluster_LbPolicy.RING_HASH,
      lbConfig: {
        case: "ringHashLbConfig",
        value: {
          hashFunction: Cluster_RingHashLbConfig_HashFunction.XX_HASH,
          ...(lb.minRingSize !== undefined ? { minimumRingSize: BigInt(lb.minRingSize) } : {}),
          ...(lb.maxRingSize !== undefined ? { maximumRingSize: BigInt(lb.maxRingSize) } : {}),
        },
      },
    };
  }
  if (lb.policy === "least-request") {
    if (kind !== "proxyless")
      return {
        lbPolicy: Cluster_LbPolicy.LEAST_REQUEST,
        lbConfig: { case: "leastRequestLbConfig", value: { choiceCount: lb.choiceCount ?? 2 } },
      };
    return {
      loadBalancingPolicy: grpcPolicyList(
        policy(
          "envoy.load_balancing_policies.least_request",
          packAny(LeastRequestSchema, { choiceCount: lb.choiceCount ?? 2 }),
        ),
      ),
    };
  }
  const wrr = policy(
    "envoy.load_balancing_policies.client_side_weighted_round_robin",
    packAny(ClientSideWeightedRoundRobinSchema, {}),
  );
  if (kind !== "proxyless") return { loadBalancingPolicy: { policies: [wrr] } };
  return { loadBalancingPolicy: grpcPolicyList(wrr) };
}

/**
 * Outlier detection with every algorithm switched explicitly: Envoy enforces
 * consecutive 5xx and success rate unless told not to, so what the service
 * does not ask for is set to 0.
 */
export function outlierDetection(o: OutlierDetection): MessageInitShape<typeof OutlierDetectionSchema> {
  const sr = o.successRate;
  const fp = o.failurePercentage;
  return {
    interval: duration(o.intervalMs ?? 10_000),
    baseEjectionTime: duration(o.baseEjectionMs ?? 30_000),
    maxEjectionTime: duration(o.maxEjectionMs ?? 300_000),
    maxEjectionPercent: o.maxEjectionPercent ?? 10,
    consecutive5xx: o.consecutiveErrors ?? 5,
    enforcingConsecutive5xx: o.consecutiveErrors !== undefined ? 100 : 0,
    enforcingConsecutiveGatewayFailure: 0,
    enforcingSuccessRate: sr ? (sr.enforcingPercent ?? 100) : 0,
    ...(sr
      ? {
          successRateStdevFactor: sr.stdevFactor ?? 1900,
          successRateMinimumHosts: sr.minimumHosts ?? 5,
          successRateRequestVolume: sr.requestVolume ?? 100,
        }
      : {}),
    enforcingFailurePercentage: fp ? (fp.enforcingPercent ?? 100) : 0,
    ...(fp
      ? {
          failurePercentageThreshold: fp.threshold,
          failurePercentageMinimumHosts: fp.minimumHosts ?? 5,
          failurePercentageRequestVolume: fp.requestVolume ?? 50,
        }
      : {}),
  };
}

/**
 * The outlier detection field of a cluster. gRPC clients always get one (a
 * no-op when the service asks for none): grpc-js-xds (1.14) compares a new
 * cluster with the one it holds key by key of the old one only, and its
 * "no outlier detection" has no keys, so detection added to a live cluster
 * would be missed.
 */
export function outlierField(service: Service, kind: ProxyKind): ClusterInit {
  if (service.outlierDetection) return { outlierDetection: outlierDetection(service.outlierDetection) };
  if (kind !== "proxyless") return {};
  return {
    outlierDetection: {
      enforcingConsecutive5xx: 0,
      enforcingConsecutiveGatewayFailure: 0,
      enforcingSuccessRate: 0,
      enforcingFailurePercentage: 0,
    },
  };
}

/** Circuit-breaker thresholds: gRPC reads max requests of the default priority; Envoy reads all. */
export function circuitBreakerThresholds(cb: CircuitBreaker): MessageInitShape<typeof CircuitBreakersSchema> {
  return {
    thresholds: [
      {
        priority: RoutingPriority.DEFAULT,
        ...(cb.maxRequests !== undefined ? { maxRequests: cb.maxRequests } : {}),
        ...(cb.maxConnections !== undefined ? { maxConnections: cb.maxConnections } : {}),
        ...(cb.maxPendingRequests !== undefined ? { maxPendingRequests: cb.maxPendingRequests } : {}),
        ...(cb.maxRetries !== undefined ? { maxRetries: cb.maxRetries } : {}),
      },
    ],
  };
}

/** The circuit breakers field of a service's cluster. */
export function circuitBreakers(service: Service): ClusterInit {
  const cb = service.circuitBreaker;
  return cb ? { circuitBreakers: circuitBreakerThresholds(cb) } : {};
}

/** SAN patterns (exact, or prefix ending in `*`) as string matchers. */
export function nameMatchers(names: readonly string[] | undefined): MessageInitShape<typeof StringMatcherSchema>[] {
  return (names ?? []).map((n) =>
    n.endsWith("*")
      ? { matchPattern: { case: "prefix", value: n.slice(0, -1) } }
      : { matchPattern: { case: "exact", value: n } },
  );
}

/** The common TLS context of either side: certificate and CA from certificate-provider instances (gRFC A29). */
export function commonTls(tls: ServiceTls, sendIdentity: boolean): MessageInitShape<typeof CommonTlsContextSchema> {
  const identity = tls.identityProvider ?? "default";
  return {
    ...(sendIdentity ? { tlsCertificateProviderInstance: { instanceName: identity } } : {}),
    validationContextType: {
      case: "validationContext",
      value: {
        caCertificateProviderInstance: { instanceName: tls.caProvider ?? identity },
        matchSubjectAltNames: nameMatchers(tls.subjectAltNames),
      },
    },
  };
}

/**
 * TLS from a proxyless client to the service. Envoy sidecars get their
 * certificates by SDS, not certificate-provider instances, so their clusters
 * are left as they are (docs/proxyless.md).
 */
export function upstreamTls(service: Service, kind: ProxyKind): ClusterInit {
  if (!service.tls || kind !== "proxyless") return {};
  const mutual = (service.tls.mode ?? "mutual") === "mutual";
  return {
    transportSocket: {
      name: TLS_TRANSPORT_SOCKET,
      configType: {
        case: "typedConfig",
        value: packAny(UpstreamTlsContextSchema, { commonTlsContext: commonTls(service.tls, mutual) }),
      },
    },
  };
}
