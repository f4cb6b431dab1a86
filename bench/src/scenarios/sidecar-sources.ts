// The sidecar world as an operator runs it: 1,000 services × 2 endpoints,
// 2,000 Istio-style sidecars each on a connection of its own, ACKing every
// EDS answer with its whole subscription as Envoy does, and the change made
// where an operator makes it — an edit of the YAML mesh file, a put to etcd —
// beside the same change made to a memory source in the pilot's process (the
// floor of a source), all in the same run.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { entryKey, putMesh } from "@xdskit/source-etcd";
import { etcdMissing, startTestEtcd } from "@xdskit/source-etcd/testing";
import { Etcd3 } from "etcd3";
import { type ServerProcess, startServerProcess } from "../child.js";
import { type Figure, type Scenario, figure } from "../figure.js";
import { changed, meshYaml, service, sidecarId, sidecarSubscriptions } from "../mesh.js";
import {
  type MakeChange,
  type OperatorPlan,
  type SourceRun,
  fileEdits,
  operatorPlan,
  runSourceWorld,
} from "./mesh-runs.js";

const PREFIX = "/xdskit/";

async function runOn(
  server: ServerProcess,
  plan: OperatorPlan,
  change: MakeChange,
  log: (m: string) => void,
): Promise<SourceRun> {
  try {
    return await runSourceWorld(
      server,
      {
        ...plan,
        subscriptions: sidecarSubscriptions(plan.services),
        node: { ids: Array.from({ length: plan.streams }, (_, n) => sidecarId(n, 2)), cluster: "mesh" },
        streamsPerChannel: 1,
      },
      change,
      log,
    );
  } finally {
    await server.stop();
  }
}

const scenario: Scenario = {
  name: "sidecar-sources",
  description:
    "2,000 sidecars, a connection each: one endpoint change through the YAML mesh file and etcd vs in-process",
  async run(ctx) {
    const missing = etcdMissing();
    if (missing) throw new Error(missing);
    const plan = operatorPlan(ctx.quick, { quick: 60_000, full: 300_000 });
    const world = Array.from({ length: plan.services }, (_, i) => service(i));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-bench-sidecar-sources-"));
    const file = path.join(dir, "mesh.yaml");
    fs.writeFileSync(file, meshYaml(world));
    const log = (side: string) => (m: string) => ctx.log(`sidecar-sources (${side}): ${m}`);
    try {
      ctx.log(`sidecar-sources: ${plan.streams} sidecars of ${plan.services} services, one connection each`);
      const memory = await startServerProcess("source-server", { kind: "memory", path: file, services: plan.services });
      const M = await runOn(
        memory,
        plan,
        async (k) =>
          (await memory.request<{ at: number }>("setService", { service: changed(k, plan.services).svc })).at,
        log("memory"),
      );

      const viaFile = await startServerProcess("source-server", { kind: "file", path: file, services: plan.services });
      const F = await runOn(viaFile, plan, fileEdits(world, file, `${file}.tmp`, meshYaml), log("file"));

      const etcd = await startTestEtcd();
      const client = new Etcd3({ hosts: etcd.url });
      let E: SourceRun;
      try {
        await putMesh(client, PREFIX, { services: world, routes: [], gateways: [] });
        const viaEtcd = await startServerProcess("source-server", {
          kind: "etcd",
          endpoints: [etcd.url],
          prefix: PREFIX,
          services: plan.services,
        });
        E = await runOn(
          viaEtcd,
          plan,
          async (k) => {
            const { svc } = changed(k, plan.services);
            const at = performance.timeOrigin + performance.now();
            await client.put(entryKey(PREFIX, "services", svc.name)).value(JSON.stringify(svc));
            return at;
          },
          log("etcd"),
        );
      } finally {
        client.close();
        await etcd.remove();
      }
      return figures(plan, M, F, E);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

function figures(plan: OperatorPlan, M: SourceRun, F: SourceRun, E: SourceRun): Figure[] {
  const params = { services: plan.services, sidecars: plan.streams, connections: plan.streams, changes: plan.changes };
  const floor = "the same change to a memory source in the pilot";
  const out: Figure[] = [];
  for (const [via, run] of [
    ["mesh file (YAML, rewritten and renamed in)", F],
    ["etcd put", E],
  ] as const) {
    const p = { ...params, via };
    out.push(
      figure({
        scenario: "sidecar-sources",
        metric: "one-endpoint change → every sidecar: p50 (file poll/settle and debounce included)",
        params: p,
        value: run.churn.p50,
        unit: "ms",
        baseline: { name: floor, value: M.churn.p50 },
      }),
      figure({
        scenario: "sidecar-sources",
        metric: "one-endpoint change → every sidecar: p99",
        params: p,
        value: run.churn.p99,
        unit: "ms",
        baseline: { name: floor, value: M.churn.p99 },
        target: "<= 500 ms",
      }),
      figure({
        scenario: "sidecar-sources",
        metric: "of which the server's part: change → its last response handed to HTTP/2 (worst change)",
        params: p,
        value: Math.max(...run.churn.serverLastMs),
        unit: "ms",
        baseline: { name: floor, value: Math.max(...M.churn.serverLastMs) },
      }),
      figure({
        scenario: "sidecar-sources",
        metric: `server CPU, one change every ${plan.everyMs} ms`,
        params: { ...p, bytesPerSidecarPerChange: Math.round(run.churn.bytesPerStream) },
        value: run.churn.cores,
        unit: "cores",
        baseline: { name: floor, value: M.churn.cores },
        target: "<= 0.3 core",
      }),
      figure({
        scenario: "sidecar-sources",
        metric: "server CPU per change",
        params: p,
        value: run.churn.cpuMsPerChange,
        unit: "ms",
        baseline: { name: floor, value: M.churn.cpuMsPerChange },
      }),
      figure({
        scenario: "sidecar-sources",
        metric: "server RSS settled, every sidecar served",
        params: p,
        value: run.rss,
        unit: "bytes",
        baseline: { name: floor, value: M.rss },
      }),
      figure({
        scenario: "sidecar-sources",
        metric: "server peak RSS over the run",
        params: p,
        value: run.peakRss,
        unit: "bytes",
        baseline: { name: floor, value: M.peakRss },
      }),
    );
  }
  return out;
}

export default scenario;
