import { createAdsServer } from "@xdskit/ads-server";
import { assembleDiscoveryResponse, createSnapshotRegistry, sotwBody } from "@xdskit/snapshot";
import { world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { type Figure, type Scenario, figure } from "../figure.js";
import { startFloorServer } from "../floor-server.js";
import { startLoad } from "../load.js";
import { until } from "../measure.js";

const ORDER = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];

/**
 * Fan-out: N streams from a separate process subscribe CDS/EDS/LDS/RDS; one
 * snapshot of 1,000 clusters, 1,000 CLAs × 10 endpoints, 1,000 listeners and
 * routes is set; time until every stream has received everything. The floor is
 * a bare grpc-js server writing the same bytes to the same client.
 */
const scenario: Scenario = {
  name: "fanout",
  description: "push a 1,000-service world to N ADS streams vs a bare grpc-js server sending the same bytes",
  async run(ctx) {
    const streams = Number(process.env.XDSKIT_BENCH_STREAMS) || (ctx.quick ? 100 : 1000);
    const services = ctx.quick ? 200 : 1000;
    const input = world(services, 10);
    const names = Array.from({ length: services }, (_, i) => `svc-${i}`);
    const subscriptions = {
      [TypeUrl.Cluster]: [],
      [TypeUrl.ClusterLoadAssignment]: names,
      [TypeUrl.Listener]: [],
      [TypeUrl.RouteConfiguration]: names,
    };
    const timeout = ctx.quick ? 60_000 : 150_000;

    // xdskit
    const registry = createSnapshotRegistry({ nodeGroup: () => "bench" });
    const ads = createAdsServer({ registry });
    const port = await ads.listen();
    ctx.log(`fanout: ${streams} streams against xdskit`);
    let load = startLoad({ target: `127.0.0.1:${port}`, streams, streamsPerChannel: 100, subscriptions });
    let xdskitMs: number;
    let setMs: number;
    let bytes: number;
    let received: number;
    try {
      await load.next("subscribed", timeout);
      await until("every stream to register", () => ads.connections.count() === streams, timeout);
      // Every stream has asked for every type: the push alone is timed.
      await until("every watch to be armed", () => registry.watchCount() === streams * ORDER.length, timeout);
      const t0 = performance.now();
      registry.setSnapshot("bench", input);
      setMs = performance.now() - t0;
      const done = await load.next("done", timeout);
      xdskitMs = performance.now() - t0;
      bytes = done.bytes;
      received = done.responses;
    } finally {
      await load.stop();
      await ads.shutdown(1000);
    }

    // Floor: the same response bytes, assembled once.
    const snap = registry.getSnapshot("bench");
    const responses = ORDER.map((t, i) => {
      const ts = snap?.get(t);
      return assembleDiscoveryResponse(
        { versionInfo: ts?.version ?? "", typeUrl: t, nonce: String(i + 1) },
        sotwBody([...(ts?.resources.values() ?? [])]),
      );
    });
    const floor = await startFloorServer();
    ctx.log(`fanout: ${streams} streams against the floor`);
    load = startLoad({ target: `127.0.0.1:${floor.port}`, streams, streamsPerChannel: 100, subscriptions });
    let floorMs: number;
    try {
      await load.next("subscribed", timeout);
      await until("every floor stream to subscribe", () => floor.subscribed() === streams, timeout);
      await new Promise((r) => setTimeout(r, 200));
      const t0 = performance.now();
      floor.broadcast(responses);
      await load.next("done", timeout);
      floorMs = performance.now() - t0;
    } finally {
      await load.stop();
      await floor.stop();
    }
    const figures: Figure[] = [
      figure({
        scenario: "fanout",
        metric: "time until every stream has CDS+EDS+LDS+RDS (incl. setSnapshot)",
        params: {
          streams,
          services,
          endpointsPerCla: 10,
          bytesPerStream: Math.round(bytes / streams),
          responsesPerStream: Number((received / streams).toFixed(2)),
        },
        value: xdskitMs,
        unit: "ms",
        baseline: { name: "bare grpc-js server writing the same bytes", value: floorMs },
        target: "<= 1.5x at 1,000 streams",
      }),
      figure({
        scenario: "fanout",
        metric: "of which setSnapshot (encode once)",
        params: { services },
        value: setMs,
        unit: "ms",
      }),
    ];
    return figures;
  },
};

export default scenario;
