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
    const churnParams = { ...params, changes: plan.changes };
    const bytes = { bytesPerSidecarPerChange: Math.round(B.churn.bytesPerStream) };
    // One figure of the 10,000-sidecar run (or of a floor) beside a baseline of the same run.
    const row = (
      metric: string,
      unit: string,
      value: number,
      baseline: { name: string; value: number },
      extra: { params?: Readonly<Record<string, string | number | boolean>>; target?: string } = {},
    ): Figure =>
      figure({ scenario: "sidecar-fleet", metric, params: extra.params ?? params, value, unit, baseline, ...extra });
    const atSmall = (value: number) => ({ name: base, value });
    const atFloor = (value: number) => ({ name: floorName, value });
    const figures: Figure[] = [
      row("time until every sidecar has full config", "ms", B.fullMs, atSmall(S.fullMs), { target: "<= 60 s" }),
      row("server RSS settled", "bytes", B.rss, atSmall(S.rss), { target: "<= 1.5 GB" }),
      row("server peak RSS", "bytes", B.peakRss, atSmall(S.peakRss)),
      row(
        "one-endpoint change → every sidecar: p50 (debounce 100 ms included)",
        "ms",
        B.churn.p50,
        atSmall(S.churn.p50),
        { params: churnParams },
      ),
      row("one-endpoint change → every sidecar: p99", "ms", B.churn.p99, atSmall(S.churn.p99), {
        params: churnParams,
        target: "<= 1 s",
      }),
      row(
        "of which the server's part: change → its last response handed to HTTP/2 (worst change)",
        "ms",
        Math.max(...B.churn.serverLastMs),
        atSmall(Math.max(...S.churn.serverLastMs)),
        { params: churnParams },
      ),
      row(`server CPU, one change every ${plan.everyMs} ms`, "cores", B.churn.cores, atSmall(S.churn.cores), {
        params: { ...churnParams, ...bytes },
        target: "<= 0.5 core",
      }),
      row("server CPU per change, vs the floor", "ms", B.churn.cpuMsPerChange, atFloor(F.churn.cpuMsPerChange), {
        params: { ...churnParams, ...bytes, floorBytesPerSidecarPerChange: Math.round(F.churn.bytesPerStream) },
      }),
      row("one-endpoint change → every sidecar: p99, vs the floor", "ms", B.churn.p99, atFloor(F.churn.p99), {
        params: churnParams,
      }),
      row("server RSS settled, vs the floor", "bytes", B.rss, atFloor(F.rss)),
      row(
        "server JavaScript heap + external memory settled (after a GC), vs the floor",
        "bytes",
        B.heap,
        atFloor(F.heap),
      ),
      // The floor's own floor: what an ADS layer of our own on Node's HTTP/2 could reach at best.
      row(
        "the floor's CPU per change (bare grpc-js), vs Node's HTTP/2 alone",
        "ms",
        F.churn.cpuMsPerChange,
        { name: http2Name, value: H.churn.cpuMsPerChange },
        { params: churnParams },
      ),
      row("the floor's RSS settled (bare grpc-js), vs Node's HTTP/2 alone", "bytes", F.rss, {
        name: http2Name,
        value: H.rss,
      }),
    ];
    return figures;
  },
};

export default scenario;
