// A fleet reconnecting at once (a pilot restart behind a Service, a replica
// killed, a network blip): every sidecar reconnects saying what it holds.
// The cost of that storm is measured against the fleet's first connect in
// the same run: bytes sent, time until every stream is settled, server CPU.
import { type ProcessStats, type ServerProcess, startServerProcess } from "../child.js";
import { type Figure, type Scenario, figure } from "../figure.js";
import { type LoadClient, startLoad } from "../load.js";
import { sidecarId, sidecarSubscriptions } from "../mesh.js";

interface Sent {
  readonly responses: number;
  readonly bytes: number;
  readonly resumed: number;
  readonly connections: number;
}

interface Phase {
  readonly ms: number;
  readonly bytes: number;
  readonly responses: number;
  readonly cpuMs: number;
  readonly resumed: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Waits until every stream is registered and no response has gone out for `quietMs`.
async function settle(server: ServerProcess, streams: number, quietMs: number, timeoutMs: number): Promise<Sent> {
  const deadline = Date.now() + timeoutMs;
  let last = await server.request<Sent>("sent");
  let quietSince = Date.now();
  for (;;) {
    await sleep(100);
    const now = await server.request<Sent>("sent");
    if (now.responses !== last.responses || now.connections !== streams) quietSince = Date.now();
    last = now;
    if (now.connections === streams && Date.now() - quietSince >= quietMs) return now;
    if (Date.now() > deadline) throw new Error(`reconnect-storm: not settled within ${timeoutMs} ms`);
  }
}

async function storm(protocol: "sotw" | "delta", services: number, streams: number, timeoutMs: number) {
  const server = await startServerProcess("mesh-server", { services, endpoints: 2 });
  let load: LoadClient | undefined;
  const quietMs = 1000;
  try {
    const measure = async (start: () => Promise<void>): Promise<Phase> => {
      const s0 = await server.request<Sent>("sent");
      const c0 = (await server.request<ProcessStats>("stats")).cpuMs;
      const t0 = performance.now();
      await start();
      const s1 = await settle(server, streams, quietMs, timeoutMs);
      // The quiet period is not part of the time the storm took.
      const ms = performance.now() - t0 - quietMs;
      const c1 = (await server.request<ProcessStats>("stats")).cpuMs;
      return {
        ms,
        bytes: s1.bytes - s0.bytes,
        responses: s1.responses - s0.responses,
        cpuMs: c1 - c0,
        resumed: s1.resumed - s0.resumed,
      };
    };
    const first = await measure(async () => {
      load = startLoad({
        target: `127.0.0.1:${server.port}`,
        streams,
        streamsPerChannel: 100,
        subscriptions: sidecarSubscriptions(services),
        node: { ids: Array.from({ length: streams }, (_, n) => sidecarId(n, 2)), cluster: "mesh" },
        protocol,
        trackHeld: true,
      });
      await load.next("done", timeoutMs);
    });
    const again = await measure(async () => {
      await load?.reconnect(timeoutMs);
    });
    const peakRss = (await server.request<ProcessStats>("stats")).peakRss;
    return { first, again, peakRss };
  } finally {
    await load?.stop();
    await server.stop();
  }
}

const scenario: Scenario = {
  name: "reconnect-storm",
  description: "every sidecar of Istio's load-test world drops and reconnects holding its config, SotW and Delta",
  async run(ctx) {
    const services = ctx.quick ? 100 : 1000;
    const streams = ctx.quick ? 50 : 2000;
    const timeout = ctx.quick ? 60_000 : 300_000;
    const figures: Figure[] = [];
    for (const protocol of ["sotw", "delta"] as const) {
      ctx.log(`reconnect-storm: ${streams} ${protocol} sidecars connect, drop and reconnect`);
      const { first, again, peakRss } = await storm(protocol, services, streams, timeout);
      const params = { services, endpoints: 2, streams, protocol };
      const baseline = (value: number) => ({ name: "the fleet's first connect", value });
      figures.push(
        figure({
          scenario: "reconnect-storm",
          metric: `bytes sent on reconnect (${again.responses} responses; ${again.resumed} types resumed silently)`,
          params,
          value: again.bytes,
          unit: "bytes",
          baseline: baseline(first.bytes),
          target: "<= 0.01x",
        }),
        figure({
          scenario: "reconnect-storm",
          metric: "time until every stream is settled",
          params,
          value: again.ms,
          unit: "ms",
          baseline: baseline(first.ms),
        }),
        figure({
          scenario: "reconnect-storm",
          metric: "server CPU for the storm",
          params,
          value: again.cpuMs,
          unit: "ms",
          baseline: baseline(first.cpuMs),
        }),
        figure({
          scenario: "reconnect-storm",
          metric: "server peak RSS over both",
          params,
          value: peakRss,
          unit: "bytes",
        }),
      );
    }
    return figures;
  },
};

export default scenario;
