// The cost of a change in a large world: 10,000 services × 2 endpoints, 200
// proxyless streams. A one-endpoint change should cost what the change is,
// not what the world is: the baseline is the same run on a 1,000-service world.
import { type ProcessStats, startServerProcess } from "../child.js";
import { type Figure, type Scenario, figure } from "../figure.js";
import { proxylessSubscriptions } from "../mesh.js";
import { type Convergence, convergence, serverChange, toFullConfig } from "./mesh-runs.js";

async function world(services: number, streams: number, changes: number, everyMs: number, timeoutMs: number) {
  const server = await startServerProcess("mesh-server", { services, endpoints: 2 });
  try {
    const full = await toFullConfig(
      server,
      {
        streams,
        subscriptions: proxylessSubscriptions(services),
        node: { cluster: "large", userAgentName: "gRPC Go" },
      },
      timeoutMs,
    );
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const settled = await server.request<ProcessStats>("stats");
      const churn: Convergence = await convergence(server, full.load, streams, {
        changes,
        everyMs,
        change: serverChange(server, services),
        timeoutMs,
      });
      return { fullMs: full.ms, rss: settled.rss, churn, bytes: full.bytes / streams };
    } finally {
      await full.load.stop();
    }
  } finally {
    await server.stop();
  }
}

const scenario: Scenario = {
  name: "large-world",
  description: "one endpoint change in a 10,000-service world at 200 proxyless streams vs in a 1,000-service world",
  async run(ctx) {
    const large = ctx.quick ? 500 : 10_000;
    const small = ctx.quick ? 50 : 1000;
    const streams = ctx.quick ? 20 : 200;
    const changes = ctx.quick ? 2 : 10;
    const timeout = ctx.quick ? 60_000 : 300_000;
    ctx.log(`large-world: ${large} services, ${streams} streams`);
    const everyMs = ctx.quick ? 300 : 2000;
    const L = await world(large, streams, changes, everyMs, timeout);
    ctx.log(`large-world: ${small} services, ${streams} streams`);
    const S = await world(small, streams, changes, everyMs, timeout);
    const params = { services: large, streams, bytesPerStream: Math.round(L.bytes) };
    const base = `the same with ${small} services`;
    const figures: Figure[] = [
      figure({
        scenario: "large-world",
        metric: "time to full config",
        params,
        value: L.fullMs,
        unit: "ms",
        baseline: { name: base, value: S.fullMs },
      }),
      figure({
        scenario: "large-world",
        metric: "server RSS when settled",
        params,
        value: L.rss,
        unit: "bytes",
        baseline: { name: base, value: S.rss },
        target: "<= 500 MB",
      }),
      figure({
        scenario: "large-world",
        metric: "one-endpoint change: p50 from the source change (debounce 100 ms)",
        params,
        value: L.churn.p50,
        unit: "ms",
        baseline: { name: base, value: S.churn.p50 },
      }),
      figure({
        scenario: "large-world",
        metric: "one-endpoint change: p99",
        params,
        value: L.churn.p99,
        unit: "ms",
        baseline: { name: base, value: S.churn.p99 },
        target: "<= 300 ms",
      }),
      figure({
        scenario: "large-world",
        metric: "server CPU during the changes (one every 2 s)",
        params,
        value: L.churn.cores,
        unit: "cores",
        baseline: { name: base, value: S.churn.cores },
        target: "<= 0.2 core",
      }),
      figure({
        scenario: "large-world",
        metric: "server CPU per change",
        params,
        value: L.churn.cpuMsPerChange,
        unit: "ms",
        baseline: { name: base, value: S.churn.cpuMsPerChange },
      }),
    ];
    return figures;
  },
};

export default scenario;
