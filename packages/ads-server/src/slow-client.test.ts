import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "@grpc/grpc-js";
import { edsCluster } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { startServer } from "./testing/harness.js";
import { RawStream, rawClient, testNode } from "./testing/raw-client.js";

const CDS = TypeUrl.Cluster;
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
    env.server.on("push", () => pushes++);
    const s = new RawStream(client);
    s.send({ node: testNode("slow"), typeUrl: CDS });
    const first = await s.next();
    s.ack(first);
    await s.none(100);
    s.call.pause();
    const id = env.server.connections.byNodeId("slow")[0]?.id ?? "";
    const pushesBefore = pushes;
    let maxPending = 0;
    for (let i = 0; i < 1000; i++) {
      env.registry.updateResources("slow", CDS, {
        upsert: [
          edsCluster(`outbound|8080||service-number-${i % 2000}.namespace.svc.cluster.local`, {
            connectTimeoutSeconds: 10 + i,
          }),
        ],
      });
      if (i % 20 === 0) await tick();
      maxPending = Math.max(maxPending, env.server.connections.get(id)?.pendingResponses ?? 0);
    }
    await tick();
    const latest = env.registry.getSnapshot("slow")?.get(CDS)?.version;
    assert.ok(maxPending <= 1, `pending responses grew to ${maxPending}`);
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
});
