// Traffic policy in the default builders: the cluster, route, endpoint and
// server-listener fields each client kind reads, every resource passing the
// registry's proto rules, and mistakes refused with their path.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import {
  TypeUrl,
  XdsError,
  unpackAny,
  unpackDownstreamTlsContext,
  unpackHttpConnectionManager,
} from "@xdskit/xds-types";
import { type Cluster, Cluster_LbPolicy } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { HealthStatus } from "@xdskit/xds-types/gen/envoy/config/core/v3/health_check_pb";
import type { ClusterLoadAssignment } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import type { Listener } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import type { RouteConfiguration } from "@xdskit/xds-types/gen/envoy/config/route/v3/route_pb";
import { RBACSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/http/rbac/v3/rbac_pb";
import { WrrLocalitySchema } from "@xdskit/xds-types/gen/envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality_pb";
import { DefaultConfigGenerator } from "./generator.js";
import { groupView } from "./group-view.js";
import { parseMeshFile } from "./mesh-file.js";
import type { RouteRule, Service } from "./model.js";
import { proxyFromNode } from "./proxy.js";
import { PushContext } from "./push-context.js";
import { validateReferences, validateService } from "./validate-model.js";

const ep = (address: string, port: number, extra = {}) => ({ address, port, ...extra });
const services: Service[] = [
  {
    name: "ring",
    endpoints: [ep("10.0.0.1", 80), ep("10.0.0.2", 80)],
    loadBalancer: { policy: "ring-hash", hashHeaders: ["x-user"], minRingSize: 64, maxRingSize: 4096 },
  },
  { name: "least", endpoints: [ep("10.0.0.3", 80)], loadBalancer: { policy: "least-request", choiceCount: 3 } },
  {
    name: "guarded",
    endpoints: [ep("10.0.0.4", 80)],
    outlierDetection: { intervalMs: 500, failurePercentage: { threshold: 40 } },
    circuitBreaker: { maxRequests: 7, maxRetries: 2 },
  },
  {
    name: "zoned",
    endpoints: [
      ep("10.1.0.1", 80, { locality: { region: "r", zone: "b" } }),
      ep("10.1.0.2", 80, { locality: { region: "r", zone: "a" }, health: "draining" }),
      ep("10.1.0.3", 80, { locality: { region: "s", zone: "c" } }),
    ],
    localityFailover: [{ zone: "a" }, { region: "r" }],
  },
  {
    name: "near",
    endpoints: [
      ep("10.2.0.1", 80, { locality: { region: "r", zone: "a" } }),
      ep("10.2.0.2", 80, { locality: { region: "r", zone: "b" } }),
      ep("10.2.0.3", 80, { locality: { region: "t", zone: "x" } }),
    ],
    localityFailover: "nearest",
  },
  {
    name: "secure",
    endpoints: [ep("10.3.0.1", 50051)],
    tls: { subjectAltNames: ["spiffe://td/ns/default/sa/secure", "spiffe://td/ns/prod/*"] },
    authorization: [
      { name: "callers", action: "allow", principals: ["spiffe://td/ns/default/*"], paths: ["/pkg.Svc/*"] },
      { name: "blocked", action: "deny", headers: { "x-block": "yes" } },
    ],
  },
  { name: "by-dns", endpoints: [], dns: { host: "api.example.com", port: 443 } },
  { name: "agg", endpoints: [], aggregate: ["ring", "by-dns"] },
];
const routes: RouteRule[] = [{ host: "ring", split: [{ service: "ring", weight: 1 }], grpcTimeoutCapMs: 250 }];
const push = new PushContext(services, routes);
const gen = new DefaultConfigGenerator();
const node = (id: string, extra = {}) =>
  proxyFromNode(create(NodeSchema, { id, cluster: "web", userAgentName: "gRPC Node", ...extra }));
const grpc = node("client");
const envoy = proxyFromNode(create(NodeSchema, { id: "sidecar~10.9.9.9~a.default~default.svc.cluster.local" }));

const byName = <T extends { name?: string; clusterName?: string }>(list: readonly T[], name: string): T => {
  const found = list.find((x) => (x.name ?? x.clusterName) === name);
  assert.ok(found, `no ${name}`);
  return found;
};
const cluster = (p = grpc, name = "ring") =>
  byName(gen.buildClusters(p, push), `outbound|${push.portOf(push.services.get(name) as Service)}||${name}`) as Cluster;

describe("traffic policy in the default builders", () => {
  it("load balancing: ring hash for every client; least request as gRPC's policy list with a fallback, Envoy's enum", () => {
    for (const p of [grpc, envoy]) {
      const c = cluster(p);
      assert.equal(c.lbPolicy, Cluster_LbPolicy.RING_HASH);
      assert.equal(c.lbConfig.case, "ringHashLbConfig");
      assert.equal(c.lbConfig.case === "ringHashLbConfig" && c.lbConfig.value.minimumRingSize, 64n);
    }
    const g = cluster(grpc, "least");
    const wrr = unpackAny(g.loadBalancingPolicy?.policies[0]?.typedExtensionConfig?.typedConfig, WrrLocalitySchema);
    const names = wrr.endpointPickingPolicy?.policies.map((p) => p.typedExtensionConfig?.name);
    assert.deepEqual(names, [
      "envoy.load_balancing_policies.least_request",
      "envoy.load_balancing_policies.round_robin",
    ]);
    const e = cluster(envoy, "least");
    assert.equal(e.lbPolicy, Cluster_LbPolicy.LEAST_REQUEST);
    assert.equal(e.lbConfig.case === "leastRequestLbConfig" && e.lbConfig.value.choiceCount, 3);
    // Routes to a ring-hash service hash on its headers; the gRPC timeout cap is on the route.
    const rc = gen.buildRoutes(grpc, push).find((r) => r.name === "ring") as RouteConfiguration;
    const action = rc.virtualHosts[0]?.routes[0]?.action;
    assert.equal(action?.case, "route");
    if (action?.case === "route") {
      assert.equal(action.value.hashPolicy[0]?.policySpecifier.case, "header");
      assert.equal(action.value.maxStreamDuration?.grpcTimeoutHeaderMax?.nanos, 250_000_000);
    }
  });

  it("outlier detection switches every algorithm explicitly; gRPC always gets the field; circuit breakers", () => {
    const od = cluster(grpc, "guarded").outlierDetection;
    assert.equal(od?.enforcingFailurePercentage, 100);
    assert.equal(od?.failurePercentageThreshold, 40);
    assert.equal(od?.enforcingSuccessRate, 0, "success rate is off unless asked for");
    assert.equal(od?.enforcingConsecutive5xx, 0, "consecutive errors are off unless asked for");
    assert.equal(od?.interval?.nanos, 500_000_000);
    // A no-op for gRPC clients without a policy, nothing for Envoy.
    assert.equal(cluster(grpc, "least").outlierDetection?.enforcingSuccessRate, 0);
    assert.equal(cluster(envoy, "least").outlierDetection, undefined);
    const t = cluster(grpc, "guarded").circuitBreakers?.thresholds[0];
    assert.equal(t?.maxRequests, 7);
    assert.equal(t?.maxRetries, 2);
  });

  it("priorities from a failover list, renumbered without gaps; nearest from the scope's locality; health states", () => {
    const cla = (p = grpc, name = "zoned") =>
      byName(gen.buildEndpoints(p, push) as ClusterLoadAssignment[], `outbound|80||${name}`);
    const zoned = cla();
    const prio = Object.fromEntries(zoned.endpoints.map((l) => [l.locality?.zone, l.priority]));
    assert.deepEqual(prio, { a: 0, b: 1, c: 2 });
    const draining = zoned.endpoints.find((l) => l.locality?.zone === "a")?.lbEndpoints[0];
    assert.equal(draining?.healthStatus, HealthStatus.DRAINING);
    // nearest needs the scope's locality: without groupBy.locality, reading it is refused loudly.
    const scopeless = groupView(grpc, "g", {});
    assert.throws(() => gen.buildEndpoints(scopeless, push), /groupBy\.locality/);
    const inB = { ...grpc, locality: { region: "r", zone: "b" } };
    const near = Object.fromEntries(cla(inB, "near").endpoints.map((l) => [l.locality?.zone, l.priority]));
    assert.deepEqual(near, { b: 0, a: 1, x: 2 });
  });

  it("TLS from certificate providers for gRPC clients only; logical DNS and aggregate clusters", () => {
    const g = cluster(grpc, "secure");
    assert.equal(g.transportSocket?.name, "envoy.transport_sockets.tls");
    assert.equal(cluster(envoy, "secure").transportSocket, undefined);
    const dns = cluster(grpc, "by-dns");
    assert.equal(dns.clusterDiscoveryType.case, "type");
    const addr = dns.loadAssignment?.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
    assert.equal(
      addr?.case === "endpoint" &&
        addr.value.address?.address.case === "socketAddress" &&
        addr.value.address.address.value.address,
      "api.example.com",
    );
    const agg = cluster(grpc, "agg");
    assert.equal(agg.clusterDiscoveryType.case, "clusterType");
    assert.equal(agg.lbPolicy, Cluster_LbPolicy.ROUND_ROBIN, "gRPC refuses CLUSTER_PROVIDED");
    assert.equal(cluster(envoy, "agg").lbPolicy, Cluster_LbPolicy.CLUSTER_PROVIDED, "Envoy needs it");
    const claNames = gen.buildEndpoints(grpc, push).map((c) => c.clusterName);
    assert.ok(!claNames.includes("outbound|80||agg") && !claNames.includes("outbound|443||by-dns"));
  });

  it("server listeners for a proxyless node on a service's IP: mTLS, RBAC deny then allow", () => {
    const server = node("server", { metadata: { INSTANCE_IPS: "10.3.0.1" } });
    assert.equal(server.ip, "10.3.0.1");
    assert.match(gen.workloadKey(server, push), /^proxyless:10\.3\.0\.1:secure=50051$/);
    assert.equal(gen.workloadKey(grpc, push), "proxyless");
    const listeners = gen.generateWorkload(server, push)[TypeUrl.Listener] as Listener[];
    assert.deepEqual(
      listeners.map((l) => l.name),
      ["10.3.0.1", "0.0.0.0", "[::]"].map((h) => `grpc/server?xds.resource.listening_address=${h}:50051`),
    );
    const chain = listeners[0]?.filterChains[0];
    const tls = unpackDownstreamTlsContext(chain?.transportSocket as never);
    assert.equal(tls.requireClientCertificate, true);
    assert.equal(tls.commonTlsContext?.tlsCertificateProviderInstance?.instanceName, "default");
    const hcmAny = chain?.filters[0]?.configType;
    const hcm = unpackHttpConnectionManager(hcmAny?.case === "typedConfig" ? hcmAny.value : undefined);
    assert.deepEqual(
      hcm.httpFilters.map((f) => f.name),
      ["xdskit.authz.deny", "xdskit.authz.allow", "envoy.filters.http.router"],
    );
    const allowCfg = hcm.httpFilters[1]?.configType;
    const allow = unpackAny(allowCfg?.case === "typedConfig" ? allowCfg.value : undefined, RBACSchema);
    assert.deepEqual(Object.keys(allow.rules?.policies ?? {}), ["callers"]);
    const vh = hcm.routeSpecifier.case === "routeConfig" ? hcm.routeSpecifier.value.virtualHosts[0] : undefined;
    assert.equal(vh?.routes[0]?.action.case, "nonForwardingAction");
  });

  it("every resource of every kind passes the registry's proto rules", () => {
    const registry = createSnapshotRegistry();
    const server = node("server", { metadata: { INSTANCE_IPS: "10.3.0.1" } });
    const inA = { ...grpc, locality: { region: "r", zone: "a" } };
    for (const [i, p] of [inA, envoy, server].entries()) registry.setSnapshot(`g${i}`, gen.generate(p, push));
  });
});

describe("traffic policy validation", () => {
  const bad = (s: Partial<Service>, pattern: RegExp) =>
    assert.throws(
      () => validateService({ name: "svc", endpoints: [ep("10.0.0.1", 80)], ...s } as Service, "services[0]"),
      (e: unknown) => e instanceof XdsError && e.code === "invalid_config" && pattern.test(e.message),
      String(pattern),
    );

  it("names the field and what was expected", () => {
    bad(
      { loadBalancer: { policy: "fastest" as never } },
      /services\[0\]\.loadBalancer\.policy: must be one of round-robin/,
    );
    bad(
      { loadBalancer: { policy: "round-robin", hashHeaders: ["x"] } },
      /loadBalancer\.hashHeaders: applies only to policy ring-hash/,
    );
    bad(
      { loadBalancer: { policy: "ring-hash", hashHeaders: ["X-User"] } },
      /hashHeaders\[0\]: must be a lower-case header name/,
    );
    bad(
      { loadBalancer: { policy: "ring-hash", minRingSize: 5000, maxRingSize: 100 } },
      /minRingSize: must not be more than maxRingSize/,
    );
    bad(
      { outlierDetection: {} },
      /outlierDetection: needs at least one of successRate, failurePercentage and consecutiveErrors/,
    );
    bad(
      { outlierDetection: { failurePercentage: { threshold: 150 } } },
      /failurePercentage\.threshold: must be a whole number from 0 to 100/,
    );
    bad({ circuitBreaker: { maxRequests: 0 } }, /circuitBreaker\.maxRequests: must be a whole number from 1/);
    bad({ localityFailover: [{}] }, /localityFailover\[0\]: must give at least one of region, zone and subZone/);
    bad({ tls: { identityProvider: "a b" } }, /tls\.identityProvider: must name a certificate provider instance/);
    bad({ tls: { subjectAltNames: ["*"] } }, /subjectAltNames\[0\]: '\*' alone matches everything/);
    bad(
      { authorization: [{ name: "r", action: "permit" as never }] },
      /authorization\[0\]\.action: must be allow or deny/,
    );
    bad({ authorization: [{ name: "r", action: "deny", paths: ["pkg/*"] }] }, /paths\[0\]: must start with '\/'/);
    bad({ dns: { host: "10.0.0.1", port: 80 }, endpoints: [] }, /dns\.host: must be a DNS host name/);
    bad({ dns: { host: "api.example.com", port: 80 } }, /endpoints: must be empty for a dns service/);
    bad({ endpoints: [ep("10.0.0.1", 80, { health: "sick" })] }, /endpoints\[0\]\.health: must be one of healthy/);
    bad(
      { endpoints: [ep("10.0.0.1", 80, { priority: 0 }), ep("10.0.0.2", 80, { priority: 1 })] },
      /endpoints\[1\]\.priority: must equal the priority of the other endpoints in locality/,
    );
  });

  it("checks what spans services: aggregate members, and one server listener's TLS and rules", () => {
    const a: Service = { name: "a", endpoints: [ep("10.0.0.1", 80)] };
    assert.throws(
      () => validateReferences([{ name: "g", endpoints: [], aggregate: ["nope"] }], []),
      /aggregate\[0\]: no service named "nope"/,
    );
    assert.throws(
      () =>
        validateReferences(
          [a, { name: "g", endpoints: [], aggregate: ["a"] }, { name: "h", endpoints: [], aggregate: ["g"] }],
          [],
        ),
      /services\[2\]\.aggregate\[0\]: "g" is an aggregate itself/,
    );
    assert.throws(
      () => validateReferences([a, { name: "b", endpoints: [ep("10.0.0.1", 80)], tls: {} }], []),
      /service "b": serves on 10\.0\.0\.1:80 like "a" but with other tls settings/,
    );
  });

  it("the mesh file takes every policy field and refuses unknown ones", () => {
    const m = parseMeshFile(
      [
        "services:",
        "  - name: echo",
        "    endpoints: [{ address: 10.0.0.1, port: 80, locality: { zone: a }, health: degraded, priority: 1 }]",
        "    loadBalancer: { policy: ring-hash, hashHeaders: [x-user] }",
        "    outlierDetection: { successRate: { stdevFactor: 1500 } }",
        "    circuitBreaker: { maxRequests: 100 }",
        "    localityFailover: nearest",
        "    tls: { mode: simple, caProvider: roots }",
        "    authorization: [{ name: r, action: allow, principals: ['*'] }]",
        "routes:",
        "  - { host: echo, split: [{ service: echo, weight: 1 }], grpcTimeoutCapMs: 0 }",
      ].join("\n"),
    );
    assert.equal(m.services[0]?.loadBalancer?.policy, "ring-hash");
    assert.equal(m.services[0]?.localityFailover, "nearest");
    assert.throws(
      () =>
        parseMeshFile(
          "services:\n  - name: e\n    endpoints: []\n    loadBalancer: { policy: ring-hash, hash: [x] }\n",
        ),
      /services\[0\]\.loadBalancer\.hash: unknown key; expected one of policy, hashHeaders/,
    );
  });
});
