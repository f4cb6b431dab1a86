// minimal-pilot when the Kubernetes API server goes away: the connection cut
// (the last good config served, the lag shown, caught up from its
// resourceVersion without a re-list, no removal pushed); history compacted
// and the API server restarted (410 Gone: a re-list that pushes only what
// differs); and two replicas on one API server serving byte-identical config.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createAdsClient, dumpConfig } from "@xdskit/adsc";
import { type TcpProxy, startTcpProxy } from "@xdskit/source-etcd/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { type Driver, startGrpcJsDriver, writeBootstrap } from "./harness/drivers.js";
import { type KubeWorld, type PodBackend, startKubeWorld } from "./harness/kube.js";
import { type KubePilot, startKubePilot } from "./harness/pilot.js";
import { waitFor } from "./harness/wait.js";

const NS = "shop";
const HOST = `cart.${NS}.svc.cluster.local`;
const TARGET = `xds:///${HOST}:9000`;

interface SourceStatus {
  connected: boolean;
  lagMs: number;
  lists: number;
}

describe("minimal-pilot through Kubernetes API server outages", () => {
  let world: KubeWorld;
  let proxy: TcpProxy;
  let pilot: KubePilot;
  let js: Driver;
  const pods: PodBackend[] = [];
  const removed: string[] = [];
  let watcher: ReturnType<typeof createAdsClient>;

  const status = async () =>
    (await pilot.admin<{ source: { kubernetes: SourceStatus } }>("/debug/mesh")).source.kubernetes;
  const answers = async () => {
    const a = await js.call(TARGET, 10, { deadlineMs: 2000 });
    return { who: Object.keys(a.answers).sort(), errors: a.errorCount };
  };

  before(async () => {
    world = await startKubeWorld(2);
    await world.cluster.namespace(NS);
    await world.cluster.service(NS, "cart", { selector: { app: "cart" }, ports: [{ name: "grpc", port: 9000 }] });
    for (const i of [0, 1]) {
      pods.push(await world.backend(`cart-${i}`, world.podIp(i), 9000));
      await world.cluster.pod({ namespace: NS, name: `cart-${i}`, ip: world.podIp(i), labels: { app: "cart" } });
    }
    // The pilot reaches the API server through a proxy the test can cut.
    const port = Number(new URL(world.kube.server).port);
    proxy = await startTcpProxy(port);
    const kc = JSON.parse(fs.readFileSync(world.kube.kubeconfig, "utf8")) as {
      clusters: { cluster: { server: string } }[];
    };
    for (const c of kc.clusters) c.cluster.server = `https://127.0.0.1:${proxy.port}`;
    const file = path.join(world.kube.dir, "proxied.kubeconfig");
    fs.writeFileSync(file, JSON.stringify(kc));
    pilot = await startKubePilot(file);
    js = startGrpcJsDriver(writeBootstrap(pilot.xdsPort, { id: "outage-client", cluster: "clients" }));
    await waitFor("calls to both pods", async () =>
      JSON.stringify((await answers()).who) === '["cart-0","cart-1"]' ? true : undefined,
    );
    watcher = createAdsClient({
      target: `127.0.0.1:${pilot.xdsPort}`,
      node: { id: "outage-watcher", cluster: "clients", userAgentName: "gRPC Node", locality: { zone: "a" } },
    });
    watcher.on("update", (u) => removed.push(...u.removed));
    watcher.subscribe(TypeUrl.Cluster);
    watcher.subscribe(TypeUrl.ClusterLoadAssignment, [`outbound|9000||${HOST}`]);
    await watcher.synced(10_000);
  });

  after(async () => {
    watcher?.close();
    await js?.stop();
    await pilot?.stop();
    await proxy?.close();
    for (const p of pods) await p.stop();
    await world?.stop();
  });

  it("keeps serving while the API server is out of reach, shows the lag, and catches up from its resourceVersion", async () => {
    const before = await status();
    assert.equal(before.connected, true);
    await proxy.cut();
    const lost = await waitFor("the pilot to notice", async () => {
      const s = await status();
      return !s.connected && s.lagMs > 0 ? s : undefined;
    });
    assert.ok(lost.lagMs > 0);
    assert.match(await pilot.metrics(), /^xdskit_source_connected 0$/m);
    assert.deepEqual(await answers(), { who: ["cart-0", "cart-1"], errors: 0 }, "the last good config is served");
    assert.ok((await fetch(`http://127.0.0.1:${pilot.adminPort}/readyz`)).ok, "still ready");
    // A change made meanwhile arrives once the connection is back.
    await world.cluster.setReady(NS, "cart-1", false);
    await proxy.mend();
    await waitFor(
      "the change made during the outage",
      async () => (JSON.stringify((await answers()).who) === '["cart-0"]' ? true : undefined),
      30_000,
    );
    const back = await status();
    assert.equal(back.connected, true);
    assert.equal(back.lists, before.lists, "resumed from its resourceVersion: no re-list");
    assert.deepEqual(removed, [], "no client lost a resource");
  });

  it("re-lists after a 410 Gone (history compacted, API server restarted) and pushes only what differs", async () => {
    const before = await status();
    const pushCount = () =>
      pilot
        .output()
        .split("\n")
        .filter((l) => l.startsWith("push:")).length;
    // The last test's pushes settle first (a debounced one may still be on its way).
    let settled = pushCount();
    await waitFor(
      "the pilot to be quiet",
      async () => {
        await new Promise((r) => setTimeout(r, 600));
        const now = pushCount();
        const quiet = now === settled;
        settled = now;
        return quiet ? true : undefined;
      },
      15_000,
    );
    const pushesBefore = pushCount();
    // Writes of another kind move etcd's revision on without the pilot seeing them.
    for (let i = 0; i < 5; i++) {
      await world.cluster.core.createNamespacedConfigMap({
        namespace: NS,
        body: { metadata: { name: `filler-${i}` } },
      });
    }
    await world.kube.stopApiServer();
    const compacted = await world.kube.compact();
    assert.ok(compacted > 0);
    await world.kube.startApiServer();
    const relisted = await waitFor(
      "a re-list",
      async () => {
        const s = await status();
        return s.connected && s.lists > before.lists ? s : undefined;
      },
      30_000,
    );
    assert.ok(relisted.lists > before.lists);
    await new Promise((r) => setTimeout(r, 500));
    const pushes = pilot
      .output()
      .split("\n")
      .filter((l) => l.startsWith("push:")).length;
    assert.equal(pushes, pushesBefore, "nothing differed, nothing was pushed");
    assert.deepEqual(removed, []);
    // And changes flow again.
    await world.cluster.setReady(NS, "cart-1", true);
    await waitFor(
      "calls to both pods again",
      async () => (JSON.stringify((await answers()).who) === '["cart-0","cart-1"]' ? true : undefined),
      30_000,
    );
  });

  it("two replicas on one API server serve byte-identical resources and versions", async () => {
    const second = await startKubePilot(world.kube.kubeconfig);
    try {
      const node = { id: "replica-probe", cluster: "clients", userAgentName: "gRPC Node", locality: { zone: "a" } };
      const a = await dumpConfig({ target: `127.0.0.1:${pilot.xdsPort}`, node });
      const b = await dumpConfig({ target: `127.0.0.1:${second.xdsPort}`, node });
      const flat = (d: typeof a) =>
        d.configs.flatMap((c) =>
          c.resources.map((r) => `${c.typeUrl} ${r.name} ${r.version} ${JSON.stringify(r.resource)}`),
        );
      assert.ok(flat(a).length >= 4, flat(a).join("\n"));
      assert.deepEqual(flat(b), flat(a));
    } finally {
      await second.stop();
    }
  });
});
