// The controller never installs a partial or empty world: a failed build,
// a scoped push after it, a broken or emptied custom source, all keep the last
// good config; and node groups go away with their last stream.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createAdsServer } from "@xdskit/ads-server";
import { RawStream, rawClient } from "@xdskit/ads-server/testing";
import type { Snapshot } from "@xdskit/snapshot";
import { TypeUrl } from "@xdskit/xds-types";
import type { Cluster } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import fc from "fast-check";
import { createDiscoveryController } from "./controller.js";
import { DefaultConfigGenerator } from "./generator.js";
import { createMemorySource } from "./memory-source.js";
import type { Service } from "./model.js";
import type { Proxy } from "./proxy.js";
import { PushContext } from "./push-context.js";
import type { ServiceRegistry } from "./sources.js";

const TYPES = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];
const grpcNode = (id: string) => create(NodeSchema, { id, cluster: "web", userAgentName: "gRPC Node" });

/** A generator whose clusters break the proto rules while `failing` is set. */
class Flaky extends DefaultConfigGenerator {
  failing = false;
  override buildClusters(proxy: Proxy, push: PushContext): Cluster[] {
    const out = super.buildClusters(proxy, push);
    if (this.failing)
      for (const c of out) c.connectTimeout = { $typeName: "google.protobuf.Duration", seconds: -1n, nanos: 0 };
    return out;
  }
}

const svc = (name: string, port: number, ips = 1): Service => ({
  name,
  endpoints: Array.from({ length: ips }, (_, i) => ({ address: `10.0.0.${i + 1}`, port })),
});

/** Name → content hash of every type: what a client would be served. */
function contents(snap: Snapshot | undefined): Record<string, Record<string, string>> | undefined {
  if (!snap) return undefined;
  const out: Record<string, Record<string, string>> = {};
  for (const [t, ts] of snap.types) out[t] = Object.fromEntries([...ts.resources].map(([n, r]) => [n, r.hash]));
  return out;
}

describe("controller safety", () => {
  it("a group whose first build failed is built in full later: never CDS/LDS from a scoped build", async () => {
    const source = createMemorySource();
    source.setService(svc("echo", 9001));
    const generator = new Flaky();
    generator.failing = true;
    const controller = createDiscoveryController({ services: source, generator, debounceMs: 5 });
    const ads = createAdsServer({ registry: controller.registry });
    const port = await ads.listen();
    const client = rawClient(port);
    const failed: string[] = [];
    controller.on("pushFailed", (e) => failed.push(e.nodeGroup));
    try {
      const cds = new RawStream(client);
      cds.send({ node: grpcNode("a"), typeUrl: TypeUrl.Cluster });
      cds.send({ typeUrl: TypeUrl.Listener });
      await cds.none(100);
      assert.equal(failed.length, 1, "the first build failed");
      // An endpoints-only change while the builder still fails: the group is
      // retried in full, fails again, and nothing reaches the client.
      source.setEndpoints("echo", [{ address: "10.0.0.9", port: 9001 }]);
      await controller.flush();
      assert.equal(failed.length, 2, "a failed group is retried in full, and fails again");
      assert.equal(controller.registry.getSnapshot("proxyless/web"), undefined);
      await cds.none(100);
      // Fixed: an endpoints-only change now builds the whole group.
      generator.failing = false;
      source.setEndpoints("echo", [{ address: "10.0.0.8", port: 9001 }]);
      await controller.flush();
      const first = await cds.next();
      const second = await cds.next();
      const byType = new Map([first, second].map((r) => [r.typeUrl, r]));
      assert.equal(byType.get(TypeUrl.Cluster)?.resources.length, 1, "CDS comes from a full build");
      assert.equal(byType.get(TypeUrl.Listener)?.resources.length, 2, "LDS comes from a full build");
      assert.deepEqual(
        [...(controller.registry.getSnapshot("proxyless/web")?.types.keys() ?? [])].sort(),
        [...TYPES].sort(),
      );
      cds.close();
    } finally {
      client.close();
      controller.close();
      await ads.shutdown(500);
    }
  });

  it("property: whatever builds fail, a group holds the last good full build, and CDS/LDS are never sent empty", async () => {
    const action = fc.record({
      kind: fc.constantFrom("endpoints", "service", "routes", "none"),
      fail: fc.boolean(),
      n: fc.integer({ min: 1, max: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 12 }), async (actions) => {
        const source = createMemorySource();
        source.setService(svc("a", 8000));
        const generator = new Flaky();
        const controller = createDiscoveryController({ services: source, config: source, generator, debounceMs: 1 });
        let emptyFullState = 0;
        let failedNow = false;
        controller.on("pushFailed", () => {
          failedNow = true;
        });
        try {
          generator.failing = actions[0]?.fail ?? false;
          const proxy = { nodeGroup: controller.registry.nodeGroup(grpcNode("p")) };
          controller.registry.retainNodeGroup(proxy.nodeGroup);
          // Watchers like a client's: every CDS and LDS answer is checked.
          for (const typeUrl of [TypeUrl.Cluster, TypeUrl.Listener]) {
            const arm = (known?: string) =>
              controller.registry.watch(
                {
                  nodeGroup: proxy.nodeGroup,
                  typeUrl,
                  wildcard: true,
                  resourceNames: new Set(),
                  ...(known ? { knownVersion: known } : {}),
                },
                (r) => {
                  if (r.resources.length === 0) emptyFullState++;
                  arm(r.version);
                },
              );
            arm();
          }
          for (const [i, a] of actions.entries()) {
            const before = contents(controller.registry.getSnapshot(proxy.nodeGroup));
            failedNow = false;
            generator.failing = a.fail;
            if (a.kind === "endpoints") source.setEndpoints("a", [{ address: `10.0.1.${i + 1}`, port: 8000 }]);
            else if (a.kind === "service") source.setService(svc(`s${a.n}`, 8000 + a.n, a.n));
            else if (a.kind === "routes") source.setRoutes([{ host: "a", split: [{ service: "a", weight: a.n }] }]);
            await controller.flush();
            const now = controller.registry.getSnapshot(proxy.nodeGroup);
            if (now) assert.deepEqual([...now.types.keys()].sort(), [...TYPES].sort(), "a snapshot is always whole");
            if (failedNow) {
              assert.deepEqual(contents(now), before, "a failed build leaves the last good config");
            } else if (a.kind !== "none") {
              const fresh = new DefaultConfigGenerator().generate(
                controller.nodeGroups().get(proxy.nodeGroup) as Proxy,
                new PushContext(source.services(), source.routes()),
              );
              const expected = controller.registry.setSnapshot("reference", fresh);
              assert.deepEqual(
                contents(now),
                { ...contents(expected) },
                "a good build installs the whole current model",
              );
            }
          }
          await new Promise((r) => setImmediate(r));
          assert.equal(emptyFullState, 0, "no CDS or LDS answer was ever empty");
        } finally {
          controller.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it("node groups are freed with their last stream; nodes without an IP share one group", async () => {
    const source = createMemorySource();
    source.setService(svc("echo", 9001, 3));
    const controller = createDiscoveryController({
      services: source,
      debounceMs: 5,
      registry: { nodeGroupIdleMs: 50 },
    });
    const ads = createAdsServer({ registry: controller.registry });
    const port = await ads.listen();
    const client = rawClient(port);
    const removed: string[] = [];
    controller.on("nodeGroupRemoved", (e) => removed.push(e.nodeGroup));
    try {
      const streams: RawStream[] = [];
      for (let i = 0; i < 60; i++) {
        const s = new RawStream(client);
        const id = i < 40 ? `sidecar~10.1.${i >> 8}.${i & 255}~pod-${i}.ns~ns.svc.cluster.local` : `sidecar~~pod-${i}`;
        s.send({ node: { id, cluster: "mesh" }, typeUrl: TypeUrl.Cluster });
        streams.push(s);
      }
      await Promise.all(streams.map((s) => s.next()));
      assert.equal(controller.nodeGroups().size, 41, "40 sidecars with IPs, and one group for the 20 without");
      assert.equal(controller.registry.liveNodeGroups().get("sidecar/mesh"), 20);
      for (const s of streams) s.close();
      const deadline = Date.now() + 5000;
      while (controller.nodeGroups().size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(controller.nodeGroups().size, 0, "every group is dropped once idle");
      assert.equal(controller.registry.stats().snapshots, 0, "with its snapshot");
      assert.equal(removed.length, 41);
      // A push now builds nothing; a node coming back gets its group again.
      const pushes: number[] = [];
      controller.on("push", (e) => pushes.push(e.nodeGroups));
      source.setEndpoints("echo", [{ address: "10.0.0.1", port: 9001 }]);
      await controller.flush();
      assert.deepEqual(pushes, [0]);
      const back = new RawStream(client);
      back.send({
        node: { id: "sidecar~10.1.0.1~pod-1.ns~ns.svc.cluster.local", cluster: "mesh" },
        typeUrl: TypeUrl.Cluster,
      });
      // Its one outbound cluster, and the passthrough and black-hole clusters every sidecar has.
      assert.equal((await back.next()).resources.length, 4);
      assert.equal(controller.forgetNodeGroup("sidecar/mesh/10.1.0.1"), false, "a group in use is kept");
      back.close();
    } finally {
      client.close();
      controller.close();
      await ads.shutdown(500);
    }
  });

  it("a custom source's output is validated like a mesh file; a bad or emptied one keeps the last good config", async () => {
    // A host's own source on Node's EventEmitter.
    class HostSource extends EventEmitter implements ServiceRegistry {
      list: Service[] = [svc("echo", 9001)];
      services(): readonly Service[] {
        return this.list;
      }
    }
    const source = new HostSource();
    const controller = createDiscoveryController({ services: source, debounceMs: 5 });
    const rejected: string[] = [];
    controller.on("sourceRejected", (e) => rejected.push(e.error.message));
    const group = controller.registry.nodeGroup(grpcNode("x"));
    const good = controller.registry.getSnapshot(group);
    assert.ok(good);
    const attempt = async (list: Service[], pattern: RegExp) => {
      source.list = list;
      source.emit("change", { kinds: ["services", "endpoints"], reason: "host update" });
      await controller.flush();
      assert.match(rejected.at(-1) ?? "", pattern);
      assert.equal(controller.registry.getSnapshot(group), good, "the last good config stays");
      assert.deepEqual(
        [...controller.pushContext().services.keys()],
        ["echo"],
        "the push context keeps the last good model",
      );
    };
    try {
      await attempt([svc("echo", 9001), svc("echo", 9002)], /services\[1\]\.name: duplicate service name "echo"/);
      await attempt([svc("has space", 9001)], /services\[0\] \("has space"\)\.name: must be a DNS-style name/);
      await attempt(
        [{ name: "echo", endpoints: [{ address: "not an ip", port: 9001 }] }],
        /endpoints\[0\]\.address: must be an IPv4 or IPv6 address, got "not an ip"/,
      );
      await attempt([], /lists no services where it listed 1; refusing to remove every service/);
      assert.ok(controller.lastRejection());
      source.list = [svc("echo", 9001, 2)];
      source.emit("change", { kinds: ["endpoints"], reason: "fixed" });
      await controller.flush();
      assert.notEqual(controller.registry.getSnapshot(group), good, "a good change is applied");
      assert.equal(controller.lastRejection(), undefined);
    } finally {
      controller.close();
    }
  });
});
