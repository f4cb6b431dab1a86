// The Istio load-test world, shared by the bench's mesh server and its load
// plans: services `svc-<i>` on one port with two endpoints each, and the
// sidecar of endpoint n living at that endpoint's IP.
import type { Service } from "@xdskit/config-generator";

/** The port every service of the world listens on. */
export const MESH_PORT = 8080;

/** The IP of endpoint `e` of service `i`. */
export function endpointIp(i: number, e: number): string {
  return `10.${(i >> 8) & 255}.${i & 255}.${e + 1}`;
}

/** The node id of the sidecar of the n-th endpoint (n = 2i + e for two endpoints per service). */
export function sidecarId(n: number, endpointsPerService: number): string {
  const i = Math.floor(n / endpointsPerService);
  return `sidecar~${endpointIp(i, n % endpointsPerService)}~pod-${n}.mesh~mesh.svc.cluster.local`;
}

/** A service's cluster name as the default builders make it. */
export function clusterOf(i: number): string {
  return `outbound|${MESH_PORT}||svc-${i}`;
}

/** What a sidecar subscribes to (CDS and LDS wildcard, every assignment, the port's routes). */
export function sidecarSubscriptions(services: number): Record<string, readonly string[]> {
  return {
    "type.googleapis.com/envoy.config.cluster.v3.Cluster": [],
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": Array.from({ length: services }, (_, i) =>
      clusterOf(i),
    ),
    "type.googleapis.com/envoy.config.listener.v3.Listener": [],
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration": [String(MESH_PORT)],
  };
}

/** What a proxyless gRPC client calling every service subscribes to. */
export function proxylessSubscriptions(services: number): Record<string, readonly string[]> {
  const names = Array.from({ length: services }, (_, i) => `svc-${i}`);
  const clusters = Array.from({ length: services }, (_, i) => clusterOf(i));
  return {
    "type.googleapis.com/envoy.config.listener.v3.Listener": names,
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration": names,
    "type.googleapis.com/envoy.config.cluster.v3.Cluster": clusters,
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": clusters,
  };
}

/** Service `i` of the world, its first endpoint with `weight`. */
export function service(i: number, weight = 1): Service {
  return {
    name: `svc-${i}`,
    port: MESH_PORT,
    protocol: "http",
    endpoints: [0, 1].map((e) => ({ address: endpointIp(i, e), port: MESH_PORT, weight: e === 0 ? weight : 1 })),
  };
}

/** The world as an xdskit mesh file, in block-style YAML as people write mesh files by hand. */
export function meshYaml(services: readonly Service[]): string {
  const out = ["services:"];
  for (const s of services) {
    out.push(`  - name: ${s.name}`, `    port: ${s.port}`, `    protocol: ${s.protocol}`, "    endpoints:");
    for (const e of s.endpoints)
      out.push(`      - address: ${e.address}`, `        port: ${e.port}`, `        weight: ${e.weight}`);
  }
  return `${out.join("\n")}\n`;
}

/**
 * The k-th change: service (k × 7919) mod n gets its first endpoint's weight
 * set to k + 2, a value it never had (an unchanged value pushes nothing).
 */
export function changed(k: number, services: number): { i: number; svc: Service } {
  const i = (k * 7919) % services;
  return { i, svc: service(i, k + 2) };
}

/** The namespace of the world's sidecars (their node ids say `pod-n.mesh`). */
export const MESH_NAMESPACE = "mesh";

/** The host name Istio knows service `name` by: a ServiceEntry host in the sidecars' namespace. */
export function istioHost(name: string): string {
  return `${name}.${MESH_NAMESPACE}.svc.cluster.local`;
}

/** The world as Istio ServiceEntries (STATIC resolution, the endpoints listed), one YAML document each. */
export function serviceEntriesYaml(services: readonly Service[]): string {
  const docs = services.map((s) =>
    [
      "apiVersion: networking.istio.io/v1",
      "kind: ServiceEntry",
      "metadata:",
      `  name: ${s.name}`,
      `  namespace: ${MESH_NAMESPACE}`,
      "spec:",
      `  hosts: ["${istioHost(s.name)}"]`,
      "  location: MESH_INTERNAL",
      "  resolution: STATIC",
      "  ports:",
      `  - number: ${s.port}`,
      `    name: ${s.protocol ?? "http"}`,
      `    protocol: ${(s.protocol ?? "http").toUpperCase()}`,
      "  endpoints:",
      ...s.endpoints.flatMap((e) => [`  - address: ${e.address}`, `    weight: ${e.weight}`]),
    ].join("\n"),
  );
  return `${docs.join("\n---\n")}\n`;
}

/** What an Istio sidecar of the world subscribes to: as {@link sidecarSubscriptions}, with Istio's cluster names. */
export function istioSidecarSubscriptions(services: number): Record<string, readonly string[]> {
  const own = sidecarSubscriptions(services);
  return {
    ...own,
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": Array.from(
      { length: services },
      (_, i) => `outbound|${MESH_PORT}||${istioHost(`svc-${i}`)}`,
    ),
  };
}
