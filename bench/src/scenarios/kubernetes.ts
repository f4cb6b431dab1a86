// The Kubernetes source at scale: 5,000 Services × 4 Pods in a real API
// server (EndpointSlices made by the real controller), 1,000 proxyless
// streams each watching 10 of them. Time until the pilot is ready, one pod
// turning unready (and back) timed to its EDS at every stream, pilot CPU per
// change and RSS — each beside the same world through the etcd source (one
// key per service, the endpoint's health flipped by a put) in the same run.
// Opt-in (`npm run bench -- --only kubernetes`): it needs the binaries
// scripts/ensure-kube.sh builds.
import { KubernetesObjectApi } from "@kubernetes/client-node";
import type { Service } from "@xdskit/config-generator";
import { entryKey, putMesh } from "@xdskit/source-etcd";
import { etcdMissing, startTestEtcd } from "@xdskit/source-etcd/testing";
import { TestCluster, kubeMissing, startTestKube } from "@xdskit/source-kubernetes/testing";
import { Etcd3 } from "etcd3";
import { type ServerProcess, startServerProcess } from "../child.js";
import { type Figure, type Scenario, figure } from "../figure.js";
import { type MakeChange, type SourceRun, runSourceWorld } from "./mesh-runs.js";

const NS = "bench";
const PORT = 8080;
const PODS = 4;
const WATCHED = 10;

const podIp = (i: number, p: number) => `10.${20 + (i >> 8)}.${i & 255}.${p + 1}`;
const kubeHost = (i: number) => `svc-${i}.${NS}.svc.cluster.local`;

function subscriptions(services: number, host: (i: number) => string): Record<string, readonly string[]> {
  const ids = Array.from({ length: WATCHED }, (_, k) => Math.floor((k * services) / WATCHED));
  const clusters = ids.map((i) => `outbound|${PORT}||${host(i)}`);
  return {
    "type.googleapis.com/envoy.config.listener.v3.Listener": ids.map((i) => `${host(i)}:${PORT}`),
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration": ids.map(host),
    "type.googleapis.com/envoy.config.cluster.v3.Cluster": clusters,
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": clusters,
  };
}

/** The k-th change: the first pod of a watched service turns unready (odd k: ready again). */
const changed = (k: number, services: number) => ({
  i: Math.floor(((Math.floor(k / 2) % WATCHED) * services) / WATCHED),
  ready: k % 2 === 1,
});

// Runs `work` over `items` with `width` in flight.
async function pooled<T>(items: readonly T[], width: number, work: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

function run(
  server: ServerProcess,
  plan: { streams: number; services: number; changes: number; timeoutMs: number },
  host: (i: number) => string,
  change: MakeChange,
  log: (m: string) => void,
): Promise<SourceRun> {
  const world = {
    ...plan,
    subscriptions: subscriptions(plan.services, host),
    node: { cluster: "k8s", userAgentName: "gRPC Go" },
    everyMs: 1500,
  };
  return runSourceWorld(server, world, change, log);
}

const scenario: Scenario = {
  name: "kubernetes",
  description: "5,000 Services × 4 Pods in a real API server: ready, one pod unready → EDS at 1,000 streams, vs etcd",
  async run(ctx) {
    const missing = kubeMissing() ?? etcdMissing();
    if (missing) throw new Error(missing);
    const services = ctx.quick ? 50 : 5000;
    const streams = ctx.quick ? 50 : 1000;
    const plan = { streams, services, changes: ctx.quick ? 4 : 20, timeoutMs: ctx.quick ? 60_000 : 600_000 };
    const kube = await startTestKube();
    try {
      const cluster = new TestCluster(kube.config);
      const t0 = performance.now();
      await cluster.namespace(NS);
      const ids = Array.from({ length: services }, (_, i) => i);
      await pooled(ids, 16, (i) =>
        cluster.service(NS, `svc-${i}`, { selector: { app: `svc-${i}` }, ports: [{ name: "grpc", port: PORT }] }),
      );
      const pods = ids.flatMap((i) => Array.from({ length: PODS }, (_, p) => ({ i, p })));
      await pooled(pods, 32, ({ i, p }) =>
        cluster.pod({ namespace: NS, name: `svc-${i}-${p}`, ip: podIp(i, p), labels: { app: `svc-${i}` } }),
      );
      // The EndpointSlice controller catches up.
      const api = KubernetesObjectApi.makeApiClient(kube.config);
      const deadline = Date.now() + plan.timeoutMs;
      for (;;) {
        let ready = 0;
        let token: string | undefined;
        do {
          const page = await api.list<{ endpoints?: { conditions?: { ready?: boolean } }[] } & { metadata?: object }>(
            "discovery.k8s.io/v1",
            "EndpointSlice",
            NS,
            undefined,
            undefined,
            undefined,
            undefined,
            undefined,
            500,
            token,
          );
          for (const s of page.items) ready += (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
          token = page.metadata?._continue || undefined;
        } while (token);
        if (ready >= services * PODS) break;
        if (Date.now() > deadline) throw new Error(`only ${ready} of ${services * PODS} endpoints in slices`);
        await new Promise((r) => setTimeout(r, 2000));
      }
      ctx.log(
        `kubernetes: ${services} services × ${PODS} pods in the API server in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
      );

      const viaKube = await startServerProcess(
        "source-server",
        { kind: "kubernetes", kubeconfig: kube.kubeconfig, namespace: NS, services },
        plan.timeoutMs,
      );
      let K: SourceRun;
      try {
        K = await run(
          viaKube,
          plan,
          kubeHost,
          async (k) => {
            const { i, ready } = changed(k, services);
            const at = performance.timeOrigin + performance.now();
            await cluster.setReady(NS, `svc-${i}-0`, ready);
            return at;
          },
          (m) => ctx.log(`kubernetes (api server): ${m}`),
        );
      } finally {
        await viaKube.stop();
      }

      // The same world in etcd: one key per service, the pod's health flipped by a put.
      const etcd = await startTestEtcd();
      const client = new Etcd3({ hosts: etcd.url });
      const service = (i: number, firstReady = true): Service => ({
        name: `svc-${i}`,
        port: PORT,
        protocol: "grpc",
        endpoints: Array.from({ length: PODS }, (_, p) => ({
          address: podIp(i, p),
          port: PORT,
          ...(p === 0 && !firstReady ? { health: "unhealthy" as const } : {}),
        })),
      });
      let E: SourceRun;
      try {
        await putMesh(client, "/xdskit/", { services: ids.map((i) => service(i)), routes: [], gateways: [] });
        const viaEtcd = await startServerProcess(
          "source-server",
          { kind: "etcd", endpoints: [etcd.url], prefix: "/xdskit/", services },
          plan.timeoutMs,
        );
        try {
          E = await run(
            viaEtcd,
            plan,
            (i) => `svc-${i}`,
            async (k) => {
              const { i, ready } = changed(k, services);
              const value = JSON.stringify(service(i, ready));
              const at = performance.timeOrigin + performance.now();
              await client.put(entryKey("/xdskit/", "services", `svc-${i}`)).value(value);
              return at;
            },
            (m) => ctx.log(`kubernetes (etcd baseline): ${m}`),
          );
        } finally {
          await viaEtcd.stop();
        }
      } finally {
        client.close();
        await etcd.remove();
      }

      const params = { services, podsPerService: PODS, streams, watchedPerStream: WATCHED, changes: plan.changes };
      const base = "the same world through the etcd source";
      const f = (metric: string, value: number, baseline: number, unit: string): Figure =>
        figure({ scenario: "kubernetes", metric, params, value, unit, baseline: { name: base, value: baseline } });
      return [
        f("time until ready (every object listed, model built)", K.readMs, E.readMs, "ms"),
        f("one pod unready → EDS at every stream: p50", K.churn.p50, E.churn.p50, "ms"),
        f("one pod unready → EDS at every stream: p99", K.churn.p99, E.churn.p99, "ms"),
        f("pilot CPU per change", K.churn.cpuMsPerChange, E.churn.cpuMsPerChange, "ms"),
        f("pilot RSS with every stream served", K.rss, E.rss, "bytes"),
        f("pilot peak RSS over the run", K.peakRss, E.peakRss, "bytes"),
      ];
    } finally {
      await kube.stop();
    }
  },
};

export default scenario;
