// Istio's load-test world: 1,000 services × 2 endpoints, 2,000 Istio-style
// sidecars with distinct IPs (each the sidecar of one endpoint), served by the
// discovery controller with its default builders and debounce.
import { type ProcessStats, startServerProcess } from "../child.js";
import { type Figure, type Scenario, figure } from "../figure.js";
import { proxylessSubscriptions, sidecarId, sidecarSubscriptions } from "../mesh.js";
import { type Convergence, convergence, serverChange, toFullConfig } from "./mesh-runs.js";

interface Side {
  readonly fullMs: number;
  readonly rss: number;
  readonly perStream: number;
  readonly churn: Convergence;
}

async function side(
  kind: "sidecar" | "proxyless",
  services: number,
  streams: number,
  changes: number,
  everyMs: number,
  timeoutMs: number,
): Promise<Side> {
  const server = await startServerProcess("mesh-server", { services, endpoints: 2 });
  const plan = (from: number, count: number) =>
    kind === "sidecar"
      ? {
          streams: count,
          subscriptions: sidecarSubscriptions(services),
          node: { ids: Array.from({ length: count }, (_, n) => sidecarId(from + n, 2)), cluster: "mesh" },
        }
      : {
          streams: count,
          subscriptions: proxylessSubscriptions(services),
          node: { cluster: "mesh", userAgentName: "gRPC Go" },
        };
  try {
    // One stream first, so the world is built and the marginal cost of a stream is what follows.
    const first = await toFullConfig(server, plan(streams, 1), timeoutMs);
    await new Promise((r) => setTimeout(r, 500));
    const before = await server.request<ProcessStats>("stats");
    const full = await toFullConfig(server, plan(0, streams), timeoutMs).finally(() => first.load.stop());
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const settled = await server.request<ProcessStats>("stats");
      const churn = await convergence(server, full.load, streams, {
        changes,
        everyMs,
        change: serverChange(server, services),
        timeoutMs,
      });
      return { fullMs: full.ms, rss: settled.rss, perStream: (settled.heap - before.heap) / streams, churn };
    } finally {
      await full.load.stop();
    }
  } finally {
    await server.stop();
  }
}

const scenario: Scenario = {
  name: "sidecars",
  description: "Istio's load-test world: 2,000 sidecars vs 2,000 proxyless clients of 1,000 services × 2 endpoints",
  async run(ctx) {
    const services = ctx.quick ? 100 : 1000;
    const streams = ctx.quick ? 50 : 2000;
    const changes = ctx.quick ? 2 : 10;
    const timeout = ctx.quick ? 60_000 : 300_000;
    ctx.log(`sidecars: ${streams} sidecars`);
    const everyMs = ctx.quick ? 300 : 2000;
    const s = await side("sidecar", services, streams, changes, everyMs, timeout);
    ctx.log(`sidecars: ${streams} proxyless clients of the same world`);
    const p = await side("proxyless", services, streams, changes, everyMs, timeout);
    const params = { services, endpoints: 2, streams };
    const figures: Figure[] = [
      figure({
        scenario: "sidecars",
        metric: "time until every stream has full config",
        params,
        value: s.fullMs,
        unit: "ms",
        baseline: { name: "the same number of proxyless streams", value: p.fullMs },
        target: "<= 1.5x",
      }),
      figure({
        scenario: "sidecars",
        metric: "server RSS when settled",
        params,
        value: s.rss,
        unit: "bytes",
        baseline: { name: "serving the proxyless streams", value: p.rss },
        target: "<= 500 MB (Istio: 1.5 GB)",
      }),
      figure({
        scenario: "sidecars",
        metric: "server memory per added stream (heap + external after GC)",
        params,
        value: s.perStream,
        unit: "bytes",
        baseline: { name: "per proxyless stream", value: p.perStream },
        target: "<= 50 KB",
      }),
      figure({
        scenario: "sidecars",
        metric: `one-endpoint change every 2 s: p50 from the source change to all streams (debounce 100 ms)`,
        params: { ...params, changes },
        value: s.churn.p50,
        unit: "ms",
        baseline: { name: "proxyless streams", value: p.churn.p50 },
      }),
      figure({
        scenario: "sidecars",
        metric: "one-endpoint change: p99 to all streams",
        params: { ...params, changes },
        value: s.churn.p99,
        unit: "ms",
        baseline: { name: "proxyless streams", value: p.churn.p99 },
        target: "<= 500 ms",
      }),
      figure({
        scenario: "sidecars",
        metric: "server CPU during the changes",
        params: { ...params, changes, bytesPerStreamPerChange: Math.round(s.churn.bytesPerStream) },
        value: s.churn.cores,
        unit: "cores",
        baseline: { name: "proxyless streams", value: p.churn.cores },
        target: "<= 0.5 core",
      }),
    ];
    return figures;
  },
};

export default scenario;
