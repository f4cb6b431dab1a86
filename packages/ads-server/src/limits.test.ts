// Client-controlled quantities have limits: past one, the client gets
// RESOURCE_EXHAUSTED with a sentence naming the limit, the refusal is
// counted, and other clients never notice.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { cla, world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { createPromMetrics } from "./prom.js";
import { startServer } from "./testing/harness.js";
import { RawDeltaStream, RawStream, rawClient, testNode } from "./testing/raw-client.js";

const EDS = TypeUrl.ClusterLoadAssignment;

async function refusals(metrics: ReturnType<typeof createPromMetrics>, reason: string): Promise<number> {
  const m = await metrics.registry.getSingleMetric("pilot_xds_refused")?.get();
  return m?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

function ownConnection(port: number): grpc.Client {
  return new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
  });
}

describe("limits", () => {
  it("a Delta stream cannot grow its subscription past maxSubscribedNamesPerStream", async () => {
    const metrics = createPromMetrics();
    const env = await startServer({ maxSubscribedNamesPerStream: 2_500, metrics });
    env.registry.setSnapshot("g", world(3));
    const client = rawClient(env.port);
    try {
      const bystander = new RawDeltaStream(client);
      bystander.send({ node: testNode("g"), typeUrl: EDS, resourceNamesSubscribe: ["svc-0"] });
      bystander.ack(await bystander.next());

      const s = new RawDeltaStream(client);
      const batch = (k: number) => Array.from({ length: 1_000 }, (_, i) => `name-${k}-${i}`);
      s.send({ node: testNode("g"), typeUrl: EDS, resourceNamesSubscribe: batch(0) });
      let r = await s.next();
      assert.equal(r.removedResources.length, 1_000, "names that do not exist are reported as such");
      s.ack(r, batch(1));
      r = await s.next();
      s.ack(r, batch(2));
      const st = await s.ended();
      assert.equal(st.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(st.details, /subscribed to 3000 EDS names; the limit is 2500 per type/);
      assert.equal(await refusals(metrics, "max_subscribed_names"), 1);

      // Unsubscribing keeps a stream under the limit however long it runs.
      const u = new RawDeltaStream(client);
      u.send({ node: testNode("g"), typeUrl: EDS, resourceNamesSubscribe: batch(0) });
      r = await u.next();
      for (let k = 1; k < 6; k++) {
        u.ack(r, batch(k), batch(k - 1));
        r = await u.next();
      }
      u.close();

      env.registry.updateResources("g", EDS, { upsert: [cla("svc-0", 2)] });
      const b = await bystander.next();
      assert.deepEqual(
        b.resources.map((x) => x.name),
        ["svc-0"],
        "the bystander still gets its updates",
      );
      bystander.close();
    } finally {
      client.close();
      await env.close();
    }
  });

  it("refuses streams past maxStreamsPerConnection, and admits again when one ends", async () => {
    const metrics = createPromMetrics();
    const env = await startServer({ maxStreamsPerConnection: 3, metrics });
    env.registry.setSnapshot("g", world(1));
    const client = ownConnection(env.port);
    try {
      const open = [];
      for (let i = 0; i < 3; i++) {
        const s = new RawStream(client);
        s.send({ node: testNode("g"), typeUrl: TypeUrl.Cluster });
        await s.next();
        open.push(s);
      }
      const extra = new RawStream(client);
      extra.send({ node: testNode("g"), typeUrl: TypeUrl.Cluster });
      const st = await extra.ended();
      assert.equal(st.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(st.details, /at most 3 xDS streams/);
      assert.equal(await refusals(metrics, "max_streams_per_connection"), 1);
      open[0]?.close();
      await open[0]?.ended().catch(() => undefined);
      const deadline = Date.now() + 3000;
      while (env.server.connections.count() > 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const again = new RawStream(client);
      again.send({ node: testNode("g"), typeUrl: TypeUrl.Cluster });
      assert.equal((await again.next()).resources.length, 1);
      for (const s of [again, ...open.slice(1)]) s.close();
    } finally {
      client.close();
      await env.close();
    }
  });

  it("refuses streams from connections past maxConnections", async () => {
    const metrics = createPromMetrics();
    const env = await startServer({ maxConnections: 2, metrics });
    env.registry.setSnapshot("g", world(1));
    const clients = [0, 1, 2].map(() => ownConnection(env.port));
    try {
      const first = clients.slice(0, 2).map((c) => {
        const s = new RawStream(c);
        s.send({ node: testNode("g"), typeUrl: TypeUrl.Cluster });
        return s;
      });
      await Promise.all(first.map((s) => s.next()));
      assert.equal(env.server.clientConnectionCount(), 2);
      const third = new RawStream(clients[2] as grpc.Client);
      third.send({ node: testNode("g"), typeUrl: TypeUrl.Cluster });
      const st = await third.ended();
      assert.equal(st.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(st.details, /at most 2 client connections/);
      assert.equal(await refusals(metrics, "max_connections"), 1);
      // A second stream on a connection already counted is fine.
      const more = new RawStream(clients[0] as grpc.Client);
      more.send({ node: testNode("g"), typeUrl: TypeUrl.Cluster });
      await more.next();
      for (const s of [...first, more]) s.close();
    } finally {
      for (const c of clients) c.close();
      await env.close();
    }
  });
});
