// A control plane reading its mesh from a real source, as minimal-pilot runs
// it: the etcd source or the mesh file, the discovery controller (default
// debounce and builders) and the ADS server, in a process of its own. Ready
// once the source has read the whole mesh. The etcd and Kubernetes sources
// are loaded only when named, as a program using one source would: the
// Kubernetes client alone is tens of MiB of code, which the file and memory
// kinds' memory figures must not carry.
import { createAdsServer } from "@xdskit/ads-server";
import fs from "node:fs";
import {
  type Service,
  createDiscoveryController,
  createFileSource,
  createMemorySource,
  parseMeshFile,
} from "@xdskit/config-generator";
import type { createEtcdSource } from "@xdskit/source-etcd";
import type { createKubernetesSource } from "@xdskit/source-kubernetes";
import { processStats, serve } from "../child.js";

const args = JSON.parse(process.argv[2] ?? "{}") as
  | { kind: "etcd"; endpoints: string[]; prefix: string; services: number }
  | { kind: "file"; path: string; services: number }
  | { kind: "memory"; path: string; services: number }
  | { kind: "kubernetes"; kubeconfig: string; namespace: string; services: number };

async function main(): Promise<void> {
  const t0 = performance.now();
  let source:
    | ReturnType<typeof createEtcdSource>
    | ReturnType<typeof createFileSource>
    | ReturnType<typeof createMemorySource>
    | ReturnType<typeof createKubernetesSource>;
  let memory: ReturnType<typeof createMemorySource> | undefined;
  if (args.kind === "kubernetes") {
    const { createKubernetesSource } = await import("@xdskit/source-kubernetes");
    const kube = createKubernetesSource({ kubeconfig: args.kubeconfig, namespaces: [args.namespace] });
    await kube.whenReady(300_000);
    source = kube;
  } else if (args.kind === "etcd") {
    const { createEtcdSource } = await import("@xdskit/source-etcd");
    const etcd = createEtcdSource({ endpoints: args.endpoints, prefix: args.prefix });
    await etcd.whenReady(120_000);
    source = etcd;
  } else if (args.kind === "memory") {
    // The floor of a source: the same mesh held in memory, changed in place.
    memory = createMemorySource();
    for (const svc of parseMeshFile(fs.readFileSync(args.path, "utf8"), args.path).services) memory.setService(svc);
    source = memory;
  } else {
    source = createFileSource({ path: args.path, maxBytes: 64 << 20 });
  }
  const loaded = source.services().length;
  if (loaded !== args.services)
    throw new Error(`the ${args.kind} source read ${loaded} services, expected ${args.services}`);
  const readMs = performance.now() - t0;
  const controller = createDiscoveryController(
    "routes" in source ? { services: source, config: source } : { services: source },
  );
  const ads = createAdsServer({ registry: controller.registry });
  // When (epoch ms) the latest response was handed to HTTP/2: a change's last one is the server's part of its latency.
  let lastPushAt = 0;
  ads.on("push", () => {
    lastPushAt = performance.timeOrigin + performance.now();
  });
  serve({
    status: () => ({ connections: ads.connections.count(), readMs }),
    sent: () => ({ lastPushAt }),
    stats: () => ({ ...processStats(), readMs }),
    // The memory source's change: one service replaced; `at` when it was made.
    setService: (m) => {
      const at = performance.timeOrigin + performance.now();
      memory?.setService(m.service as Service);
      return { at };
    },
  });
  const port = await ads.listen("127.0.0.1:0");
  process.send?.({ ev: "ready", port });
}

main().catch((err: unknown) =>
  process.send?.({ ev: "error", message: err instanceof Error ? err.message : String(err) }),
);
process.on("SIGINT", () => process.exit(0));
