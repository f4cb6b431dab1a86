import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { apiListener, cla, edsCluster, weightedRoute, world } from "@xdskit/snapshot/testing";
import { TypeUrl, decodeResource, findResourceType } from "@xdskit/xds-types";
import type { Client } from "@grpc/grpc-js";
import { startServer } from "./testing/harness.js";
import { RawStream, rawClient, testNode } from "./testing/raw-client.js";

const CDS = TypeUrl.Cluster;
const EDS = TypeUrl.ClusterLoadAssignment;
const LDS = TypeUrl.Listener;
const RDS = TypeUrl.RouteConfiguration;

const names = (r: { resources: { typeUrl: string; value: Uint8Array }[] }) =>
  r.resources.map((a) => findResourceType(a.typeUrl)?.nameOf(decodeResource(a.typeUrl, a.value)) ?? "?").sort();

describe("SotW protocol over ADS", () => {
  let env: Awaited<ReturnType<typeof startServer>>;
  let client: Client;
  let n = 0;
  const group = () => `g${++n}`;
  before(async () => {
    env = await startServer({ controlPlaneId: "xdskit-test" });
    client = rawClient(env.port);
  });
  after(async () => {
    client.close();
    await env.close();
  });

  it("subscribes, answers with a nonce and version, and records the ACK", async () => {
    const g = group();
    env.registry.setSnapshot(g, world(3));
    const s = new RawStream(client);
    const acks: string[] = [];
    const onAck = (e: { typeUrl: string; version: string }) => acks.push(`${e.typeUrl}@${e.version}`);
    env.server.on("ack", onAck);
    s.send({ node: testNode(g), typeUrl: CDS });
    const r = await s.next();
    assert.equal(r.typeUrl, CDS);
    assert.ok(r.nonce);
    assert.equal(r.versionInfo, env.registry.getSnapshot(g)?.get(CDS)?.version);
    assert.equal(r.controlPlane?.identifier, "xdskit-test");
    assert.deepEqual(names(r), ["svc-0", "svc-1", "svc-2"]);
    s.ack(r);
    await s.none(150);
    assert.deepEqual(acks, [`${CDS}@${r.versionInfo}`]);
    const info = env.server.connections.byNodeId(g)[0];
    assert.equal(info?.types[0]?.ackedVersion, r.versionInfo);
    env.server.off("ack", onAck);
    s.close();
  });

  it("a NACK keeps the last good version, is not answered by a resend, and the next version is delivered", async () => {
    const g = group();
    env.registry.setSnapshot(g, { [CDS]: [edsCluster("a")] });
    const s = new RawStream(client);
    const nacks: string[] = [];
    const onNack = (e: { errorMessage: string }) => nacks.push(e.errorMessage);
    env.server.on("nack", onNack);
    s.send({ node: testNode(g), typeUrl: CDS });
    const v1 = await s.next();
    s.ack(v1);
    await s.none(100);
    env.registry.updateResources(g, CDS, { upsert: [edsCluster("b")] });
    const v2 = await s.next();
    assert.deepEqual(names(v2), ["a", "b"]);
    s.send({
      typeUrl: CDS,
      versionInfo: v1.versionInfo,
      responseNonce: v2.nonce,
      errorDetail: { code: 3, message: "cluster b is bad" },
    });
    await s.none(300);
    assert.deepEqual(nacks, ["cluster b is bad"]);
    const state = env.server.connections.byNodeId(g)[0]?.types[0];
    assert.equal(state?.ackedVersion, v1.versionInfo);
    assert.equal(state?.lastNack?.version, v2.versionInfo);
    env.registry.updateResources(g, CDS, { upsert: [edsCluster("b", { connectTimeoutSeconds: 2 })] });
    const v3 = await s.next();
    assert.notEqual(v3.versionInfo, v2.versionInfo);
    env.server.off("nack", onNack);
    s.close();
  });

  it("ignores a request with a stale nonce", async () => {
    const g = group();
    env.registry.setSnapshot(g, { [CDS]: [edsCluster("a")] });
    const s = new RawStream(client);
    s.send({ node: testNode(g), typeUrl: CDS });
    const v1 = await s.next();
    env.registry.updateResources(g, CDS, { upsert: [edsCluster("b")] });
    const v2 = await s.next();
    // An ACK of the older nonce, asking for different names: stale, so ignored entirely.
    s.send({ typeUrl: CDS, versionInfo: v1.versionInfo, responseNonce: v1.nonce, resourceNames: ["a"] });
    await s.none(300);
    const state = env.server.connections.byNodeId(g)[0]?.types[0];
    assert.equal(state?.ackedVersion, undefined);
    assert.equal(state?.wildcard, true);
    s.ack(v2);
    s.close();
  });

  it("serves named subscriptions, and answers a changed name set at the same version", async () => {
    const g = group();
    env.registry.setSnapshot(g, world(3));
    const s = new RawStream(client);
    s.send({ node: testNode(g), typeUrl: CDS, resourceNames: ["svc-1"] });
    const r1 = await s.next();
    assert.deepEqual(names(r1), ["svc-1"]);
    s.ack(r1, ["svc-1", "svc-2"]);
    const r2 = await s.next();
    assert.deepEqual(names(r2), ["svc-1", "svc-2"], "full-state: every subscribed resource");
    assert.equal(r2.versionInfo, r1.versionInfo);
    // Back to the first name set: the same answer as r1, under a nonce never used on this stream.
    s.ack(r2, ["svc-1"]);
    const r3 = await s.next();
    assert.deepEqual(names(r3), ["svc-1"]);
    assert.notEqual(r3.nonce, r1.nonce);
    assert.notEqual(r3.nonce, r2.nonce);
    s.ack(r3, ["svc-1"]);
    await s.none(200);
    // Another stream asking what r3 answered (s holds that subscription) shares its bytes and nonce.
    const other = new RawStream(client);
    other.send({ node: testNode(g), typeUrl: CDS, resourceNames: ["svc-1"] });
    const o1 = await other.next();
    assert.equal(o1.nonce, r3.nonce);
    other.close();
    s.close();
  });

  it("EDS: sends newly named resources only, pushes names that appear later, never twice in one response", async () => {
    const g = group();
    env.registry.setSnapshot(g, { [EDS]: [cla("a"), cla("b")] });
    const s = new RawStream(client);
    s.send({ node: testNode(g), typeUrl: EDS, resourceNames: ["a", "a", "later"] });
    const r1 = await s.next();
    assert.equal(r1.resources.length, 1);
    s.ack(r1, ["a", "later", "b"]);
    const r2 = await s.next();
    assert.equal(r2.resources.length, 1, "only b is new");
    s.ack(r2, ["a", "later", "b"]);
    env.registry.updateResources(g, EDS, { upsert: [cla("later")] });
    const r3 = await s.next();
    assert.equal(r3.resources.length, 1);
    s.ack(r3, ["a", "later", "b"]);
    await s.none(200);
    s.close();
  });

  it("full-state CDS/LDS: a removed resource is left out of the next response", async () => {
    const g = group();
    env.registry.setSnapshot(g, world(2));
    const s = new RawStream(client);
    s.send({ node: testNode(g), typeUrl: LDS });
    const r1 = await s.next();
    assert.equal(r1.resources.length, 2);
    s.ack(r1);
    env.registry.updateResources(g, LDS, { remove: ["svc-0"] });
    const r2 = await s.next();
    assert.deepEqual(names(r2), ["svc-1"]);
    s.close();
  });

  it("legacy wildcard ends once the client names a resource; '*' is wildcard again", async () => {
    const g = group();
    env.registry.setSnapshot(g, world(3));
    const s = new RawStream(client);
    s.send({ node: testNode(g), typeUrl: CDS });
    const r1 = await s.next();
    assert.equal(r1.resources.length, 3);
    s.ack(r1, ["svc-0"]);
    const r2 = await s.next();
    assert.deepEqual(names(r2), ["svc-0"]);
    s.ack(r2, []);
    const r3 = await s.next();
    assert.equal(r3.resources.length, 0, "after naming, an empty list means nothing");
    s.ack(r3, ["*"]);
    const r4 = await s.next();
    assert.equal(r4.resources.length, 3);
    s.close();
  });

  it("pushes CDS, EDS, LDS, RDS in that order when all change at once", async () => {
    const g = group();
    env.registry.setSnapshot(g, world(1));
    const s = new RawStream(client);
    s.send({ node: testNode(g), typeUrl: RDS, resourceNames: ["svc-0"] });
    s.send({ typeUrl: LDS });
    s.send({ typeUrl: EDS, resourceNames: ["svc-0"] });
    s.send({ typeUrl: CDS });
    const first = [await s.next(), await s.next(), await s.next(), await s.next()];
    for (const r of first) s.ack(r, r.typeUrl === EDS || r.typeUrl === RDS ? ["svc-0"] : []);
    await s.none(150);
    // One snapshot changing all four types: the order must be make-before-break.
    env.registry.setSnapshot(g, {
      [RDS]: [
        weightedRoute("svc-0", "svc-0", [
          ["svc-0", 50],
          ["svc-1", 50],
        ]),
      ],
      [LDS]: [apiListener("svc-0"), apiListener("svc-1")],
      [EDS]: [cla("svc-0", 2), cla("svc-1")],
      [CDS]: [edsCluster("svc-0"), edsCluster("svc-1")],
    });
    const order = [await s.next(), await s.next(), await s.next(), await s.next()].map((r) => r.typeUrl);
    assert.deepEqual(order, [CDS, EDS, LDS, RDS]);
    s.close();
  });

  it("sends a cluster removal after the route change that stops using it", async () => {
    const g = group();
    env.registry.setSnapshot(g, {
      [CDS]: [edsCluster("old"), edsCluster("new")],
      [RDS]: [weightedRoute("r", "r", [["old", 100]])],
    });
    const s = new RawStream(client);
    s.send({ node: testNode(g), typeUrl: CDS });
    s.send({ typeUrl: RDS, resourceNames: ["r"] });
    const a = await s.next();
    const b = await s.next();
    s.ack(a, a.typeUrl === RDS ? ["r"] : []);
    s.ack(b, b.typeUrl === RDS ? ["r"] : []);
    await s.none(100);
    env.registry.setSnapshot(g, { [CDS]: [edsCluster("new")], [RDS]: [weightedRoute("r", "r", [["new", 100]])] });
    const order = [await s.next(), await s.next()].map((r) => r.typeUrl);
    assert.deepEqual(order, [RDS, CDS]);
    s.close();
  });

  it("remembers the node when later requests omit it", async () => {
    const g = group();
    env.registry.setSnapshot(g, world(1));
    const s = new RawStream(client);
    s.send({ node: testNode(g), typeUrl: CDS });
    const r = await s.next();
    s.ack(r);
    s.send({ typeUrl: LDS });
    const l = await s.next();
    assert.equal(l.typeUrl, LDS);
    assert.equal(env.server.connections.byNodeId(g)[0]?.nodeGroup, g);
    s.close();
  });

  it("a per-type service (CDS) serves SotW without ADS, and Fetch answers once", async () => {
    const g = group();
    env.registry.setSnapshot(g, world(2));
    const s = new RawStream(client, "/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters");
    s.send({ node: testNode(g) });
    const r = await s.next();
    assert.equal(r.typeUrl, CDS);
    assert.equal(r.resources.length, 2);
    s.close();
  });

  it("parks a client whose node group has no snapshot yet, and pushes when one is set", async () => {
    const g = group();
    const s = new RawStream(client);
    s.send({ node: testNode(g), typeUrl: CDS });
    await s.none(200);
    env.registry.setSnapshot(g, world(1));
    const r = await s.next();
    assert.equal(r.resources.length, 1);
    s.close();
  });

  it("CSDS reports each client's ACKed and NACKed state", async () => {
    const g = group();
    env.registry.setSnapshot(g, world(1));
    const s = new RawStream(client);
    s.send({ node: testNode(g), typeUrl: CDS });
    const r = await s.next();
    s.ack(r);
    s.send({ typeUrl: LDS });
    const l = await s.next();
    s.send({
      typeUrl: LDS,
      versionInfo: "",
      responseNonce: l.nonce,
      errorDetail: { code: 3, message: "bad listener" },
    });
    await s.none(150);
    const { fetchClientStatus } = await import("./testing/csds-client.js");
    const status = await fetchClientStatus(client, g);
    const configs = status.config.filter((c) => c.node?.id === g);
    assert.equal(configs.length, 1);
    const entries = configs[0]?.genericXdsConfigs ?? [];
    const cds = entries.find((e) => e.typeUrl === CDS);
    const lds = entries.find((e) => e.typeUrl === LDS);
    assert.equal(cds?.clientStatus, 3, "ACKED");
    assert.equal(lds?.clientStatus, 4, "NACKED");
    assert.equal(lds?.errorState?.details, "bad listener");
    assert.ok(cds?.xdsConfig?.typeUrl.endsWith("Cluster"));
    s.close();
  });
});
