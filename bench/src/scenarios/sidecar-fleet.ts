// The moonshot: 10,000 Istio-style sidecars of one pilot process, each on a
// connection of its own, from load processes of their own — the 1,000-service
// world with ten endpoints per service, every sidecar the sidecar of one
// endpoint (a pod of the mesh). Two baselines from the same run: the same
// world at 2,000 sidecars (what 5x the fleet costs), and the floor — a bare
// grpc-js server holding the same 10,000 connections, writing each change as
// one prepared EDS response to every stream and reading the same ACKs (what
// the change costs with no control plane at all).
import { type ProcessStats, startServerProcess } from "../child.js";
import { type Figure, type Scenario, figure } from "../figure.js";
import { sidecarId, sidecarSubscriptions } from "../mesh.js";
import { type Convergence, convergence, runFloor, serverChange, toFullConfig } from "./mesh-runs.js";

type Plan = {
  services: number;
  endpoints: number;
  processes: number;
  changes: number;
  everyMs: number;
  timeoutMs: number;
};

const loadPlan = (sidecars: number, plan: Plan) => ({
  streams: sidecars,
  subscriptions: sidecarSubscriptions(plan.services),
  node: { ids: Array.from({ length: sidecars }, (_, n) => sidecarId(n, plan.endpoints)), cluster: "mesh" },
  streamsPerChannel: 1,
  // Pods come up over a few seconds; thousands of connections in one
  // burst overflow the listen queue (Node's backlog is 511).
  openPerSecond: 2000,
});

interface Fleet {
  readonly fullMs: number;
  readonly rss: number;
  readonly heap: number;
  readonly peakRss: number;
  readonly churn: Convergence;
}

async function fleet(sidecars: number, plan: Plan, log: (m: string) => void): Promise<Fleet> {
  const server = await startServerProcess("mesh-server", { services: plan.services, endpoints: plan.endpoints });
  try {
    const full = await toFullConfig(server, { ...loadPlan(sidecars, plan), processes: plan.processes }, plan.timeoutMs);
    try {
      log(`${sidecars} sidecars: full config in ${(full.ms / 1000).toFixed(1)} s`);
      await new Promise((r) => setTimeout(r, 2000));
      const settled = await server.request<ProcessStats>("stats");
      const churn = await convergence(server, full.load, sidecars, {
        changes: plan.changes,
        everyMs: plan.everyMs,
        change: serverChange(server, plan.services),
        timeoutMs: plan.timeoutMs,
      });
      const end = await server.request<ProcessStats>("stats");
      return { fullMs: full.ms, rss: settled.rss, heap: settled.heap, peakRss: end.peakRss, churn };
    } finally {
      await full.load.stop();
    }
  } finally {
    await server.stop();
  }
}

const scenario: Scenario = {
  name: "sidecar-fleet",
  description: "10,000 sidecars on one pilot, a connection each, from several load processes, vs 2,000",
  async run(ctx) {
    const plan = {
      services: ctx.quick ? 50 : 1000,
      endpoints: ctx.quick ? 4 : 10,
      processes: ctx.quick ? 2 : 4,
      changes: ctx.quick ? 2 : 10,
      everyMs: ctx.quick ? 500 : 2000,
      timeoutMs: ctx.quick ? 60_000 : 240_000,
    };
    const big = ctx.quick ? 200 : 10_000;
    const small = ctx.quick ? 40 : 2000;
    const log = (m: string) => ctx.log(`sidecar-fleet: ${m}`);
    const S = await fleet(small, plan, log);
    const B = await fleet(big, plan, log);
    const floor = await runFloor({ ...loadPlan(big, plan), processes: plan.processes }, plan, log);
    const bare = await runFloor(
      { ...loadPlan(big, plan), processes: plan.processes },
      { ...plan, bareHttp2: true },
      log,
    );
    if (!floor.churn || !bare.churn) throw new Error("a floor run made no changes");
    const F = { rss: floor.rss, heap: floor.heap, churn: floor.churn };
    const H = { rss: bare.rss, churn: bare.churn };
    const params = {
      services: plan.services,
      endpointsPerService: plan.endpoints,
      sidecars: big,
      loadProcesses: plan.processes,
    };
    const base = `${small} sidecars`;
    const floorName = `bare grpc-js server, ${big} connections, writing the change as one prepared response`;
    const http2Name = `the same on Node's HTTP/2 alone (gRPC framed by hand, no grpc-js)`;
    const figures: Figure[] = [
      figure({
        scenario: "sidecar-fleet",
        metric: "time until every sidecar has full config",
        params,
        value: B.fullMs,
        unit: "ms",
        baseline: { name: base, value: S.fullMs },
        target: "<= 60 s",
      }),
      figure({
        scenario: "sidecar-fleet",
        metric: "server RSS settled",
        params,
        value: B.rss,
        unit: "bytes",
        baseline: { name: base, value: S.rss },
        target: "<= 1.5 GB",
      }),
      figure({
        scenario: "sidecar-fleet",
        metric: "server peak RSS",
        params,
        value: B.peakRss,
        unit: "bytes",
        baseline: { name: base, value: S.peakRss },
      }),
      figure({
        scenario: "sidecar-fleet",
        metric: "one-endpoint change → every sidecar: p50 (debounce 100 ms included)",
        params: { ...params, changes: plan.changes },
        value: B.churn.p50,
        unit: "ms",
        baseline: { name: base, value: S.churn.p50 },
      }),
      figure({
        scenario: "sidecar-fleet",
        metric: "one-endpoint change → every sidecar: p99",
        params: { ...params, changes: plan.changes },
        value: B.churn.p99,
        unit: "ms",
        baseline: { name: base, value: S.churn.p99 },
        target: "<= 1 s",
      }),
      figure({
        scenario: "sidecar-fleet",
        metric: "of which the server's part: change → its last response handed to HTTP/2 (worst change)",
        params: { ...params, changes: plan.changes },
        value: Math.max(...B.churn.serverLastMs),
        unit: "ms",
        baseline: { name: base, value: Math.max(...S.churn.serverLastMs) },
      }),
      figure({
        scenario: "sidecar-fleet",
        metric: `server CPU, one change every ${plan.everyMs} ms`,
        params: { ...params, changes: plan.changes, bytesPerSidecarPerChange: Math.round(B.churn.bytesPerStream) },
        value: B.churn.cores,
        unit: "cores",
        baseline: { name: base, value: S.churn.cores },
        target: "<= 0.5 core",
      }),
      figure({
        scenario: "sidecar-fleet",
        metric: "server CPU per change, vs the floor",
        params: {
          ...params,
          changes: plan.changes,
          bytesPerSidecarPerChange: Math.round(B.churn.bytesPerStream),
          floorBytesPerSidecarPerChange: Math.round(F.churn.bytesPerStream),
        },
        value: B.churn.cpuMsPerChange,
        unit: "ms",
        baseline: { name: floorName, value: F.churn.cpuMsPerChange },
      }),
      figure({
        scenario: "sidecar-fleet",
        metric: "one-endpoint change → every sidecar: p99, vs the floor",
        params: { ...params, changes: plan.changes },
        value: B.churn.p99,
        unit: "ms",
        baseline: { name: floorName, value: F.churn.p99 },
      }),
      figure({
        scenario: "sidecar-fleet",
        metric: "server RSS settled, vs the floor",
        params,
        value: B.rss,
        unit: "bytes",
        baseline: { name: floorName, value: F.rss },
      }),
      figure({
        scenario: "sidecar-fleet",
        metric: "server JavaScript heap + external memory settled (after a GC), vs the floor",
        params,
        value: B.heap,
        unit: "bytes",
        baseline: { name: floorName, value: F.heap },
      }),
      // The floor's own floor: what an ADS layer of our own on Node's HTTP/2 could reach at best.
      figure({
        scenario: "sidecar-fleet",
        metric: "the floor's CPU per change (bare grpc-js), vs Node's HTTP/2 alone",
        params: { ...params, changes: plan.changes },
        value: F.churn.cpuMsPerChange,
        unit: "ms",
        baseline: { name: http2Name, value: H.churn.cpuMsPerChange },
      }),
      figure({
        scenario: "sidecar-fleet",
        metric: "the floor's RSS settled (bare grpc-js), vs Node's HTTP/2 alone",
        params,
        value: F.rss,
        unit: "bytes",
        baseline: { name: http2Name, value: H.rss },
      }),
    ];
    return figures;
  },
};

export default scenario;
