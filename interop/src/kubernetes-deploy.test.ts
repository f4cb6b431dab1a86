// deploy/xdskit-pilot.yaml against a real API server: every object is
// accepted as written, and the ClusterRole is enough and no more — a pilot
// running as the manifest's service account (a token from the TokenRequest
// API) reads the cluster and serves it, cannot read Secrets, and a service
// account without the binding leaves the pilot not ready, saying why.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CoreV1Api, KubeConfig, type KubernetesObject, loadAllYaml } from "@kubernetes/client-node";
import { dumpConfig } from "@xdskit/adsc";
import { type KubeWorld, startKubeWorld } from "./harness/kube.js";
import { type KubePilot, startKubePilot } from "./harness/pilot.js";
import { waitFor } from "./harness/wait.js";

const MANIFEST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../deploy/xdskit-pilot.yaml");

describe("deploy/xdskit-pilot.yaml on a real API server", () => {
  let world: KubeWorld;
  const pilots: KubePilot[] = [];

  const tokenFor = async (namespace: string, name: string) => {
    const core = world.kube.config.makeApiClient(CoreV1Api);
    const req = await core.createNamespacedServiceAccountToken({
      namespace,
      name,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const token = req.status?.token;
    assert.ok(token, "a token for the service account");
    return world.kube.kubeconfigFor(`${namespace}-${name}`, token);
  };

  before(async () => {
    world = await startKubeWorld(3);
  });

  after(async () => {
    for (const p of pilots) await p.stop();
    await world?.stop();
  });

  it("is accepted object by object, as written", async () => {
    const objects = loadAllYaml(fs.readFileSync(MANIFEST, "utf8")) as KubernetesObject[];
    assert.deepEqual(
      objects.map((o) => o.kind),
      ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Secret", "Service"],
    );
    for (const o of objects) {
      const created = await world.kube.api.create(o);
      assert.equal(created.metadata?.name, o.metadata?.name);
    }
    const deployment = await world.kube.api.read({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "xdskit-pilot", namespace: "xdskit-system" },
    });
    assert.equal((deployment as { spec?: { replicas?: number } }).spec?.replicas, 2);
  });

  it("lets the pilot read the cluster as its service account, and nothing more", async () => {
    await world.cluster.namespace("web");
    await world.cluster.service("web", "front", { selector: { app: "front" }, ports: [{ name: "http", port: 8080 }] });
    await world.cluster.pod({ namespace: "web", name: "front-0", ip: world.podIp(0), labels: { app: "front" } });
    const kubeconfig = await tokenFor("xdskit-system", "xdskit-pilot");
    const pilot = await startKubePilot(kubeconfig);
    pilots.push(pilot);
    const dump = await waitFor("the service's endpoints through the pilot", async () => {
      const d = await dumpConfig({
        target: `127.0.0.1:${pilot.xdsPort}`,
        node: { id: "deploy-probe", cluster: "clients", userAgentName: "gRPC Node", locality: { zone: "a" } },
      });
      const eds = d.configs.find((c) => c.typeUrl.endsWith("ClusterLoadAssignment"));
      return JSON.stringify(eds ?? {}).includes(world.podIp(0)) ? d : undefined;
    });
    assert.ok(
      dump.configs.some((c) => c.resources.some((r) => r.name === "outbound|8080||front.web.svc.cluster.local")),
    );
    // Least privilege: the same identity may not read Secrets.
    const asPilot = new KubeConfig();
    asPilot.loadFromFile(kubeconfig);
    await assert.rejects(
      asPilot.makeApiClient(CoreV1Api).listSecretForAllNamespaces(),
      (err: { code?: number }) => err.code === 403,
    );
  });

  it("without the binding, the pilot is not ready and says it was forbidden", async () => {
    await world.cluster.serviceAccount("xdskit-system", "unbound");
    const kubeconfig = await tokenFor("xdskit-system", "unbound");
    const { spawn } = await import("node:child_process");
    const main = path.resolve(path.dirname(MANIFEST), "../examples/minimal-pilot/dist/main.js");
    const child = spawn(process.execPath, [main, "--kubeconfig", kubeconfig, "--port", "0", "--admin-port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d) => (out += d));
    child.stderr?.on("data", (d) => (out += d));
    try {
      const admin = await waitFor("the admin port", () => out.match(/admin listening on [\d.]+:(\d+)/)?.[1]);
      const why = await waitFor("the refusal on /readyz", async () => {
        const res = await fetch(`http://127.0.0.1:${admin}/readyz`);
        const text = await res.text();
        return res.status === 503 && /403|forbidden/i.test(text) ? text : undefined;
      });
      assert.match(why, /system:serviceaccount:xdskit-system:unbound/);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
