// A builder of your own: per-service policy travels in the service's
// metadata and ends up in every cluster of the service (subsets included).
import { clone } from "@bufbuild/protobuf";
import { type ClusterOrigin, DefaultConfigGenerator, circuitBreakersMessage } from "@xdskit/config-generator";
import { type Cluster, ClusterSchema } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";

/** Sets the circuit breaker of each cluster from its service's `maxRequests` metadata. */
export class InventoryGenerator extends DefaultConfigGenerator {
  protected override decorateCluster(cluster: Cluster, { service }: ClusterOrigin): Cluster {
    const max = service.metadata?.maxRequests;
    if (typeof max !== "number") return cluster;
    // The default builders' outputs are frozen and shared: change a copy.
    const mine = clone(ClusterSchema, cluster);
    mine.circuitBreakers = circuitBreakersMessage({ maxRequests: max });
    return mine;
  }
}
