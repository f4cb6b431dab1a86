// A host builder decorating clusters per service: every cluster of a service
// (its own and each subset's) reaches the hook with the service it came from,
// and the policy helpers write what the default builders would.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clone, create } from "@bufbuild/protobuf";
import { TypeUrl } from "@xdskit/xds-types";
import { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { type Cluster, ClusterSchema } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import { createDiscoveryController } from "./controller.js";
import { type ClusterOrigin, DefaultConfigGenerator, parseClusterName } from "./generator.js";
import { createMemorySource } from "./memory-source.js";
import { circuitBreakersMessage, outlierDetectionMessage } from "./policy-messages.js";
import { PushContext } from "./push-context.js";

class CriticalGenerator extends DefaultConfigGenerator {
  readonly seen: string[] = [];
  protected override decorateCluster(cluster: Cluster, { service, subset }: ClusterOrigin): Cluster {
    this.seen.push(`${service.name}/${subset?.name ?? "-"}`);
    if (service.labels?.tier !== "critical") return cluster;
    const mine = clone(ClusterSchema, cluster);
    mine.circuitBreakers = circuitBreakersMessage({ maxRequests: 100 });
    mine.outlierDetection = outlierDetectionMessage({ consecutiveErrors: 3 });
    return mine;
  }
}

const grpc = create(NodeSchema, { id: "c", cluster: "web", userAgentName: "gRPC Node", locality: { zone: "a" } });

describe("decorating clusters per service", () => {
  it("reaches every cluster of a service, subsets included, and follows a change of the service", async () => {
    const source = createMemorySource();
    source.setService({
      name: "echo",
      port: 50051,
      labels: { tier: "critical" },
      endpoints: [
        { address: "10.0.0.1", port: 50051, labels: { version: "v1" } },
        { address: "10.0.0.2", port: 50051, labels: { version: "v2" } },
      ],
      subsets: [
        { name: "v1", labels: { version: "v1" } },
        { name: "v2", labels: { version: "v2" } },
      ],
    });
    source.setService({ name: "other", port: 8080, endpoints: [{ address: "10.0.0.3", port: 8080 }] });
    const generator = new CriticalGenerator();
    const controller = createDiscoveryController({ services: source, generator, debounceMs: 1 });
    try {
      const g = controller.registry.nodeGroup(grpc);
      const clusters = () => controller.registry.getSnapshot(g)?.get(TypeUrl.Cluster)?.resources;
      const of = (name: string) => clusters()?.get(name)?.message as Cluster | undefined;
      assert.deepEqual(generator.seen.sort(), ["echo/-", "echo/v1", "echo/v2", "other/-"]);
      for (const name of ["outbound|50051||echo", "outbound|50051|v1|echo", "outbound|50051|v2|echo"]) {
        assert.equal(of(name)?.circuitBreakers?.thresholds[0]?.maxRequests?.valueOf(), 100, name);
        assert.equal(of(name)?.outlierDetection?.consecutive5xx, 3, name);
        // Algorithms the policy does not ask for are off, not Envoy's enforcing defaults.
        assert.equal(of(name)?.outlierDetection?.enforcingSuccessRate, 0, name);
      }
      assert.equal(of("outbound|8080||other")?.circuitBreakers, undefined, "other services are untouched");

      // An endpoint change does not run the decorator again (the cluster is memoized)…
      generator.seen.length = 0;
      source.setEndpoints("other", [{ address: "10.0.0.4", port: 8080 }]);
      await controller.flush();
      assert.deepEqual(generator.seen, []);
      // …a change of the service's labels does, and the policy goes with it.
      source.setService({ name: "other", port: 8080, labels: { tier: "critical" }, endpoints: [] });
      await controller.flush();
      assert.deepEqual(generator.seen, ["other/-"]);
      assert.equal(of("outbound|8080||other")?.circuitBreakers?.thresholds[0]?.maxRequests?.valueOf(), 100);
    } finally {
      controller.close();
    }
  });

  it("parses cluster names, and the policy helpers refuse a bad policy with its field", () => {
    assert.deepEqual(parseClusterName("outbound|50051|v2|echo"), {
      direction: "outbound",
      port: 50051,
      subset: "v2",
      host: "echo",
    });
    assert.deepEqual(parseClusterName("inbound|8080||"), { direction: "inbound", port: 8080, subset: "", host: "" });
    assert.equal(parseClusterName("PassthroughCluster"), undefined);
    assert.equal(parseClusterName("outbound|http|x|y"), undefined);
    assert.throws(() => circuitBreakersMessage({ maxRequests: 0 }), /circuitBreaker\.maxRequests/);
    assert.throws(() => outlierDetectionMessage({ maxEjectionPercent: 200 }), /outlierDetection\.maxEjectionPercent/);
    // The default builders and the helpers agree.
    const push = new PushContext(
      [{ name: "a", port: 80, circuitBreaker: { maxRequests: 7 }, endpoints: [{ address: "10.0.0.1", port: 80 }] }],
      [],
    );
    const built = new DefaultConfigGenerator().buildClusters({ kind: "proxyless" } as never, push)[0];
    assert.deepEqual(built?.circuitBreakers, circuitBreakersMessage({ maxRequests: 7 }));
  });
});
