// xdskit beside a real istiod, same world, same load, same edits, same run:
// 1,000 services × 2 endpoints on one port, 2,000 Istio-style sidecars each on
// a connection of its own (ACKing EDS with their whole subscription as Envoy
// does), and one endpoint weight changed every 2 s by editing a file — the
// xdskit mesh file, and istiod's ServiceEntries in its --configDir — saved
// aside and renamed in. Run when named, with XDSKIT_BENCH_ISTIOD set.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServerProcess } from "../child.js";
import { type Figure, type Scenario, figure } from "../figure.js";
import { istiodBinary, startIstiod } from "../istiod.js";
import {
  istioSidecarSubscriptions,
  meshYaml,
  service,
  serviceEntriesYaml,
  sidecarId,
  sidecarSubscriptions,
} from "../mesh.js";
import { type OperatorPlan, type SourceRun, fileEdits, operatorPlan, runFloor, runSourceWorld } from "./mesh-runs.js";

const scenario: Scenario = {
  name: "istiod",
  description: "2,000 sidecars, a connection each, file edits: xdskit's mesh file vs istiod's ServiceEntry folder",
  async run(ctx) {
    const binary = istiodBinary();
    if ("missing" in binary) throw new Error(binary.missing);
    const plan = operatorPlan(ctx.quick, { quick: 120_000, full: 600_000 });
    const world = Array.from({ length: plan.services }, (_, i) => service(i));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-bench-istiod-"));
    const log = (side: string) => (m: string) => ctx.log(`istiod (${side}): ${m}`);
    const ids = Array.from({ length: plan.streams }, (_, n) => sidecarId(n, 2));
    // A stream the server ends is opened again after 0.5–1 s, as Envoy's ADS retry does.
    const common = { ...plan, node: { ids, cluster: "mesh" }, streamsPerChannel: 1, reopenAfterMs: 500 };
    try {
      ctx.log(`istiod: ${plan.streams} sidecars of ${plan.services} services, one connection each, xdskit first`);
      const meshFile = path.join(dir, "mesh.yaml");
      fs.writeFileSync(meshFile, meshYaml(world));
      const pilot = await startServerProcess("source-server", {
        kind: "file",
        path: meshFile,
        services: plan.services,
      });
      let X: SourceRun;
      try {
        X = await runSourceWorld(
          pilot,
          { ...common, subscriptions: sidecarSubscriptions(plan.services) },
          fileEdits(world, meshFile, `${meshFile}.tmp`, meshYaml),
          log("xdskit"),
        );
      } finally {
        await pilot.stop();
      }

      const configDir = path.join(dir, "istio-config");
      fs.mkdirSync(configDir);
      const entries = path.join(configDir, "services.yaml");
      fs.writeFileSync(entries, serviceEntriesYaml(world));
      const logFile = path.join(dir, "istiod.log");
      const istiod = await startIstiod(binary.path, configDir, logFile);
      let I: SourceRun;
      try {
        I = await runSourceWorld(
          istiod,
          { ...common, subscriptions: istioSidecarSubscriptions(plan.services) },
          // Renamed in from outside the folder: istiod reads every file in it.
          fileEdits(world, entries, path.join(dir, "services.yaml.tmp"), serviceEntriesYaml),
          log("istiod"),
        );
      } catch (err) {
        const tail = fs.readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n");
        throw new Error(`${err instanceof Error ? err.message : String(err)}\nistiod's last lines:\n${tail}`);
      } finally {
        await istiod.stop();
      }
      // The memory floor: a bare grpc-js server holding the same connections.
      const floor = await runFloor(
        {
          streams: plan.streams,
          subscriptions: sidecarSubscriptions(plan.services),
          node: common.node,
          streamsPerChannel: 1,
          reopenAfterMs: common.reopenAfterMs,
        },
        { ...plan, endpoints: 2, changes: 0 },
        log("floor"),
      );
      return figures(plan, X, I, floor.rss);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};

function figures(plan: OperatorPlan, X: SourceRun, I: SourceRun, floorRss: number): Figure[] {
  const params = {
    services: plan.services,
    sidecars: plan.streams,
    connections: plan.streams,
    changes: plan.changes,
    via: "file edit",
  };
  const istiod = (value: number) => ({ name: "istiod (pilot-discovery, ServiceEntries in --configDir)", value });
  const row = (metric: string, unit: string, x: number, i: number, target?: string) =>
    figure({ scenario: "istiod", metric, params, value: x, unit, baseline: istiod(i), ...(target ? { target } : {}) });
  return [
    figure({
      scenario: "istiod",
      metric: "full config at every sidecar",
      // Streams the server ended on the way, opened again after 0.5–1 s.
      params: { ...params, reopened: X.reopened, istiodReopened: I.reopened },
      value: X.fullConfigMs,
      unit: "ms",
      baseline: istiod(I.fullConfigMs),
      target: "<= 0.1x",
    }),
    row(
      "server CPU to full config (independent of how fast the load reads)",
      "ms",
      X.fullConfigCpuMs,
      I.fullConfigCpuMs,
    ),
    // The load process reading xdskit's full config, beside istiod's time: the
    // part of the full-config ratio no server can go below with this load.
    row(
      "CPU of the load process reading xdskit's full config (the floor)",
      "ms",
      X.fullConfigLoadCpuMs,
      I.fullConfigMs,
    ),
    row("RSS settled after full config", "bytes", X.rss, I.rss, "<= 0.1x"),
    // What Node and grpc-js alone take for these connections, beside istiod:
    // the part of the memory ratio no control plane on them can go below.
    row("RSS settled of a bare grpc-js server holding the same connections (the floor)", "bytes", floorRss, I.rss),
    row("peak RSS", "bytes", X.peakRss, I.peakRss),
    row("one-endpoint change → every sidecar: p50 (file watch and debounce included)", "ms", X.churn.p50, I.churn.p50),
    row("one-endpoint change → every sidecar: p99", "ms", X.churn.p99, I.churn.p99, "<= 0.5x"),
    row(`server CPU, one change every ${plan.everyMs} ms`, "cores", X.churn.cores, I.churn.cores, "<= 0.5x"),
    row("server CPU per change", "ms", X.churn.cpuMsPerChange, I.churn.cpuMsPerChange, "<= 0.5x"),
    row("bytes to each sidecar per change", "bytes", X.churn.bytesPerStream, I.churn.bytesPerStream),
  ];
}

export default scenario;
