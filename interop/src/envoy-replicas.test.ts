// A real Envoy 1.40 whose ADS cluster lists two minimal-pilot replicas on one
// real etcd, over SotW and over Delta. The replica it is connected to is
// killed: Envoy reconnects to the other, and nothing changes for it — no
// listener or cluster is modified or drained, the versions it holds stay, no
// update is rejected; over Delta the survivor writes no response bytes at all.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { putMesh } from "@xdskit/source-etcd";
import { etcdMissing, startTestEtcd, type TestEtcd } from "@xdskit/source-etcd/testing";
import { Etcd3 } from "etcd3";
import { type Backend, grpcBackend, httpBackend } from "./harness/backends.js";
import { type ConfigDump, type Envoy, rejections, startEnvoy } from "./harness/envoy.js";
import { type EtcdPilot, startEtcdPilot } from "./harness/pilot.js";
import { waitFor } from "./harness/wait.js";

interface PilotConnections {
  connections: { nodeId: string }[];
}

// Response bytes a replica has written (its config-size histogram's sum).
const bytesSent = async (p: EtcdPilot) => {
  let sum = 0;
  for (const m of (await p.metrics()).matchAll(/^pilot_xds_config_size_bytes_sum\{[^}]*\} (\S+)$/gm))
    sum += Number(m[1]);
  return sum;
};

// Every dynamic resource Envoy holds, with the version it records for it.
const held = (dump: ConfigDump) =>
  [
    ...dump.configs
      .flatMap((c) => c.dynamic_listeners ?? [])
      .map((l) => `LDS ${l.name} ${l.active_state?.version_info}`),
    ...dump.configs
      .flatMap((c) => c.dynamic_active_clusters ?? [])
      .map((c) => `CDS ${c.cluster.name} ${c.version_info}`),
    ...dump.configs
      .flatMap((c) => c.dynamic_route_configs ?? [])
      .map((r) => `RDS ${r.route_config.name} ${r.version_info}`),
    ...dump.configs
      .flatMap((c) => c.dynamic_endpoint_configs ?? [])
      .map((e) => `EDS ${e.endpoint_config.cluster_name} ${e.version_info}`),
  ].sort();

// The counters that move when Envoy changes what it runs.
const CHURN = [
  "listener_manager.listener_modified",
  "listener_manager.listener_removed",
  "listener_manager.total_listeners_draining",
  "cluster_manager.cluster_modified",
  "cluster_manager.cluster_removed",
];

describe("Envoy moving between replicas on one etcd", () => {
  let etcd: TestEtcd;
  let store: Etcd3;
  const backends: Backend[] = [];

  before(async () => {
    const missing = etcdMissing();
    if (missing) throw new Error(missing);
    etcd = await startTestEtcd();
    store = new Etcd3({ hosts: etcd.url });
    backends.push(await grpcBackend("echo-a"), await grpcBackend("echo-b"), await httpBackend("web-a"));
    const [a, b, web] = backends as [Backend, Backend, Backend];
    await putMesh(store, "/xdskit/", {
      services: [
        {
          name: "echo",
          port: a.port,
          protocol: "grpc",
          endpoints: [a, b].map((x) => ({ address: "127.0.0.1", port: x.port })),
        },
        { name: "web", protocol: "http", endpoints: [{ address: "127.0.0.1", port: web.port }] },
      ],
      routes: [{ host: "web", split: [{ service: "web", weight: 1 }], timeoutMs: 700 }],
      gateways: [],
    });
  });

  after(async () => {
    for (const b of backends) await b.stop();
    store?.close();
    await etcd?.remove();
  });

  for (const protocol of ["sotw", "delta"] as const) {
    it(`over ${protocol === "sotw" ? "State of the World" : "Delta"}: the survivor changes nothing for Envoy`, async () => {
      const node = `sidecar~127.0.0.1~envoy-${protocol}.default~default.svc.cluster.local`;
      const replicas = [await startEtcdPilot(etcd.url), await startEtcdPilot(etcd.url)];
      let envoy: Envoy | undefined;
      try {
        envoy = await startEnvoy({
          nodeId: node,
          xdsPort: replicas.map((r) => r.xdsPort),
          delta: protocol === "delta",
        });
        const e = envoy;
        await waitFor(
          "Envoy to take its config",
          async () => ((await e.stat("listener_manager.total_listeners_active")) === 4 ? true : undefined),
          20_000,
        );
        // Let the last ACKs settle, then note what Envoy holds.
        await new Promise((r) => setTimeout(r, 500));
        const on = async (r: EtcdPilot) =>
          (await r.admin<PilotConnections>("/debug/connections")).connections.some((c) => c.nodeId === node);
        const first = (await on(replicas[0] as EtcdPilot)) ? 0 : 1;
        const dead = replicas[first] as EtcdPilot;
        const survivor = replicas[1 - first] as EtcdPilot;
        assert.ok(await on(dead), "Envoy is on one of the replicas");
        const before = {
          held: held(await e.configDump(true)),
          stats: await e.stats(),
          sent: await bytesSent(survivor),
        };
        assert.ok(before.held.length >= 8, before.held.join("\n"));

        await dead.kill();
        await waitFor(
          "Envoy's ADS stream on the other replica",
          () => on(survivor).then((x) => x || undefined),
          30_000,
        );
        await waitFor(
          "Envoy to count itself connected again",
          async () => ((await e.stat("control_plane.connected_state")) === 1 ? true : undefined),
          10_000,
        );
        await new Promise((r) => setTimeout(r, 1000));

        const now = await e.stats();
        assert.deepEqual(held(await e.configDump(true)), before.held, "the same resources at the same versions");
        for (const k of CHURN) assert.equal(now.get(k) ?? 0, before.stats.get(k) ?? 0, `${k} did not move`);
        // update_failure counts the stream the killed replica broke (a network
        // error, expected here); a refused config would be update_rejected.
        assert.deepEqual(
          rejections(now).filter((x) => !x.includes(".update_failure:")),
          [],
        );
        assert.ok((now.get("cluster_manager.cds.update_failure") ?? 0) >= 1, "Envoy saw its stream break");
        assert.equal(await e.stat("listener_manager.total_listeners_active"), 4);
        const sent = (await bytesSent(survivor)) - before.sent;
        // Delta resumes with initial_resource_versions; SotW with each type's
        // version_info and names, which cover the whole of every type here.
        assert.equal(sent, 0, `over ${protocol} the survivor resent nothing`);
      } finally {
        await envoy?.stop();
        for (const r of replicas) await r.kill();
      }
    });
  }
});
