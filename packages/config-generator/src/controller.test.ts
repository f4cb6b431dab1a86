// The controller end to end with a real ADS server and a raw client: source
// events become pushes, per node group, scoped to what changed; and a host
// extends the generator.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { createAdsServer } from "@xdskit/ads-server";
import { RawStream, rawClient } from "@xdskit/ads-server/testing";
import { defineResourceType, TypeUrl, decodeResource } from "@xdskit/xds-types";
import { type AccessLog, AccessLogSchema } from "@xdskit/xds-types/gen/envoy/config/accesslog/v3/accesslog_pb";
import type { Cluster } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import { type Listener, ListenerSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import { clone, create, fromBinary } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { ClusterSchema } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import { type PushRecord, createDiscoveryController } from "./controller.js";
import { DefaultConfigGenerator } from "./generator.js";
import { createMemorySource } from "./memory-source.js";
import type { Proxy } from "./proxy.js";
import type { PushContext } from "./push-context.js";

const grpcNode = (id: string) => ({
  id,
  cluster: "web",
  userAgentName: "gRPC Node",
  locality: { region: "r", zone: "a" },
});

describe("discovery controller", () => {
  it("pushes source changes to connected clients, once per node group, scoped to what changed", async () => {
    const source = createMemorySource();
    source.setService({ name: "echo", endpoints: [{ address: "127.0.0.1", port: 9001 }] });
    const controller = createDiscoveryController({ services: source, config: source, debounceMs: 20 });
    const ads = createAdsServer({ registry: controller.registry });
    const port = await ads.listen();
    const client = rawClient(port);
    const pushes: PushRecord[] = [];
    controller.on("push", (e) => pushes.push(e));
    try {
      // Two clients of the same kind and cluster share one node group.
      const a = new RawStream(client);
      const b = new RawStream(client);
      a.send({ node: grpcNode("a"), typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: ["outbound|9001||echo"] });
      b.send({ node: grpcNode("b"), typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: ["outbound|9001||echo"] });
      const ra = await a.next();
      const rb = await b.next();
      a.ack(ra, ["outbound|9001||echo"]);
      b.ack(rb, ["outbound|9001||echo"]);
      assert.deepEqual([...controller.nodeGroups().keys()], ["proxyless/web"]);

      source.setEndpoints("echo", [
        { address: "127.0.0.1", port: 9001 },
        { address: "127.0.0.2", port: 9001 },
      ]);
      const ua = await a.next();
      const ub = await b.next();
      assert.equal(ua.versionInfo, ub.versionInfo);
      await controller.flush();
      // The first client's build is recorded too (the push-status page shows it).
      assert.equal(pushes.length, 2);
      assert.deepEqual(pushes[0]?.reasons, ["first client of node group proxyless/web"]);
      assert.deepEqual(pushes[0]?.types, ["all"]);
      assert.ok((pushes[0]?.resourcesChanged ?? 0) > 0);
      assert.deepEqual(pushes[1]?.types, ["EDS"], "an endpoint change pushes EDS only");
      assert.equal(pushes[1]?.nodeGroups, 1, "the generator ran once for both clients");

      // A route change with nothing new for EDS subscribers sends them nothing.
      source.setRoutes([{ host: "echo", split: [{ service: "echo", weight: 1 }], timeoutMs: 500 }]);
      await controller.flush();
      assert.deepEqual(pushes[2]?.types, ["RDS"]);
      await a.none(150);
      a.close();
      b.close();
    } finally {
      client.close();
      controller.close();
      await ads.shutdown(500);
    }
  });

  it("a host subclass overrides buildClusters and serves its own type URL", async () => {
    const accessLogType = defineResourceType<AccessLog>({ schema: AccessLogSchema, shortName: "ALDS" });
    class MyGenerator extends DefaultConfigGenerator {
      override buildClusters(proxy: Proxy, push: PushContext): Cluster[] {
        // The default builders' outputs are frozen and shared: change copies.
        return super.buildClusters(proxy, push).map((c) => {
          const mine = clone(ClusterSchema, c);
          mine.connectTimeout = create(DurationSchema, { seconds: 1n });
          return mine;
        });
      }
    }
    const generator = new MyGenerator().registerBuilder(accessLogType.typeUrl, ({ proxy }) => [
      create(AccessLogSchema, { name: `log-for-${proxy.cluster}` }),
    ]);
    const source = createMemorySource();
    source.setService({ name: "echo", endpoints: [{ address: "127.0.0.1", port: 9001 }] });
    const controller = createDiscoveryController({
      services: source,
      generator,
      registry: { resourceTypes: [accessLogType] },
      debounceMs: 10,
    });
    const ads = createAdsServer({ registry: controller.registry });
    const port = await ads.listen();
    const client = rawClient(port);
    try {
      const s = new RawStream(client);
      s.send({ node: grpcNode("ext"), typeUrl: TypeUrl.Cluster });
      const clusters = await s.next();
      const cluster = fromBinary(ClusterSchema, clusters.resources[0]?.value ?? new Uint8Array());
      assert.equal(cluster.connectTimeout?.seconds, 1n, "the subclass's cluster is served");
      s.send({ typeUrl: accessLogType.typeUrl, resourceNames: ["log-for-web"] });
      const logs = await s.next();
      assert.equal(logs.typeUrl, "type.googleapis.com/envoy.config.accesslog.v3.AccessLog");
      assert.equal(fromBinary(AccessLogSchema, logs.resources[0]?.value ?? new Uint8Array()).name, "log-for-web");
      assert.throws(() => decodeResource(accessLogType.typeUrl, new Uint8Array()), /unknown xDS type URL/);
      s.close();
    } finally {
      client.close();
      controller.close();
      await ads.shutdown(500);
    }
  });

  it("a build the registry refuses is reported and the last good config stays", async () => {
    const source = createMemorySource();
    source.setService({ name: "echo", endpoints: [{ address: "127.0.0.1", port: 9001 }] });
    class Broken extends DefaultConfigGenerator {
      fail = false;
      // Listeners are written after clusters and endpoints: a broken listener
      // must not let the new clusters and endpoints through on their own.
      override buildListeners(proxy: Proxy, push: PushContext): Listener[] {
        const out = super.buildListeners(proxy, push);
        if (!this.fail) return out;
        return out.map((l) => {
          const broken = clone(ListenerSchema, l);
          broken.apiListener = undefined;
          return broken;
        });
      }
    }
    const generator = new Broken();
    const controller = createDiscoveryController({ services: source, generator, debounceMs: 5 });
    const failures: string[] = [];
    controller.on("pushFailed", (e) => failures.push(e.error.message));
    const group = controller.registry.nodeGroup(
      create((await import("@xdskit/xds-types/gen/envoy/config/core/v3/base_pb")).NodeSchema, grpcNode("z")),
    );
    const before = controller.registry.getSnapshot(group);
    assert.ok(before);
    generator.fail = true;
    // The new port changes every type; only the listeners are broken, and none of the types is installed.
    source.setService({ name: "echo", port: 9002, endpoints: [{ address: "127.0.0.1", port: 9002 }] });
    await controller.flush();
    assert.match(failures[0] ?? "", /LDS "[^"]+" is invalid: .*api_listener/);
    assert.equal(controller.registry.getSnapshot(group), before);
    generator.fail = false;
    source.setService({ name: "echo", port: 9003, endpoints: [{ address: "127.0.0.1", port: 9003 }] });
    await controller.flush();
    const after = controller.registry.getSnapshot(group);
    for (const t of [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration]) {
      assert.notEqual(after?.get(t)?.version, before.get(t)?.version, `${t} should carry the fixed build`);
    }
    controller.close();
  });

  it("listens once to a source given as both services and config: one refusal, one report", async () => {
    // A host's own source, as docs/embedding.md writes one: both registry and store.
    const source = Object.assign(new EventEmitter(), {
      services: () => [{ name: "echo", endpoints: [{ address: "127.0.0.1", port: 9001 }] }],
      routes: () => [],
    });
    const controller = createDiscoveryController({ services: source, config: source, sources: [source] });
    const reports: string[] = [];
    controller.on("sourceRejected", (e) => reports.push(e.reason));
    source.emit("rejected", { reason: "the inventory did not parse", error: new Error("Unexpected token") });
    assert.deepEqual(reports, ["the inventory did not parse"]);
    controller.close();
    source.emit("rejected", { reason: "after close", error: new Error("x") });
    assert.equal(reports.length, 1, "close() stops listening");
  });
});
