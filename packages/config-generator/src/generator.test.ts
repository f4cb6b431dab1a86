import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import { TypeUrl, unpackAny, unpackHttpConnectionManager } from "@xdskit/xds-types";
import { Cluster_DiscoveryType } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { TcpProxySchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb";
import { DefaultConfigGenerator, typesTouchedBy } from "./generator.js";
import type { RouteRule, Service } from "./model.js";
import { defaultNodeGroup, proxyFromNode } from "./proxy.js";
import { PushContext } from "./push-context.js";

const services: Service[] = [
  {
    name: "echo",
    port: 8080,
    endpoints: [
      { address: "10.0.0.1", port: 8080, locality: { region: "r", zone: "a" } },
      { address: "10.0.0.2", port: 8080, weight: 3, locality: { region: "r", zone: "b" }, healthy: false },
    ],
  },
  { name: "echo-v2", port: 8080, endpoints: [{ address: "10.0.0.3", port: 8080 }] },
  { name: "db", port: 5432, protocol: "tcp", endpoints: [{ address: "10.0.0.9", port: 5432 }] },
];
const routes: RouteRule[] = [
  {
    host: "echo",
    split: [
      { service: "echo", weight: 80 },
      { service: "echo-v2", weight: 20 },
    ],
    timeoutMs: 1500,
    retries: { attempts: 2 },
  },
  { host: "echo", pathPrefix: "/admin", headers: { "x-user": "ops" }, split: [{ service: "echo-v2", weight: 1 }] },
];
const push = new PushContext(services, routes, ["test"]);
const gen = new DefaultConfigGenerator();
const proxyless = proxyFromNode(
  create(NodeSchema, { id: "grpc-client-1", cluster: "web", userAgentName: "gRPC Node" }),
);
const sidecar = proxyFromNode(
  create(NodeSchema, { id: "sidecar~10.0.0.9~db-0.default~default.svc.cluster.local", cluster: "db" }),
);

describe("proxies", () => {
  it("parses kind, IP and locality from the node", () => {
    assert.equal(proxyless.kind, "proxyless");
    assert.equal(sidecar.kind, "sidecar");
    assert.equal(sidecar.ip, "10.0.0.9");
    assert.equal(proxyFromNode(create(NodeSchema, { id: "router~10.1.1.1~gw~ns" })).kind, "gateway");
    assert.equal(
      proxyFromNode(create(NodeSchema, { id: "x", metadata: { XDSKIT_KIND: "proxyless" } })).kind,
      "proxyless",
    );
    assert.equal(defaultNodeGroup(proxyless), "proxyless/web");
    assert.equal(defaultNodeGroup(sidecar), "sidecar/db/10.0.0.9");
  });
});

describe("default builders", () => {
  it("clusters: one EDS cluster per service, plus inbound clusters for a sidecar", () => {
    const c = gen.buildClusters(proxyless, push);
    assert.deepEqual(
      c.map((x) => x.name),
      ["outbound|8080||echo", "outbound|8080||echo-v2", "outbound|5432||db"],
    );
    assert.equal(c[0]?.clusterDiscoveryType.value, Cluster_DiscoveryType.EDS);
    const s = gen.buildClusters(sidecar, push);
    assert.ok(s.some((x) => x.name === "inbound|5432||" && x.loadAssignment?.endpoints.length === 1));
  });

  it("endpoints: localities, weights and health", () => {
    const cla = gen.buildEndpoints(proxyless, push).find((x) => x.clusterName === "outbound|8080||echo");
    assert.equal(cla?.endpoints.length, 2);
    assert.equal(cla?.endpoints[1]?.loadBalancingWeight, 3);
    assert.equal(cla?.endpoints[1]?.lbEndpoints[0]?.healthStatus, 2, "UNHEALTHY");
    assert.equal(cla?.endpoints[0]?.locality?.zone, "a");
  });

  it("proxyless listeners: API listeners named by dial target, HCM over RDS with the router", () => {
    const l = gen.buildListeners(proxyless, push);
    assert.deepEqual(l.map((x) => x.name).slice(0, 2), ["echo", "echo:8080"]);
    const hcm = unpackHttpConnectionManager(l[0]?.apiListener?.apiListener);
    assert.equal(hcm.routeSpecifier.case, "rds");
    assert.equal(hcm.routeSpecifier.value?.routeConfigName, "echo");
    assert.equal(hcm.httpFilters.at(-1)?.name, "envoy.filters.http.router");
  });

  it("routes: specific rules first, weighted clusters, retries, timeouts, header matches", () => {
    const rc = gen.buildRoutes(proxyless, push, ["echo"]);
    assert.equal(rc.length, 1);
    const vh = rc[0]?.virtualHosts[0];
    assert.deepEqual(vh?.domains, ["echo", "echo:8080"]);
    const [admin, main] = vh?.routes ?? [];
    assert.equal(admin?.match?.pathSpecifier.value, "/admin");
    assert.equal(admin?.match?.headers[0]?.name, "x-user");
    assert.equal(main?.action.case, "route");
    const action = main?.action.case === "route" ? main.action.value : undefined;
    assert.equal(action?.clusterSpecifier.case, "weightedClusters");
    assert.deepEqual(
      action?.clusterSpecifier.case === "weightedClusters"
        ? action.clusterSpecifier.value.clusters.map((c) => [c.name, c.weight])
        : [],
      [
        ["outbound|8080||echo", 80],
        ["outbound|8080||echo-v2", 20],
      ],
    );
    assert.equal(action?.retryPolicy?.numRetries, 2);
    assert.equal(action?.timeout?.seconds, 1n);
    assert.equal(vh?.routes.length, 2, "a catch-all rule exists, so no default route is added");
  });

  it("sidecar listeners: HCM per HTTP port, TCP proxy for TCP ports, an inbound listener", () => {
    const l = gen.buildListeners(sidecar, push);
    assert.deepEqual(
      l.map((x) => x.name),
      ["0.0.0.0_5432", "0.0.0.0_8080", "virtualInbound"],
    );
    const tcp = l[0]?.filterChains[0]?.filters[0];
    assert.equal(tcp?.name, "envoy.filters.network.tcp_proxy");
    const cfg = unpackAny(tcp?.configType.case === "typedConfig" ? tcp.configType.value : undefined, TcpProxySchema);
    assert.equal(cfg.clusterSpecifier.value, "outbound|5432||db");
    assert.deepEqual(
      gen.buildRoutes(sidecar, push).map((r) => r.name),
      ["8080"],
    );
  });

  it("everything built is accepted by the registry and consistent", () => {
    for (const p of [proxyless, sidecar]) {
      const r = createSnapshotRegistry();
      r.setSnapshot("g", gen.generate(p, push), { consistent: true });
      assert.deepEqual(r.checkConsistency("g"), []);
    }
  });

  it("scopes pushes: endpoints → EDS only; routes → RDS only; services → all four", () => {
    assert.deepEqual([...typesTouchedBy(["endpoints"])], [TypeUrl.ClusterLoadAssignment]);
    assert.deepEqual([...typesTouchedBy(["routes"])], [TypeUrl.RouteConfiguration]);
    assert.equal(typesTouchedBy(["services"]).size, 4);
  });
});
