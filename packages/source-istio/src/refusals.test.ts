// Bad Istio objects are refused one by one — where they came from, which
// object, the field path, why — while everything else, and the last good
// version of the bad one, keeps being served.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { createIstioFolderSource } from "./folder.js";
import { IstioStore } from "./store.js";
import { type Loose, NODES, TypeUrl, controllerOf, resourcesOf } from "./testing.test-helpers.js";

const se = (name: string, ip: string) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "ServiceEntry",
  metadata: { name, namespace: "default" },
  spec: {
    hosts: [`${name}.default.svc.cluster.local`],
    ports: [{ number: 8080, name: "http", protocol: "HTTP" }],
    resolution: "STATIC",
    endpoints: [
      { address: ip, labels: { version: "v1" } },
      { address: ip.replace(/1$/, "2"), labels: { version: "v2" } },
    ],
  },
});
const dr = {
  apiVersion: "networking.istio.io/v1",
  kind: "DestinationRule",
  metadata: { name: "web", namespace: "default" },
  spec: {
    host: "web",
    subsets: [
      { name: "v1", labels: { version: "v1" } },
      { name: "v2", labels: { version: "v2" } },
    ],
  },
};
const vs = (subset: string, weight: unknown = 100) => ({
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata: { name: "web", namespace: "default" },
  spec: { hosts: ["web"], http: [{ route: [{ destination: { host: "web", subset }, weight }] }] },
});
const origin = (document: number) => ({ source: "mesh.yaml", document });

function webCluster(controller: ReturnType<typeof controllerOf>): string {
  const routes = resourcesOf(controller, NODES.sidecar(), TypeUrl.RouteConfiguration).get("8080");
  const web = routes.virtualHosts.find((v: Loose) => v.name.startsWith("web."));
  return web.routes[0].route.cluster;
}

describe("refusing bad Istio objects one by one", () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it("a schema error names the file, document, object and field; the others are served", () => {
    const store = new IstioStore();
    const rejected: string[] = [];
    store.on("rejected", (e) => rejected.push(e.error.message));
    store.replaceSource("mesh.yaml", [
      { doc: se("web", "10.2.0.1"), origin: origin(0) },
      { doc: vs("v1", "heavy"), origin: origin(1) },
      { doc: se("api", "10.3.0.1"), origin: origin(2) },
    ]);
    assert.deepEqual(store.refused(), [
      {
        object: "mesh.yaml document 2: VirtualService default/web",
        reason: "spec.http[0].route[0].weight: must be integer",
        lastGoodServed: false,
      },
    ]);
    assert.deepEqual(rejected, [
      "mesh.yaml document 2: VirtualService default/web: spec.http[0].route[0].weight: must be integer",
    ]);
    assert.deepEqual(
      store
        .services()
        .map((s) => s.name)
        .sort(),
      ["api.default.svc.cluster.local", "web.default.svc.cluster.local"],
    );
  });

  it("an object that turns bad keeps its last good version; a conversion error names its path too", () => {
    const store = new IstioStore();
    store.replaceSource("mesh.yaml", [
      { doc: se("web", "10.2.0.1"), origin: origin(0) },
      { doc: dr, origin: origin(1) },
      { doc: vs("v2"), origin: origin(2) },
    ]);
    const controller = controllerOf(store);
    try {
      assert.equal(webCluster(controller), "outbound|8080|v2|web.default.svc.cluster.local");
      // Schema-valid, but a fault with no delay or abort kind xdskit takes.
      const bad = vs("v1");
      (bad.spec.http[0] as Record<string, unknown>).fault = {
        abort: { http2Error: "CANCEL", percentage: { value: 5 } },
      };
      store.replaceSource("mesh.yaml", [
        { doc: se("web", "10.2.0.1"), origin: origin(0) },
        { doc: dr, origin: origin(1) },
        { doc: bad, origin: origin(2) },
      ]);
      assert.deepEqual(store.refused(), [
        {
          object: "mesh.yaml document 3: VirtualService default/web",
          reason: "spec.http[0].fault.abort: needs httpStatus or grpcStatus (http2Error is not supported)",
          lastGoodServed: true,
        },
      ]);
      assert.equal(store.routes()[0]?.split[0]?.subset, "v2", "the last good version is what the store serves");
    } finally {
      controller.close();
    }
  });

  it("a reference to a subset that does not exist is refused by the controller with the object's name, and its last good version stays", async () => {
    const store = new IstioStore();
    const docs = (v: object) => [
      { doc: se("web", "10.2.0.1"), origin: origin(0) },
      { doc: dr, origin: origin(1) },
      { doc: v, origin: origin(2) },
    ];
    store.replaceSource("mesh.yaml", docs(vs("v1")));
    const controller = controllerOf(store);
    try {
      assert.equal(webCluster(controller), "outbound|8080|v1|web.default.svc.cluster.local");
      const refused = new Promise<string>((resolve) =>
        controller.on("sourceRejected", (e: { reason: string; error: Error }) => {
          if (e.reason.startsWith("a config object was refused")) resolve(e.error.message);
        }),
      );
      store.replaceSource("mesh.yaml", docs(vs("v9")));
      assert.match(
        await refused,
        /^routes\[0\] \(mesh\.yaml document 3: VirtualService default\/web spec\.http\[0\]\)\.split\[0\]\.subset: service "web\.default\.svc\.cluster\.local" has no subset "v9" \(its last good version is served\)$/,
      );
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(webCluster(controller), "outbound|8080|v1|web.default.svc.cluster.local");
    } finally {
      controller.close();
    }
  });

  it("a Sidecar's ingress to a unix socket is refused with its path", () => {
    const store = new IstioStore();
    store.replaceSource("mesh.yaml", [
      {
        doc: {
          apiVersion: "networking.istio.io/v1",
          kind: "Sidecar",
          metadata: { name: "web", namespace: "default" },
          spec: {
            ingress: [
              { port: { number: 9080, protocol: "HTTP", name: "http" }, defaultEndpoint: "unix:///var/run/app.sock" },
            ],
          },
        },
        origin: origin(0),
      },
    ]);
    assert.equal(store.refused()[0]?.object, "mesh.yaml document 1: Sidecar default/web");
    assert.match(
      store.refused()[0]?.reason ?? "",
      /^spec\.ingress\[0\]\.defaultEndpoint: must be 127\.0\.0\.1:<port> or 0\.0\.0\.0:<port>/,
    );
  });

  it("a folder: an edit in a subfolder is seen through the folder's notifications, without waiting for the poll", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-istio-"));
    dirs.push(dir);
    fs.mkdirSync(path.join(dir, "team-a"));
    fs.writeFileSync(path.join(dir, "team-a", "web.yaml"), JSON.stringify(se("web", "10.2.0.1")));
    // A poll that never comes within the test: only a notification can tell of the edit.
    const source = createIstioFolderSource({ dir, pollMs: 3_600_000, settleMs: 20 });
    const alive = setInterval(() => undefined, 1000);
    try {
      assert.deepEqual(source.counts(), { ServiceEntry: 1 });
      const changed = new Promise((r) => source.once("change", r));
      // Saved aside and renamed in, as editors and deploy tools do.
      fs.writeFileSync(path.join(dir, "team-a", ".api.yaml.tmp"), JSON.stringify(se("api", "10.3.0.1")));
      fs.renameSync(path.join(dir, "team-a", ".api.yaml.tmp"), path.join(dir, "team-a", "api.yaml"));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        changed,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("no change within 10 s of the edit")), 10_000);
        }),
      ]).finally(() => clearTimeout(timer));
      assert.deepEqual(source.counts(), { ServiceEntry: 2 });
    } finally {
      clearInterval(alive);
      source.close();
    }
  });

  it("a folder: several documents a file, edits picked up, bad YAML refused with its file while its objects stay", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "xdskit-istio-"));
    dirs.push(dir);
    const yaml = (...objects: object[]) => objects.map((o) => JSON.stringify(o)).join("\n---\n");
    fs.writeFileSync(path.join(dir, "services.yaml"), yaml(se("web", "10.2.0.1"), se("api", "10.3.0.1")));
    fs.writeFileSync(path.join(dir, "routes.yaml"), yaml(dr, vs("v1")));
    const source = createIstioFolderSource({ dir, pollMs: 20 });
    // The poll does not hold the process open; the test does while it waits.
    const alive = setInterval(() => undefined, 1000);
    try {
      assert.deepEqual(source.counts(), { ServiceEntry: 2, DestinationRule: 1, VirtualService: 1 });
      const changed = new Promise((r) => source.once("change", r));
      fs.writeFileSync(path.join(dir, "routes.yaml"), yaml(dr, vs("v2")));
      await changed;
      assert.equal(source.routes()[0]?.split[0]?.subset, "v2");
      const broken = new Promise<Error>((r) => source.once("rejected", (e: { error: Error }) => r(e.error)));
      fs.writeFileSync(path.join(dir, "routes.yaml"), "kind: [unclosed\n");
      assert.match((await broken).message, /^routes\.yaml: document 1: not valid YAML: /);
      assert.equal(source.routes()[0]?.split[0]?.subset, "v2", "the file's objects stay");
      fs.rmSync(path.join(dir, "routes.yaml"));
      await new Promise((r) => source.once("change", r));
      assert.deepEqual(source.routes(), [], "a removed file takes its objects with it");
    } finally {
      clearInterval(alive);
      source.close();
    }
  });
});
