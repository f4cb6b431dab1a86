// Gateways and Sidecars: which gateway proxies get which servers, what a
// restricted sidecar sees, REGISTRY_ONLY, exportTo, source labels and TCP
// routes — as the builders turn them into listeners, clusters and routes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { IstioStore } from "./store.js";
import { type Loose, NODES, TypeUrl, controllerOf, resourcesOf } from "./testing.test-helpers.js";

const world = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: web, namespace: shop }
spec:
  hosts: [web.shop.svc.cluster.local]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 10.4.0.1, labels: { version: v1 } }, { address: 10.4.0.2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: shop }
spec:
  hosts: [db.shop.svc.cluster.local]
  addresses: [10.96.0.50]
  ports: [{ number: 5432, name: tcp, protocol: TCP }]
  resolution: STATIC
  endpoints: [{ address: 10.4.1.1, labels: { version: v1 } }, { address: 10.4.1.2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: secret, namespace: billing }
spec:
  hosts: [secret.billing.svc.cluster.local]
  exportTo: ["."]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 10.5.0.1 }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin, namespace: istio-system }
spec:
  hosts: [httpbin.org]
  location: MESH_EXTERNAL
  ports: [{ number: 80, name: http, protocol: HTTP }, { number: 443, name: tls, protocol: TLS }]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: db, namespace: shop }
spec:
  host: db
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db, namespace: shop }
spec:
  hosts: [db]
  tcp:
    - match: [{ port: 5432 }]
      route:
        - { destination: { host: db, subset: v1 }, weight: 80 }
        - { destination: { host: db, subset: v2 }, weight: 20 }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web-canary, namespace: shop }
spec:
  hosts: [web]
  http:
    - match: [{ sourceLabels: { app: canary-client } }]
      route: [{ destination: { host: web, subset: v2 } }]
    - route: [{ destination: { host: web, subset: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web, namespace: shop }
spec:
  host: web.shop.svc.cluster.local
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: public, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 8443, name: https, protocol: HTTPS }
      hosts: ["shop/shop.example.com"]
      tls: { mode: SIMPLE, credentialName: shop-cert }
    - port: { number: 8080, name: http, protocol: HTTP }
      hosts: ["*.example.com"]
    - port: { number: 9443, name: tls, protocol: TLS }
      hosts: ["db.example.com"]
      tls: { mode: PASSTHROUGH }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop-ingress, namespace: shop }
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/public]
  http:
    - match: [{ uri: { prefix: /static } }]
      route: [{ destination: { host: web, subset: v2 } }]
    - route: [{ destination: { host: web } }]
  tls:
    - match: [{ sniHosts: [db.example.com] }]
      route: [{ destination: { host: db } }]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: restricted }
spec:
  egress: [{ hosts: ["./*", "istio-system/*"] }]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
`;

describe("gateways, sidecar scopes and TCP routes from Istio objects", () => {
  const store = new IstioStore();
  let controller: ReturnType<typeof controllerOf>;
  before(() => {
    store.replaceSource(
      "world.yaml",
      parseAllDocuments(world).map((d, i) => ({ doc: d.toJS(), origin: { source: "world.yaml", document: i } })),
    );
    controller = controllerOf(store);
  });
  after(() => controller.close());

  it("reads everything without a refusal", () => {
    assert.deepEqual(store.refused(), []);
  });

  it("a selected gateway gets one listener per port: HTTPS by SNI with its credential over SDS, HTTP, TLS passed through by SNI", () => {
    const listeners = resourcesOf(controller, NODES.gateway(), TypeUrl.Listener);
    assert.deepEqual([...listeners.keys()].sort(), ["0.0.0.0_8080", "0.0.0.0_8443", "0.0.0.0_9443"]);
    const https = listeners.get("0.0.0.0_8443");
    const chain = https.filterChains[0];
    assert.deepEqual(chain.filterChainMatch, { serverNames: ["shop.example.com"], transportProtocol: "tls" });
    const tls = chain.transportSocket.typedConfig.commonTlsContext;
    assert.deepEqual(tls.tlsCertificateSdsSecretConfigs, [
      { name: "istio-system/shop-cert", sdsConfig: { ads: {}, resourceApiVersion: "V3" } },
    ]);
    assert.equal(https.listenerFilters[0].name, "envoy.filters.listener.tls_inspector");
    const passthrough = listeners.get("0.0.0.0_9443");
    assert.deepEqual(passthrough.filterChains[0].filterChainMatch.serverNames, ["db.example.com"]);
    assert.equal(
      passthrough.filterChains[0].filters[0].typedConfig.cluster,
      "outbound|5432||db.shop.svc.cluster.local",
    );
    const routes = resourcesOf(controller, NODES.gateway(), TypeUrl.RouteConfiguration);
    const vhost = routes.get("https.8443.istio-system/public.0").virtualHosts[0];
    assert.deepEqual(vhost.domains, ["shop.example.com", "shop.example.com:*"]);
    assert.equal(vhost.routes[0].route.cluster, "outbound|8080|v2|web.shop.svc.cluster.local");
    assert.equal(vhost.routes[1].route.cluster, "outbound|8080||web.shop.svc.cluster.local");
    assert.equal((routes.get("http.8080").virtualHosts ?? []).length, 1, "*.example.com admits shop.example.com");
  });

  it("a gateway the selector does not pick gets none of the servers", () => {
    const listeners = resourcesOf(controller, NODES.gateway({ istio: "egressgateway" }), TypeUrl.Listener);
    assert.deepEqual([...listeners.keys()], []);
  });

  it("a restricted sidecar sees its namespace and istio-system only, and unknown destinations go nowhere", () => {
    const clusters = [...resourcesOf(controller, NODES.sidecar("restricted", "10.9.0.2"), TypeUrl.Cluster).keys()];
    assert.ok(clusters.includes("outbound|80||httpbin.org"));
    assert.ok(!clusters.some((c) => c.includes("shop.svc") || c.includes("billing.svc")), clusters.join(" "));
    const listeners = resourcesOf(controller, NODES.sidecar("restricted", "10.9.0.2"), TypeUrl.Listener);
    const outbound = listeners.get("virtualOutbound");
    assert.equal(outbound.filterChains[0].filters[0].typedConfig.cluster, "BlackHoleCluster");
    const routes = resourcesOf(controller, NODES.sidecar("restricted", "10.9.0.2"), TypeUrl.RouteConfiguration).get(
      "80",
    );
    assert.deepEqual(routes.virtualHosts.at(-1).routes[0].directResponse, { status: 502 });
    // A sidecar elsewhere still sees the whole mesh (but not what billing keeps to itself).
    const shop = [...resourcesOf(controller, NODES.sidecar("shop", "10.9.0.4"), TypeUrl.Cluster).keys()];
    assert.ok(shop.includes("outbound|8080||web.shop.svc.cluster.local"));
    assert.ok(!shop.some((c) => c.includes("billing")), "exportTo: . hides it from other namespaces");
    const billing = [...resourcesOf(controller, NODES.sidecar("billing", "10.9.0.3"), TypeUrl.Cluster).keys()];
    assert.ok(billing.includes("outbound|8080||secret.billing.svc.cluster.local"));
  });

  it("a TCP route splits connections by weight; a match on source labels reaches only the workloads it names", () => {
    const listener = resourcesOf(controller, NODES.sidecar("shop", "10.9.0.4"), TypeUrl.Listener).get("0.0.0.0_5432");
    const chain = listener.filterChains.find((c: Loose) =>
      c.filterChainMatch.prefixRanges?.some((r: Loose) => r.addressPrefix === "10.96.0.50"),
    );
    assert.deepEqual(chain.filters[0].typedConfig.weightedClusters.clusters, [
      { name: "outbound|5432|v1|db.shop.svc.cluster.local", weight: 80 },
      { name: "outbound|5432|v2|db.shop.svc.cluster.local", weight: 20 },
    ]);
    const webRoutes = (node: { id: string; metadata: Record<string, unknown> }) =>
      resourcesOf(controller, node, TypeUrl.RouteConfiguration)
        .get("8080")
        .virtualHosts.find((v: Loose) => v.name.startsWith("web.")).routes;
    const canary = webRoutes(NODES.sidecar("shop", "10.9.0.7", { app: "canary-client" }));
    assert.equal(canary[0].route.cluster, "outbound|8080|v2|web.shop.svc.cluster.local");
    const other = webRoutes(NODES.sidecar("shop", "10.9.0.8", { app: "other" }));
    assert.equal(other.length, 1);
    assert.equal(other[0].route.cluster, "outbound|8080|v1|web.shop.svc.cluster.local");
  });

  it("a live client moves to its new scope when the Sidecar that restricted it goes (and its watch fires)", async () => {
    const local = new IstioStore();
    const docs = parseAllDocuments(world).map((d, i) => ({
      doc: d.toJS(),
      origin: { source: "world.yaml", document: i },
    }));
    local.replaceSource("world.yaml", docs);
    const c = controllerOf(local);
    try {
      const node = NODES.sidecar("restricted", "10.9.0.20");
      const before = [...resourcesOf(c, node, TypeUrl.Cluster).keys()];
      assert.ok(!before.some((n) => n.includes("shop.svc")));
      const group = [...c.nodeGroups().keys()].find((g) => g.includes("10.9.0.20")) as string;
      // A stream holds the group: the push must move it, not wait for it to reconnect.
      c.registry.retainNodeGroup(group);
      const pushed = new Promise((r) => c.once("push", r));
      local.replaceSource(
        "world.yaml",
        docs.filter((d) => (d.doc as { kind: string }).kind !== "Sidecar"),
      );
      await pushed;
      const snap = c.registry.getSnapshot(group)?.get(TypeUrl.Cluster)?.resources;
      assert.ok(snap?.has("outbound|8080||web.shop.svc.cluster.local"), "the whole mesh after the Sidecar went");
      c.registry.releaseNodeGroup(group);
    } finally {
      c.close();
    }
  });

  it("a DNS ServiceEntry with several ports resolves its host on each", () => {
    const clusters = resourcesOf(controller, NODES.sidecar("shop", "10.9.0.4"), TypeUrl.Cluster);
    const tls = clusters.get("outbound|443||httpbin.org");
    assert.equal(tls.type, "LOGICAL_DNS");
    assert.equal(tls.loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.portValue, 443);
  });
});
