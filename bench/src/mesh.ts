// The Istio load-test world, shared by the bench's mesh server and its load
// plans: services `svc-<i>` on one port with two endpoints each, and the
// sidecar of endpoint n living at that endpoint's IP.

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
