// Replicas on one real etcd: two or three minimal-pilot processes reading the
// same store serve byte-identical resources with identical versions; a client
// that moves between them (adsc with several servers; grpc-js-xds behind a
// Service-like proxy) notices nothing: Delta resends nothing it holds, and
// RPCs never fail while the replica it talked to is killed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { toBinary } from "@bufbuild/protobuf";
import { type AdsClient, createAdsClient } from "@xdskit/adsc";
import { putMesh } from "@xdskit/source-etcd";
import { etcdMissing, startTcpProxy, startTestEtcd, type TcpProxy, type TestEtcd } from "@xdskit/source-etcd/testing";
import { TypeUrl, findResourceType } from "@xdskit/xds-types";
import { Etcd3 } from "etcd3";
import { startEchoBackend } from "./echo.js";
import { type PilotProcess, startPilot, until } from "./pilot-process.js";

const CLIENT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/client.js");
const TYPES = [TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment];

type Replica = PilotProcess;
const startReplica = (etcdUrl: string) => startPilot(["--etcd", etcdUrl, "--debounce", "20"]);

// Response bytes a replica has written so far (its config-size histogram's sum).
async function bytesSent(adminPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^pilot_xds_config_size_bytes_sum\{[^}]*\} (\S+)$/gm)) sum += Number(m[1]);
  return sum;
}

const proxylessNode = (id: string) => ({
  id,
  cluster: "replicas",
  userAgentName: "gRPC Node (xdskit-test)",
  locality: { zone: "a" },
});

describe("replicas on one etcd", () => {
  let etcd: TestEtcd;
  let store: Etcd3;
  const replicas: Replica[] = [];
  const clients: AdsClient[] = [];
  const backends: { port: number; stop: () => Promise<void> }[] = [];
  let proxy: TcpProxy | undefined;

  const mesh = (ports: number[]) => ({
    services: [
      { name: "echo", protocol: "grpc" as const, endpoints: ports.map((port) => ({ address: "127.0.0.1", port })) },
    ],
    routes: [{ host: "echo", split: [{ service: "echo", weight: 1 }], retries: { attempts: 2 } }],
    gateways: [],
  });

  // What one replica serves a client, as adsc holds it: per type the version
  // and per resource its version and encoded bytes.
  const served = async (port: number, id: string) => {
    const c = createAdsClient({ target: `127.0.0.1:${port}`, node: proxylessNode(id) });
    clients.push(c);
    const typeVersions = new Map<string, string>();
    c.on("update", (u) => typeVersions.set(u.typeUrl, u.version));
    c.subscribe(TypeUrl.Listener, ["echo"]);
    c.subscribe(TypeUrl.RouteConfiguration, ["echo"]);
    c.subscribe(TypeUrl.Cluster);
    await c.synced();
    const cluster = [...c.store.clusters().keys()][0] as string;
    c.subscribe(TypeUrl.ClusterLoadAssignment, [cluster]);
    await c.synced();
    const out: Record<string, { version: string | undefined; resources: Record<string, string> }> = {};
    for (const t of TYPES) {
      const type = findResourceType(t);
      const resources: Record<string, string> = {};
      for (const [name, r] of c.store.all(t)) {
        resources[name] =
          `${r.version}:${Buffer.from(toBinary(type?.schema as never, r.message as never)).toString("base64")}`;
      }
      out[t] = { version: typeVersions.get(t), resources };
    }
    c.close();
    return out;
  };

  before(async () => {
    const missing = etcdMissing();
    if (missing) throw new Error(missing);
    etcd = await startTestEtcd();
    store = new Etcd3({ hosts: etcd.url });
    for (const name of ["backend-1", "backend-2"]) backends.push(await startEchoBackend(name));
    await putMesh(store, "/xdskit/", mesh(backends.map((b) => b.port)));
    replicas.push(await startReplica(etcd.url), await startReplica(etcd.url));
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const r of replicas) await r.kill();
    await proxy?.close();
    for (const b of backends) await b.stop();
    store?.close();
    await etcd?.remove();
  });

  it("serve byte-identical resources with identical resource and type versions, before and after a change", async () => {
    const [a, b] = replicas as [Replica, Replica];
    const first = await served(a.xdsPort, "cmp-a");
    assert.deepEqual(await served(b.xdsPort, "cmp-b"), first);
    for (const t of TYPES) assert.ok(first[t]?.version && Object.keys(first[t]?.resources ?? {}).length > 0, t);
    await putMesh(store, "/xdskit/", mesh([backends[0]?.port as number]));
    const changed = await until("the change at a", async () => {
      const now = await served(a.xdsPort, "cmp-a2");
      return JSON.stringify(now) !== JSON.stringify(first) ? now : undefined;
    });
    assert.deepEqual(await served(b.xdsPort, "cmp-b2"), changed);
    await putMesh(store, "/xdskit/", mesh(backends.map((x) => x.port)));
  });

  it("200 Delta clients moving to the other replica converge within 5 s and are sent nothing they hold", async () => {
    const [a, b] = replicas as [Replica, Replica];
    const fleet: AdsClient[] = [];
    const FLEET = 200;
    let updatesAfterKill = 0;
    let killed = false;
    for (let i = 0; i < FLEET; i++) {
      const c = createAdsClient({
        target: [`127.0.0.1:${a.xdsPort}`, `127.0.0.1:${b.xdsPort}`],
        node: proxylessNode(`fleet-${i}`),
        protocol: "delta",
        backoff: { initialMs: 100, maxMs: 1000 },
      });
      c.on("update", () => {
        if (killed) updatesAfterKill++;
      });
      c.subscribe(TypeUrl.Cluster);
      c.subscribe(TypeUrl.Listener, ["echo"]);
      fleet.push(c);
      clients.push(c);
    }
    await Promise.all(fleet.map((c) => c.synced(15_000)));
    // The world one client holds, encoded; the fleet holds FLEET times that.
    let world = 0;
    for (const t of [TypeUrl.Cluster, TypeUrl.Listener]) {
      const type = findResourceType(t);
      for (const [, r] of fleet[0]?.store.all(t) ?? [])
        world += toBinary(type?.schema as never, r.message as never).length;
    }
    assert.ok(world > 0, "the fleet holds config");
    const sentBefore = await bytesSent(b.adminPort);
    const started = Date.now();
    killed = true;
    await a.kill();
    await until(
      "every client on b",
      async () => {
        const res = await fetch(`http://127.0.0.1:${b.adminPort}/debug/connections`);
        const body = (await res.json()) as { connections: { nodeId: string }[] };
        return body.connections.filter((x) => x.nodeId.startsWith("fleet-")).length === FLEET ? true : undefined;
      },
      5000,
    );
    const took = Date.now() - started;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(took <= 5000, `converged in ${took} ms`);
    assert.equal(updatesAfterKill, 0, "the surviving replica resent nothing");
    // Bytes the survivor wrote while taking over, against the fleet's whole
    // world: a storm would be about 50% (half the fleet re-sent everything).
    const sent = (await bytesSent(b.adminPort)) - sentBefore;
    const ratio = sent / (world * FLEET);
    console.log(`# failover: ${sent} bytes sent for a world of ${world * FLEET} bytes (${(ratio * 100).toFixed(2)}%)`);
    assert.ok(ratio < 0.01, `the survivor sent ${sent} bytes, ${(ratio * 100).toFixed(2)}% of the fleet's world`);
    for (const c of fleet) c.close();
    replicas.push(await startReplica(etcd.url));
  });

  it("a grpc-js-xds channel behind a Service-like address keeps every RPC succeeding while its replica is killed", async () => {
    const [, b, c] = replicas as [Replica, Replica, Replica];
    // The bootstrap names one address; like a Kubernetes Service it sends each
    // new connection to the first replica that takes it.
    proxy = await startTcpProxy([b.xdsPort, c.xdsPort]);
    // The demo client (a real grpc-js-xds channel) in its own process: one call every 20 ms.
    const client = spawn(
      process.execPath,
      [
        CLIENT,
        "--xds",
        `127.0.0.1:${proxy.port}`,
        "--target",
        "xds:///echo",
        "--count",
        "150",
        "--interval-ms",
        "20",
        "--node",
        "grpc-js-failover",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    client.stdout?.on("data", (d) => (out += d));
    client.stderr?.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((r) => client.once("exit", (code) => r(code)));
    try {
      await until("the first answer", () => (/call \d+: backend-/.test(out) ? true : undefined));
      await new Promise((r) => setTimeout(r, 300));
      await b.kill();
      await until(
        "the channel's ADS stream on the other replica",
        async () => {
          const res = await fetch(`http://127.0.0.1:${c.adminPort}/debug/connections`);
          const body = (await res.json()) as { connections: { nodeId: string }[] };
          return body.connections.some((x) => x.nodeId === "grpc-js-failover") ? true : undefined;
        },
        10_000,
      );
      assert.equal(await exited, 0, out.slice(-2000));
      const calls = out.split("\n").filter((l) => /^call \d+:/.test(l));
      assert.equal(calls.length, 150, out.slice(-2000));
      assert.deepEqual(
        calls.filter((l) => l.includes("failed")),
        [],
        "no RPC failed while the replica was killed",
      );
    } finally {
      client.kill();
    }
  });
  it("a SotW client moving to the other replica is sent nothing it holds whole, the rest at the same versions, and is synced", async () => {
    const c = replicas[2] as Replica;
    const d = await startReplica(etcd.url);
    replicas.push(d);
    const client = createAdsClient({
      target: [`127.0.0.1:${c.xdsPort}`, `127.0.0.1:${d.xdsPort}`],
      node: proxylessNode("sotw-failover"),
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    clients.push(client);
    const typeVersions = new Map<string, string>();
    client.on("update", (u) => typeVersions.set(u.typeUrl, u.version));
    client.subscribe(TypeUrl.Cluster);
    client.subscribe(TypeUrl.Listener, ["echo"]);
    await client.synced(10_000);
    const before = [...typeVersions.values()].sort();
    const listenerBefore = typeVersions.get(TypeUrl.Listener);
    const held = new Map<string, string>();
    for (const t of [TypeUrl.Cluster, TypeUrl.Listener])
      for (const [name, r] of client.store.all(t)) held.set(`${t} ${name}`, `${r.version}`);
    const after: { typeUrl: string; version: string; removed: readonly string[] }[] = [];
    client.on("update", (u) => after.push(u));
    await c.kill();
    // Clusters are subscribed whole (wildcard) and current on the survivor:
    // nothing is sent. The listener is one of several, so it is answered.
    await until("the listener again from the other replica", () =>
      after.some((u) => u.typeUrl === TypeUrl.Listener) ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      after.map((u) => u.typeUrl),
      [TypeUrl.Listener],
      "only the partly held type is sent again",
    );
    assert.equal(client.target, `127.0.0.1:${d.xdsPort}`);
    for (const u of after) assert.deepEqual(u.removed, [], `${u.typeUrl} removed nothing`);
    assert.equal(after[0]?.version, listenerBefore, "the same listener version");
    const now = new Map<string, string>();
    for (const t of [TypeUrl.Cluster, TypeUrl.Listener])
      for (const [name, r] of client.store.all(t)) now.set(`${t} ${name}`, `${r.version}`);
    assert.deepEqual(now, held, "the same resources at the same versions");
    // The survivor sees every type ACKed at the version the client held before.
    const rows = await until("the survivor's ACKs", async () => {
      const res = await fetch(`http://127.0.0.1:${d.adminPort}/debug/syncz`);
      const all = (await res.json()) as { nodeId: string; type: string; status: string; ackedVersion: string }[];
      const mine = all.filter((r) => r.nodeId === "sotw-failover");
      return mine.length === 2 && mine.every((r) => r.status === "SYNCED") ? mine : undefined;
    });
    assert.deepEqual(rows.map((r) => r.ackedVersion).sort(), before, "ACKed the versions held before the failover");
  });
});
