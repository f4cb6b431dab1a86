import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "@grpc/grpc-js";
import { world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { startServer } from "./testing/harness.js";
import { RawDeltaStream, RawStream, rawClient, testNode } from "./testing/raw-client.js";

describe("connection churn", () => {
  let env: Awaited<ReturnType<typeof startServer>>;
  let client: Client;
  before(async () => {
    env = await startServer();
    client = rawClient(env.port);
    env.registry.setSnapshot("churn", world(5));
  });
  after(async () => {
    client.close();
    await env.close();
  });

  it("1,000 streams connecting and leaving leave no connection or watch behind", async () => {
    let connects = 0;
    let disconnects = 0;
    env.server.on("connect", () => connects++);
    env.server.on("disconnect", () => disconnects++);
    for (let batch = 0; batch < 10; batch++) {
      const streams = Array.from({ length: 100 }, () => new RawStream(client));
      streams.forEach((s, i) => {
        s.send({ node: testNode("churn"), typeUrl: TypeUrl.Cluster });
        // Half subscribe to a second type too, so more than one watch per stream exists.
        if (i % 2 === 0) s.send({ typeUrl: TypeUrl.Listener });
      });
      await Promise.all(streams.map((s) => s.next()));
      assert.ok(env.server.connections.count() >= 100);
      // Half leave politely (half-close), half are cancelled.
      for (const [i, s] of streams.entries()) {
        if (i % 2 === 0) s.close();
        else s.call.cancel();
      }
      await Promise.all(streams.map((s) => s.ended().catch(() => undefined)));
    }
    const deadline = Date.now() + 5000;
    while (env.server.connections.count() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(env.server.connections.count(), 0);
    assert.equal(env.registry.watchCount(), 0);
    assert.equal(connects, 1000);
    assert.equal(disconnects, 1000);
  });

  it("subscription churn holds only live subscriptions, and nothing once the streams close", async () => {
    const before = env.registry.stats();
    const names = (k: number) => Array.from({ length: 200 }, (_, i) => (i < 5 ? `svc-${i}` : `churn-${k}-${i}`));
    // Three streams in turn, each changing its subscription 300 times: every
    // change a distinct set of 200 names.
    for (let stream = 0; stream < 3; stream++) {
      const s = new RawDeltaStream(client);
      s.send({ node: testNode("churn"), typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: names(0) });
      let r = await s.next();
      for (let k = 1; k <= 300; k++) {
        s.ack(r, names(k), names(k - 1));
        r = await s.next();
        if (k % 100 === 0) {
          await new Promise((done) => setImmediate(done));
          const now = env.registry.stats();
          assert.ok(
            now.subscriptions <= before.subscriptions + 2,
            `live subscriptions stay bounded (${now.subscriptions})`,
          );
          assert.ok(now.nameSets <= before.nameSets + 2, `name sets stay bounded (${now.nameSets})`);
        }
      }
      s.close();
      await s.ended().catch(() => undefined);
    }
    const deadline = Date.now() + 5000;
    while (env.server.connections.count() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((done) => setImmediate(done));
    const after = env.registry.stats();
    assert.equal(after.watches, before.watches);
    assert.equal(after.subscriptions, before.subscriptions, "every subscription is released");
    assert.equal(after.nameSets, before.nameSets, "every interned name set is released");
    assert.equal(after.cachedResponses, before.cachedResponses, "no response stays cached for a closed stream");
  });
});
