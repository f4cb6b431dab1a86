import { createSnapshotRegistry, type MemorySnapshotRegistry } from "@xdskit/snapshot";
import { type AdsServer, type AdsServerOptions, createAdsServer } from "../index.js";

/** A registry and an ADS server on a loopback port, torn down by `close()`. */
export async function startServer(
  options: Partial<AdsServerOptions> & { registry?: MemorySnapshotRegistry } = {},
): Promise<{ registry: MemorySnapshotRegistry; server: AdsServer; port: number; close: () => Promise<void> }> {
  const registry = options.registry ?? createSnapshotRegistry();
  const server = createAdsServer({ ...options, registry });
  const port = await server.listen("127.0.0.1:0");
  return { registry, server, port, close: () => server.shutdown(1000) };
}
