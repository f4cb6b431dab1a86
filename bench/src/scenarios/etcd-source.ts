// The etcd source at scale: 10,000 services in a real etcd, 1,000 proxyless
// streams each watching a handful of them. One `put` of a changed endpoint is
// timed to its EDS arriving at every stream; the baseline is the same change
// made to the same mesh through the mesh file (rewritten and re-read whole,
// at the file source's default poll), measured in the same run.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Service } from "@xdskit/config-generator";
import { entryKey, putMesh } from "@xdskit/source-etcd";
import { etcdMissing, startTestEtcd } from "@xdskit/source-etcd/testing";
import { Etcd3 } from "etcd3";
import { type ServerProcess, startServerProcess } from "../child.js";
import { type Figure, type Scenario, figure } from "../figure.js";
import { MESH_PORT, clusterOf, endpointIp } from "../mesh.js";
import { type MakeChange, type SourceRun, runSourceWorld } from "./mesh-runs.js";

const PREFIX = "/xdskit/";
// The services every stream calls; the changes go round them.
const WATCHED = 10;

function service(i: number, weight = 1): Service {
  return {
    name: `svc-${i}`,
    port: MESH_PORT,
    protocol: "grpc",
    endpoints: [0, 1].map((e) => ({ address: endpointIp(i, e), port: MESH_PORT, weight: e === 0 ? weight : 1 })),
  };
}

function subscriptions(services: number): Record<string, readonly string[]> {
  const ids = Array.from({ length: WATCHED }, (_, k) => Math.floor((k * services) / WATCHED));
  const names = ids.map((i) => `svc-${i}`);
  const clusters = ids.map(clusterOf);
  return {
    "type.googleapis.com/envoy.config.listener.v3.Listener": names,
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration": names,
    "type.googleapis.com/envoy.config.cluster.v3.Cluster": clusters,
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": clusters,
  };
}

// The k-th change: one of the watched services gets its first endpoint's
// weight set to k + 2, a value it never had (an unchanged value pushes nothing).
const changed = (k: number, services: number) => {
  const i = Math.floor(((k % WATCHED) * services) / WATCHED);
  return { i, svc: service(i, k + 2) };
};

type Run = SourceRun;

function run(
  server: ServerProcess,
  plan: { streams: number; services: number; changes: number; timeoutMs: number },
  change: MakeChange,
  log: (m: string) => void,
): Promise<Run> {
  const world = {
    ...plan,
    subscriptions: subscriptions(plan.services),
    node: { cluster: "etcd", userAgentName: "gRPC Go" },
    everyMs: 1000,
  };
  return runSourceWorld(server, world, change, log);
}

const scenario: Scenario = {
  name: "etcd-source",
  description:
    "10,000 services in a real etcd: one put to EDS at 1,000 streams, vs the same change through the mesh file",
  async run(ctx) {
    const missing = etcdMissing();
    if (missing) throw new Error(missing);
    const services = ctx.quick ? 500 : 10_000;
    const streams = ctx.quick ? 50 : 1000;
    const plan = { streams, services, changes: ctx.quick ? 3 : 20, timeoutMs: ctx.quick ? 60_000 : 300_000 };
    const mesh = { services: Array.from({ length: services }, (_, i) => service(i)), routes: [], gateways: [] };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-bench-etcd-"));
    const etcd = await startTestEtcd();
    const client = new Etcd3({ hosts: etcd.url });
    try {
      const t0 = performance.now();
      await putMesh(client, PREFIX, mesh);
      ctx.log(`etcd-source: ${services} services put in ${(performance.now() - t0).toFixed(0)} ms; ${streams} streams`);
      const viaEtcd = await startServerProcess("source-server", {
        kind: "etcd",
        endpoints: [etcd.url],
        prefix: PREFIX,
        services,
      });
      let E: Run;
      try {
        E = await run(
          viaEtcd,
          plan,
          async (k) => {
            const { svc } = changed(k, services);
            const value = JSON.stringify(svc);
            const at = performance.timeOrigin + performance.now();
            await client.put(entryKey(PREFIX, "services", svc.name)).value(value);
            return at;
          },
          (m) => ctx.log(`etcd-source (etcd): ${m}`),
        );
      } finally {
        await viaEtcd.stop();
      }
      const file = path.join(dir, "mesh.json");
      fs.writeFileSync(file, JSON.stringify(mesh));
      const viaFile = await startServerProcess("source-server", { kind: "file", path: file, services });
      let F: Run;
      try {
        F = await run(
          viaFile,
          plan,
          async (k) => {
            const { i, svc } = changed(k, services);
            mesh.services[i] = svc;
            const text = JSON.stringify(mesh);
            const at = performance.timeOrigin + performance.now();
            // Written aside and renamed in, as an operator's tooling would.
            await fs.promises.writeFile(`${file}.tmp`, text);
            await fs.promises.rename(`${file}.tmp`, file);
            return at;
          },
          (m) => ctx.log(`etcd-source (file): ${m}`),
        );
      } finally {
        await viaFile.stop();
      }
      const params = { services, streams, watchedPerStream: WATCHED, changes: plan.changes };
      const base = "the same through the mesh file";
      const figures: Figure[] = [
        figure({
          scenario: "etcd-source",
          metric: "one put → EDS at every stream: p50",
          params,
          value: E.churn.p50,
          unit: "ms",
          baseline: { name: base, value: F.churn.p50 },
        }),
        figure({
          scenario: "etcd-source",
          metric: "one put → EDS at every stream: p99",
          params,
          value: E.churn.p99,
          unit: "ms",
          baseline: { name: base, value: F.churn.p99 },
        }),
        figure({
          scenario: "etcd-source",
          metric: "server CPU per change",
          params,
          value: E.churn.cpuMsPerChange,
          unit: "ms",
          baseline: { name: base, value: F.churn.cpuMsPerChange },
        }),
        figure({
          scenario: "etcd-source",
          metric: "pilot RSS with the store loaded and every stream served",
          params,
          value: E.rss,
          unit: "bytes",
          baseline: { name: base, value: F.rss },
        }),
        figure({
          scenario: "etcd-source",
          metric: "pilot peak RSS over the run",
          params,
          value: E.peakRss,
          unit: "bytes",
          baseline: { name: base, value: F.peakRss },
        }),
        figure({
          scenario: "etcd-source",
          metric: "read the whole mesh at start",
          params,
          value: E.readMs,
          unit: "ms",
          baseline: { name: base, value: F.readMs },
        }),
      ];
      return figures;
    } finally {
      client.close();
      await etcd.remove();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default scenario;
