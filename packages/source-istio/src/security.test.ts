// PeerAuthentication and AuthorizationPolicy through the source, the
// controller (with the mesh's mutual TLS on) and the default builders: which
// chains a sidecar's inbound side gets per port and mode, which RBAC filters
// guard it, how clusters originate mutual TLS (auto, and ISTIO_MUTUAL), and
// that a policy that cannot be enforced fails closed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DefaultConfigGenerator, createDiscoveryController, mtlsModeOf } from "@xdskit/config-generator";
import { parseAllDocuments } from "yaml";
import { IstioStore } from "./store.js";
import { type Loose, NODES, TypeUrl, resourcesOf } from "./testing.test-helpers.js";

const world = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: web, namespace: shop }
spec:
  hosts: [web.shop.svc.cluster.local]
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints:
    - { address: 10.7.0.1, labels: { app: web, security.istio.io/tlsMode: istio }, serviceAccount: web }
    - { address: 10.7.0.2, labels: { app: web } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db, namespace: shop }
spec:
  hosts: [db.shop.svc.cluster.local]
  ports: [{ number: 5432, name: tcp, protocol: TCP }]
  resolution: STATIC
  endpoints: [{ address: 10.7.0.1, labels: { app: web } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: db, namespace: shop }
spec: { host: db, trafficPolicy: { tls: { mode: ISTIO_MUTUAL } } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: { name: web-ports, namespace: shop }
spec:
  selector: { matchLabels: { app: web } }
  mtls: { mode: PERMISSIVE }
  portLevelMtls: { "5432": { mode: DISABLE } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: shop }
spec:
  selector: { matchLabels: { app: web } }
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin*"] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-frontend, namespace: shop }
spec:
  selector: { matchLabels: { app: web } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: ["cluster.local/ns/shop/sa/frontend"] } }]
      to: [{ operation: { methods: [GET] } }]
    - when: [{ key: "request.headers[x-debug]", values: ["on"] }]
`;

const docs = (text: string) =>
  parseAllDocuments(text).map((d, i) => ({ doc: d.toJS(), origin: { source: "security.yaml", document: i } }));

describe("PeerAuthentication and AuthorizationPolicy on sidecars", () => {
  const store = new IstioStore();
  let controller: ReturnType<typeof createDiscoveryController>;
  const web = NODES.sidecar("shop", "10.7.0.1", { app: "web" });
  before(() => {
    store.replaceSource("security.yaml", docs(world));
    controller = createDiscoveryController({
      services: store,
      config: store,
      generator: new DefaultConfigGenerator(),
      mtls: { trustDomain: "cluster.local" },
    });
  });
  after(() => controller.close());

  it("reads everything without a refusal", () => {
    assert.deepEqual(store.refused(), []);
    assert.deepEqual(controller.refusedObjects(), []);
  });

  it("inbound: per port the chains its mode asks for — mTLS and plaintext (PERMISSIVE), plaintext only (DISABLE)", () => {
    const inbound: Loose = resourcesOf(controller, web, TypeUrl.Listener).get("virtualInbound");
    const chains = inbound.filterChains.map((c: Loose) => [c.name, c.filterChainMatch?.transportProtocol ?? "any"]);
    assert.deepEqual(chains, [
      ["inbound|5432||-plaintext", "any"],
      ["inbound|8080||-mtls", "tls"],
      ["inbound|8080||-plaintext", "raw_buffer"],
    ]);
    assert.deepEqual(
      inbound.listenerFilters.map((f: Loose) => f.name),
      ["envoy.filters.listener.original_dst", "envoy.filters.listener.tls_inspector"],
    );
    const tls = inbound.filterChains[1].transportSocket.typedConfig;
    assert.equal(tls.requireClientCertificate, true);
    assert.equal(tls.commonTlsContext.tlsCertificateSdsSecretConfigs[0].name, "default");
    assert.equal(tls.commonTlsContext.combinedValidationContext.validationContextSdsSecretConfig.name, "ROOTCA");
  });

  it("precedence: the workload's port-level mode, its own, its namespace's, the mesh's (STRICT here)", () => {
    const security = controller.pushContext().security;
    assert.equal(mtlsModeOf(security, { namespace: "shop", labels: { app: "web" } }, 5432), "disable");
    assert.equal(mtlsModeOf(security, { namespace: "shop", labels: { app: "web" } }, 8080), "permissive");
    assert.equal(mtlsModeOf(security, { namespace: "shop", labels: { app: "other" } }, 8080), "strict");
    assert.equal(mtlsModeOf(security, { namespace: "elsewhere", labels: {} }, 80), "strict");
  });

  it("HTTP ports hold the RBAC filters: deny first, then allow; rules as Envoy policies", () => {
    const inbound: Loose = resourcesOf(controller, web, TypeUrl.Listener).get("virtualInbound");
    const hcm = inbound.filterChains[1].filters[0].typedConfig;
    const [deny, allow, router] = hcm.httpFilters;
    assert.equal(router.name, "envoy.filters.http.router");
    assert.equal(deny.typedConfig.rules.action, "DENY");
    const denyPolicy = deny.typedConfig.rules.policies["ns[shop]-policy[shop/deny-admin]-rule[0]"];
    assert.deepEqual(denyPolicy.permissions[0], { urlPath: { path: { prefix: "/admin" } } });
    assert.equal(allow.typedConfig.rules.action ?? "ALLOW", "ALLOW", JSON.stringify(allow));
    const rule0 = allow.typedConfig.rules.policies?.["ns[shop]-policy[shop/allow-frontend]-rule[0]"];
    assert.ok(rule0, JSON.stringify(allow));
    assert.deepEqual(rule0.principals[0], {
      authenticated: { principalName: { exact: "spiffe://cluster.local/ns/shop/sa/frontend" } },
    });
    assert.deepEqual(rule0.permissions[0].header, { name: ":method", stringMatch: { exact: "GET" } });
    // The TCP port: the allow rule reading HTTP cannot match there; the deny rule applies without its path.
    const tcp = inbound.filterChains[0].filters.map((f: Loose) => f.name);
    assert.deepEqual(tcp, [
      "envoy.filters.network.rbac",
      "envoy.filters.network.rbac",
      "envoy.filters.network.tcp_proxy",
    ]);
  });

  it("clusters: auto mTLS by endpoint metadata; ISTIO_MUTUAL always; SANs from the endpoints' identities", () => {
    const clusters = resourcesOf(controller, NODES.sidecar("shop", "10.7.0.5"), TypeUrl.Cluster);
    const web8080: Loose = clusters.get("outbound|8080||web.shop.svc.cluster.local");
    assert.deepEqual(
      web8080.transportSocketMatches.map((m: Loose) => [m.name, m.match]),
      [
        ["tlsMode-istio", { tlsMode: "istio" }],
        ["tlsMode-disabled", {}],
      ],
    );
    const mtls = web8080.transportSocketMatches[0].transportSocket.typedConfig;
    assert.equal(mtls.sni, "outbound_.8080_._.web.shop.svc.cluster.local");
    assert.deepEqual(
      mtls.commonTlsContext.combinedValidationContext.defaultValidationContext.matchTypedSubjectAltNames,
      [{ sanType: "URI", matcher: { exact: "spiffe://cluster.local/ns/shop/sa/web" } }],
    );
    const db: Loose = clusters.get("outbound|5432||db.shop.svc.cluster.local");
    assert.equal(db.transportSocket.name, "envoy.transport_sockets.tls");
    assert.equal(db.transportSocketMatches, undefined);
    const eds: Loose = resourcesOf(controller, NODES.sidecar("shop", "10.7.0.5"), TypeUrl.ClusterLoadAssignment).get(
      "outbound|8080||web.shop.svc.cluster.local",
    );
    const metas = eds.endpoints[0].lbEndpoints.map(
      (e: Loose) => e.metadata?.filterMetadata?.["envoy.transport_socket_match"],
    );
    assert.deepEqual(metas, [{ tlsMode: "istio" }, undefined]);
  });

  it("a policy that cannot be enforced fails closed: an unenforceable DENY denies everything", () => {
    const local = new IstioStore();
    local.replaceSource(
      "security.yaml",
      docs(`${world}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: jwt-only, namespace: shop }
spec:
  action: DENY
  rules: [{ from: [{ source: { notRequestPrincipals: ["*"] } }] }]
`),
    );
    const c = createDiscoveryController({ services: local, config: local, mtls: { trustDomain: "cluster.local" } });
    try {
      const policy = local.accessPolicies().find((p) => p.name === "shop/jwt-only");
      assert.match(policy?.unenforceable ?? "", /requestPrincipals: JWT principals need a RequestAuthentication/);
      const inbound: Loose = resourcesOf(c, web, TypeUrl.Listener).get("virtualInbound");
      const deny = inbound.filterChains[1].filters[0].typedConfig.httpFilters[0].typedConfig.rules;
      assert.deepEqual(deny.policies["ns[shop]-policy[shop/jwt-only]-unenforceable"], {
        permissions: [{ any: true }],
        principals: [{ any: true }],
      });
    } finally {
      c.close();
    }
  });
});
