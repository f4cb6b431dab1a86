// Istio's traffic-management tasks (Bookinfo) through the source, the real
// controller and the default builders: what each kind of client is sent.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { IstioStore } from "./store.js";
import { type Loose, NODES, TypeUrl, controllerOf, resourcesOf } from "./testing.test-helpers.js";

const services = (["productpage", "reviews", "ratings", "details"] as const)
  .map(
    (app, i) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${app}, namespace: default }
spec:
  hosts: [${app}.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints:
    - { address: 10.1.${i}.1, labels: { app: ${app}, version: v1 } }
    - { address: 10.1.${i}.2, labels: { app: ${app}, version: v2 } }
    - { address: 10.1.${i}.3, labels: { app: ${app}, version: v3 } }
`,
  )
  .join("---\n");

const rules = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy: { connectionPool: { http: { http2MaxRequests: 100, maxRequestsPerConnection: 10 } } }
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
    - { name: v3, labels: { version: v3 }, trafficPolicy: { loadBalancer: { simple: RANDOM } } }
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
    - match: [{ headers: { end-user: { exact: jason } } }]
      route: [{ destination: { host: reviews, subset: v2 } }]
    - match: [{ uri: { prefix: /old }, queryParams: { debug: { exact: "1" } } }]
      redirect: { uri: /new, redirectCode: 302 }
    - match: [{ uri: { regex: "/api/v[0-9]+/.*" } }]
      rewrite: { uri: /api }
      route: [{ destination: { host: reviews, subset: v3 } }]
    - route:
        - { destination: { host: reviews, subset: v1 }, weight: 75 }
        - { destination: { host: reviews, subset: v3 }, weight: 25 }
      timeout: 2s
      retries: { attempts: 3, perTryTimeout: 500ms, retryOn: "5xx,connect-failure" }
      mirror: { host: ratings }
      mirrorPercentage: { value: 50 }
      headers: { request: { set: { x-route: main } }, response: { remove: [x-internal] } }
      corsPolicy: { allowOrigins: [{ exact: "https://example.com" }], allowMethods: [GET] }
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: { name: ratings, namespace: default }
spec:
  hosts: [ratings.default.svc.cluster.local]
  http:
    - match: [{ headers: { end-user: { exact: jason } } }]
      fault: { delay: { fixedDelay: 7s, percentage: { value: 100 } }, abort: { httpStatus: 500, percentage: { value: 10 } } }
      route: [{ destination: { host: ratings } }]
    - route: [{ destination: { host: ratings } }]
`;

function docs(text: string, source: string) {
  return parseAllDocuments(text).map((d, i) => ({ doc: d.toJS(), origin: { source, document: i } }));
}

describe("Bookinfo's traffic tasks through the Istio source", () => {
  const store = new IstioStore();
  let controller: ReturnType<typeof controllerOf>;
  before(() => {
    store.replaceSource("services.yaml", docs(services, "services.yaml"));
    store.replaceSource("rules.yaml", docs(rules, "rules.yaml"));
    controller = controllerOf(store);
  });
  after(() => controller.close());

  it("a sidecar's routes: header match, redirect, regex rewrite, weighted subsets with timeout, retries, mirror, headers and CORS", () => {
    assert.deepEqual(store.refused(), []);
    const routes = resourcesOf(controller, NODES.sidecar(), TypeUrl.RouteConfiguration).get("9080");
    assert.ok(routes, "route configuration 9080");
    const vhosts = routes.virtualHosts as { name: string; domains: string[]; routes: Record<string, unknown>[] }[];
    const reviews = vhosts.find((v) => v.name === "reviews.default.svc.cluster.local:9080");
    assert.ok(reviews);
    // Short names resolve in the client's namespace.
    for (const d of ["reviews", "reviews:9080", "reviews.default", "reviews.default.svc"])
      assert.ok(reviews.domains.includes(d), d);
    const [jason, redirect, rewrite, main, ...rest] = reviews.routes as Loose[];
    assert.equal(rest.length, 0, "the last rule matches everything: no catch-all after it");
    assert.deepEqual(jason?.match.headers, [{ name: "end-user", stringMatch: { exact: "jason" } }]);
    assert.equal(jason?.route.cluster, "outbound|9080|v2|reviews.default.svc.cluster.local");
    assert.deepEqual(redirect?.match.queryParameters, [{ name: "debug", stringMatch: { exact: "1" } }]);
    assert.deepEqual(redirect?.redirect, { pathRedirect: "/new", responseCode: "FOUND" });
    assert.deepEqual(rewrite?.match.safeRegex, { regex: "/api/v[0-9]+/.*" });
    assert.deepEqual(rewrite?.route.regexRewrite, { pattern: { regex: "^.*$" }, substitution: "/api" });
    assert.deepEqual(main?.route.weightedClusters.clusters, [
      { name: "outbound|9080|v1|reviews.default.svc.cluster.local", weight: 75 },
      { name: "outbound|9080|v3|reviews.default.svc.cluster.local", weight: 25 },
    ]);
    assert.equal(main?.route.timeout, "2s");
    assert.deepEqual(main?.route.retryPolicy, {
      retryOn: "5xx,connect-failure",
      numRetries: 3,
      perTryTimeout: "0.500s",
    });
    assert.deepEqual(main?.route.requestMirrorPolicies, [
      {
        cluster: "outbound|9080||ratings.default.svc.cluster.local",
        runtimeFraction: { defaultValue: { numerator: 500000, denominator: "MILLION" } },
      },
    ]);
    assert.deepEqual(main?.requestHeadersToAdd, [
      { header: { key: "x-route", value: "main" }, appendAction: "OVERWRITE_IF_EXISTS_OR_ADD" },
    ]);
    assert.deepEqual(main?.responseHeadersToRemove, ["x-internal"]);
    assert.equal(
      main?.typedPerFilterConfig["envoy.filters.http.cors"]["@type"],
      "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
    );
  });

  it("faults on ratings for one user; the HTTP connection manager has the CORS and fault filters", () => {
    const vhosts = resourcesOf(controller, NODES.sidecar(), TypeUrl.RouteConfiguration).get("9080")?.virtualHosts;
    const ratings = vhosts.find((v: Loose) => v.name.startsWith("ratings."));
    const fault = ratings.routes[0].typedPerFilterConfig["envoy.filters.http.fault"];
    assert.deepEqual(fault.delay, { fixedDelay: "7s", percentage: { numerator: 1000000, denominator: "MILLION" } });
    assert.deepEqual(fault.abort, { httpStatus: 500, percentage: { numerator: 100000, denominator: "MILLION" } });
    assert.equal(ratings.routes.length, 2);
    const listener = resourcesOf(controller, NODES.sidecar(), TypeUrl.Listener).get("0.0.0.0_9080");
    const hcm = listener.filterChains[0].filters[0].typedConfig;
    assert.deepEqual(
      hcm.httpFilters.map((f: { name: string }) => f.name),
      ["envoy.filters.http.cors", "envoy.filters.http.fault", "envoy.filters.http.router"],
    );
  });

  it("subset clusters carry the DestinationRule's policy: pool limits, per-connection requests, the subset's own balancer", () => {
    const clusters = resourcesOf(controller, NODES.sidecar(), TypeUrl.Cluster);
    const v1 = clusters.get("outbound|9080|v1|reviews.default.svc.cluster.local");
    const v3 = clusters.get("outbound|9080|v3|reviews.default.svc.cluster.local");
    assert.equal(v1.circuitBreakers.thresholds[0].maxRequests, 100);
    assert.equal(
      v1.typedExtensionProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
        .commonHttpProtocolOptions.maxRequestsPerConnection,
      10,
    );
    assert.equal(v3.lbPolicy, "RANDOM");
    assert.equal(v1.lbPolicy, undefined);
    const eds = resourcesOf(controller, NODES.sidecar(), TypeUrl.ClusterLoadAssignment).get(
      "outbound|9080|v3|reviews.default.svc.cluster.local",
    );
    assert.deepEqual(
      eds.endpoints.flatMap((l: Loose) => l.lbEndpoints.map((e: Loose) => e.endpoint.address.socketAddress.address)),
      ["10.1.1.3"],
    );
  });

  it("a gRPC client gets what gRPC implements: no redirect, no query-parameter match, no rewrites, mirrors or CORS", () => {
    const routes = resourcesOf(controller, NODES.proxyless(), TypeUrl.RouteConfiguration).get(
      "reviews.default.svc.cluster.local",
    );
    const list = routes.virtualHosts[0].routes;
    assert.equal(list.length, 3, "jason, the regex route and the weighted one (the redirect is left out)");
    for (const r of list) {
      assert.equal(r.redirect, undefined);
      assert.equal(r.route.regexRewrite, undefined);
      assert.equal(r.route.requestMirrorPolicies, undefined);
      assert.equal(r.typedPerFilterConfig?.["envoy.filters.http.cors"], undefined);
      assert.equal(r.requestHeadersToAdd, undefined);
    }
    assert.deepEqual(list[2].route.maxStreamDuration, { maxStreamDuration: "2s" });
    assert.equal(list[2].route.retryPolicy.perTryTimeout, undefined);
    const cluster = resourcesOf(controller, NODES.proxyless(), TypeUrl.Cluster).get(
      "outbound|9080|v3|reviews.default.svc.cluster.local",
    );
    assert.equal(cluster.lbPolicy, undefined, "gRPC has no random: round robin");
  });
});
