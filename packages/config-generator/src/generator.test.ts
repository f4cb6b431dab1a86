import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import { TypeUrl, unpackAny, unpackHttpConnectionManager } from "@xdskit/xds-types";
import { type Cluster, Cluster_DiscoveryType } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import type { Listener } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { HTTPFaultSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/http/fault/v3/fault_pb";
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
    retries: { attempts: 2, backoffBaseMs: 50 },
  },
  {
    host: "echo",
    pathPrefix: "/admin",
    headers: { "x-user": "ops" },
    split: [{ service: "echo-v2", weight: 1 }],
    fault: { abort: { grpcStatus: 14, percent: 25 }, delay: { fixedMs: 200, percent: 12.5 } },
  },
];
const gateways = [{ port: 8443, hosts: ["echo", "db"] }];
const push = new PushContext(services, routes, ["test"], gateways);
const gen = new DefaultConfigGenerator();
const proxyless = proxyFromNode(
  create(NodeSchema, { id: "grpc-client-1", cluster: "web", userAgentName: "gRPC Node" }),
);
const sidecar = proxyFromNode(
  create(NodeSchema, { id: "sidecar~10.0.0.9~db-0.default~default.svc.cluster.local", cluster: "db" }),
);
const gateway = proxyFromNode(create(NodeSchema, { id: "router~10.0.1.1~gw-0.default~default.svc.cluster.local" }));

const portOf = (
  l: { address?: { address: { case: string | undefined; value?: unknown } } | undefined } | undefined,
) => {
  const a = l?.address?.address;
  return a?.case === "socketAddress"
    ? (a.value as { portSpecifier: { value?: unknown } }).portSpecifier.value
    : undefined;
};
const routeAction = (r: { action: { case: string | undefined; value?: unknown } } | undefined) =>
  r?.action.case === "route"
    ? (r.action.value as import("@xdskit/xds-types/gen/envoy/config/route/v3/route_components_pb").RouteAction)
    : undefined;

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
  it("clusters: one EDS cluster per service, plus inbound and passthrough clusters for a sidecar", () => {
    const c = gen.buildClusters(proxyless, push);
    assert.deepEqual(
      c.map((x) => x.name),
      ["outbound|8080||echo", "outbound|8080||echo-v2", "outbound|5432||db"],
    );
    assert.equal(c[0]?.clusterDiscoveryType.value, Cluster_DiscoveryType.EDS);
    assert.deepEqual(c[0]?.typedExtensionProtocolOptions, {}, "proxyless clients get no Envoy protocol options");
    const s = gen.generate(sidecar, push)[TypeUrl.Cluster] as Cluster[];
    assert.deepEqual(
      s.map((x) => x.name),
      [
        "outbound|8080||echo",
        "outbound|8080||echo-v2",
        "outbound|5432||db",
        "PassthroughCluster",
        "InboundPassthroughCluster",
        "BlackHoleCluster",
        "inbound|5432||",
      ],
    );
    assert.deepEqual(
      gen.buildInboundClusters(sidecar, push).map((x) => x.name),
      ["inbound|5432||"],
      "the workload's own part",
    );
    assert.equal(s.find((x) => x.name === "inbound|5432||")?.loadAssignment?.endpoints.length, 1);
    assert.equal(
      s.find((x) => x.name === "PassthroughCluster")?.clusterDiscoveryType.value,
      Cluster_DiscoveryType.ORIGINAL_DST,
    );
    assert.ok(
      s[0]?.typedExtensionProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"],
      "a service without a declared protocol gets the caller's protocol upstream",
    );
    assert.deepEqual(s[2]?.typedExtensionProtocolOptions, {}, "TCP services get none");
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

  it("routes: specific rules first, weighted clusters, retries, timeouts, header matches, faults", () => {
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
    assert.equal(action?.retryPolicy?.retryOn, "unavailable,cancelled,deadline-exceeded");
    assert.equal(action?.retryPolicy?.retryBackOff?.baseInterval?.nanos, 50_000_000);
    assert.equal(action?.retryPolicy?.retryBackOff?.maxInterval?.nanos, 500_000_000);
    // gRPC clients read the max stream duration (A31), not the route timeout.
    assert.equal(action?.timeout, undefined);
    assert.equal(action?.maxStreamDuration?.maxStreamDuration?.seconds, 1n);
    assert.equal(action?.maxStreamDuration?.maxStreamDuration?.nanos, 500_000_000);
    assert.equal(vh?.routes.length, 2, "a catch-all rule exists, so no default route is added");
    const fault = unpackAny(admin?.typedPerFilterConfig["envoy.filters.http.fault"], HTTPFaultSchema);
    assert.equal(fault.abort?.errorType.case, "grpcStatus");
    assert.equal(fault.abort?.errorType.value, 14);
    assert.equal(fault.abort?.percentage?.numerator, 250_000, "25 % per million");
    assert.equal(fault.delay?.faultDelaySecifier.case, "fixedDelay");
    assert.equal(fault.delay?.percentage?.numerator, 125_000);
    const hcm = unpackHttpConnectionManager(gen.buildListeners(proxyless, push)[0]?.apiListener?.apiListener);
    assert.deepEqual(
      hcm.httpFilters.map((f) => f.name),
      ["envoy.filters.http.fault", "envoy.filters.http.router"],
    );
  });

  it("routes for Envoy: the route timeout, and no default 15 s timeout", () => {
    const vh = gen.buildRoutes(sidecar, push, ["8080"])[0]?.virtualHosts.find((v) => v.name === "echo:8080");
    const main = routeAction(vh?.routes[1]);
    assert.equal(main?.timeout?.seconds, 1n);
    assert.equal(main?.maxStreamDuration, undefined);
    assert.equal(routeAction(vh?.routes[0])?.timeout?.seconds, 0n, "no timeout unless the mesh sets one");
  });

  it("sidecar listeners in Istio's layout: virtualOutbound, unbound per-port listeners, virtualInbound", () => {
    const l = gen.generate(sidecar, push)[TypeUrl.Listener] as Listener[];
    assert.deepEqual(
      l.map((x) => x.name),
      ["virtualOutbound", "0.0.0.0_5432", "0.0.0.0_8080", "virtualInbound"],
    );
    const [outbound, db, http, inbound] = l;
    assert.equal(outbound?.useOriginalDst, true);
    assert.equal(portOf(outbound), 15001);
    for (const x of [db, http]) assert.equal(x?.bindToPort, false, `${x?.name} must not bind the application's port`);
    const tcp = db?.filterChains[0]?.filters[0];
    assert.equal(tcp?.name, "envoy.filters.network.tcp_proxy");
    const cfg = unpackAny(tcp?.configType.case === "typedConfig" ? tcp.configType.value : undefined, TcpProxySchema);
    assert.equal(cfg.clusterSpecifier.value, "outbound|5432||db");
    assert.equal(db?.filterChains[0]?.filterChainMatch?.prefixRanges[0]?.addressPrefix, "10.0.0.9");
    assert.equal(db?.defaultFilterChain?.name, "PassthroughCluster");
    assert.equal(portOf(inbound), 15006);
    assert.deepEqual(
      inbound?.filterChains.map((c) => [c.filterChainMatch?.destinationPort, c.name]),
      [[5432, "inbound|5432||"]],
    );
    assert.equal(inbound?.listenerFilters[0]?.name, "envoy.filters.listener.original_dst");
    const rc = gen.buildRoutes(sidecar, push);
    assert.deepEqual(
      rc.map((r) => r.name),
      ["8080"],
    );
    assert.deepEqual(
      rc[0]?.virtualHosts.map((v) => [v.name, v.domains]),
      [
        ["echo:8080", ["echo", "echo:8080"]],
        ["echo-v2:8080", ["echo-v2", "echo-v2:8080"]],
        ["allow_any", ["*"]],
      ],
    );
  });

  it("gateways: a bound listener per gateway port, routing each host by authority", () => {
    const l = gen.buildListeners(gateway, push);
    assert.deepEqual(
      l.map((x) => [x.name, x.bindToPort, portOf(x)]),
      [["0.0.0.0_8443", undefined, 8443]],
    );
    const rc = gen.buildRoutes(gateway, push);
    assert.deepEqual(
      rc[0]?.virtualHosts.map((v) => [v.name, v.domains]),
      [
        ["echo:8080", ["echo", "echo:*"]],
        ["db:5432", ["db", "db:*"]],
      ],
    );
    assert.equal(rc[0]?.name, "http.8443");
  });

  it("everything built is accepted by the registry and consistent", () => {
    for (const p of [proxyless, sidecar, gateway]) {
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
