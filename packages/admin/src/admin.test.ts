// The admin pages over real HTTP against a real controller and ADS server.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createAdsServer } from "@xdskit/ads-server";
import { RawStream, rawClient } from "@xdskit/ads-server/testing";
import { createDiscoveryController, createMemorySource } from "@xdskit/config-generator";
import { TypeUrl } from "@xdskit/xds-types";
import { type AdminServer, startAdminServer } from "./index.js";

const TOKEN = "token-for-the-admin-tests";

describe("@xdskit/admin", () => {
  const source = createMemorySource();
  source.setService({ name: "echo", endpoints: [{ address: "10.0.0.1", port: 8080 }] });
  const controller = createDiscoveryController({ services: source, config: source, debounceMs: 5 });
  const ads = createAdsServer({ registry: controller.registry });
  let admin: AdminServer;
  let ready = false;
  let stream: RawStream;
  const get = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${admin.port}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers ?? {}) },
    });

  before(async () => {
    const port = await ads.listen();
    admin = await startAdminServer({ ads, controller, port: 0, token: TOKEN, ready: () => ready });
    stream = new RawStream(rawClient(port));
    stream.send({ node: { id: "admin-test", cluster: "t", userAgentName: "gRPC Go" }, typeUrl: TypeUrl.Cluster });
    stream.ack(await stream.next());
  });

  after(async () => {
    stream.close();
    await admin.close();
    controller.close();
    await ads.shutdown(500);
  });

  it("health and readiness follow the host", async () => {
    assert.equal(
      (await fetch(`http://127.0.0.1:${admin.port}/healthz`)).status,
      503,
      "not serving yet, and no token needed",
    );
    assert.equal((await get("/readyz")).status, 503);
    ready = true;
    assert.equal((await get("/healthz")).status, 200);
    assert.equal(await (await get("/readyz")).text(), "ready\n");
    // A kubelet's probe carries no token: /readyz answers it too.
    const probe = await fetch(`http://127.0.0.1:${admin.port}/readyz`);
    assert.equal(probe.status, 200);
  });

  it("tokens: header or access_token; 401 otherwise; GET and HEAD only", async () => {
    assert.equal((await fetch(`http://127.0.0.1:${admin.port}/debug/syncz`)).status, 401);
    assert.equal((await fetch(`http://127.0.0.1:${admin.port}/debug/syncz?access_token=${TOKEN}`)).status, 200);
    const del = await get("/debug/syncz", { method: "DELETE" });
    assert.equal(del.status, 405);
    assert.equal(del.headers.get("allow"), "GET, HEAD");
  });

  it("syncz as JSON and as text; push status; the dashboard", async () => {
    const rows = (await (await get("/debug/syncz")).json()) as { nodeId: string; type: string; status: string }[];
    assert.deepEqual(
      rows.map((r) => [r.nodeId, r.type, r.status]),
      [["admin-test", "CDS", "SYNCED"]],
    );
    const table = await (await get("/debug/syncz", { headers: { accept: "text/plain" } })).text();
    assert.match(table, /^NODE\s+GROUP\s+TYPE\s+STATUS/);
    assert.match(table, /admin-test\s+proxyless\/t\s+CDS\s+SYNCED/);
    source.setEndpoints("echo", [{ address: "10.0.0.2", port: 8080 }]);
    await controller.flush();
    const pushes = (await (await get("/debug/push_status")).json()) as {
      pushes: { kinds: string[]; types: string[] }[];
    };
    assert.deepEqual(pushes.pushes[0]?.types, ["EDS"]);
    const ui = await get("/ui");
    assert.equal(ui.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(await ui.text(), /<title>xdskit — control plane<\/title>/);
  });

  it("config dumps, ours and Envoy's", async () => {
    const ours = (await (await get("/debug/config_dump?node=admin-test")).json()) as { nodeGroup: string };
    assert.equal(ours.nodeGroup, "proxyless/t");
    const envoy = (await (await get("/debug/config_dump?node=admin-test&format=envoy")).json()) as {
      configs: { "@type": string; dynamicActiveClusters?: { cluster: { name: string } }[] }[];
    };
    assert.deepEqual(
      envoy.configs.map((c) => c["@type"].split(".").pop()),
      ["ClustersConfigDump", "ListenersConfigDump", "RoutesConfigDump", "EndpointsConfigDump"],
    );
    assert.equal(envoy.configs[0]?.dynamicActiveClusters?.[0]?.cluster.name, "outbound|8080||echo");
    assert.equal((await get("/debug/config_dump?node=nobody")).status, 404);
  });

  it("refuses to bind beyond the loopback without a token", async () => {
    await assert.rejects(
      startAdminServer({ ads, host: "0.0.0.0", port: 0 }),
      /refusing to serve the admin pages on 0\.0\.0\.0 without a token/,
    );
  });
});
