// The fan-out bench's floor in a process of its own: a bare grpc-js server
// writing the very bytes xdskit would send (assembled here once).
import { assembleDiscoveryResponse, createSnapshotRegistry, sotwBody } from "@xdskit/snapshot";
import { world } from "@xdskit/snapshot/testing";
import { TypeUrl } from "@xdskit/xds-types";
import { processStats, serve } from "../child.js";
import { startFloorServer } from "../floor-server.js";

const ORDER = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];
const args = JSON.parse(process.argv[2] ?? "{}") as { services: number; endpoints: number };
const snap = createSnapshotRegistry().setSnapshot("floor", world(args.services, args.endpoints));
const responses = ORDER.map((t, i) => {
  const ts = snap.get(t);
  return assembleDiscoveryResponse(
    { versionInfo: ts?.version ?? "", typeUrl: t, nonce: String(i + 1) },
    sotwBody([...(ts?.resources.values() ?? [])]),
  );
});
startFloorServer().then(
  (floor) => {
    serve({
      status: () => ({ connections: floor.subscribed() }),
      set: () => {
        const t0 = performance.now();
        floor.broadcast(responses);
        return { ms: performance.now() - t0 };
      },
      stats: () => processStats(),
    });
    process.send?.({ ev: "ready", port: floor.port });
  },
  (err: unknown) => process.send?.({ ev: "error", message: String(err) }),
);
