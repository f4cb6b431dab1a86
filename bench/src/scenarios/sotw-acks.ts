// What a SotW ACK costs the server. Every sidecar ACKs every EDS answer with
// its whole subscription (1,000 names ≈ 30 KB in the 1,000-service world);
// the server must take it at about what reading its bytes costs. 2,000
// sidecars, a connection each, repeat their last EDS ACK; the floor is a
// bare grpc-js server reading the same bytes on the same number of
// connections and dropping them, in the same run.
import { TypeUrl } from "@xdskit/xds-types";
import { type ProcessStats, type ServerProcess, profileWindow, startServerProcess } from "../child.js";
import { type Figure, type Scenario, figure } from "../figure.js";
import { type LoadClient, startLoads } from "../load.js";
import { sidecarId, sidecarSubscriptions } from "../mesh.js";
import { toFullConfig } from "./mesh-runs.js";

interface AckRun {
  readonly cpuUsPerAck: number;
  readonly bytesPerAck: number;
  readonly peakRss: number;
}

const cpuOf = async (server: ServerProcess) => (await server.request<{ cpuMs: number }>("cpu")).cpuMs;

// Waits until the server has used under 5 ms of CPU in 250 ms (it has read
// everything sent), at most `timeoutMs`; returns its CPU then.
async function quietCpu(server: ServerProcess, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = await cpuOf(server);
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await cpuOf(server);
    if (now - last < 5 || Date.now() > deadline) return now;
    last = now;
  }
}

async function measure(server: ServerProcess, load: LoadClient, times: number, timeoutMs: number): Promise<AckRun> {
  const cpu0 = await quietCpu(server, timeoutMs);
  await profileWindow(server, true);
  const sent = await load.replay(TypeUrl.ClusterLoadAssignment, times, timeoutMs);
  const cpu1 = await quietCpu(server, timeoutMs);
  await profileWindow(server, false);
  const stats = await server.request<ProcessStats>("stats");
  return {
    cpuUsPerAck: ((cpu1 - cpu0) * 1000) / sent.acks,
    bytesPerAck: sent.bytes / sent.acks,
    peakRss: stats.peakRss,
  };
}

const scenario: Scenario = {
  name: "sotw-acks",
  description:
    "2,000 sidecars repeating a 1,000-name EDS ACK: server CPU per ACK vs a bare grpc-js server reading them",
  async run(ctx) {
    const services = ctx.quick ? 100 : 1000;
    const streams = ctx.quick ? 50 : 2000;
    const times = ctx.quick ? 4 : 10;
    const timeoutMs = ctx.quick ? 60_000 : 240_000;
    const plan = {
      streams,
      subscriptions: sidecarSubscriptions(services),
      node: { ids: Array.from({ length: streams }, (_, n) => sidecarId(n, 2)), cluster: "mesh" },
      streamsPerChannel: 1,
      openPerSecond: 2000,
    };
    ctx.log(`sotw-acks: ${streams} sidecars × ${times} ACKs of ${services} names`);
    const pilot = await startServerProcess("mesh-server", { services, endpoints: 2 });
    let X: AckRun;
    try {
      const full = await toFullConfig(pilot, plan, timeoutMs);
      try {
        X = await measure(pilot, full.load, times, timeoutMs);
      } finally {
        await full.load.stop();
      }
    } finally {
      await pilot.stop();
    }
    const floor = await startServerProcess("floor-server", { services: 1, endpoints: 1 });
    let F: AckRun;
    try {
      const load = startLoads({ ...plan, target: `127.0.0.1:${floor.port}` }, 1);
      try {
        const deadline = Date.now() + timeoutMs;
        while ((await floor.request<{ connections: number }>("status")).connections < streams) {
          if (Date.now() > deadline) throw new Error(`the floor server saw fewer than ${streams} streams`);
          await new Promise((r) => setTimeout(r, 100));
        }
        F = await measure(floor, load, times, timeoutMs);
      } finally {
        await load.stop();
      }
    } finally {
      await floor.stop();
    }
    const params = { services, sidecars: streams, connections: streams, acks: streams * times };
    const base = "bare grpc-js server reading the same ACKs";
    const figures: Figure[] = [
      figure({
        scenario: "sotw-acks",
        metric: `server CPU per repeated EDS ACK (${services} names, ${Math.round(X.bytesPerAck)} bytes)`,
        params,
        value: X.cpuUsPerAck,
        unit: "µs",
        baseline: { name: base, value: F.cpuUsPerAck },
        target: "about 1x (wire cost)",
      }),
      figure({
        scenario: "sotw-acks",
        metric: "server peak RSS (with the world and every sidecar served)",
        params,
        value: X.peakRss,
        unit: "bytes",
        baseline: { name: base, value: F.peakRss },
      }),
    ];
    return figures;
  },
};

export default scenario;
