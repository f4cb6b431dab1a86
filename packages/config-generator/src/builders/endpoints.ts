// Endpoints: a service's instances grouped by priority and locality, with
// weights and health, as EDS sends them.
import { type MessageInitShape, create } from "@bufbuild/protobuf";
import { HealthStatus } from "@xdskit/xds-types/gen/envoy/config/core/v3/health_check_pb";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import type { LocalityLbEndpointsSchema } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_components_pb";
import type { EndpointHealth, Locality, Service, ServiceEndpoint, Subset } from "../model.js";
import type { PushContext } from "../push-context.js";
import { clusterName, socketAddress, subsetClusterName } from "./common.js";
import { socketMatchMetadata } from "./mtls.js";

const HEALTH: Record<EndpointHealth, HealthStatus> = {
  healthy: HealthStatus.HEALTHY,
  unhealthy: HealthStatus.UNHEALTHY,
  draining: HealthStatus.DRAINING,
  degraded: HealthStatus.DEGRADED,
  unknown: HealthStatus.UNKNOWN,
};

function health(e: ServiceEndpoint): HealthStatus {
  if (e.health !== undefined) return HEALTH[e.health];
  return e.healthy === false ? HealthStatus.UNHEALTHY : HealthStatus.HEALTHY;
}

function matches(want: Locality, have: Locality | undefined): boolean {
  return (
    (!want.region || want.region === have?.region) &&
    (!want.zone || want.zone === have?.zone) &&
    (!want.subZone || want.subZone === have?.subZone)
  );
}

// Nearest first: the client's sub-zone, zone, region, then the rest.
function distance(client: Locality, l: Locality | undefined): number {
  if (!client.region || client.region !== l?.region) return 3;
  if (!client.zone || client.zone !== l?.zone) return 2;
  if (!client.subZone || client.subZone !== l?.subZone) return 1;
  return 0;
}

/** The failover priority of one endpoint before priorities are made contiguous. */
function rawPriority(service: Service, e: ServiceEndpoint, client: Locality | undefined): number {
  if (e.priority !== undefined) return e.priority;
  const fo = service.localityFailover;
  if (fo === undefined) return 0;
  if (fo === "nearest") return distance(client ?? {}, e.locality);
  const i = fo.findIndex((l) => matches(l, e.locality));
  return i === -1 ? fo.length : i;
}

/**
 * The endpoints of a service (or of one of its subsets), grouped by priority
 * and locality, with weights and health. `client` is the locality of the
 * clients the assignment is for; only `localityFailover: nearest` reads it.
 * Priorities are renumbered 0, 1, 2… (clients refuse gaps).
 */
export function loadAssignment(
  service: Service,
  push: PushContext,
  subset?: Subset,
  client?: Locality,
): ClusterLoadAssignment {
  const groups = new Map<string, { priority: number; locality: Locality | undefined; eps: ServiceEndpoint[] }>();
  const selected = subset
    ? service.endpoints.filter((e) => Object.entries(subset.labels).every(([k, v]) => e.labels?.[k] === v))
    : service.endpoints;
  for (const e of selected) {
    const priority = rawPriority(service, e, client);
    const key = `${priority}/${e.locality?.region ?? ""}/${e.locality?.zone ?? ""}/${e.locality?.subZone ?? ""}`;
    const entry = groups.get(key) ?? { priority, locality: e.locality, eps: [] };
    entry.eps.push(e);
    groups.set(key, entry);
  }
  const used = [...new Set([...groups.values()].map((g) => g.priority))].sort((a, b) => a - b);
  const endpoints: MessageInitShape<typeof LocalityLbEndpointsSchema>[] = [];
  for (const { priority, locality, eps } of groups.values()) {
    endpoints.push({
      locality: { region: locality?.region ?? "", zone: locality?.zone ?? "", subZone: locality?.subZone ?? "" },
      loadBalancingWeight: eps.reduce((sum, e) => sum + (e.weight ?? 1), 0),
      priority: used.indexOf(priority),
      lbEndpoints: eps.map((e) => {
        // Endpoints that run a sidecar are told apart for auto mTLS.
        const metadata = socketMatchMetadata(e);
        return {
          hostIdentifier: { case: "endpoint" as const, value: { address: socketAddress(e.address, e.port) } },
          loadBalancingWeight: e.weight ?? 1,
          healthStatus: health(e),
          ...(metadata ? { metadata } : {}),
        };
      }),
    });
  }
  const name = subset ? subsetClusterName(service, subset.name, push) : clusterName(service, push);
  return create(ClusterLoadAssignmentSchema, { clusterName: name, endpoints });
}
