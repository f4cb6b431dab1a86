// The mapping from a cluster's objects to the model, object by object, and
// the incremental model that rebuilds only what an event touches.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service } from "@kubernetes/client-node";
import { ClusterModel } from "./cluster-model.js";
import { matchesSelector, parseSelector } from "./labels.js";
import { protocolOf, servicesFromCluster } from "./mapping.js";

const svc = (ns: string, name: string, spec: V1Service["spec"], uid = `${ns}-${name}`): V1Service => ({
  metadata: { namespace: ns, name, uid, labels: { app: name } },
  ...(spec ? { spec } : {}),
});

const slice = (
  ns: string,
  service: string,
  name: string,
  endpoints: V1EndpointSlice["endpoints"],
  ports: V1EndpointSlice["ports"],
  ownerUid = `${ns}-${service}`,
): V1EndpointSlice => ({
  metadata: {
    namespace: ns,
    name,
    labels: { "kubernetes.io/service-name": service },
    ownerReferences: [{ apiVersion: "v1", kind: "Service", name: service, uid: ownerUid }],
  },
  addressType: "IPv4",
  endpoints,
  ...(ports ? { ports } : {}),
});

const pod = (ns: string, name: string, labels: Record<string, string>, sa = "default"): V1Pod => ({
  metadata: { namespace: ns, name, labels },
  spec: { serviceAccountName: sa, containers: [] },
  status: { podIP: "10.1.0.1", phase: "Running" },
});

const node = (name: string, zone: string): V1Node => ({
  metadata: { name, labels: { "topology.kubernetes.io/region": "eu", "topology.kubernetes.io/zone": zone } },
});

const byKey = <T extends { metadata?: { namespace?: string; name?: string } }>(...xs: T[]) =>
  new Map(xs.map((x) => [`${x.metadata?.namespace ?? ""}/${x.metadata?.name ?? ""}`, x]));

const options = { domain: "cluster.local", trustDomain: "cluster.local", namespaceSelected: () => true };

describe("mapping a cluster to the model", () => {
  it("selects protocols as Istio does: appProtocol, then the port name's prefix", () => {
    assert.equal(protocolOf({ appProtocol: "grpc", name: "http" }), "grpc");
    assert.equal(protocolOf({ appProtocol: "kubernetes.io/h2c" }), "http");
    assert.equal(protocolOf({ name: "grpc-web" }), "grpc");
    assert.equal(protocolOf({ name: "http2-api" }), "http");
    assert.equal(protocolOf({ name: "tcp-db" }), "tcp");
    assert.equal(protocolOf({ name: "https" }), "tcp", "TLS passes through as TCP");
    assert.equal(protocolOf({ name: "metrics" }), undefined);
  });

  it("maps Services, their slices, pods and nodes: hosts, ports, target ports, health, labels, identity, locality", () => {
    const services = servicesFromCluster(
      {
        services: byKey(
          svc("team-a", "echo", {
            ports: [
              { name: "grpc", port: 7070, targetPort: 17070 as never },
              { name: "http-web", port: 8080 },
              { name: "dns", port: 53, protocol: "UDP" },
            ],
          }),
          svc("team-a", "single", { ports: [{ port: 9000, appProtocol: "http" }] }),
          svc("team-a", "legacy", { type: "ExternalName", externalName: "db.example.com.", ports: [{ port: 5432 }] }),
        ),
        slices: byKey(
          slice(
            "team-a",
            "echo",
            "echo-abc",
            [
              {
                addresses: ["10.1.0.1"],
                conditions: { ready: true },
                nodeName: "n1",
                targetRef: { kind: "Pod", name: "echo-1", namespace: "team-a" },
              },
              { addresses: ["10.1.0.2"], conditions: { ready: false, serving: true, terminating: true } },
              { addresses: ["10.1.0.3"], conditions: { ready: false } },
            ],
            [
              { name: "grpc", port: 17070, protocol: "TCP" },
              { name: "http-web", port: 18080, protocol: "TCP" },
            ],
          ),
          // A slice left by a deleted Service of the same name (no garbage collector removed it).
          slice("team-a", "single", "single-old", [{ addresses: ["10.9.9.9"] }], [{ port: 9000 }], "old-uid"),
          slice("team-a", "single", "single-new", [{ addresses: ["10.1.1.1"] }], [{ port: 9001 }]),
        ),
        pods: byKey(pod("team-a", "echo-1", { app: "echo", version: "v1" }, "echo-sa")),
        nodes: byKey(node("n1", "eu-1a")),
      },
      options,
    );
    assert.deepEqual(
      services.map((s) => s.name),
      ["echo.team-a.svc.cluster.local", "legacy.team-a.svc.cluster.local", "single.team-a.svc.cluster.local"],
    );
    const echo = services[0];
    assert.deepEqual(echo?.ports, [
      { port: 7070, name: "grpc", protocol: "grpc" },
      { port: 8080, name: "http-web", protocol: "http" },
    ]);
    assert.deepEqual(echo?.endpoints[0], {
      address: "10.1.0.1",
      port: 17070,
      ports: { "7070": 17070, "8080": 18080 },
      locality: { region: "eu", zone: "eu-1a" },
      labels: { app: "echo", version: "v1" },
      identity: "spiffe://cluster.local/ns/team-a/sa/echo-sa",
    });
    assert.equal(echo?.endpoints[1]?.health, "draining");
    assert.equal(echo?.endpoints[2]?.health, "unhealthy");
    const single = services[2];
    assert.equal(single?.port, 9000);
    assert.equal(single?.protocol, "http");
    assert.deepEqual(
      single?.endpoints.map((e) => `${e.address}:${e.port}`),
      ["10.1.1.1:9001"],
      "the stale slice is ignored",
    );
    assert.deepEqual(services[1]?.dns, { host: "db.example.com", port: 5432 });
  });

  it("rebuilds only the services an event touches, keeps unchanged objects, and refuses a bad service alone", () => {
    const stores = {
      services: byKey(svc("a", "one", { ports: [{ port: 80 }] }), svc("a", "two", { ports: [{ port: 80 }] })),
      slices: byKey(
        slice(
          "a",
          "one",
          "one-1",
          [{ addresses: ["10.0.0.1"], targetRef: { kind: "Pod", name: "p1", namespace: "a" } }],
          [{ port: 80 }],
        ),
        slice("a", "two", "two-1", [{ addresses: ["10.0.0.2"] }], [{ port: 80 }]),
      ),
      pods: byKey(pod("a", "p1", { v: "1" })),
      nodes: new Map<string, V1Node>(),
      namespaces: new Map<string, V1Namespace>(),
    };
    const refused: string[] = [];
    const model = new ClusterModel(stores, options, (key, reason) => refused.push(`${key}: ${reason}`));
    for (const k of stores.slices.keys()) model.sliceChanged(k);
    const first = model.services();
    assert.equal(first.length, 2);
    // A pod's labels change: only the service whose slice names it is rebuilt.
    stores.pods.set("a/p1", pod("a", "p1", { v: "2" }));
    model.podChanged("a/p1");
    const second = model.services();
    assert.notEqual(second[0], first[0]);
    assert.equal(second[0]?.endpoints[0]?.labels?.v, "2");
    assert.equal(second[1], first[1], "the other service keeps its object");
    // A label key the model refuses: that service alone keeps its last good form.
    stores.pods.set("a/p1", pod("a", "p1", { "Not A Label!": "x" }));
    model.podChanged("a/p1");
    const third = model.services();
    assert.equal(third[0], second[0], "the last good form stays");
    assert.match(
      refused[0] ?? "",
      /^a\/one: Service a\/one\.endpoints\[0\]\.labels\.Not A Label!: is not a valid label key/,
    );
    assert.deepEqual(
      model.rejected().map((r) => r.key),
      ["a/one"],
    );
    // The deleted Service goes, with its last good form.
    stores.services.delete("a/one");
    model.serviceChanged("a/one");
    assert.deepEqual(
      model.services().map((s) => s.name),
      ["two.a.svc.cluster.local"],
    );
    assert.deepEqual(model.rejected(), []);
  });

  it("takes both address families of a dual-stack Service, and follows a namespace selector's answer", () => {
    const v6 = { ...slice("a", "dual", "dual-v6", [{ addresses: ["fd00::1"] }], [{ port: 80 }]), addressType: "IPv6" };
    const stores = {
      services: byKey(svc("a", "dual", { ports: [{ port: 80 }] })),
      slices: byKey(slice("a", "dual", "dual-v4", [{ addresses: ["10.0.0.1"] }], [{ port: 80 }]), v6),
      pods: new Map<string, V1Pod>(),
      nodes: new Map<string, V1Node>(),
      namespaces: new Map<string, V1Namespace>([["/a", { metadata: { name: "a", labels: { mesh: "on" } } }]]),
    };
    const selector = parseSelector("mesh=on");
    const model = new ClusterModel(
      stores,
      {
        ...options,
        namespaceSelected: (ns) => matchesSelector(selector, stores.namespaces.get(`/${ns}`)?.metadata?.labels ?? {}),
      },
      () => {},
    );
    for (const k of stores.slices.keys()) model.sliceChanged(k);
    assert.deepEqual(
      model
        .services()[0]
        ?.endpoints.map((e) => e.address)
        .sort(),
      ["10.0.0.1", "fd00::1"],
    );
    // The namespace is relabelled out of the mesh: its services go at once.
    stores.namespaces.set("/a", { metadata: { name: "a", labels: { mesh: "off" } } });
    model.namespacesChanged();
    assert.deepEqual(model.services(), []);
  });

  it("reads label selectors", () => {
    const sel = parseSelector("team in (a, b),tier!=test,mesh,!legacy");
    assert.equal(matchesSelector(sel, { team: "a", tier: "prod", mesh: "" }), true);
    assert.equal(matchesSelector(sel, { team: "c", mesh: "" }), false);
    assert.equal(matchesSelector(sel, { team: "a", mesh: "", legacy: "yes" }), false);
    assert.throws(() => parseSelector("team in a"), /cannot read "team in a"/);
  });
});
