import { createAdsServer } from "@xdskit/ads-server";
import { assembleDeltaDiscoveryResponse, createSnapshotRegistry, deltaBody } from "@xdskit/snapshot";
import { cla } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { type Figure, type Scenario, figure } from "../figure.js";
import { startFloorServer } from "../floor-server.js";
import { type LoadClient, startLoad } from "../load.js";
import { percentile, until } from "../measure.js";

const EDS = TypeUrl.ClusterLoadAssignment;
const ROUNDS = 5;

interface ChurnResult {
  /** Per stream and round: ms from the registry update to the response's arrival (unsorted). */
  readonly latencies: number[];
  /** Bytes received per stream for one change. */
  readonly bytesPerChange: number;
  /** Bytes received per stream for the initial world. */
  readonly worldBytes: number;
}

/** The initial world: one CLA with 10 endpoints per service. */
function worldOf(names: readonly string[]) {
  return names.map((n, i) => cla(n, 10, 20000 + i * 10));
}

/** The changed CLA of a round: one endpoint of one cluster moves to other ports. */
function changeOf(names: readonly string[], round: number) {
  return cla(names[(round * 37) % names.length] ?? "svc-0", 10, 40000 + round * 10);
}

/**
 * Runs `ROUNDS` changes against streams that already hold the world: each
 * round `prepare` readies the change (untimed) and returns what sends it,
 * which is timed until every stream has its next response.
 */
async function timeChanges(
  load: LoadClient,
  timeout: number,
  prepare: (round: number) => () => void,
): Promise<{ latencies: number[]; bytes: number }> {
  // Let the initial ACKs land so the change is the only thing on the wire.
  await new Promise((r) => setTimeout(r, 300));
  // One change untimed first: the first one through a server's change path
  // is also the first its code is compiled for (the floor sends bytes it
  // prepared, so it has none); a running control plane has long done this.
  const warm = prepare(ROUNDS);
  await load.mark(timeout);
  warm();
  await load.next("marked", timeout);
  await new Promise((r) => setTimeout(r, 100));
  const latencies: number[] = [];
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const send = prepare(round);
    await load.mark(timeout);
    const t0 = performance.timeOrigin + performance.now();
    send();
    const marked = await load.next("marked", timeout);
    for (const at of marked.arrivals) latencies.push(at - t0);
    bytes += marked.bytes;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { latencies, bytes };
}

/** Subscribes `streams` clients to every CLA, then changes one endpoint of one cluster `ROUNDS` times. */
async function churn(
  protocol: "sotw" | "delta",
  streams: number,
  services: number,
  timeout: number,
): Promise<ChurnResult> {
  const names = Array.from({ length: services }, (_, i) => `svc-${i}`);
  const registry = createSnapshotRegistry({ nodeGroup: () => "bench" });
  registry.setSnapshot("bench", { [EDS]: worldOf(names) });
  const ads = createAdsServer({ registry });
  const port = await ads.listen();
  const load = startLoad({
    target: `127.0.0.1:${port}`,
    streams,
    streamsPerChannel: 100,
    subscriptions: { [EDS]: names },
    protocol,
  });
  try {
    await load.next("subscribed", timeout);
    const done = await load.next("done", timeout);
    const { latencies, bytes } = await timeChanges(load, timeout, (round) => () => {
      registry.updateResources("bench", EDS, { upsert: [changeOf(names, round)] });
    });
    return { latencies, bytesPerChange: bytes / ROUNDS / streams, worldBytes: done.bytes / streams };
  } finally {
    await load.stop();
    await ads.shutdown(1000);
  }
}

/** The floor: a bare grpc-js server writing the same Delta bytes (world, then each change) to the same client. */
async function churnFloor(streams: number, services: number, timeout: number): Promise<number[]> {
  const names = Array.from({ length: services }, (_, i) => `svc-${i}`);
  const registry = createSnapshotRegistry();
  const bytesOf = (clas: ReturnType<typeof cla>[], nonce: string) => {
    const ts = registry.setSnapshot("floor", { [EDS]: clas }).get(EDS);
    const list = clas.map((c) => ts?.resources.get(c.clusterName)).filter((r) => r !== undefined);
    return assembleDeltaDiscoveryResponse(
      { systemVersionInfo: ts?.version ?? "", typeUrl: EDS, nonce },
      deltaBody(list),
    );
  };
  const world = bytesOf(worldOf(names), "0");
  const floor = await startFloorServer();
  const load = startLoad({
    target: `127.0.0.1:${floor.port}`,
    streams,
    streamsPerChannel: 100,
    subscriptions: { [EDS]: names },
    protocol: "delta",
  });
  try {
    await load.next("subscribed", timeout);
    await until("every floor stream to subscribe", () => floor.subscribed() === streams, timeout);
    floor.broadcast([world]);
    await load.next("done", timeout);
    const { latencies } = await timeChanges(load, timeout, (round) => {
      const change = bytesOf([changeOf(names, round)], String(round + 1));
      return () => floor.broadcast([change]);
    });
    return latencies;
  } finally {
    await load.stop();
    await floor.stop();
  }
}

/**
 * Endpoint churn: N streams subscribed to every CLA; one endpoint of one
 * cluster changes; time until every stream has it and the bytes it cost, over
 * Delta and, in the same run, over SotW.
 */
const scenario: Scenario = {
  name: "churn",
  description: "one endpoint change reaching N streams subscribed to 1,000 CLAs: Delta vs SotW",
  async run(ctx) {
    const streams = Number(process.env.XDSKIT_BENCH_STREAMS) || (ctx.quick ? 100 : 1000);
    const services = ctx.quick ? 200 : 1000;
    const timeout = ctx.quick ? 60_000 : 150_000;
    ctx.log(`churn: ${streams} Delta streams`);
    const delta = await churn("delta", streams, services, timeout);
    ctx.log(`churn: ${streams} SotW streams`);
    const sotw = await churn("sotw", streams, services, timeout);
    ctx.log(`churn: ${streams} Delta streams against the floor`);
    const floor = await churnFloor(streams, services, timeout);
    const params = { streams, services, endpointsPerCla: 10, changes: ROUNDS };
    const figures: Figure[] = [];
    for (const p of [50, 99]) {
      figures.push(
        figure({
          scenario: "churn",
          metric: `p${p} time until a stream has the changed endpoint (Delta)`,
          params,
          value: percentile(delta.latencies, p),
          unit: "ms",
          baseline: { name: "the same change over SotW", value: percentile(sotw.latencies, p) },
          ...(p === 99 ? { target: "p99 <= 50 ms at 1,000 streams" } : {}),
        }),
      );
    }
    figures.push(
      figure({
        scenario: "churn",
        metric: "p99 time until a stream has the changed endpoint (Delta) vs the floor",
        params,
        value: percentile(delta.latencies, 99),
        unit: "ms",
        baseline: { name: "bare grpc-js server writing the same bytes", value: percentile(floor, 99) },
      }),
      figure({
        scenario: "churn",
        metric: "bytes per stream for one endpoint change (Delta)",
        params: { ...params, worldBytesPerStream: Math.round(delta.worldBytes) },
        value: delta.bytesPerChange,
        unit: "bytes",
        baseline: { name: "the same change over SotW", value: sotw.bytesPerChange },
        target: "proportional to the change, not to the world",
      }),
      figure({
        scenario: "churn",
        metric: "bytes per stream for one change vs the whole world (Delta)",
        params,
        value: delta.bytesPerChange,
        unit: "bytes",
        baseline: { name: "bytes per stream of the initial world", value: delta.worldBytes },
      }),
    );
    return figures;
  },
};

export default scenario;
