// A SotW client reconnecting with the version it holds is sent nothing until
// the next change, but only when it holds all of the current version.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "@grpc/grpc-js";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import { cla, world } from "@xdskit/snapshot/testing";
import { TypeUrl, decodeResource, findResourceType } from "@xdskit/xds-types";
import { ClientResourceStatus } from "@xdskit/xds-types/gen/envoy/admin/v3/config_dump_shared_pb";
import { fetchClientStatus } from "./testing/csds-client.js";
import { startServer } from "./testing/harness.js";
import { RawDeltaStream, RawStream, rawClient, testNode } from "./testing/raw-client.js";

const CDS = TypeUrl.Cluster;
const EDS = TypeUrl.ClusterLoadAssignment;
const all = Array.from({ length: 4 }, (_, i) => `svc-${i}`);

const names = (r: { resources: { typeUrl: string; value: Uint8Array }[] }) =>
  r.resources.map((a) => findResourceType(a.typeUrl)?.nameOf(decodeResource(a.typeUrl, a.value)) ?? "?").sort();

describe("SotW reconnect holding the current version", () => {
  let env: Awaited<ReturnType<typeof startServer>>;
  let client: Client;
  let resumed: string[] = [];
  before(async () => {
    env = await startServer({ registry: createSnapshotRegistry({ nodeGroup: () => "g" }) });
    env.server.on("resumed", (e) => resumed.push(`${e.connection.nodeId} ${e.typeUrl}`));
    client = rawClient(env.port);
    env.registry.setSnapshot("g", world(4));
  });
  after(async () => {
    client.close();
    await env.close();
  });

  // Connects once the ordinary way and returns the versions the client holds.
  async function firstConnect(id: string): Promise<{ cds: string; eds: string }> {
    const s = new RawStream(client);
    s.send({ node: testNode(id), typeUrl: CDS });
    const c = await s.next();
    s.ack(c);
    s.send({ typeUrl: EDS, resourceNames: all });
    const e = await s.next();
    s.ack(e, all);
    s.close();
    return { cds: c.versionInfo, eds: e.versionInfo };
  }

  it("sends nothing on reconnect, shows the client synced, and sends only what changes next", async () => {
    resumed = [];
    const held = await firstConnect("n1");
    const s = new RawStream(client);
    s.send({ node: testNode("n1"), typeUrl: CDS, versionInfo: held.cds });
    s.send({ typeUrl: EDS, resourceNames: all, versionInfo: held.eds });
    await s.none(300);
    assert.deepEqual(resumed, [`n1 ${CDS}`, `n1 ${EDS}`]);
    const info = env.server.connections.byNodeId("n1")[0];
    for (const t of info?.types ?? []) {
      assert.equal(t.resumed, true);
      assert.equal(t.ackedVersion, t.sentVersion);
    }
    // CSDS reports every resource ACKed at the version the client holds.
    const status = await fetchClientStatus(client, "n1");
    const configs = status.config[0]?.genericXdsConfigs ?? [];
    assert.equal(configs.length, 8);
    for (const g of configs) assert.equal(g.clientStatus, ClientResourceStatus.ACKED);

    // The next change: only the changed assignment, and the client can ACK it.
    env.registry.updateResources("g", EDS, { upsert: [cla("svc-2", 3)] });
    const r = await s.next();
    assert.equal(r.typeUrl, EDS);
    assert.deepEqual(names(r), ["svc-2"]);
    s.ack(r, all);
    await s.none(200);
    const eds = env.server.connections.byNodeId("n1")[0]?.types.find((t) => t.typeUrl === EDS);
    assert.equal(eds?.ackedVersion, r.versionInfo);
    s.close();
  });

  it("answers a client whose version is not current, or who holds less than the whole type", async () => {
    resumed = [];
    const held = await firstConnect("n2");
    env.registry.updateResources("g", EDS, { upsert: [cla("svc-1", 2)] });
    const s = new RawStream(client);
    // CDS is current and whole: nothing. EDS is old: everything subscribed.
    s.send({ node: testNode("n2"), typeUrl: CDS, versionInfo: held.cds });
    s.send({ typeUrl: EDS, resourceNames: all, versionInfo: held.eds });
    const r = await s.next();
    assert.equal(r.typeUrl, EDS);
    assert.deepEqual(names(r), all);
    await s.none(200);
    assert.deepEqual(resumed, [`n2 ${CDS}`]);
    s.close();

    // The current version, but naming only some assignments: the client may
    // have asked for more since it ACKed, so it is answered.
    const current = env.registry.getSnapshot("g")?.get(EDS)?.version ?? "";
    const t = new RawStream(client);
    t.send({ node: testNode("n3"), typeUrl: EDS, resourceNames: ["svc-0", "svc-1"], versionInfo: current });
    assert.deepEqual(names(await t.next()), ["svc-0", "svc-1"]);
    // An unknown version string (another control plane's): answered.
    const u = new RawStream(client);
    u.send({ node: testNode("n4"), typeUrl: CDS, versionInfo: "not-a-version" });
    assert.equal((await u.next()).resources.length, 4);
    t.close();
    u.close();
  });

  it("Delta: resuming with initial_resource_versions that are current sends nothing", async () => {
    const d = new RawDeltaStream(client);
    d.send({ node: testNode("d1"), typeUrl: CDS });
    const first = await d.next();
    d.ack(first);
    const initial: Record<string, string> = {};
    for (const r of first.resources) initial[r.name] = r.version;
    d.close();
    const again = new RawDeltaStream(client);
    again.send({ node: testNode("d1"), typeUrl: CDS, initialResourceVersions: initial });
    await again.none(300);
    again.close();
  });
});
