// A builder of your own: per-service policy travels in the service's
// metadata and ends up in its cluster.
import { clone, create } from "@bufbuild/protobuf";
import { DefaultConfigGenerator, type Proxy, type PushContext } from "@xdskit/config-generator";
import { CircuitBreakersSchema } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/circuit_breaker_pb";
import { type Cluster, ClusterSchema } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";

/** Sets each cluster's circuit breaker from its service's `maxRequests` metadata. */
export class InventoryGenerator extends DefaultConfigGenerator {
  override buildClusters(proxy: Proxy, push: PushContext): Cluster[] {
    return super.buildClusters(proxy, push).map((c) => {
      const service = [...push.services.values()].find((s) => c.name.endsWith(`||${s.name}`));
      const max = service?.metadata?.maxRequests;
      if (typeof max !== "number") return c;
      // The default builders' outputs are frozen and shared: change a copy.
      const mine = clone(ClusterSchema, c);
      mine.circuitBreakers = create(CircuitBreakersSchema, { thresholds: [{ maxRequests: max }] });
      return mine;
    });
  }
}
