// Where minimal-pilot's mesh comes from: the built-in demo, a mesh file, etcd,
// or a Kubernetes API server — the last composed with a mesh file or etcd for
// routes and gateways (and any services of their own). Each source's package
// is loaded only when the options name it: the Kubernetes client alone is
// about 50 MiB of resident code and strings a pilot on a mesh file never uses.
import {
  type ConfigStore,
  type ServiceRegistry,
  createAggregateConfig,
  createAggregateRegistry,
  createFileSource,
  createMemorySource,
} from "@xdskit/config-generator";
import type { IstioStore } from "@xdskit/source-istio";
import type { KubernetesSource } from "@xdskit/source-kubernetes";
import type client from "prom-client";
import type { PilotOptions } from "./options.js";

/** The sources the controller reads, and what the admin pages say about them. */
export interface PilotSources {
  readonly services: ServiceRegistry;
  readonly config: ConfigStore | undefined;
  /** The Kubernetes source, when there is one (its pods authorize proxies). */
  readonly kube: KubernetesSource | undefined;
  /** For /debug/mesh and /readyz: where the mesh comes from, and the last error. */
  describe(): { lastError: string | null; status?: unknown; file?: string | null };
  close(): Promise<void>;
}

/** Opens the sources the options name; rejects with a readable message. */
export async function openSources(
  o: PilotOptions,
  echoPorts: readonly number[],
  metrics: client.Registry,
): Promise<PilotSources> {
  const closers: (() => Promise<void> | void)[] = [];
  let routes: (ConfigStore & ServiceRegistry) | undefined;
  const describe: (() => Record<string, unknown>)[] = [];
  let lastError: () => string | undefined = () => undefined;

  if (o.etcd) {
    const { createEtcdSource } = await import("@xdskit/source-etcd");
    const { createEtcdSourceMetrics } = await import("@xdskit/source-etcd/prom");
    const s = createEtcdSource({ endpoints: o.etcd, prefix: o.etcdPrefix, tls: o.etcdTls });
    closers.push(() => s.close());
    // Not ready (and serving nothing) until etcd was read; then keeps the last good mesh through outages.
    s.on("connection", (e) => {
      if (e.connected)
        console.log(
          `etcd: ${s.ready() ? "connected to" : "reading"} ${o.etcd?.join(",")} ${o.etcdPrefix} at revision ${e.revision}`,
        );
      else console.warn(`etcd: lost (${e.error}); serving the last good mesh and retrying`);
    });
    s.on("rejected", (e) => console.error(`etcd: ${e.reason}: ${e.error.message}`));
    createEtcdSourceMetrics(s, { registry: metrics });
    routes = s;
    describe.push(() => ({ etcd: o.etcd, prefix: o.etcdPrefix, ...s.status() }));
    lastError = () => s.status().lastError;
  } else if (o.config) {
    const file = createFileSource({ path: o.config, ...(o.maxConfigBytes ? { maxBytes: o.maxConfigBytes } : {}) });
    closers.push(() => file.close());
    routes = file;
    describe.push(() => ({ file: file.path }));
    lastError = () => file.lastError?.message;
  }

  let kube: KubernetesSource | undefined;
  if (o.kubernetes) {
    const { createKubernetesSource } = await import("@xdskit/source-kubernetes");
    const { createKubernetesSourceMetrics } = await import("@xdskit/source-kubernetes/prom");
    const k = createKubernetesSource({
      ...(o.kubernetes.kubeconfig ? { kubeconfig: o.kubernetes.kubeconfig } : {}),
      ...(o.kubernetes.namespaces ? { namespaces: o.kubernetes.namespaces } : {}),
      ...(o.kubernetes.namespaceSelector ? { namespaceSelector: o.kubernetes.namespaceSelector } : {}),
      domain: o.kubernetes.domain,
      trustDomain: o.trustDomain,
    });
    kube = k;
    closers.push(() => k.close());
    const server = k.kubeConfig.getCurrentCluster()?.server ?? "?";
    k.on("connection", (e) => {
      if (e.connected) console.log(`kubernetes: ${k.ready() ? "connected to" : "reading"} ${server}`);
      else console.warn(`kubernetes: lost ${server} (${e.error}); serving the last good services and retrying`);
    });
    k.on("rejected", (e) => console.error(`kubernetes: ${e.reason}: ${e.error.message}`));
    createKubernetesSourceMetrics(k, { registry: metrics });
    describe.unshift(() => ({ kubernetes: { server, ...k.status() } }));
    const other = lastError;
    lastError = () => k.status().lastError ?? other();
  }

  const istio: IstioStore[] = [];
  if (o.istio) {
    const { createIstioFolderSource, createIstioKubernetesSource } = await import("@xdskit/source-istio");
    const names = { domain: o.kubernetes?.domain ?? o.clusterDomain, trustDomain: o.trustDomain };
    const report = (what: string, s: IstioStore) => {
      s.on("rejected", (e) => console.error(`istio: ${e.error.message}`));
      describe.push(() => ({ [what]: { objects: s.counts(), refused: s.refused() } }));
      istio.push(s);
    };
    if (o.istio.dir) {
      const dir = createIstioFolderSource({ dir: o.istio.dir, ...names });
      closers.push(() => dir.close());
      report("istioConfig", dir);
      console.log(`istio: ${Object.values(dir.counts()).reduce((a, b) => a + b, 0)} objects from ${o.istio.dir}`);
    }
    if (o.istio.kubernetes) {
      const k = createIstioKubernetesSource({
        ...(o.kubernetes?.kubeconfig ? { kubeconfig: o.kubernetes.kubeconfig } : {}),
        ...(o.kubernetes?.namespaces ? { namespaces: o.kubernetes.namespaces } : {}),
        ...names,
      });
      closers.push(() => k.close());
      report("istioKubernetes", k);
    }
  }

  const registries = [...(kube ? [kube] : []), ...(routes ? [routes] : []), ...istio];
  let services: ServiceRegistry;
  if (registries.length > 1) {
    // The cluster's services, the file's (or etcd's) and ServiceEntries', merged.
    const all = createAggregateRegistry(registries);
    closers.push(() => all.close());
    services = all;
  } else if (registries[0]) services = registries[0];
  else {
    const mem = createMemorySource();
    mem.setService({ name: "echo", endpoints: echoPorts.map((p) => ({ address: o.host, port: p })) });
    services = mem;
    describe.push(() => ({ file: null }));
  }
  // Routes from the file (or etcd) and Istio's resources side by side.
  const stores: ConfigStore[] = [...(routes ? [routes] : []), ...istio];
  let config: ConfigStore | undefined = stores[0];
  if (stores.length > 1) {
    const joined = createAggregateConfig(stores);
    closers.push(() => joined.close());
    config = joined;
  }
  return {
    services,
    config,
    kube,
    describe: () => {
      const parts = Object.assign({}, ...describe.map((d) => d()));
      const { file, ...status } = parts as { file?: string | null };
      return {
        lastError: lastError() ?? null,
        ...(file !== undefined ? { file } : {}),
        ...(Object.keys(status).length > 0 ? { status } : {}),
      };
    },
    close: async () => {
      for (const c of closers.reverse()) await c();
    },
  };
}
