import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Client, Server, ServerCredentials, status } from "@grpc/grpc-js";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import { world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import client from "prom-client";
import { createAdsServer } from "./index.js";
import { createPromMetrics } from "./prom.js";
import { startServer } from "./testing/harness.js";
import { RawStream, rawClient, testNode } from "./testing/raw-client.js";

describe("server lifecycle", () => {
  it("graceful shutdown closes streams with UNAVAILABLE (clients reconnect) and stops the server", async () => {
    const env = await startServer();
    env.registry.setSnapshot("n", world(2));
    const c: Client = rawClient(env.port);
    const s = new RawStream(c);
    s.send({ node: testNode("n"), typeUrl: TypeUrl.Cluster });
    await s.next();
    await env.server.shutdown(2000);
    const st = await s.ended();
    assert.equal(st.code, status.UNAVAILABLE);
    assert.match(st.details, /shutting down/);
    assert.equal(env.server.connections.count(), 0);
    assert.equal(env.registry.watchCount(), 0);
    const again = new RawStream(c);
    again.send({ node: testNode("n"), typeUrl: TypeUrl.Cluster });
    const st2 = await again.ended(5000);
    assert.equal(st2.code, status.UNAVAILABLE, "nothing listens any more");
    c.close();
  });

  it("registers on a host's server, and disconnect() closes one stream", async () => {
    const host = new Server();
    const registry = createSnapshotRegistry();
    const ads = createAdsServer({ registry, server: host });
    const port = await new Promise<number>((res, rej) =>
      host.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
    await assert.rejects(() => ads.listen(), /registered on a host server/);
    registry.setSnapshot("h", world(1));
    const c = rawClient(port);
    const s = new RawStream(c);
    s.send({ node: testNode("h"), typeUrl: TypeUrl.Listener });
    await s.next();
    const id = ads.connections.byNodeId("h")[0]?.id ?? "";
    assert.equal(ads.connections.disconnect(id, "rebalancing"), true);
    assert.equal(ads.connections.disconnect("no-such-id"), false);
    const st = await s.ended();
    assert.equal(st.code, status.UNAVAILABLE);
    assert.equal(st.details, "rebalancing");
    c.close();
    await new Promise<void>((r) => host.tryShutdown(() => r()));
  });

  it("the prom-client adapter counts streams, pushes and rejects on its own registry only", async () => {
    const metrics = createPromMetrics();
    const env = await startServer({ metrics });
    env.registry.setSnapshot("m", world(1));
    const c = rawClient(env.port);
    const s = new RawStream(c);
    s.send({ node: testNode("m"), typeUrl: TypeUrl.Cluster });
    const r = await s.next();
    s.send({ typeUrl: TypeUrl.Cluster, responseNonce: r.nonce, errorDetail: { code: 3, message: "no" } });
    await s.none(150);
    const text = await metrics.registry.metrics();
    assert.match(text, /^pilot_xds 1$/m);
    assert.match(text, /^pilot_xds_pushes\{type="CDS"\} 1$/m);
    assert.match(text, /^pilot_total_xds_rejects\{type="CDS"\} 1$/m);
    assert.match(text, /pilot_xds_push_time_bucket/);
    assert.equal(await client.register.getSingleMetricAsString("pilot_xds").catch(() => "absent"), "absent");
    s.close();
    c.close();
    await env.close();
  });

  it("refuses bad options with a clear error", () => {
    assert.throws(() => createAdsServer({} as never), /needs a registry/);
    assert.throws(
      () => createAdsServer({ registry: createSnapshotRegistry(), maxResourceNamesPerRequest: 0 }),
      /maxResourceNamesPerRequest must be positive/,
    );
    assert.throws(
      () => createAdsServer({ registry: createSnapshotRegistry(), maxInFlightBytesPerStream: -1 }),
      /maxInFlightBytesPerStream must be positive, got -1/,
    );
  });
});
