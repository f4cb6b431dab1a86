// The server-wide budget of bytes in flight: a push to many streams goes in
// waves, never holding more than the budget (plus the one response that may
// always go), and every stream still gets everything.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { startServer } from "./testing/harness.js";
import { RawStream, testNode } from "./testing/raw-client.js";

describe("server-wide send budget", () => {
  it("keeps bytes in flight within the budget while every stream completes", async () => {
    const budget = 256 * 1024;
    const env = await startServer({ maxInFlightBytes: budget });
    env.registry.setSnapshot("g", world(1500, 4));
    const clients = Array.from(
      { length: 4 },
      () =>
        new grpc.Client(`127.0.0.1:${env.port}`, grpc.credentials.createInsecure(), {
          "grpc.use_local_subchannel_pool": 1,
          "grpc.max_receive_message_length": -1,
        }),
    );
    let maxInFlight = 0;
    let maxWaiting = 0;
    let largest = 0;
    env.server.on("push", (e) => {
      largest = Math.max(largest, e.bytes);
      const s = env.server.sendBudget();
      maxInFlight = Math.max(maxInFlight, s.inFlightBytes);
      maxWaiting = Math.max(maxWaiting, s.waitingStreams);
    });
    try {
      const streams = Array.from({ length: 60 }, (_, i) => {
        const s = new RawStream(clients[i % clients.length] as grpc.Client);
        s.send({ node: testNode("g"), typeUrl: TypeUrl.Cluster });
        s.send({
          typeUrl: TypeUrl.ClusterLoadAssignment,
          resourceNames: Array.from({ length: 1500 }, (_, k) => `svc-${k}`),
        });
        return s;
      });
      const got = await Promise.all(streams.map(async (s) => [await s.next(20_000), await s.next(20_000)]));
      for (const [a, b] of got) {
        assert.equal(a?.resources.length, 1500);
        assert.equal(b?.resources.length, 1500);
      }
      assert.ok(maxWaiting > 0, "streams waited their turn");
      assert.ok(
        maxInFlight <= budget + largest,
        `in flight peaked at ${maxInFlight} bytes; budget ${budget} + one response of ${largest}`,
      );
      assert.equal(env.server.sendBudget().inFlightBytes, 0);
      for (const s of streams) s.close();
    } finally {
      for (const c of clients) c.close();
      await env.close();
    }
  });
});
