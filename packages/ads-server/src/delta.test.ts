import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, status } from "@grpc/grpc-js";
import { cla, edsCluster, world } from "@xdskit/snapshot/testing";
import { TypeUrl, decodeResource, findResourceType } from "@xdskit/xds-types";
import type { DeltaDiscoveryResponse } from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import { fetchClientStatus } from "./testing/csds-client.js";
import { startServer } from "./testing/harness.js";
import { RawDeltaStream, RawStream, rawClient, testNode } from "./testing/raw-client.js";

const CDS = TypeUrl.Cluster;
const EDS = TypeUrl.ClusterLoadAssignment;
const LDS = TypeUrl.Listener;

/** Names of the resources in a Delta response, with bodies (heartbeats carry none). */
const got = (r: DeltaDiscoveryResponse) =>
  r.resources
    .filter((x) => x.resource)
    .map((x) => x.name)
    .sort();
const heartbeats = (r: DeltaDiscoveryResponse) =>
  r.resources
    .filter((x) => !x.resource)
    .map((x) => x.name)
    .sort();

describe("Delta (incremental) xDS", () => {
  let env: Awaited<ReturnType<typeof startServer>>;
  let client: Client;
  let n = 0;
  const group = () => `delta-${++n}`;
  before(async () => {
    env = await startServer({ controlPlaneId: "xdskit-delta" });
    client = rawClient(env.port);
  });
  after(async () => {
    client.close();
    await env.close();
  });

  it("subscribes by name, sends only what changed, and stops sending what was unsubscribed", async () => {
    const g = group();
    env.registry.setSnapshot(g, { [EDS]: [cla("a"), cla("b"), cla("c")] });
    const s = new RawDeltaStream(client);
    s.send({ node: testNode(g), typeUrl: EDS, resourceNamesSubscribe: ["a", "b"] });
    const r1 = await s.next();
    assert.equal(r1.typeUrl, EDS);
    assert.deepEqual(got(r1), ["a", "b"]);
    assert.equal(r1.systemVersionInfo, env.registry.getSnapshot(g)?.get(EDS)?.version);
    assert.equal(r1.controlPlane?.identifier, "xdskit-delta");
    const a = r1.resources.find((x) => x.name === "a");
    assert.equal(a?.version, env.registry.getSnapshot(g)?.get(EDS)?.resources.get("a")?.version);
    s.ack(r1);
    await s.none(150);

    env.registry.updateResources(g, EDS, { upsert: [cla("b", 2)] });
    const r2 = await s.next();
    assert.deepEqual(got(r2), ["b"], "only the changed resource");
    assert.deepEqual(r2.removedResources, []);
    s.ack(r2, [], ["a"]);
    await s.none(150);
    env.registry.updateResources(g, EDS, { upsert: [cla("a", 3), cla("c", 3)] });
    await s.none(200);

    s.send({ typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    const r3 = await s.next();
    assert.deepEqual(got(r3), ["a"], "a resubscribed resource is sent again");
    assert.equal(
      decodeResource(EDS, r3.resources[0]?.resource?.value ?? new Uint8Array()).$typeName,
      "envoy.config.endpoint.v3.ClusterLoadAssignment",
    );
    s.close();
  });

  it("wildcard plus an explicit name: every resource, the missing name reported, then sent when it appears", async () => {
    const g = group();
    env.registry.setSnapshot(g, { [CDS]: [edsCluster("x"), edsCluster("y")] });
    const s = new RawDeltaStream(client);
    s.send({ node: testNode(g), typeUrl: CDS, resourceNamesSubscribe: ["*", "on-demand"] });
    const r1 = await s.next();
    assert.deepEqual(got(r1), ["x", "y"]);
    assert.deepEqual(r1.removedResources, ["on-demand"], "a subscribed name that does not exist is reported");
    s.ack(r1);
    await s.none(150);
    env.registry.updateResources(g, CDS, { upsert: [edsCluster("on-demand")] });
    const r2 = await s.next();
    assert.deepEqual(got(r2), ["on-demand"]);
    s.ack(r2);
    // Dropping the wildcard keeps only the explicit name: nothing else is sent.
    s.send({ typeUrl: CDS, resourceNamesUnsubscribe: ["*"] });
    await s.none(100);
    env.registry.updateResources(g, CDS, { upsert: [edsCluster("z")] });
    await s.none(200);
    env.registry.updateResources(g, CDS, { upsert: [edsCluster("on-demand", { connectTimeoutSeconds: 9 })] });
    assert.deepEqual(got(await s.next()), ["on-demand"]);
    s.close();
  });

  it("an empty first request on CDS/LDS is the legacy wildcard; on EDS it subscribes to nothing", async () => {
    const g = group();
    env.registry.setSnapshot(g, world(2));
    const s = new RawDeltaStream(client);
    s.send({ node: testNode(g), typeUrl: LDS });
    assert.deepEqual(got(await s.next()), ["svc-0", "svc-1"]);
    s.send({ typeUrl: EDS });
    await s.none(200);
    s.close();
  });

  it("reconnecting with initial_resource_versions gets only the difference", async () => {
    const g = group();
    env.registry.setSnapshot(g, { [EDS]: [cla("a"), cla("b"), cla("c")] });
    const first = new RawDeltaStream(client);
    first.send({ node: testNode(g), typeUrl: EDS, resourceNamesSubscribe: ["a", "b", "c"] });
    const r1 = await first.next();
    first.ack(r1);
    const held = Object.fromEntries(r1.resources.map((x) => [x.name, x.version]));
    first.close();

    // While the client is away: b changes, c goes away.
    env.registry.updateResources(g, EDS, { upsert: [cla("b", 4)], remove: ["c"] });
    const again = new RawDeltaStream(client);
    again.send({
      node: testNode(g),
      typeUrl: EDS,
      resourceNamesSubscribe: ["a", "b", "c"],
      initialResourceVersions: held,
    });
    const r2 = await again.next();
    assert.deepEqual(got(r2), ["b"], "a is current and not sent again");
    assert.deepEqual(r2.removedResources, ["c"]);
    again.ack(r2);
    await again.none(150);
    again.close();
  });

  it("a resource removed from the registry is listed in removed_resources", async () => {
    const g = group();
    env.registry.setSnapshot(g, { [CDS]: [edsCluster("keep"), edsCluster("drop")] });
    const s = new RawDeltaStream(client);
    s.send({ node: testNode(g), typeUrl: CDS, resourceNamesSubscribe: ["*"] });
    s.ack(await s.next());
    env.registry.updateResources(g, CDS, { remove: ["drop"] });
    const r = await s.next();
    assert.deepEqual(got(r), []);
    assert.deepEqual(r.removedResources, ["drop"]);
    s.close();
  });

  it("a NACK is recorded, the rejected version is not re-sent, and the next version is delivered", async () => {
    const g = group();
    env.registry.setSnapshot(g, { [EDS]: [cla("a")] });
    const nacks: string[] = [];
    const onNack = (e: { errorMessage: string; connection: { nodeId: string } }) => {
      if (e.connection.nodeId === g) nacks.push(e.errorMessage);
    };
    env.server.on("nack", onNack);
    const s = new RawDeltaStream(client);
    s.send({ node: testNode(g), typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    s.ack(await s.next());
    env.registry.updateResources(g, EDS, { upsert: [cla("a", 2)] });
    const bad = await s.next();
    s.nack(bad, "endpoint rejected by the test");
    await s.none(250);
    assert.deepEqual(nacks, ["endpoint rejected by the test"]);
    const info = env.server.connections.byNodeId(g)[0]?.types[0];
    assert.equal(info?.lastNack?.errorMessage, "endpoint rejected by the test");
    env.registry.updateResources(g, EDS, { upsert: [cla("a", 3)] });
    const good = await s.next();
    assert.deepEqual(got(good), ["a"]);
    assert.notEqual(good.resources[0]?.version, bad.resources[0]?.version);
    s.ack(good);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(env.server.connections.byNodeId(g)[0]?.types[0]?.ackedVersion, good.systemVersionInfo);
    env.server.off("nack", onNack);
    s.close();
  });

  it("subscription changes apply even when the request's nonce is stale", async () => {
    const g = group();
    env.registry.setSnapshot(g, { [EDS]: [cla("a"), cla("b")] });
    const s = new RawDeltaStream(client);
    s.send({ node: testNode(g), typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    await s.next();
    s.send({ typeUrl: EDS, responseNonce: "not-a-nonce-we-sent", resourceNamesSubscribe: ["b"] });
    assert.deepEqual(got(await s.next()), ["b"]);
    s.close();
  });

  it("TTL resources get heartbeats before they expire, and a removed TTL stops them", async () => {
    const g = group();
    env.registry.setSnapshot(g, { [EDS]: [{ resource: cla("t"), ttlMs: 300 }, cla("plain")] });
    const s = new RawDeltaStream(client);
    s.send({ node: testNode(g), typeUrl: EDS, resourceNamesSubscribe: ["t", "plain"] });
    const r1 = await s.next();
    assert.deepEqual(got(r1), ["plain", "t"]);
    const t = r1.resources.find((x) => x.name === "t");
    assert.equal(t?.ttl?.nanos, 300_000_000);
    s.ack(r1);
    const beat = await s.next(1000);
    assert.deepEqual(heartbeats(beat), ["t"], "a heartbeat names the TTL resource, without a body");
    assert.deepEqual(got(beat), []);
    assert.equal(beat.resources[0]?.version, t?.version);
    assert.equal(beat.resources[0]?.ttl?.nanos, 300_000_000);
    s.ack(beat);
    const beat2 = await s.next(1000);
    assert.deepEqual(heartbeats(beat2), ["t"]);
    s.ack(beat2);

    // The same resource without a TTL is a new version; heartbeats stop.
    env.registry.updateResources(g, EDS, { upsert: [cla("t")] });
    let update = await s.next(1000);
    while (got(update).length === 0) {
      s.ack(update);
      update = await s.next(1000);
    }
    assert.deepEqual(got(update), ["t"]);
    assert.equal(update.resources[0]?.ttl, undefined);
    s.ack(update);
    await s.none(500);
    s.close();
  });

  it("the same registry serves a SotW and a Delta client identical resources", async () => {
    const g = group();
    env.registry.setSnapshot(g, world(3, 2));
    const sotw = new RawStream(client);
    const delta = new RawDeltaStream(client);
    sotw.send({ node: testNode(g), typeUrl: CDS });
    delta.send({ node: testNode(g), typeUrl: CDS });
    const a = await sotw.next();
    const b = await delta.next();
    const decoded = (typeUrl: string, values: Uint8Array[]) =>
      values
        .map((v) => decodeResource(typeUrl, v))
        .sort((x, y) => {
          const nx = findResourceType(typeUrl)?.nameOf(x) ?? "";
          const ny = findResourceType(typeUrl)?.nameOf(y) ?? "";
          return nx < ny ? -1 : 1;
        });
    assert.deepEqual(
      decoded(
        CDS,
        b.resources.map((x) => x.resource?.value ?? new Uint8Array()),
      ),
      decoded(
        CDS,
        a.resources.map((x) => x.value),
      ),
    );
    sotw.ack(a);
    delta.ack(b);
    sotw.send({ typeUrl: EDS, resourceNames: ["svc-0", "svc-1", "svc-2"] });
    delta.send({ typeUrl: EDS, resourceNamesSubscribe: ["svc-0", "svc-1", "svc-2"] });
    const c = await sotw.next();
    const d = await delta.next();
    assert.deepEqual(
      decoded(
        EDS,
        d.resources.map((x) => x.resource?.value ?? new Uint8Array()),
      ),
      decoded(
        EDS,
        c.resources.map((x) => x.value),
      ),
    );
    sotw.close();
    delta.close();
  });

  it("xdstp:// names: context parameters in any order match, and a glob collection subscribes to its members", async () => {
    const g = group();
    const base = "xdstp://mesh.example/envoy.config.cluster.v3.Cluster";
    env.registry.setSnapshot(g, {
      [CDS]: [
        edsCluster(`${base}/pool/one?b=2&a=1`),
        edsCluster(`${base}/pool/two?a=1&b=2`),
        edsCluster(`${base}/pool/deep/three?a=1&b=2`),
        edsCluster(`${base}/other/four?a=1&b=2`),
        edsCluster("plain"),
      ],
    });
    const s = new RawDeltaStream(client);
    s.send({ node: testNode(g), typeUrl: CDS, resourceNamesSubscribe: [`${base}/pool/*?b=2&a=1`] });
    const r = await s.next();
    assert.deepEqual(got(r), [`${base}/pool/one?a=1&b=2`, `${base}/pool/two?a=1&b=2`]);
    assert.deepEqual(r.removedResources, [], "a glob is a collection, never reported as missing");
    s.ack(r);
    env.registry.updateResources(g, CDS, { remove: [`${base}/pool/two?a=1&b=2`] });
    assert.deepEqual((await s.next()).removedResources, [`${base}/pool/two?a=1&b=2`]);
    s.close();

    const one = new RawDeltaStream(client);
    one.send({ node: testNode(g), typeUrl: CDS, resourceNamesSubscribe: [`${base}/pool/one?b=2&a=1`] });
    assert.deepEqual(got(await one.next()), [`${base}/pool/one?a=1&b=2`]);
    one.close();
  });

  it("serves the per-type Delta services and refuses another type on them", async () => {
    const g = group();
    env.registry.setSnapshot(g, world(1));
    const cds = new RawDeltaStream(client, "/envoy.service.cluster.v3.ClusterDiscoveryService/DeltaClusters");
    cds.send({ node: testNode(g), resourceNamesSubscribe: ["*"] });
    const r = await cds.next();
    assert.equal(r.typeUrl, CDS);
    assert.deepEqual(got(r), ["svc-0"]);
    cds.send({ typeUrl: EDS, resourceNamesSubscribe: ["svc-0"] });
    const st = await cds.ended();
    assert.equal(st.code, status.INVALID_ARGUMENT);
    assert.match(st.details, /serves only/);
  });

  it("bad Delta input gets a precise status and other clients keep being served", async () => {
    const g = group();
    env.registry.setSnapshot(g, { [EDS]: [cla("a")] });
    const good = new RawDeltaStream(client);
    good.send({ node: testNode(g), typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    good.ack(await good.next());

    const noNode = new RawDeltaStream(client);
    noNode.send({ typeUrl: EDS, resourceNamesSubscribe: ["a"] });
    assert.equal((await noNode.ended()).code, status.INVALID_ARGUMENT);

    const malformed = new RawDeltaStream(client);
    malformed.sendRaw(new Uint8Array([0x0a, 0xff, 0xff, 0xff]));
    const m = await malformed.ended();
    assert.equal(m.code, status.INVALID_ARGUMENT);
    assert.match(m.details, /malformed DeltaDiscoveryRequest/);

    const noType = new RawDeltaStream(client);
    noType.send({ node: testNode(g), resourceNamesSubscribe: ["a"] });
    assert.equal((await noType.ended()).code, status.INVALID_ARGUMENT);

    const unknown = new RawDeltaStream(client);
    unknown.send({ node: testNode(g), typeUrl: "type.googleapis.com/no.such.Type", resourceNamesSubscribe: ["a"] });
    await unknown.none(150);
    assert.equal(unknown.status, undefined, "an unknown type is ignored, the stream stays up");
    unknown.close();

    env.registry.updateResources(g, EDS, { upsert: [cla("a", 5)] });
    assert.deepEqual(got(await good.next()), ["a"]);
    good.close();
  });

  it("CSDS reports a Delta client's subscriptions and ACKed versions", async () => {
    const g = group();
    env.registry.setSnapshot(g, { [EDS]: [cla("a")] });
    const s = new RawDeltaStream(client);
    s.send({ node: testNode(g), typeUrl: EDS, resourceNamesSubscribe: ["a", "missing"] });
    const r = await s.next();
    assert.deepEqual(r.removedResources, ["missing"]);
    s.ack(r);
    await new Promise((res) => setTimeout(res, 50));
    const info = env.server.connections.byNodeId(g)[0];
    assert.equal(info?.service, "envoy.service.discovery.v3.AggregatedDiscoveryService");
    assert.deepEqual([...(info?.types[0]?.resourceNames ?? [])].sort(), ["a", "missing"]);
    assert.equal(info?.types[0]?.ackedVersion, r.systemVersionInfo);
    const csds = await fetchClientStatus(client, g);
    const entries = csds.config.find((c) => c.node?.id === g)?.genericXdsConfigs ?? [];
    const byName = new Map(entries.map((e) => [e.name, e.clientStatus]));
    assert.equal(byName.get("a"), 3, "ACKED");
    assert.equal(byName.get("missing"), 2, "DOES_NOT_EXIST");
    s.close();
  });
});
