// Shared builds: outbound config is built once per scope, inbound once per
// distinct workload, each resource only when what it reads changed; groups are
// compositions of those parts and hold nothing of their own.
import type { ClusterLoadAssignment } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TypeUrl, unpackAny } from "@xdskit/xds-types";
import { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { Listener } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import { TcpProxySchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb";
import { createDiscoveryController } from "./controller.js";
import { DefaultConfigGenerator } from "./generator.js";
import { createMemorySource } from "./memory-source.js";

const ip = (i: number, e: number) => `10.${i >> 8}.${i & 255}.${e + 1}`;
const sidecar = (address: string) =>
  create(NodeSchema, { id: `sidecar~${address}~pod.ns~ns.svc.cluster.local`, cluster: "mesh" });
const grpc = (cluster: string) => create(NodeSchema, { id: `grpc-${cluster}`, cluster, userAgentName: "gRPC Go" });

function world(services: number) {
  const source = createMemorySource();
  for (let i = 0; i < services; i++) {
    source.setService({
      name: `svc-${i}`,
      port: 8080 + (i % 3),
      endpoints: [0, 1].map((e) => ({ address: ip(i, e), port: 8080 + (i % 3) })),
    });
  }
  return source;
}

describe("shared builds", () => {
  it("a change to one service rebuilds that service's resources once, whatever the number of groups", async () => {
    const source = world(60);
    const generator = new DefaultConfigGenerator();
    const controller = createDiscoveryController({ services: source, config: source, generator, debounceMs: 1 });
    try {
      for (const c of ["a", "b", "c"]) controller.registry.nodeGroup(grpc(c));
      for (let i = 0; i < 20; i++) controller.registry.nodeGroup(sidecar(ip(i, 0)));
      assert.equal(controller.nodeGroups().size, 23);
      source.setEndpoints("svc-7", [{ address: ip(7, 0), port: 8081 }]);
      await controller.flush();
      assert.deepEqual(
        { built: generator.cacheStats().built },
        { built: 1 },
        "one assignment, shared by the proxyless and sidecar scopes",
      );
      source.setRoutes([{ host: "svc-4", split: [{ service: "svc-5", weight: 1 }], timeoutMs: 100 }]);
      await controller.flush();
      assert.equal(
        generator.cacheStats().built,
        2,
        "svc-4's proxyless route configuration and the sidecars' route configuration of its port",
      );
      const eds = (g: string) => controller.registry.getSnapshot(g)?.get(TypeUrl.ClusterLoadAssignment);
      assert.equal(eds("proxyless/a"), eds("proxyless/c"), "groups of a scope hold the very same endpoints");
      assert.equal(eds(`sidecar/mesh/${ip(3, 0)}`), eds(`sidecar/mesh/${ip(9, 0)}`), "and so do the sidecars");
      assert.equal(
        eds("proxyless/a")?.resources.get("outbound|8081||svc-7"),
        eds(`sidecar/mesh/${ip(3, 0)}`)?.resources.get("outbound|8081||svc-7"),
        "across scopes, equal content is one held object",
      );
    } finally {
      controller.close();
    }
  });

  it("each sidecar gets exactly its own inbound config; equal workloads share one part", () => {
    const source = world(30);
    const controller = createDiscoveryController({ services: source, config: source, debounceMs: 1 });
    try {
      // Endpoints of svc-1 (port 8081) and svc-2 (8082), and an address that serves nothing.
      const groups = [ip(1, 0), ip(1, 1), ip(2, 0), "10.99.0.1"].map((a) => controller.registry.nodeGroup(sidecar(a)));
      const inbound = (g: string) => {
        const l = controller.registry.getSnapshot(g)?.get(TypeUrl.Listener)?.resources.get("virtualInbound")?.message as
          | Listener
          | undefined;
        return l?.filterChains.map((c) => c.filterChainMatch?.destinationPort);
      };
      const inboundClusters = (g: string) =>
        [...(controller.registry.getSnapshot(g)?.get(TypeUrl.Cluster)?.resources.keys() ?? [])].filter((n) =>
          n.startsWith("inbound|"),
        );
      assert.deepEqual(inbound(groups[0] as string), [8081]);
      assert.deepEqual(inboundClusters(groups[0] as string), ["inbound|8081||"]);
      assert.deepEqual(inbound(groups[2] as string), [8082]);
      assert.deepEqual(inboundClusters(groups[2] as string), ["inbound|8082||"]);
      assert.deepEqual(inbound(groups[3] as string), []);
      assert.deepEqual(inboundClusters(groups[3] as string), []);
      const inboundListener = controller.registry
        .getSnapshot(groups[2] as string)
        ?.get(TypeUrl.Listener)
        ?.resources.get("virtualInbound")?.message as Listener | undefined;
      const chain = inboundListener?.filterChains[0]?.filters[0];
      const tcp = unpackAny(
        chain?.configType.case === "typedConfig" ? chain.configType.value : undefined,
        TcpProxySchema,
      );
      assert.equal(tcp.clusterSpecifier.value, "inbound|8082||");
      // Two endpoints of the same service: one workload part, one CDS object.
      assert.deepEqual(
        controller.registry.partsOf(groups[0] as string),
        controller.registry.partsOf(groups[1] as string),
      );
      assert.equal(
        controller.registry.getSnapshot(groups[0] as string)?.get(TypeUrl.Cluster),
        controller.registry.getSnapshot(groups[1] as string)?.get(TypeUrl.Cluster),
      );
      assert.notDeepEqual(
        controller.registry.partsOf(groups[0] as string),
        controller.registry.partsOf(groups[2] as string),
      );
    } finally {
      controller.close();
    }
  });

  it("an endpoint moving onto a sidecar's IP gives it the inbound config, and parts go with their last group", async () => {
    const source = world(10);
    const controller = createDiscoveryController({ services: source, config: source, debounceMs: 1 });
    try {
      const spare = "10.99.0.5";
      const g = controller.registry.nodeGroup(sidecar(spare));
      const others = Array.from({ length: 40 }, (_, i) => controller.registry.nodeGroup(sidecar(`10.98.0.${i + 1}`)));
      const listener = () =>
        controller.registry.getSnapshot(g)?.get(TypeUrl.Listener)?.resources.get("virtualInbound")?.message as Listener;
      assert.equal(listener().filterChains.length, 0);
      source.setEndpoints("svc-0", [{ address: spare, port: 8080 }]);
      await controller.flush();
      assert.deepEqual(
        listener().filterChains.map((c) => c.filterChainMatch?.destinationPort),
        [8080],
      );
      const held = controller.registry.stats();
      assert.ok(held.resources < 60, `41 sidecars hold one world's resources, not 41 copies (${held.resources})`);
      for (const x of [g, ...others]) assert.equal(controller.forgetNodeGroup(x), true);
      const after = controller.registry.stats();
      assert.deepEqual(
        { snapshots: after.snapshots, composed: after.composed, resources: after.resources },
        { snapshots: 0, composed: 0, resources: 0 },
        "groups, their parts and every resource are released",
      );
    } finally {
      controller.close();
    }
  });

  it("keeps a port derived from the first endpoint: the endpoint moving to another port is EDS only", async () => {
    const source = createMemorySource();
    // No explicit port: the cluster is named after the first endpoint's port, once.
    source.setService({ name: "a", endpoints: [{ address: "10.0.0.1", port: 8000 }] });
    const controller = createDiscoveryController({ services: source, debounceMs: 1 });
    try {
      const g = controller.registry.nodeGroup(grpc("x"));
      const snap = () => controller.registry.getSnapshot(g);
      const names = (t: string) => [...(snap()?.get(t)?.resources.keys() ?? [])];
      const before = snap();
      source.setEndpoints("a", [{ address: "10.0.0.9", port: 9000 }]);
      await controller.flush();
      assert.deepEqual(names(TypeUrl.Cluster), ["outbound|8000||a"]);
      assert.deepEqual(names(TypeUrl.ClusterLoadAssignment), ["outbound|8000||a"]);
      for (const t of [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.RouteConfiguration]) {
        assert.equal(snap()?.get(t), before?.get(t), `${t} untouched`);
      }
      const cla = snap()?.get(TypeUrl.ClusterLoadAssignment)?.resources.get("outbound|8000||a")?.message as
        | ClusterLoadAssignment
        | undefined;
      const host = cla?.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
      const address = host?.case === "endpoint" ? host.value.address?.address : undefined;
      const port = address?.case === "socketAddress" ? address.value.portSpecifier.value : undefined;
      assert.equal(port, 9000, "the endpoint itself moved");

      // A service first seen without endpoints takes its port from the first it gets.
      source.setService({ name: "b", endpoints: [] });
      await controller.flush();
      source.setEndpoints("b", [{ address: "10.0.0.2", port: 7000 }]);
      await controller.flush();
      assert.ok(names(TypeUrl.Cluster).includes("outbound|7000||b"), names(TypeUrl.Cluster).join(", "));
      assert.deepEqual(
        names(TypeUrl.Listener).filter((n) => n.startsWith("b")),
        ["b", "b:7000"],
      );
    } finally {
      controller.close();
    }
  });
});
