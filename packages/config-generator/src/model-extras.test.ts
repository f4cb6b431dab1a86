// What a host can say about its services beyond endpoints — labels, metadata,
// subsets — and about its mesh (meshConfig), reaching builders through a push.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TypeUrl, defineResourceType } from "@xdskit/xds-types";
import { AccessLogSchema } from "@xdskit/xds-types/gen/envoy/config/accesslog/v3/accesslog_pb";
import type { ClusterLoadAssignment } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { RouteConfiguration } from "@xdskit/xds-types/gen/envoy/config/route/v3/route_pb";
import { createDiscoveryController } from "./controller.js";
import { DefaultConfigGenerator } from "./generator.js";
import { createMemorySource } from "./memory-source.js";
import { parseMeshFile } from "./mesh-file.js";

declare module "./model.js" {
  interface MeshConfig {
    tenant?: string;
  }
}

const mesh = `services:
  - name: reviews
    port: 9080
    labels: { app: reviews }
    metadata: { owner: team-a, tier: 2 }
    subsets:
      - { name: v1, labels: { version: v1 } }
      - { name: v2, labels: { version: v2 } }
    endpoints:
      - { address: 10.0.0.1, port: 9080, labels: { version: v1 } }
      - { address: 10.0.0.2, port: 9080, labels: { version: v2 } }
      - { address: 10.0.0.3, port: 9080, labels: { version: v2 } }
routes:
  - host: reviews
    split: [{ service: reviews, subset: v1, weight: 90 }, { service: reviews, subset: v2, weight: 10 }]
`;

describe("labels, metadata, subsets and mesh config", () => {
  it("the mesh file carries them, and a route to a missing subset is refused with its path", () => {
    const m = parseMeshFile(mesh, "mesh.yaml");
    assert.deepEqual(m.services[0]?.metadata, { owner: "team-a", tier: 2 });
    assert.equal(m.services[0]?.endpoints[1]?.labels?.version, "v2");
    assert.throws(
      () => parseMeshFile(mesh.replace("subset: v2", "subset: v3"), "mesh.yaml"),
      /routes\[0\]\.split\[1\]\.subset: service "reviews" has no subset "v3"/,
    );
    assert.throws(
      () =>
        parseMeshFile(mesh.replace("{ name: v2, labels: { version: v2 } }", "{ name: v2, labels: {} }"), "mesh.yaml"),
      /subsets\[1\]\.labels: must select by at least one label/,
    );
  });

  it("each subset gets a cluster and an assignment of the endpoints it selects, and routes split across them", () => {
    const source = createMemorySource();
    const m = parseMeshFile(mesh, "mesh.yaml");
    for (const s of m.services) source.setService(s);
    source.setRoutes(m.routes);
    const tenantLog = defineResourceType({ schema: AccessLogSchema, shortName: "ALDS" });
    const generator = new DefaultConfigGenerator().registerBuilder(
      tenantLog.typeUrl,
      ({ push }) => [
        create(AccessLogSchema, {
          name: `log-${push.meshConfig.tenant}-${push.services.get("reviews")?.metadata?.owner}`,
        }),
      ],
      { shared: true },
    );
    const controller = createDiscoveryController({
      services: source,
      config: source,
      generator,
      meshConfig: { tenant: "acme" },
      registry: { resourceTypes: [tenantLog] },
    });
    try {
      const g = controller.registry.nodeGroup(create(NodeSchema, { id: "c", cluster: "x", userAgentName: "gRPC Go" }));
      const snap = controller.registry.getSnapshot(g);
      assert.deepEqual([...(snap?.get(TypeUrl.Cluster)?.resources.keys() ?? [])].sort(), [
        "outbound|9080|v1|reviews",
        "outbound|9080|v2|reviews",
        "outbound|9080||reviews",
      ]);
      const cla = (n: string) =>
        snap?.get(TypeUrl.ClusterLoadAssignment)?.resources.get(n)?.message as ClusterLoadAssignment;
      const count = (c: ClusterLoadAssignment) => c.endpoints.reduce((n, l) => n + l.lbEndpoints.length, 0);
      assert.equal(count(cla("outbound|9080|v1|reviews")), 1);
      assert.equal(count(cla("outbound|9080|v2|reviews")), 2);
      assert.equal(count(cla("outbound|9080||reviews")), 3);
      const rc = snap?.get(TypeUrl.RouteConfiguration)?.resources.get("reviews")?.message as RouteConfiguration;
      const action = rc.virtualHosts[0]?.routes[0]?.action;
      const clusters =
        action?.case === "route" && action.value.clusterSpecifier.case === "weightedClusters"
          ? action.value.clusterSpecifier.value.clusters.map((c) => [c.name, c.weight])
          : [];
      assert.deepEqual(clusters, [
        ["outbound|9080|v1|reviews", 90],
        ["outbound|9080|v2|reviews", 10],
      ]);
      assert.deepEqual([...(snap?.get(tenantLog.typeUrl)?.resources.keys() ?? [])], ["log-acme-team-a"]);
    } finally {
      controller.close();
    }
  });
});
