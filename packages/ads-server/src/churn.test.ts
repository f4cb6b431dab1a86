import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "@grpc/grpc-js";
import { world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { startServer } from "./testing/harness.js";
import { RawStream, rawClient, testNode } from "./testing/raw-client.js";

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
});
