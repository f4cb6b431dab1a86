// minimal-pilot --etcd through etcd's outages, with a real etcd behind a TCP
// proxy the test cuts: not ready (and serving nothing) until etcd was read;
// the last good config kept while etcd is gone, the lag on /debug/mesh and in
// the metrics; caught up from its revision when etcd is back, no re-list.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type AdsClient, createAdsClient } from "@xdskit/adsc";
import { putMesh } from "@xdskit/source-etcd";
import { etcdMissing, startTcpProxy, startTestEtcd, type TcpProxy, type TestEtcd } from "@xdskit/source-etcd/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { Etcd3 } from "etcd3";
import { type PilotProcess, startPilot, until } from "./pilot-process.js";

// The service port is fixed so the cluster keeps its name while the endpoint moves.
const service = (port: number) => ({
  name: "echo",
  port: 9000,
  protocol: "grpc" as const,
  endpoints: [{ address: "127.0.0.1", port }],
});

interface EtcdStatus {
  connected: boolean;
  ready: boolean;
  lagMs: number;
  lists: number;
  revision: number;
}

describe("minimal-pilot on etcd through outages", () => {
  let etcd: TestEtcd;
  let store: Etcd3;
  let proxy: TcpProxy;
  let pilot: PilotProcess | undefined;
  let client: AdsClient | undefined;

  const status = async () => {
    const res = await pilot?.admin("/debug/mesh");
    assert.ok(res, "the pilot is running");
    return ((await res.json()) as { source: EtcdStatus }).source;
  };
  const metric = async (name: string) => {
    const text = await (await pilot?.admin("/metrics"))?.text();
    return Number(text?.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1]);
  };
  // The port of the first endpoint the client holds (protobuf-es keeps it in a oneof).
  const endpointPort = () => {
    const cla = [...(client?.store.all(TypeUrl.ClusterLoadAssignment).values() ?? [])][0]?.message;
    const m = JSON.stringify(cla ?? {}).match(/"case":"portValue","value":(\d+)/);
    return m ? Number(m[1]) : undefined;
  };

  before(async () => {
    const missing = etcdMissing();
    if (missing) throw new Error(missing);
    etcd = await startTestEtcd();
    store = new Etcd3({ hosts: etcd.url });
    await putMesh(store, "/xdskit/", { services: [service(1001)], routes: [], gateways: [] });
    proxy = await startTcpProxy(Number(new URL(etcd.url).port));
  });

  after(async () => {
    client?.close();
    await pilot?.kill();
    await proxy?.close();
    store?.close();
    await etcd?.remove();
  });

  it("starts without etcd: not ready, naming why, serving nothing; ready and serving once etcd answers", async () => {
    await proxy.cut();
    pilot = await startPilot(["--etcd", `http://127.0.0.1:${proxy.port}`, "--debounce", "20"], { ready: false });
    const early = await until("a 503 naming the source's error", async () => {
      const res = await pilot?.admin("/readyz");
      const body = await res?.text();
      return res?.status === 503 && body?.includes("source:") ? body : undefined;
    });
    assert.match(early, /no config read yet/);
    client = createAdsClient({ target: `127.0.0.1:${pilot.xdsPort}`, node: { id: "outage", cluster: "t" } });
    const updates: string[] = [];
    client.on("update", (u) => updates.push(u.typeUrl));
    client.subscribe(TypeUrl.Cluster);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(updates, [], "nothing is served before etcd was read");
    await proxy.mend();
    await until("ready", async () => ((await pilot?.admin("/readyz"))?.ok ? true : undefined));
    await client.synced(10_000);
    const cluster = [...client.store.clusters().keys()][0] as string;
    assert.match(cluster, /echo/);
    client.subscribe(TypeUrl.ClusterLoadAssignment, [cluster]);
    await until("the endpoints", () => (endpointPort() === 1001 ? true : undefined));
    assert.equal((await status()).lists, 1);
  });

  it("keeps the last good config while etcd is gone, shows the lag, and catches up from its revision", async () => {
    const removals: string[] = [];
    client?.on("update", (u) => removals.push(...u.removed));
    await proxy.cut();
    const lost = await until("the source to notice", async () => {
      const s = await status();
      return !s.connected && s.lagMs > 0 ? s : undefined;
    });
    assert.equal(lost.ready, true);
    await until("the pilot to log the loss", () => (/etcd: lost/.test(pilot?.output() ?? "") ? true : undefined));
    await until("the connected gauge at 0", async () =>
      (await metric("xdskit_source_connected")) === 0 ? true : undefined,
    );
    assert.ok((await metric("xdskit_source_lag_seconds")) > 0);
    assert.ok((await pilot?.admin("/readyz"))?.ok, "still ready: it serves the last good mesh");
    // A change made while the pilot cannot see etcd…
    await store.put("/xdskit/services/echo").value(JSON.stringify(service(1002)));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(endpointPort(), 1001, "the last good config stays meanwhile");
    // …arrives once it can, by resuming the watch (no second list).
    await proxy.mend();
    await until("the change made during the outage", () => (endpointPort() === 1002 ? true : undefined), 20_000);
    const back = await status();
    assert.equal(back.connected, true);
    assert.equal(back.lagMs, 0);
    assert.equal(back.lists, 1, "resumed from its revision, not re-listed");
    assert.equal(await metric("xdskit_source_connected"), 1);
    assert.deepEqual(removals, [], "no client lost a resource");
    assert.match(
      pilot?.output() ?? "",
      /push: etcd services\/echo → EDS for 1 node group/,
      "one key, an EDS-only push",
    );
  });

  it("refuses a deletion of every key as a whole: the last good mesh stays, and a new put is served", async () => {
    const removals: string[] = [];
    client?.on("update", (u) => removals.push(...u.removed));
    await store.delete().prefix("/xdskit/");
    await until("the refusal in the log", () =>
      /config rejected, still serving the last good one: the source now lists no services/.test(pilot?.output() ?? "")
        ? true
        : undefined,
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(endpointPort(), 1002, "the last good config stays");
    assert.deepEqual(removals, [], "no client lost a resource");
    assert.ok((await pilot?.admin("/readyz"))?.ok, "still ready");
    await store.put("/xdskit/services/echo").value(JSON.stringify(service(1003)));
    await until("the new value", () => (endpointPort() === 1003 ? true : undefined));
  });
});
