import { createAdsServer } from "@xdskit/ads-server";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import { world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { type Scenario, figure } from "../figure.js";
import { startLoad } from "../load.js";
import { gc } from "../measure.js";

function used(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
}

/** Memory per idle ADS stream (subscribed to CDS, up to date), measured in the server process. */
const scenario: Scenario = {
  name: "idle-memory",
  description: "server memory per idle, up-to-date ADS stream",
  async run(ctx) {
    const streams = ctx.quick ? 1000 : 10_000;
    const registry = createSnapshotRegistry({ nodeGroup: () => "idle" });
    registry.setSnapshot("idle", world(5));
    const ads = createAdsServer({ registry });
    const port = await ads.listen();
    const hadGc = gc();
    const before = used();
    ctx.log(`idle-memory: ${streams} streams`);
    const load = startLoad({
      target: `127.0.0.1:${port}`,
      streams,
      streamsPerChannel: 500,
      subscriptions: { [TypeUrl.Cluster]: [] },
    });
    let perStream: number;
    try {
      await load.next("done", 120_000);
      await new Promise((r) => setTimeout(r, 500));
      gc();
      perStream = (used() - before) / streams;
    } finally {
      await load.stop();
      await ads.shutdown(1000);
    }
    return [
      figure({
        scenario: "idle-memory",
        metric: `server memory per idle stream (heap+external${hadGc ? ", after gc" : ", no --expose-gc: noisy"})`,
        params: { streams, streamsPerConnection: 500 },
        value: Math.max(0, perStream),
        unit: "bytes/stream",
        baseline: { name: "target 50 KB", value: 50 * 1024 },
        target: "<= 50 KB",
      }),
    ];
  },
};

export default scenario;
