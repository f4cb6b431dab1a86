// Istio resources from the Kubernetes API: the networking CRDs installed in
// a real API server, DestinationRules and VirtualServices created, edited
// and deleted through it, and minimal-pilot (--kubeconfig --istio) routing a
// grpc-js-xds client between a Service's pods by them. A bad object is
// refused with its kind, name, field path and reason while the rest keeps
// being served; an edit that breaks a reference keeps the last good version.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CustomObjectsApi, KubernetesObjectApi, loadAllYaml } from "@kubernetes/client-node";
import { type Driver, startGrpcJsDriver, writeBootstrap } from "./harness/drivers.js";
import { type KubeWorld, type PodBackend, startKubeWorld } from "./harness/kube.js";
import { type KubePilot, startKubePilot } from "./harness/pilot.js";
import { waitFor } from "./harness/wait.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const NS = "shop";
const HOST = `reviews.${NS}.svc.cluster.local`;
const TARGET = `xds:///${HOST}:7070`;

const destinationRule = {
  apiVersion: "networking.istio.io/v1beta1",
  kind: "DestinationRule",
  metadata: { name: "reviews", namespace: NS },
  spec: {
    host: "reviews",
    subsets: [
      { name: "v1", labels: { version: "v1" } },
      { name: "v2", labels: { version: "v2" } },
    ],
  },
};
const virtualService = (defaultSubset: string) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata: { name: "reviews", namespace: NS },
  spec: {
    hosts: ["reviews"],
    http: [
      {
        match: [{ headers: { "end-user": { exact: "jason" } } }],
        route: [{ destination: { host: "reviews", subset: "v2" } }],
      },
      { route: [{ destination: { host: "reviews", subset: defaultSubset } }] },
    ],
  },
});

describe("Istio resources from the Kubernetes API (CRDs in a real API server)", () => {
  let world: KubeWorld;
  let pilot: KubePilot;
  let js: Driver;
  let custom: CustomObjectsApi;
  const pods: PodBackend[] = [];

  const answers = async (metadata: Record<string, string> = {}) => {
    const a = await js.call(TARGET, 20, { deadlineMs: 2000, metadata });
    return a.errorCount === 0 ? Object.keys(a.answers).sort().join(",") : `errors: ${a.errors.join("; ")}`;
  };
  const until = (what: string, want: string, metadata: Record<string, string> = {}) =>
    waitFor(what, async () => ((await answers(metadata)) === want ? true : undefined), 30_000, 200).catch(
      async (err: Error) => {
        throw new Error(`${err.message}; last: ${await answers(metadata)}\npilot:\n${pilot.output().slice(-3000)}`);
      },
    );
  // Istio's kinds through the custom objects API: the typed client would drop the spec it has no model for.
  const where = (o: { apiVersion: string; kind: string; metadata: { name: string } }) => ({
    group: "networking.istio.io",
    version: o.apiVersion.split("/")[1] as string,
    namespace: NS,
    plural: `${o.kind.toLowerCase()}s`,
  });
  const create = (o: { apiVersion: string; kind: string; metadata: { name: string } }) =>
    custom.createNamespacedCustomObject({ ...where(o), body: o });
  const replace = async (o: { apiVersion: string; kind: string; metadata: { name: string } }) => {
    const current = (await custom.getNamespacedCustomObject({ ...where(o), name: o.metadata.name })) as {
      metadata: { resourceVersion: string };
    };
    await custom.replaceNamespacedCustomObject({
      ...where(o),
      name: o.metadata.name,
      body: { ...o, metadata: { ...o.metadata, resourceVersion: current.metadata.resourceVersion } },
    });
  };

  before(async () => {
    world = await startKubeWorld(4);
    const api = KubernetesObjectApi.makeApiClient(world.kube.config);
    custom = world.kube.config.makeApiClient(CustomObjectsApi);
    // Read into the client's models, as kubectl would send them.
    for (const crd of loadAllYaml(
      fs.readFileSync(path.join(ROOT, "packages/source-istio/crds/networking.yaml"), "utf8"),
    ))
      if (crd) await api.create(crd);
    // The API server serves a CRD's kind once it is established.
    await waitFor(
      "the Istio CRDs to be served",
      async () => {
        try {
          await api.list("networking.istio.io/v1", "VirtualService", NS);
          await api.list("networking.istio.io/v1beta1", "DestinationRule", NS);
          return true;
        } catch {
          return undefined;
        }
      },
      30_000,
      200,
    );
    await world.cluster.namespace(NS);
    await world.cluster.service(NS, "reviews", {
      selector: { app: "reviews" },
      ports: [{ name: "grpc", port: 7070, targetPort: 17070 as never }],
    });
    for (const [i, version] of ["v1", "v2"].entries()) {
      const ip = world.podIp(i);
      pods.push(await world.backend(`reviews-${version}`, ip, 17070));
      await world.cluster.pod({ namespace: NS, name: `reviews-${version}`, ip, labels: { app: "reviews", version } });
    }
    await create(destinationRule);
    await create(virtualService("v1"));
    pilot = await startKubePilot(world.kube.kubeconfig, ["--istio"]);
    js = startGrpcJsDriver(
      writeBootstrap(pilot.xdsPort, { id: "istio-k8s-client", cluster: "clients", metadata: { NAMESPACE: NS } }),
    );
  });

  after(async () => {
    await js?.stop();
    await pilot?.stop();
    for (const p of pods) await p.stop();
    await world?.stop();
  });

  it("routes by the VirtualService read from the API server: v1 by default, v2 for jason", async () => {
    await until("calls to v1 only", "reviews-v1");
    assert.equal(await answers({ "end-user": "jason" }), "reviews-v2");
  });

  it("follows an edit made through the API", async () => {
    await replace(virtualService("v2"));
    await until("calls to v2 after the edit", "reviews-v2");
  });

  it("refuses a bad object alone, naming it, its field and why; the rest is served", async () => {
    const bad = {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "broken", namespace: NS },
      spec: { hosts: ["ratings"], http: [{ route: [{ destination: { host: "ratings" }, weight: "heavy" }] }] },
    };
    await create(bad);
    await waitFor(
      "the refusal in the pilot's log",
      () =>
        pilot.output().includes("kubernetes: VirtualService shop/broken: spec.http[0].route[0].weight: must be integer")
          ? true
          : undefined,
      20_000,
    );
    assert.equal(await answers(), "reviews-v2", "reviews is unaffected");
  });

  it("an edit that names a subset that does not exist is refused; the last good version stays", async () => {
    await replace(virtualService("v9"));
    await waitFor(
      "the reference refusal",
      () => (/has no subset "v9" \(its last good version is served\)/.test(pilot.output()) ? true : undefined),
      20_000,
    );
    assert.equal(await answers(), "reviews-v2");
    assert.equal(await answers({ "end-user": "jason" }), "reviews-v2");
  });

  it("deleting the VirtualService sends calls to every pod again", async () => {
    await custom.deleteNamespacedCustomObject({ ...where(virtualService("v1")), name: "reviews" });
    await until("calls to both pods", "reviews-v1,reviews-v2");
  });
});
