// Every traffic policy field of the mesh, as a real Envoy 1.40 sidecar takes
// it: no rejection anywhere, and its clusters and endpoints carry what the
// mesh says (Envoy's config dump and cluster status as the oracle).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Service } from "@xdskit/config-generator";
import { type Backend, grpcBackend } from "./harness/backends.js";
import { type Envoy, rejections, startEnvoy } from "./harness/envoy.js";
import { grpcService, meshText } from "./harness/mesh.js";
import { type Pilot, startPilot } from "./harness/pilot.js";
import { waitFor } from "./harness/wait.js";

const NODE = "sidecar~127.0.0.9~envoy-policy.default~default.svc.cluster.local";

interface DumpedCluster {
  name: string;
  lb_policy?: string;
  ring_hash_lb_config?: unknown;
  least_request_lb_config?: { choice_count?: number };
  outlier_detection?: { enforcing_failure_percentage?: number; failure_percentage_threshold?: number };
  circuit_breakers?: { thresholds?: { max_requests?: number }[] };
  type?: string;
  cluster_type?: { name: string };
  load_balancing_policy?: unknown;
}

describe("Envoy takes every traffic policy of the mesh", () => {
  let b: Backend[];
  let pilot: Pilot;
  let envoy: Envoy;

  before(async () => {
    b = [await grpcBackend("p1"), await grpcBackend("p2"), await grpcBackend("p3")];
    const [p1, p2, p3] = b as [Backend, Backend, Backend];
    const services: Service[] = [
      grpcService("ring", [p1, p2], { loadBalancer: { policy: "ring-hash", hashHeaders: ["x-user"] } }),
      grpcService("least", [p1, p2], { loadBalancer: { policy: "least-request", choiceCount: 3 } }),
      grpcService("wrr", [p1, p2], { loadBalancer: { policy: "weighted-round-robin" } }),
      grpcService("guarded", [p1], {
        outlierDetection: { consecutiveErrors: 3, failurePercentage: { threshold: 50 } },
        circuitBreaker: { maxRequests: 9, maxConnections: 4, maxPendingRequests: 8, maxRetries: 2 },
      }),
      grpcService("zoned", [p1, p2], { localityFailover: [{ zone: "a" }] }, (_x, i) => ({
        locality: { region: "r", zone: i === 0 ? "a" : "b" },
        health: i === 0 ? "degraded" : "healthy",
      })),
      // Its own server (one server listener carries one service's TLS and rules).
      grpcService("secure", [p3], {
        tls: { subjectAltNames: ["spiffe://td/ns/default/sa/secure"] },
        authorization: [{ name: "any", action: "allow", principals: ["*"] }],
      }),
      { name: "by-dns", protocol: "grpc", endpoints: [], dns: { host: "localhost", port: p1.port } },
      { name: "agg", protocol: "grpc", port: 9100, endpoints: [], aggregate: ["least", "by-dns"] },
    ];
    pilot = await startPilot(
      meshText(services, [
        { host: "ring", split: [{ service: "ring", weight: 1 }], timeoutMs: 2000, grpcTimeoutCapMs: 1000 },
      ]),
    );
    envoy = await startEnvoy({ nodeId: NODE, xdsPort: pilot.xdsPort });
  });

  after(async () => {
    await envoy?.stop();
    await pilot?.stop();
    for (const x of b ?? []) await x.stop();
  });

  it("accepts every cluster, assignment and route, and holds the policies", async () => {
    const clusters = await waitFor(
      "Envoy to hold the policy clusters",
      async () => {
        const dump = await envoy.configDump();
        const list = dump.configs
          .flatMap((c) => c.dynamic_active_clusters ?? [])
          .map((c) => c.cluster as DumpedCluster);
        // EDS clusters stay warming until their assignment lands, after the DNS and aggregate ones are active.
        const wanted = ["ring", "least", "wrr", "guarded", "zoned", "by-dns", "agg"];
        return wanted.every((n) => list.some((c) => c.name.endsWith(`||${n}`))) ? list : undefined;
      },
      20_000,
    ).catch((err) => {
      throw new Error(`${err.message}\n${envoy.log().slice(-3000)}`);
    });
    assert.deepEqual(rejections(await envoy.stats()), [], "no update_rejected or update_failure");
    const named = (n: string) => clusters.find((c) => c.name.endsWith(`||${n}`)) as DumpedCluster;
    assert.equal(named("ring").lb_policy, "RING_HASH");
    assert.equal(named("least").lb_policy, "LEAST_REQUEST");
    assert.equal(named("least").least_request_lb_config?.choice_count, 3);
    assert.ok(named("wrr").load_balancing_policy, "client-side weighted round robin as a typed policy");
    assert.equal(named("guarded").outlier_detection?.failure_percentage_threshold, 50);
    assert.equal(named("guarded").circuit_breakers?.thresholds?.[0]?.max_requests, 9);
    assert.equal(named("by-dns").type, "LOGICAL_DNS");
    assert.equal(named("agg").cluster_type?.name, "envoy.clusters.aggregate");
    assert.equal(named("agg").lb_policy, "CLUSTER_PROVIDED");
    const statuses = await envoy.clusters();
    const zoned = statuses.cluster_statuses.find((c) => c.name.endsWith("||zoned"));
    assert.deepEqual(zoned?.host_statuses?.map((h) => h.health_status.eds_health_status ?? "HEALTHY").sort(), [
      "DEGRADED",
      "HEALTHY",
    ]);
  });
});
