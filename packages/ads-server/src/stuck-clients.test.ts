import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Client } from "@grpc/grpc-js";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import { edsCluster } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { createPromMetrics } from "./prom.js";
import { startServer } from "./testing/harness.js";
import { RawDeltaStream, RawStream, rawClient, testNode } from "./testing/raw-client.js";
import { openStuckStreams } from "./testing/stuck-client.js";

const CDS = TypeUrl.Cluster;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
// Buffers the server wrote and HTTP/2 holds for the client: where a stuck stream's memory lives.
const buffered = () => {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
};

// About 300 KB of clusters per response, so 100 streams hold far more than the
// server-wide budget (4 MiB here) once they stop reading.
function clusters(round: number) {
  return Array.from({ length: 2500 }, (_, i) =>
    edsCluster(`outbound|8080||service-number-${i}.namespace.svc.cluster.local`, {
      connectTimeoutSeconds: 1 + ((i + round) % 7),
    }),
  );
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

describe("clients that never read", () => {
  const metrics = createPromMetrics();
  let env: Awaited<ReturnType<typeof startServer>>;
  let client: Client;
  before(async () => {
    // Every stream shares one group, so every push reaches the stuck streams too.
    const registry = createSnapshotRegistry({ nodeGroup: () => "fleet" });
    env = await startServer({
      registry,
      maxInFlightBytes: 4 * 1024 * 1024,
      stalledAfterMs: 500,
      sendTimeoutMs: 10_000,
      metrics,
    });
    client = rawClient(env.port);
  });
  after(async () => {
    client.close();
    await env.close();
  });

  it("never hold back a healthy client's pushes, and are closed after the send deadline", async () => {
    env.registry.setSnapshot("fleet", { [CDS]: clusters(0) });
    const sotw = openStuckStreams({ port: env.port, count: 80, typeUrls: [CDS] });
    const delta = openStuckStreams({ port: env.port, count: 20, typeUrls: [CDS], protocol: "delta" });
    const healthy = new RawStream(client);
    healthy.send({ node: testNode("healthy"), typeUrl: CDS });
    let got = await healthy.next(10_000);
    healthy.ack(got);
    const healthyDelta = new RawDeltaStream(client);
    healthyDelta.send({ node: testNode("healthy-delta"), typeUrl: CDS });
    let gotDelta = await healthyDelta.next(10_000);
    healthyDelta.ack(gotDelta);
    await until("all 102 streams registered", () => env.server.connections.count() === 102, 10_000);

    const before = buffered();
    let stalledSeen = 0;
    let maxStalledBytes = 0;
    for (let round = 1; round <= 30; round++) {
      env.registry.setSnapshot("fleet", { [CDS]: clusters(round) });
      const want = env.registry.getSnapshot("fleet")?.get(CDS)?.version;
      // Every version reaches the healthy clients within a few seconds of its write.
      const deadline = Date.now() + 3_000;
      while (got.versionInfo !== want) {
        got = await healthy.next(Math.max(1, deadline - Date.now()));
        healthy.ack(got);
      }
      while (gotDelta.systemVersionInfo !== want) {
        gotDelta = await healthyDelta.next(Math.max(1, deadline - Date.now()));
        healthyDelta.ack(gotDelta);
      }
      const stalled = env.server.connections.list().filter((c) => c.stalledMs !== undefined && c.stalledMs > 0);
      stalledSeen = Math.max(stalledSeen, stalled.length);
      for (const c of stalled) maxStalledBytes = Math.max(maxStalledBytes, c.inFlightBytes);
      await sleep(20);
    }
    const stuck = buffered();
    // What the server counts as written and not yet drained by the stuck streams.
    const held = env.server.connections.list().reduce((n, c) => n + c.inFlightBytes, 0);
    assert.ok(stalledSeen >= 90, `the stuck streams show as stalled on the connection list (${stalledSeen} did)`);
    // A stalled stream holds its own cap (1 MiB) plus the one response always let through.
    assert.ok(maxStalledBytes <= 1024 * 1024 + 400_000, `a stalled stream held ${maxStalledBytes} bytes`);

    // The send deadline closes all 100 stuck streams; the healthy ones stay.
    await until("the stuck streams closed", () => env.server.connections.count() === 2, 15_000);
    await until("the stuck clients saw their streams end", () => sotw.ended() + delta.ended() === 100, 5_000);
    const budget = env.server.sendBudget();
    assert.equal(budget.inFlightBytes, 0, "no bytes left counted in the budget");
    assert.equal(budget.waitingStreams, 0);
    const text = await metrics.registry.metrics();
    assert.match(text, /pilot_xds_refused\{reason="send_timeout"\} 100/);
    assert.match(text, /pilot_xds_send_errors\{type="CDS"\} 100/);
    // The memory the stuck streams held comes back.
    await sleep(100);
    const freed = buffered();
    assert.ok(held > 100 * 120_000, `the stuck streams held ${held} bytes`);
    assert.ok(freed < before + 8 * 1024 * 1024, `buffers: ${before} at the start, ${stuck} stuck, ${freed} after`);
    sotw.close();
    delta.close();

    // The healthy clients still get the next push.
    env.registry.setSnapshot("fleet", { [CDS]: clusters(99) });
    got = await healthy.next(3_000);
    assert.equal(got.versionInfo, env.registry.getSnapshot("fleet")?.get(CDS)?.version);
    healthy.close();
    healthyDelta.close();
  });
});
