// The bench's control plane as a user runs it: a memory source with the
// Istio load-test world, the discovery controller (default debounce, default
// builders) and the ADS server, in a process of its own.
import { createAdsServer } from "@xdskit/ads-server";
import { type ServiceEndpoint, createDiscoveryController, createMemorySource } from "@xdskit/config-generator";
import { processStats, serve } from "../child.js";
import { MESH_PORT, endpointIp } from "../mesh.js";

const args = JSON.parse(process.argv[2] ?? "{}") as { services: number; endpoints: number };
const source = createMemorySource();
const endpointsOf = (i: number, weight = 1): ServiceEndpoint[] =>
  Array.from({ length: args.endpoints }, (_, e) => ({
    address: endpointIp(i, e),
    port: MESH_PORT,
    weight: e === 0 ? weight : 1,
  }));
for (let i = 0; i < args.services; i++) {
  source.setService({ name: `svc-${i}`, port: MESH_PORT, protocol: "http", endpoints: endpointsOf(i) });
}
const controller = createDiscoveryController({ services: source, config: source });
const ads = createAdsServer({ registry: controller.registry });
let changes = 0;
// What the server sent, and the types it answered with nothing because the client held them (reconnects).
const sent = { responses: 0, bytes: 0, resumed: 0, lastPushAt: 0 };
ads.on("push", (e) => {
  sent.responses++;
  sent.bytes += e.bytes;
  // When (epoch ms) the latest response was handed to HTTP/2: a change's last one tells the server's part of its latency.
  sent.lastPushAt = performance.timeOrigin + performance.now();
});
ads.on("resumed", () => sent.resumed++);
serve({
  status: () => ({ connections: ads.connections.count(), groups: controller.nodeGroups().size }),
  sent: () => ({ ...sent, connections: ads.connections.count() }),
  // One endpoint's weight: an EDS-only change of one service, as a scaling event or a health flip would be.
  change: (m) => {
    const i = Number(m.service ?? 0);
    changes++;
    const at = performance.timeOrigin + performance.now();
    source.setEndpoints(`svc-${i}`, endpointsOf(i, (changes % 2) + 2));
    return { at };
  },
  stats: () => ({ ...processStats(), registry: controller.registry.stats() }),
});
ads.listen("127.0.0.1:0").then(
  (port) => process.send?.({ ev: "ready", port }),
  (err: unknown) => process.send?.({ ev: "error", message: String(err) }),
);
process.on("SIGINT", () => process.exit(0));
