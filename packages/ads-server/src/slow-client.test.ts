import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "@grpc/grpc-js";
import { edsCluster, world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { startServer } from "./testing/harness.js";
import { RawStream, rawClient, testNode } from "./testing/raw-client.js";

const CDS = TypeUrl.Cluster;
const EDS = TypeUrl.ClusterLoadAssignment;
const LDS = TypeUrl.Listener;
const RDS = TypeUrl.RouteConfiguration;
const tick = () => new Promise((r) => setImmediate(r));

describe("a client that stops reading", () => {
  let env: Awaited<ReturnType<typeof startServer>>;
  let client: Client;
  before(async () => {
    env = await startServer();
    client = rawClient(env.port);
  });
  after(async () => {
    client.close();
    await env.close();
  });

  it("holds at most one pending response, then receives only the latest version", async () => {
    // Big responses (~2,000 clusters) so flow control bites quickly.
    const clusters = Array.from({ length: 2000 }, (_, i) =>
      edsCluster(`outbound|8080||service-number-${i}.namespace.svc.cluster.local`),
    );
    env.registry.setSnapshot("slow", { [CDS]: clusters });
    let pushes = 0;
    let largest = 0;
    env.server.on("push", (e) => {
      pushes++;
      largest = Math.max(largest, e.bytes);
    });
    const s = new RawStream(client);
    s.send({ node: testNode("slow"), typeUrl: CDS });
    const first = await s.next();
    s.ack(first);
    await s.none(100);
    s.call.pause();
    const id = env.server.connections.byNodeId("slow")[0]?.id ?? "";
    const pushesBefore = pushes;
    let maxPending = 0;
    let maxInFlight = 0;
    for (let i = 0; i < 1000; i++) {
      env.registry.updateResources("slow", CDS, {
        upsert: [
          edsCluster(`outbound|8080||service-number-${i % 2000}.namespace.svc.cluster.local`, {
            connectTimeoutSeconds: 10 + i,
          }),
        ],
      });
      if (i % 20 === 0) await tick();
      const info = env.server.connections.get(id);
      maxPending = Math.max(maxPending, info?.pendingResponses ?? 0);
      maxInFlight = Math.max(maxInFlight, info?.inFlightBytes ?? 0);
    }
    await tick();
    const latest = env.registry.getSnapshot("slow")?.get(CDS)?.version;
    assert.ok(maxPending <= 1, `pending responses grew to ${maxPending}`);
    // The default budget (1 MiB) plus the one response always let through.
    assert.ok(maxInFlight > 0, "the stopped reader should leave bytes in flight");
    assert.ok(
      maxInFlight <= 1024 * 1024 + largest,
      `in-flight bytes grew to ${maxInFlight}; the budget is 1 MiB plus one ${largest}-byte response`,
    );
    const written = pushes - pushesBefore;
    assert.ok(
      written < 100,
      `flow control should stop writes to a reader that stopped; ${written} of 1000 were written`,
    );
    const heldBefore = process.memoryUsage().heapUsed;
    s.call.resume();
    let last = first;
    let received = 0;
    while (last.versionInfo !== latest) {
      last = await s.next(10_000);
      received++;
      s.ack(last);
    }
    assert.equal(last.versionInfo, latest);
    assert.equal(last.resources.length, 2000);
    assert.ok(received < 100, `the slow client got ${received} responses for 1000 updates`);
    assert.ok(process.memoryUsage().heapUsed - heldBefore < 512 * 1024 * 1024);
    await s.none(200);
    s.close();
  });

  it("lets one response through at a time when each is larger than the budget, still in push order", async () => {
    const small = await startServer({ maxInFlightBytesPerStream: 1 });
    const c = rawClient(small.port);
    try {
      const s = new RawStream(c);
      const names = Array.from({ length: 20 }, (_, i) => `svc-${i}`);
      s.send({ node: testNode("tiny-budget"), typeUrl: RDS, resourceNames: names });
      s.send({ typeUrl: LDS });
      s.send({ typeUrl: EDS, resourceNames: names });
      s.send({ typeUrl: CDS });
      const deadline = Date.now() + 5000;
      while (small.registry.watchCount() < 4 && Date.now() < deadline) await tick();
      assert.equal(small.registry.watchCount(), 4);
      // At each push, only the response just written may be in flight.
      const inFlightAtPush: [number, number][] = [];
      small.server.on("push", (e) => {
        inFlightAtPush.push([small.server.connections.get(e.connection.id)?.inFlightBytes ?? -1, e.bytes]);
      });
      small.registry.setSnapshot("tiny-budget", world(20));
      const got = [await s.next(), await s.next(), await s.next(), await s.next()];
      assert.deepEqual(
        got.map((r) => r.typeUrl),
        [CDS, EDS, LDS, RDS],
      );
      for (const r of got) assert.equal(r.resources.length, 20);
      assert.equal(inFlightAtPush.length, 4);
      for (const [inFlight, bytes] of inFlightAtPush) assert.equal(inFlight, bytes);
      s.close();
    } finally {
      c.close();
      await small.close();
    }
  });
});
