// The fan-out bench's xdskit server: a snapshot registry and the ADS server,
// with the world built here so its memory is the server's own.
import { createAdsServer, tlsServerCredentials } from "@xdskit/ads-server";
import { createSnapshotRegistry } from "@xdskit/snapshot";
import { world } from "@xdskit/snapshot/testing";
import { processStats, serve } from "../child.js";

const args = JSON.parse(process.argv[2] ?? "{}") as {
  services: number;
  endpoints: number;
  maxInFlightBytes?: number;
  tls?: { cert: string; key: string; clientCa?: string };
};
const input = world(args.services, args.endpoints);
const registry = createSnapshotRegistry({ nodeGroup: () => "bench" });
const ads = createAdsServer({
  registry,
  ...(args.maxInFlightBytes ? { maxInFlightBytes: args.maxInFlightBytes } : {}),
});
serve({
  status: () => ({ connections: ads.connections.count(), watches: registry.watchCount() }),
  set: () => {
    const t0 = performance.now();
    registry.setSnapshot("bench", input);
    return { ms: performance.now() - t0 };
  },
  stats: () => ({ ...processStats(), inFlightBytes: ads.sendBudget().inFlightBytes }),
});
const credentials = args.tls
  ? tlsServerCredentials({
      certFile: args.tls.cert,
      keyFile: args.tls.key,
      ...(args.tls.clientCa ? { clientCaFile: args.tls.clientCa } : {}),
    })
  : undefined;
ads.listen("127.0.0.1:0", credentials).then(
  (port) => process.send?.({ ev: "ready", port }),
  (err: unknown) => process.send?.({ ev: "error", message: String(err) }),
);
