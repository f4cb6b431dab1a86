import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createAdsServer } from "@xdskit/ads-server";
import { startServer } from "@xdskit/ads-server/testing";
import { cla, edsCluster, world } from "@xdskit/snapshot/testing";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import { TypeUrl } from "@xdskit/xds-types";
import { type AdsClient, createAdsClient } from "./client.js";
import { dumpConfig } from "./dump.js";

const CDS = TypeUrl.Cluster;
const EDS = TypeUrl.ClusterLoadAssignment;

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const node = (id: string) => ({ id, cluster: "adsc-test", locality: { zone: "a" } });

for (const protocol of ["sotw", "delta"] as const) {
  describe(`adsc client (${protocol})`, () => {
    let env: Awaited<ReturnType<typeof startServer>>;
    const clients: AdsClient[] = [];
    let n = 0;
    const group = () => `${protocol}-${++n}`;
    const connect = (id: string, extra: Partial<Parameters<typeof createAdsClient>[0]> = {}) => {
      const c = createAdsClient({ target: `127.0.0.1:${env.port}`, node: node(id), protocol, ...extra });
      clients.push(c);
      return c;
    };
    before(async () => {
      env = await startServer();
    });
    after(async () => {
      for (const c of clients) c.close();
      await env.close();
    });

    it("subscribes, fills the store, follows updates and the server records the ACKs", async () => {
      const g = group();
      env.registry.setSnapshot(g, world(3));
      const c = connect(g);
      c.subscribe(CDS);
      c.subscribe(EDS, ["svc-0", "svc-1"]);
      await c.synced();
      assert.deepEqual([...c.store.clusters().keys()].sort(), ["svc-0", "svc-1", "svc-2"]);
      assert.deepEqual([...c.store.endpoints().keys()].sort(), ["svc-0", "svc-1"]);
      assert.equal(c.store.clusters().get("svc-0")?.message?.name, "svc-0");

      const updates: string[] = [];
      c.on("update", (u) => updates.push(`${u.typeUrl}:${u.upserted.join(",")}:${u.removed.join(",")}`));
      env.registry.updateResources(g, EDS, { upsert: [cla("svc-1", 3)] });
      env.registry.updateResources(g, CDS, { remove: ["svc-2"] });
      await until(
        "both updates",
        () =>
          c.store.clusters().size === 2 &&
          c.store.endpoints().get("svc-1")?.message?.endpoints[0]?.lbEndpoints.length === 3,
      );
      assert.ok(updates.some((u) => u.startsWith(`${EDS}:svc-1`)));
      assert.ok(updates.some((u) => u.startsWith(CDS) && u.endsWith(":svc-2")));
      await until("the server to record the ACK", () => {
        const types = env.server.connections.byNodeId(g)[0]?.types ?? [];
        return (
          types.length === 2 && types.every((t) => t.ackedVersion !== undefined && t.ackedVersion === t.sentVersion)
        );
      });
    });

    it("a validate hook NACKs with its message, the store keeps the last good config, and a newer version is accepted", async () => {
      const g = group();
      env.registry.setSnapshot(g, { [CDS]: [edsCluster("a")] });
      const nacks: string[] = [];
      const c = connect(g, {
        validate: (u) => (u.resources.some((r) => r.name === "bad") ? `cluster "bad" is not allowed here` : undefined),
      });
      c.on("nack", (e) => nacks.push(e.message));
      c.subscribe(CDS);
      await c.synced();
      env.registry.updateResources(g, CDS, { upsert: [edsCluster("bad")] });
      await until("the NACK", () => nacks.length === 1);
      await until("the server to see it", () =>
        (env.server.connections.byNodeId(g)[0]?.types[0]?.lastNack?.errorMessage ?? "").includes("not allowed"),
      );
      assert.deepEqual([...c.store.clusters().keys()], ["a"], "the rejected config is not applied");
      env.registry.updateResources(g, CDS, { remove: ["bad"], upsert: [edsCluster("b")] });
      await until("the next good version", () => c.store.clusters().has("b"));
      assert.ok(!c.store.clusters().has("bad"));
      assert.equal(nacks.length, 1, "no NACK loop");
    });

    it("reconnects after the server restarts and resubscribes", async () => {
      const registry = createSnapshotRegistry({ nodeGroup: () => "restart" });
      registry.setSnapshot("restart", { [CDS]: [edsCluster("a"), edsCluster("b")], [EDS]: [cla("a"), cla("b")] });
      let server = createAdsServer({ registry });
      const port = await server.listen("127.0.0.1:0");
      const c = createAdsClient({
        target: `127.0.0.1:${port}`,
        node: node(`restart-${protocol}`),
        protocol,
        backoff: { initialMs: 50, maxMs: 200 },
      });
      clients.push(c);
      const disconnects: number[] = [];
      c.on("disconnected", (e) => disconnects.push(e.retryInMs ?? -1));
      c.subscribe(CDS);
      c.subscribe(EDS, ["a", "b"]);
      await c.synced();
      const bVersion = c.store.endpoints().get("b")?.version;
      await server.shutdown(500);

      // While it is down: b's endpoints change.
      registry.updateResources("restart", EDS, { upsert: [cla("b", 4)] });
      const upserts: string[][] = [];
      c.on("update", (u) => {
        if (u.typeUrl === EDS) upserts.push([...u.upserted]);
      });
      server = createAdsServer({ registry });
      await until("the port to be free again", () => true);
      await server.listen(`127.0.0.1:${port}`);
      try {
        await until(
          "the changed endpoints after the reconnect",
          () => c.store.endpoints().get("b")?.message?.endpoints[0]?.lbEndpoints.length === 4,
        );
        assert.ok(disconnects.length >= 1 && disconnects.every((d) => d >= 0), "it planned a reconnect each time");
        assert.notEqual(c.store.endpoints().get("b")?.version, bVersion);
        if (protocol === "delta") {
          // initial_resource_versions: only what changed comes back.
          assert.deepEqual(upserts[0], ["b"]);
        } else {
          assert.ok(upserts.length >= 1);
        }
      } finally {
        c.close();
        await server.shutdown(500);
      }
    });

    it("dumpConfig follows listeners and clusters to routes and endpoints and returns JSON", async () => {
      const g = group();
      env.registry.setSnapshot(g, world(2));
      const dump = await dumpConfig({ target: `127.0.0.1:${env.port}`, node: node(g), protocol });
      const byType = new Map(dump.configs.map((c) => [c.typeUrl, c.resources.map((r) => r.name)]));
      assert.deepEqual(byType.get(TypeUrl.Listener), ["svc-0", "svc-1"]);
      assert.deepEqual(byType.get(TypeUrl.RouteConfiguration), ["svc-0", "svc-1"]);
      assert.deepEqual(byType.get(CDS), ["svc-0", "svc-1"]);
      assert.deepEqual(byType.get(EDS), ["svc-0", "svc-1"]);
      const l = dump.configs[0]?.resources[0]?.resource as {
        name: string;
        apiListener: { apiListener: { "@type": string } };
      };
      assert.equal(l.name, "svc-0");
      assert.match(l.apiListener.apiListener["@type"], /HttpConnectionManager$/);
    });
  });
}

describe("adsc client options", () => {
  it("refuses a missing target or node id with a clear message", () => {
    assert.throws(() => createAdsClient({ target: "", node: { id: "x" } }), /needs a target/);
    assert.throws(() => createAdsClient({ target: "127.0.0.1:1", node: {} }), /node with an id/);
  });

  it("synced() names the types still waiting when the server is unreachable", async () => {
    const c = createAdsClient({ target: "127.0.0.1:1", node: { id: "x" }, backoff: { initialMs: 20, maxMs: 40 } });
    c.subscribe(CDS);
    await assert.rejects(
      c.synced(300),
      /no response within 300 ms for type\.googleapis\.com\/envoy\.config\.cluster\.v3\.Cluster/,
    );
    c.close();
  });
});

describe("createAdsClient node", () => {
  it("refuses Struct-shaped metadata loudly instead of sending a key named fields", () => {
    assert.throws(
      () =>
        createAdsClient({
          target: "127.0.0.1:1",
          node: { id: "n", metadata: { fields: { A: { kind: { case: "stringValue", value: "x" } } } } },
        }),
      /node\.metadata takes plain JSON/,
    );
  });
});

describe("adsc failover between replicas", () => {
  it("moves to the next server when its stream fails, resubscribes with what it holds, and gets nothing new (Delta)", async () => {
    // Two replicas holding the same config, as two pilots on one store do.
    const a = await startServer();
    const b = await startServer();
    for (const env of [a, b]) env.registry.setSnapshot("replica-test", world(4));
    const c = createAdsClient({
      target: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`],
      node: node("replica-test"),
      protocol: "delta",
      backoff: { initialMs: 50, maxMs: 200 },
    });
    try {
      const connects: string[] = [];
      c.on("connected", (e) => connects.push(e.target));
      c.subscribe(CDS);
      c.subscribe(EDS, ["svc-0", "svc-1"]);
      await c.synced();
      assert.equal(c.target, `127.0.0.1:${a.port}`);
      const got: string[] = [];
      c.on("update", (u) => got.push(...u.upserted, ...u.removed.map((r) => `-${r}`)));
      await a.close();
      await until("the client to move to b", () => connects.includes(`127.0.0.1:${b.port}`), 5000);
      await until("b to hold the client's stream", () => b.server.connections.byNodeId("replica-test").length === 1);
      // Delta: a server with nothing newer than what the client says it holds sends nothing.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(c.target, `127.0.0.1:${b.port}`);
      assert.equal(got.length, 0, `b sent nothing the client already held, got ${got.join(",")}`);
      // And it follows b from now on.
      b.registry.updateResources("replica-test", EDS, { upsert: [cla("svc-1", 5)] });
      await until("b's change", () => got.includes("svc-1"));
    } finally {
      c.close();
      await b.close();
    }
  });

  it("refuses an empty list of servers", () => {
    assert.throws(
      () => createAdsClient({ target: [], node: node("x") }),
      /target must be host:port or a non-empty list/,
    );
  });
});
