// A real @grpc/grpc-js-xds client resolving xds:///echo against xdskit, making
// real calls to real grpc-js backends on loopback.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { apiListener, cla, edsCluster, weightedRoute } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { bootstrap, callEcho, startEcho } from "./testing/echo.js";
import { startServer } from "./testing/harness.js";

const NODE = "grpc-xds-client";

async function callsUntil(
  client: grpc.Client,
  predicate: (seen: string[]) => boolean,
  limitMs = 15_000,
): Promise<string[]> {
  const deadline = Date.now() + limitMs;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = [];
    for (let i = 0; i < 20; i++) {
      try {
        seen.push(await callEcho(client, 2000));
      } catch (err) {
        seen.push(`error:${(err as grpc.ServiceError).code}`);
      }
    }
    if (predicate(seen)) return seen;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`traffic never matched; last 20 calls: ${seen.join(", ")}`);
}

describe("a real grpc-js-xds client", () => {
  let env: Awaited<ReturnType<typeof startServer>>;
  let b1: Awaited<ReturnType<typeof startEcho>>;
  let b2: Awaited<ReturnType<typeof startEcho>>;
  let client: grpc.Client;
  const acks: string[] = [];
  const nacks: string[] = [];

  before(async () => {
    env = await startServer();
    env.server.on("ack", (e) => acks.push(e.typeUrl));
    env.server.on("nack", (e) => nacks.push(e.errorMessage));
    b1 = await startEcho("backend-1");
    b2 = await startEcho("backend-2");
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = bootstrap(env.port, NODE);
    createRequire(import.meta.url)("@grpc/grpc-js-xds").register();
    env.registry.setSnapshot(
      NODE,
      {
        [TypeUrl.Listener]: [apiListener("echo", "echo-route")],
        [TypeUrl.RouteConfiguration]: [weightedRoute("echo-route", "echo", [["echo-a", 100]])],
        [TypeUrl.Cluster]: [edsCluster("echo-a"), edsCluster("echo-b")],
        [TypeUrl.ClusterLoadAssignment]: [cla("echo-a", 1, b1.port), cla("echo-b", 1, b2.port)],
      },
      { consistent: true },
    );
    client = new grpc.Client("xds:///echo", grpc.credentials.createInsecure());
  });

  after(async () => {
    client.close();
    await env.close();
    await b1.stop();
    await b2.stop();
  });

  it("resolves xds:///echo and calls the backend the snapshot names", async () => {
    const seen = await callsUntil(client, (s) => s.every((x) => x === "backend-1"));
    assert.equal(seen.length, 20);
    for (const t of [TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment]) {
      assert.ok(acks.includes(t), `the client ACKed ${t}`);
    }
    assert.deepEqual(nacks, []);
    const conn = env.server.connections.byNodeId(NODE)[0];
    assert.equal(conn?.nodeGroup, NODE);
  });

  it("a new endpoint in the CLA shifts real traffic onto it", async () => {
    const both = cla("echo-a", 1, b1.port);
    const second = cla("echo-a", 1, b2.port).endpoints[0];
    assert.ok(second?.locality);
    second.locality.zone = "b";
    both.endpoints.push(second);
    env.registry.updateResources(NODE, TypeUrl.ClusterLoadAssignment, { upsert: [both] });
    const seen = await callsUntil(client, (s) => s.includes("backend-1") && s.includes("backend-2"));
    assert.ok(seen.every((x) => x === "backend-1" || x === "backend-2"));
  });

  it("a weighted split change moves all traffic to the other cluster", async () => {
    env.registry.updateResources(NODE, TypeUrl.ClusterLoadAssignment, { upsert: [cla("echo-a", 1, b1.port)] });
    env.registry.updateResources(NODE, TypeUrl.RouteConfiguration, {
      upsert: [
        weightedRoute("echo-route", "echo", [
          ["echo-a", 0],
          ["echo-b", 100],
        ]),
      ],
    });
    await callsUntil(client, (s) => s.every((x) => x === "backend-2"));
    assert.deepEqual(nacks, []);
  });
});
