// The benches' floor in a process of its own: a bare grpc-js server writing
// the very bytes xdskit would send (assembled here once), or, for the fleet
// scenarios, a one-endpoint change of the sidecar world as one EDS response
// written to every stream — what a change costs with no control plane at all.
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { assembleDiscoveryResponse, createSnapshotRegistry, sotwBody } from "@xdskit/snapshot";
import { world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { HealthStatus } from "@xdskit/xds-types/gen/envoy/config/core/v3/health_check_pb";
import { ClusterLoadAssignmentSchema } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import { DiscoveryResponseSchema } from "@xdskit/xds-types/gen/envoy/service/discovery/v3/discovery_pb";
import { processStats, serve } from "../child.js";
import { startBareHttp2Floor, startFloorServer } from "../floor-server.js";
import { MESH_PORT, clusterOf, endpointIp } from "../mesh.js";

const ORDER = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];
const args = JSON.parse(process.argv[2] ?? "{}") as {
  services: number;
  endpoints: number;
  /** Serve on Node's HTTP/2 alone, framing gRPC by hand (see startBareHttp2Floor). */
  bareHttp2?: boolean;
};
const snap = createSnapshotRegistry().setSnapshot("floor", world(args.services, args.endpoints));
const responses = ORDER.map((t, i) => {
  const ts = snap.get(t);
  return assembleDiscoveryResponse(
    { versionInfo: ts?.version ?? "", typeUrl: t, nonce: String(i + 1) },
    sotwBody([...(ts?.resources.values() ?? [])]),
  );
});

// The mesh server's change (bench/src/servers/mesh-server.ts): service i's
// first endpoint weighted 2 or 3, the assignment shaped as the default
// builder shapes it (one locality, every endpoint healthy).
let changes = 0;
const DEBOUNCE_MS = 100;
function changeResponse(i: number): Uint8Array {
  changes++;
  const weights = Array.from({ length: args.endpoints }, (_, e) => (e === 0 ? (changes % 2) + 2 : 1));
  const cla = create(ClusterLoadAssignmentSchema, {
    clusterName: clusterOf(i),
    endpoints: [
      {
        locality: { region: "", zone: "", subZone: "" },
        loadBalancingWeight: weights.reduce((a, b) => a + b, 0),
        lbEndpoints: weights.map((w, e) => ({
          hostIdentifier: {
            case: "endpoint" as const,
            value: {
              address: {
                address: {
                  case: "socketAddress" as const,
                  value: { address: endpointIp(i, e), portSpecifier: { case: "portValue" as const, value: MESH_PORT } },
                },
              },
            },
          },
          loadBalancingWeight: w,
          healthStatus: HealthStatus.HEALTHY,
        })),
      },
    ],
  });
  return toBinary(
    DiscoveryResponseSchema,
    create(DiscoveryResponseSchema, {
      versionInfo: `floor-${changes}`,
      typeUrl: TypeUrl.ClusterLoadAssignment,
      nonce: `f${changes}`,
      resources: [anyPack(ClusterLoadAssignmentSchema, cla)],
    }),
  );
}

(args.bareHttp2 ? startBareHttp2Floor() : startFloorServer()).then(
  (floor) => {
    let lastPushAt = 0;
    serve({
      status: () => ({ connections: floor.subscribed() }),
      set: () => {
        const t0 = performance.now();
        floor.broadcast(responses);
        return { ms: performance.now() - t0 };
      },
      // The fleet's change: one EDS response to every stream, timed as the
      // mesh server's `change` is, written after the pilot's default debounce
      // (100 ms) so that latencies compare.
      change: (m) => {
        const at = performance.timeOrigin + performance.now();
        const response = changeResponse(Number(m.service ?? 0));
        setTimeout(() => {
          floor.broadcast([response]);
          lastPushAt = performance.timeOrigin + performance.now();
        }, DEBOUNCE_MS);
        return { at };
      },
      sent: () => ({ lastPushAt }),
      stats: () => processStats(),
    });
    process.send?.({ ev: "ready", port: floor.port });
  },
  (err: unknown) => process.send?.({ ev: "error", message: String(err) }),
);
