// minimal-pilot reading a real Kubernetes API server (kube-apiserver and the
// EndpointSlice controller, built from the Go module proxy), serving real
// clients: a grpc-js-xds client calls Services through xds:///<host>:<port>
// and reaches pods that serve in a network namespace of their own; scaling,
// readiness, renamed ports, deleted Services, ExternalName, a namespace
// selector, a sidecar claiming another pod's namespace, and a real Envoy
// sidecar on a pod's IP — each seen on the wire and in the pilot's config.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { createAdsClient } from "@xdskit/adsc";
import { TypeUrl } from "@xdskit/xds-types";
import { type Driver, startGrpcJsDriver, writeBootstrap } from "./harness/drivers.js";
import { type Envoy, rejections, startEnvoy } from "./harness/envoy.js";
import { type KubeWorld, type PodBackend, startKubeWorld } from "./harness/kube.js";
import { type KubePilot, startKubePilot } from "./harness/pilot.js";
import { waitFor } from "./harness/wait.js";

const NS = "team-a";
const HOST = `echo.${NS}.svc.cluster.local`;
const TARGET = `xds:///${HOST}:7070`;

describe("minimal-pilot on a real Kubernetes API server", () => {
  let world: KubeWorld;
  let pilot: KubePilot;
  let js: Driver;
  const pods: PodBackend[] = [];

  const pod = async (i: number, ready = true, labels: Record<string, string> = { app: "echo", version: "v1" }) => {
    const ip = world.podIp(i);
    pods.push(await world.backend(`echo-${i}`, ip, 17070));
    await world.cluster.pod({ namespace: NS, name: `echo-${i}`, ip, labels, serviceAccount: "echo", ready });
  };
  /** Calls until every answer is from one of `names` and each of them answered. */
  const reaches = (what: string, names: readonly string[]) =>
    waitFor(
      what,
      async () => {
        const a = await js.call(TARGET, 20, { deadlineMs: 2000 });
        const who = Object.keys(a.answers).sort();
        return a.errorCount === 0 && JSON.stringify(who) === JSON.stringify([...names].sort()) ? a : undefined;
      },
      30_000,
      200,
    );

  before(async () => {
    world = await startKubeWorld(1);
    await world.cluster.namespace(NS, { mesh: "on" });
    await world.cluster.serviceAccount(NS, "echo");
    await world.cluster.namespace("team-x");
    await world.cluster.service(NS, "echo", {
      selector: { app: "echo" },
      ports: [{ name: "grpc", port: 7070, targetPort: 17070 as never }],
    });
    await pod(0);
    await pod(1);
    pilot = await startKubePilot(world.kube.kubeconfig, ["--namespace-selector", "mesh=on"]);
    js = startGrpcJsDriver(writeBootstrap(pilot.xdsPort, { id: "k8s-client", cluster: "clients" }));
  });

  after(async () => {
    await js?.stop();
    await pilot?.stop();
    for (const p of pods) await p.stop();
    await world?.stop();
  });

  it("serves a Service's ready pods to a grpc-js-xds client dialling xds:///<host>:<port>", async () => {
    await reaches("calls to both pods", ["echo-0", "echo-1"]);
    const mesh = await pilot.admin<{
      services: { name: string; endpoints: { address: string; port: number; identity?: string }[] }[];
    }>("/debug/mesh");
    const echo = mesh.services.find((s) => s.name === HOST);
    assert.deepEqual(
      echo?.endpoints.map((e) => `${e.address}:${e.port}`).sort(),
      [`${world.podIp(0)}:17070`, `${world.podIp(1)}:17070`],
      "the target port, from the EndpointSlice",
    );
    assert.equal(echo?.endpoints[0]?.identity, `spiffe://cluster.local/ns/${NS}/sa/echo`);
  });

  it("moves traffic within seconds when pods scale up, turn unready and go, and pushes only EDS", async () => {
    const pushes = () =>
      pilot
        .output()
        .split("\n")
        .filter((l) => l.startsWith("push: Kubernetes")).length;
    const before = pushes();
    await pod(2);
    await reaches("calls to the new pod too", ["echo-0", "echo-1", "echo-2"]);
    await world.cluster.setReady(NS, "echo-0", false);
    await reaches("calls to leave the unready pod", ["echo-1", "echo-2"]);
    await world.cluster.deletePod(NS, "echo-1");
    await reaches("calls to leave the deleted pod", ["echo-2"]);
    await world.cluster.setReady(NS, "echo-0", true);
    await reaches("calls back on the ready pod", ["echo-0", "echo-2"]);
    const lines = pilot
      .output()
      .split("\n")
      .filter((l) => l.startsWith("push: Kubernetes"));
    assert.ok(lines.length > before, "pushes happened");
    for (const l of lines.slice(before)) assert.match(l, /→ EDS for/, `an endpoint change pushes EDS only: ${l}`);
  });

  it("follows a renamed port, an ExternalName Service, and a deleted Service; leaves out an unselected namespace", async () => {
    const adsc = createAdsClient({
      target: `127.0.0.1:${pilot.xdsPort}`,
      node: { id: "k8s-watcher", cluster: "clients", userAgentName: "gRPC Node", locality: { zone: "a" } },
    });
    try {
      adsc.subscribe(TypeUrl.Cluster);
      await adsc.synced(10_000);
      const clusters = () => [...adsc.store.all(TypeUrl.Cluster).keys()].sort();
      // The unselected namespace's Service is not served.
      await world.cluster.service("team-x", "hidden", { selector: { app: "x" }, ports: [{ port: 80 }] });
      await world.cluster.service(NS, "legacy", {
        type: "ExternalName",
        externalName: "db.example.com",
        ports: [{ port: 5432 }],
      });
      await waitFor("the ExternalName service", () =>
        clusters().includes(`outbound|5432||legacy.${NS}.svc.cluster.local`) ? true : undefined,
      );
      const legacy = adsc.store.all(TypeUrl.Cluster).get(`outbound|5432||legacy.${NS}.svc.cluster.local`)?.message as
        | { clusterDiscoveryType?: { value?: number } }
        | undefined;
      assert.equal(legacy?.clusterDiscoveryType?.value, 2 /* LOGICAL_DNS */);
      assert.ok(!clusters().some((c) => c.includes("team-x")), `team-x is not served: ${clusters().join(", ")}`);

      // A port renamed and renumbered: a new cluster, the old one gone.
      await world.cluster.core.patchNamespacedService(
        {
          namespace: NS,
          name: "echo",
          body: [{ op: "replace", path: "/spec/ports/0", value: { name: "http-web", port: 8080, targetPort: 17070 } }],
        },
        setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
      );
      await waitFor("the renamed port's cluster", () =>
        clusters().includes(`outbound|8080||${HOST}`) && !clusters().includes(`outbound|7070||${HOST}`)
          ? true
          : undefined,
      );
      const mesh = await pilot.admin<{ services: { name: string; port?: number; protocol?: string }[] }>("/debug/mesh");
      assert.equal(mesh.services.find((s) => s.name === HOST)?.protocol, "http", "the protocol from the port name");

      // Deleted: its cluster goes (the slices it leaves behind are ignored).
      await world.cluster.core.deleteNamespacedService({ namespace: NS, name: "legacy" });
      await waitFor("the deleted service's cluster to go", () =>
        !clusters().some((c) => c.includes("legacy")) ? true : undefined,
      );
    } finally {
      adsc.close();
    }
  });

  it("refuses a sidecar at a pod's IP that claims another namespace, naming both", async () => {
    const ip = world.podIp(2);
    const liar = createAdsClient({
      target: `127.0.0.1:${pilot.xdsPort}`,
      node: { id: `sidecar~${ip}~echo-2.other~other.svc.cluster.local`, cluster: "echo" },
      reconnect: false,
    });
    try {
      liar.subscribe(TypeUrl.Cluster);
      const ended = await new Promise<{ code: number; details: string }>((resolve) => liar.on("disconnected", resolve));
      assert.equal(ended.code, 7 /* PERMISSION_DENIED */);
      assert.match(
        ended.details,
        /claims namespace "other", but the pod at 10\.213\.1\.4 \(team-a\/echo-2\) runs in namespace "team-a"/,
      );
    } finally {
      liar.close();
    }
  });

  it("gives a real Envoy sidecar at a pod's IP that pod's inbound listener, accepted without rejection", async () => {
    let envoy: Envoy | undefined;
    try {
      const ip = world.podIp(2);
      envoy = await startEnvoy({
        nodeId: `sidecar~${ip}~echo-2.${NS}~${NS}.svc.cluster.local`,
        cluster: "echo",
        xdsPort: pilot.xdsPort,
        metadata: { NAMESPACE: NS, SERVICE_ACCOUNT: "echo" },
      });
      await waitFor(
        "Envoy's listeners",
        async () => ((await envoy?.listeners())?.includes("virtualInbound") ? true : undefined),
        30_000,
      );
      const dump = JSON.stringify(await envoy.configDump());
      assert.match(dump, /inbound\|17070\|\|/, "a filter chain and cluster for the pod's own port");
      assert.match(dump, /outbound\|8080\|\|echo\.team-a\.svc\.cluster\.local/);
      assert.deepEqual(rejections(await envoy.stats()), []);
    } finally {
      await envoy?.stop();
    }
  });
});
