import { type MessageInitShape, create } from "@bufbuild/protobuf";
import { HealthStatus } from "@xdskit/xds-types/gen/envoy/config/core/v3/health_check_pb";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import type { LocalityLbEndpointsSchema } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_components_pb";
import type { Service, ServiceEndpoint, Subset } from "../model.js";
import type { PushContext } from "../push-context.js";
import { clusterName, socketAddress, subsetClusterName } from "./common.js";

/** The endpoints of a service (or of one of its subsets), grouped by locality, with weights and health. */
export function loadAssignment(service: Service, push: PushContext, subset?: Subset): ClusterLoadAssignment {
  const byLocality = new Map<string, { locality: ServiceEndpoint["locality"]; eps: ServiceEndpoint[] }>();
  const selected = subset
    ? service.endpoints.filter((e) => Object.entries(subset.labels).every(([k, v]) => e.labels?.[k] === v))
    : service.endpoints;
  for (const e of selected) {
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
  const name = subset ? subsetClusterName(service, subset.name, push) : clusterName(service, push);
  return create(ClusterLoadAssignmentSchema, { clusterName: name, endpoints });
}
