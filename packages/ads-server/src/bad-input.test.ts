import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Client, status } from "@grpc/grpc-js";
import { edsCluster, world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { startServer } from "./testing/harness.js";
import { fetchClientStatusMatching } from "./testing/csds-client.js";
import { RawStream, rawClient, testNode } from "./testing/raw-client.js";

const CDS = TypeUrl.Cluster;

describe("bad input never crashes the server or touches other clients", () => {
  let env: Awaited<ReturnType<typeof startServer>>;
  let client: Client;
  let bystander: RawStream;
  let bystanderResponses = 0;
  let bystanderId = "";
  const rejected: string[] = [];

  before(async () => {
    env = await startServer({ maxResourceNamesPerRequest: 5, maxReceiveMessageBytes: 64 * 1024 });
    env.server.on("rejected", (e) => rejected.push(e.details));
    env.registry.setSnapshot("bystander", world(2));
    client = rawClient(env.port);
    bystander = new RawStream(client);
    bystander.send({ node: testNode("bystander"), typeUrl: CDS });
    const r = await bystander.next();
    bystander.ack(r);
    bystanderResponses = 1;
    bystanderId = env.server.connections.byNodeId("bystander")[0]?.id ?? "";
    assert.ok(bystanderId);
  });

  // After every bad stream, the well-behaved client still gets its updates.
  async function bystanderStillServed() {
    env.registry.updateResources("bystander", CDS, { upsert: [edsCluster(`extra-${bystanderResponses}`)] });
    const r = await bystander.next();
    bystander.ack(r);
    bystanderResponses++;
    assert.ok(env.server.connections.get(bystanderId), "the well-behaved connection is still registered");
  }

  after(async () => {
    bystander.close();
    client.close();
    await env.close();
  });

  it("malformed bytes: INVALID_ARGUMENT naming the message", async () => {
    const s = new RawStream(client);
    s.sendRaw(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    const st = await s.ended();
    assert.equal(st.code, status.INVALID_ARGUMENT);
    assert.match(st.details, /malformed DiscoveryRequest/);
    await bystanderStillServed();
  });

  it("no node on the first request: INVALID_ARGUMENT", async () => {
    const s = new RawStream(client);
    s.send({ typeUrl: CDS });
    const st = await s.ended();
    assert.equal(st.code, status.INVALID_ARGUMENT);
    assert.match(st.details, /first request of a stream must carry a node/);
    await bystanderStillServed();
  });

  it("no type_url on ADS: INVALID_ARGUMENT", async () => {
    const s = new RawStream(client);
    s.send({ node: testNode("x") });
    const st = await s.ended();
    assert.equal(st.code, status.INVALID_ARGUMENT);
    assert.match(st.details, /must set type_url/);
  });

  it("a type URL nobody serves is ignored and the stream stays usable", async () => {
    const s = new RawStream(client);
    const unknown: string[] = [];
    env.server.on("unknownType", (e) => unknown.push(e.typeUrl));
    s.send({ node: testNode("bystander"), typeUrl: "type.googleapis.com/acme.Widget" });
    await s.none(200);
    assert.deepEqual(unknown, ["type.googleapis.com/acme.Widget"]);
    s.send({ typeUrl: CDS });
    const r = await s.next();
    assert.equal(r.typeUrl, CDS);
    s.close();
  });

  it("a type URL that does not match the per-type service: INVALID_ARGUMENT", async () => {
    const s = new RawStream(client, "/envoy.service.listener.v3.ListenerDiscoveryService/StreamListeners");
    s.send({ node: testNode("bystander"), typeUrl: CDS });
    const st = await s.ended();
    assert.equal(st.code, status.INVALID_ARGUMENT);
    assert.match(st.details, /serves only "type.googleapis.com\/envoy.config.listener.v3.Listener"/);
    await bystanderStillServed();
  });

  it("too many resource names: RESOURCE_EXHAUSTED", async () => {
    const s = new RawStream(client);
    s.send({ node: testNode("bystander"), typeUrl: CDS, resourceNames: ["a", "b", "c", "d", "e", "f"] });
    const st = await s.ended();
    assert.equal(st.code, status.RESOURCE_EXHAUSTED);
    assert.match(st.details, /names 6 resources; the limit is 5/);
    await bystanderStillServed();
  });

  it("an oversized message: RESOURCE_EXHAUSTED from the transport", async () => {
    const s = new RawStream(client);
    s.send({ node: testNode("bystander"), typeUrl: CDS, versionInfo: "x".repeat(100 * 1024) });
    const st = await s.ended();
    assert.equal(st.code, status.RESOURCE_EXHAUSTED);
    await bystanderStillServed();
  });

  it("a throwing event listener does not crash the server", async () => {
    const boom = () => {
      throw new Error("host bug");
    };
    env.server.on("request", boom);
    const s = new RawStream(client);
    s.send({ node: testNode("bystander"), typeUrl: CDS });
    const r = await s.next();
    assert.equal(r.typeUrl, CDS);
    env.server.off("request", boom);
    s.close();
    await bystanderStillServed();
    assert.ok(rejected.length >= 5);
  });

  it("CSDS regexes are RE2: linear time, RE2 syntax only, bounded size", async () => {
    const regex = (value: string) => ({
      nodeMatchers: [{ nodeId: { matchPattern: { case: "safeRegex" as const, value: { regex: value } } } }],
    });
    const s = new RawStream(client);
    const evil = "a".repeat(32);
    s.send({ node: testNode(evil), typeUrl: CDS });
    const deadline = Date.now() + 3000;
    while (env.server.connections.byNodeId(evil).length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // Catastrophic backtracking for a backtracking engine; nothing for RE2.
    const none = await fetchClientStatusMatching(client, regex("(a+)+b"));
    assert.equal(none.config.length, 0);
    const all = await fetchClientStatusMatching(client, regex("a+"));
    assert.deepEqual(
      all.config.map((c) => c.node?.id),
      [evil],
      "safe_regex matches the whole node id",
    );
    await assert.rejects(
      fetchClientStatusMatching(client, regex("(?=a)a+")),
      (e: { code: number; details: string }) => {
        assert.equal(e.code, status.INVALID_ARGUMENT);
        assert.match(e.details, /node_matchers\[0\]\.node_id\.safe_regex is not RE2 syntax/);
        return true;
      },
    );
    await assert.rejects(fetchClientStatusMatching(client, regex("a".repeat(2000))), (e: { details: string }) => {
      assert.match(e.details, /is 2000 characters; the limit is 1024/);
      return true;
    });
    s.close();
    await bystanderStillServed();
  });
});
