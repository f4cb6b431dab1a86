import { createAdsServer } from "@xdskit/ads-server";
import { assembleDeltaDiscoveryResponse, createSnapshotRegistry, deltaBody } from "@xdskit/snapshot";
import { cla } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { type Figure, type Scenario, figure } from "../figure.js";
import { startFloorServer } from "../floor-server.js";
import { type LoadClient, startLoad } from "../load.js";
import { percentile, until } from "../measure.js";

const EDS = TypeUrl.ClusterLoadAssignment;

/** The initial world: one CLA with 10 endpoints per service. */
function worldOf(names: readonly string[]) {
  return names.map((n, i) => cla(n, 10, 20000 + i * 10));
}

/** The changed CLA of a round: one endpoint of one cluster moves to other ports. */
function changeOf(names: readonly string[], round: number) {
  return cla(names[(round * 37) % names.length] ?? "svc-0", 10, 40000 + round * 10);
}

/** One server with its streams holding the world, ready to be sent changes. */
interface Side {
  readonly load: LoadClient;
  /** Bytes each stream received for the world. */
  readonly worldBytes: number;
  /** Readies the round's change (untimed) and returns what sends it. */
  prepare(round: number): () => void;
  stop(): Promise<void>;
}

/** Per side: ms from the change to each stream's next response, and the bytes of those responses. */
interface Timed {
  readonly latencies: number[];
  readonly bytes: number;
}

/**
 * Times `rounds` changes on every side, the sides taking turns round by round,
 * so a noisy spell of the shared machine falls on all of them alike: each
 * change is timed until every stream of its side has its next response.
 */
async function timeInTurns(sides: readonly Side[], rounds: number, timeout: number): Promise<Timed[]> {
  // Let the initial ACKs land so the change is the only thing on the wire.
  await new Promise((r) => setTimeout(r, 300));
  const out = sides.map(() => ({ latencies: [] as number[], bytes: 0 }));
  // round -1 is untimed: the first change through a server's change path is
  // also the first its code is compiled for (the floor sends bytes it
  // prepared, so it has none); a running control plane has long done this.
  for (let round = -1; round < rounds; round++) {
    for (const [k, side] of sides.entries()) {
      const send = side.prepare(round < 0 ? rounds : round);
      await side.load.mark(timeout);
      const t0 = performance.timeOrigin + performance.now();
      send();
      const marked = await side.load.next("marked", timeout);
      if (round >= 0) {
        for (const at of marked.arrivals) out[k]?.latencies.push(at - t0);
        (out[k] as { bytes: number }).bytes += marked.bytes;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return out;
}

/** `streams` clients subscribed to every CLA of an xdskit server; a change moves one endpoint of one cluster. */
async function xdskitSide(
  protocol: "sotw" | "delta",
  streams: number,
  services: number,
  timeout: number,
): Promise<Side> {
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
  const stop = async () => {
    await load.stop();
    await ads.shutdown(1000);
  };
  try {
    await load.next("subscribed", timeout);
    const done = await load.next("done", timeout);
    return {
      load,
      worldBytes: done.bytes / streams,
      prepare: (round) => () => {
        registry.updateResources("bench", EDS, { upsert: [changeOf(names, round)] });
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The floor: a bare grpc-js server writing the same Delta bytes (world, then each change) to the same kind of client. */
async function floorSide(streams: number, services: number, timeout: number): Promise<Side> {
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
  const stop = async () => {
    await load.stop();
    await floor.stop();
  };
  try {
    await load.next("subscribed", timeout);
    await until("every floor stream to subscribe", () => floor.subscribed() === streams, timeout);
    floor.broadcast([world]);
    const done = await load.next("done", timeout);
    return {
      load,
      worldBytes: done.bytes / streams,
      prepare: (round) => {
        const change = bytesOf([changeOf(names, round)], String(round + 1));
        return () => floor.broadcast([change]);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
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
    // Changes timed per run: a p99 over five is one slow round of a shared machine.
    const rounds = ctx.quick ? 5 : 30;
    const services = ctx.quick ? 200 : 1000;
    const timeout = ctx.quick ? 60_000 : 150_000;
    ctx.log(`churn: ${streams} streams each over Delta, over SotW and to the floor, changes in turns`);
    const sides: Side[] = [];
    let timed: Timed[];
    try {
      sides.push(await xdskitSide("delta", streams, services, timeout));
      sides.push(await xdskitSide("sotw", streams, services, timeout));
      sides.push(await floorSide(streams, services, timeout));
      timed = await timeInTurns(sides, rounds, timeout);
    } finally {
      for (const side of sides) await side.stop();
    }
    const [deltaTimed, sotw, floorTimed] = timed as [Timed, Timed, Timed];
    const delta = {
      ...deltaTimed,
      bytesPerChange: deltaTimed.bytes / rounds / streams,
      worldBytes: (sides[0] as Side).worldBytes,
    };
    const sotwBytesPerChange = sotw.bytes / rounds / streams;
    const floor = floorTimed.latencies;
    const params = { streams, services, endpointsPerCla: 10, changes: rounds };
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
        baseline: { name: "the same change over SotW", value: sotwBytesPerChange },
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
