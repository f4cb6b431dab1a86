// The Kubernetes source: Services, EndpointSlices, Pods and Nodes (and
// Namespaces, with a selector) listed and watched from a real API server,
// turned into the model the way Istio reads a cluster. Not ready, and so
// nothing served, until every kind has been listed once; after that, losing
// the API server keeps the last good model, and the watches resume from the
// versions they had.
import { EventEmitter } from "node:events";
import { KubeConfig, KubernetesObjectApi, type KubernetesObject, Watch } from "@kubernetes/client-node";
import type { ChangeKind, Service, ServiceRegistry, SourceEvents } from "@xdskit/config-generator";
import { ClusterModel, type ClusterStores, type RejectedService } from "./cluster-model.js";
import { matchesSelector, parseSelector } from "./labels.js";
import { type KindSpec, Reflector, type ReflectorStatus } from "./reflector.js";
import { slim } from "./slim.js";

/** Options of {@link createKubernetesSource}. */
export interface KubernetesSourceOptions {
  /** A loaded kubeconfig. Default: `kubeconfig` if given, else the in-cluster account when run in a pod, else `~/.kube/config`. */
  readonly kubeConfig?: KubeConfig;
  /** A kubeconfig file to load. */
  readonly kubeconfig?: string;
  /** Serve only these namespaces (each listed and watched on its own, so RBAC may be per namespace). Default: all. */
  readonly namespaces?: readonly string[];
  /** Serve only namespaces whose labels match this selector (`istio-injection=enabled,team in (a,b)`). */
  readonly namespaceSelector?: string;
  /** The cluster's DNS domain: hosts are `<name>.<namespace>.svc.<domain>`. Default `cluster.local`. */
  readonly domain?: string;
  /** The trust domain of workload identities (`spiffe://<trustDomain>/ns/<ns>/sa/<sa>`). Default `cluster.local`. */
  readonly trustDomain?: string;
  /** Read Nodes for endpoint localities (needs list/watch on nodes). Default true. */
  readonly nodes?: boolean;
  /** First retry after a failure, ms (doubling, jittered). Default 200. */
  readonly retryMs?: number;
  /** Longest pause between retries, ms. Default 5000. */
  readonly maxRetryMs?: number;
  /** Objects per list page. Default 500. */
  readonly pageSize?: number;
  /** Most objects of one kind held; a list finding more is refused (the last good model stays). Default 100,000. */
  readonly maxObjects?: number;
  /** How long each watch runs before it is renewed, s (jittered). Default 300. */
  readonly watchTimeoutS?: number;
}

/** What the source knows of its connection to the API server. */
export interface KubernetesSourceStatus {
  /** Every kind was listed once: the model is loaded. */
  readonly ready: boolean;
  /** Every watch is open now. */
  readonly connected: boolean;
  /** How long some kind has been out of touch, ms (0 when connected). */
  readonly lagMs: number;
  /** The last error talking to the API server, while out of touch. */
  readonly lastError: string | undefined;
  /** Lists done across kinds (one each at start, one after each 410 Gone). */
  readonly lists: number;
  /** Each list/watch (`Service`, `EndpointSlice` in `team-a`…) and its state. */
  readonly watches: readonly (ReflectorStatus & { readonly kind: string; readonly namespace: string | undefined })[];
  /** Services whose latest form is not served, and why. */
  readonly rejected: readonly RejectedService[];
}

/** The source's events: a source's `change` and `rejected`, and its connection's ups and downs. */
export interface KubernetesSourceEvents extends SourceEvents {
  /** The source lost the API server (with the error) or got it back; fired on each transition. */
  connection: (event: { connected: boolean; error?: string }) => void;
}

/** A cluster's Services as a service registry. */
export interface KubernetesSource extends ServiceRegistry {
  /** Listens for the connection to the API server being lost or regained. */
  on(event: "connection", listener: KubernetesSourceEvents["connection"]): unknown;
  /** Listens for changes. */
  on(event: "change", listener: SourceEvents["change"]): unknown;
  /** Listens for refused Services (each keeps its last good form). */
  on(event: "rejected", listener: SourceEvents["rejected"]): unknown;
  /** The kubeconfig in use. */
  readonly kubeConfig: KubeConfig;
  /** False until every kind was listed once. */
  ready(): boolean;
  /** Connection state, lag, lists and refused Services. */
  status(): KubernetesSourceStatus;
  /** Resolves once every kind was listed (rejects after `timeoutMs`, with the last error). */
  whenReady(timeoutMs?: number): Promise<void>;
  /** The Pod with this IP, if any (proxies are pods). */
  podAt(ip: string): { namespace: string; name: string; serviceAccount: string | undefined } | undefined;
  /** Stops every watch. */
  close(): void;
}

/** Loads the kubeconfig the options name (see {@link KubernetesSourceOptions.kubeConfig}). */
export function loadKubeConfig(options: { kubeConfig?: KubeConfig; kubeconfig?: string }): KubeConfig {
  if (options.kubeConfig) return options.kubeConfig;
  const kc = new KubeConfig();
  if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      `no Kubernetes cluster in ${options.kubeconfig ?? "the default kubeconfig (KUBECONFIG, ~/.kube/config or the in-cluster account)"}`,
    );
  }
  return kc;
}

const KINDS = {
  Service: { apiVersion: "v1", plural: "services", group: "/api/v1" },
  EndpointSlice: { apiVersion: "discovery.k8s.io/v1", plural: "endpointslices", group: "/apis/discovery.k8s.io/v1" },
  Pod: { apiVersion: "v1", plural: "pods", group: "/api/v1" },
} as const;

class KubernetesSourceImpl extends EventEmitter implements KubernetesSource {
  readonly kubeConfig: KubeConfig;
  readonly #reflectors: { kind: string; reflector: Reflector }[] = [];
  readonly #stores: ClusterStores;
  readonly #model: ClusterModel;
  readonly #selector: ReturnType<typeof parseSelector> | undefined;
  #ready = false;
  #connected = false;
  #pending = new Set<ChangeKind>();
  #flush: NodeJS.Immediate | undefined;
  #closed = false;

  constructor(options: KubernetesSourceOptions) {
    super();
    this.kubeConfig = loadKubeConfig(options);
    this.#selector = options.namespaceSelector !== undefined ? parseSelector(options.namespaceSelector) : undefined;
    const api = KubernetesObjectApi.makeApiClient(this.kubeConfig);
    const watch = new Watch(this.kubeConfig);
    const timing = {
      pageSize: options.pageSize ?? 500,
      retryMs: options.retryMs ?? 200,
      maxRetryMs: options.maxRetryMs ?? 5000,
      maxObjects: options.maxObjects ?? 100_000,
      watchTimeoutS: options.watchTimeoutS ?? 300,
    };
    const stores = {
      services: new Map(),
      slices: new Map(),
      pods: new Map(),
      nodes: new Map(),
      namespaces: new Map(),
    };
    const only = options.namespaces ? new Set(options.namespaces) : undefined;
    this.#model = new ClusterModel(
      stores,
      {
        domain: options.domain ?? "cluster.local",
        trustDomain: options.trustDomain ?? "cluster.local",
        namespaceSelected: (ns) => this.#namespaceSelected(ns, only),
      },
      (key, reason) =>
        this.emit("rejected", {
          reason: `Service ${key} refused; its last good form is served`,
          error: new Error(reason),
        }),
    );
    this.#stores = stores;
    const add = (
      kind: string,
      spec: KindSpec,
      store: Map<string, KubernetesObject>,
      changed: (key: string) => void,
    ) => {
      const reflector = new Reflector(
        store,
        spec,
        api,
        watch,
        timing,
        ({ keys, relisted }) => {
          if (relisted) this.#model.invalidate();
          for (const k of keys) changed(k);
          this.#changed(kind === "Service" || relisted ? ["services", "endpoints"] : ["endpoints"]);
        },
        () => this.#connectionChanged(),
      );
      this.#reflectors.push({ kind, reflector });
    };
    const namespaced = (
      kind: keyof typeof KINDS,
      store: Map<string, KubernetesObject>,
      changed: (k: string) => void,
    ) => {
      const k = KINDS[kind];
      for (const ns of options.namespaces ?? [undefined]) {
        add(
          kind,
          {
            apiVersion: k.apiVersion,
            kind,
            path: ns ? `${k.group}/namespaces/${ns}/${k.plural}` : `${k.group}/${k.plural}`,
            ...(ns ? { namespace: ns } : {}),
            transform: slim[kind],
          },
          store,
          changed,
        );
      }
    };
    namespaced("Service", stores.services, (k) => this.#model.serviceChanged(k));
    namespaced("EndpointSlice", stores.slices, (k) => this.#model.sliceChanged(k));
    namespaced("Pod", stores.pods, (k) => this.#model.podChanged(k));
    if (options.nodes !== false) {
      add("Node", { apiVersion: "v1", kind: "Node", path: "/api/v1/nodes", transform: slim.Node }, stores.nodes, (k) =>
        this.#model.nodeChanged(k),
      );
    }
    if (this.#selector) {
      add(
        "Namespace",
        { apiVersion: "v1", kind: "Namespace", path: "/api/v1/namespaces", transform: slim.Namespace },
        stores.namespaces,
        () => this.#model.namespacesChanged(),
      );
    }
    for (const { reflector } of this.#reflectors) reflector.start();
  }

  #namespaceSelected(ns: string, only: Set<string> | undefined): boolean {
    if (only && !only.has(ns)) return false;
    if (!this.#selector) return true;
    const labels = this.#stores.namespaces.get(`/${ns}`)?.metadata?.labels ?? {};
    return matchesSelector(this.#selector, labels);
  }

  #changed(kinds: readonly ChangeKind[]): void {
    for (const k of kinds) this.#pending.add(k);
    if (!this.#ready) {
      if (!this.#reflectors.every((r) => r.reflector.status().synced)) return;
      this.#ready = true;
    }
    // A storm of events in one turn is one change.
    if (this.#flush) return;
    this.#flush = setImmediate(() => {
      this.#flush = undefined;
      const changed = [...this.#pending];
      this.#pending.clear();
      if (!this.#closed) this.emit("change", { kinds: changed, reason: "Kubernetes objects changed" });
    });
  }

  #connectionChanged(): void {
    const connected = this.#reflectors.every((r) => r.reflector.status().connected);
    if (connected === this.#connected) return;
    this.#connected = connected;
    const error = this.#reflectors.map((r) => r.reflector.status().lastError).find((e) => e !== undefined);
    this.emit("connection", connected ? { connected } : { connected, ...(error ? { error } : {}) });
  }

  ready(): boolean {
    return this.#ready;
  }

  services(): readonly Service[] {
    return this.#model.services();
  }

  status(): KubernetesSourceStatus {
    const watches = this.#reflectors.map(({ kind, reflector }) => ({
      kind,
      namespace: reflector.spec.namespace,
      ...reflector.status(),
    }));
    const lost = watches.map((w) => w.lostAt).filter((x): x is number => x !== undefined);
    const errors = watches.map((w) => w.lastError).filter((e): e is string => e !== undefined);
    return {
      ready: this.#ready,
      connected: watches.every((w) => w.connected),
      lagMs: lost.length > 0 ? Date.now() - Math.min(...lost) : 0,
      lastError: errors[0],
      lists: watches.reduce((n, w) => n + w.lists, 0),
      watches,
      rejected: this.#model.rejected(),
    };
  }

  whenReady(timeoutMs = 30_000): Promise<void> {
    if (this.#ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("change", done);
        reject(
          new Error(
            `the Kubernetes API server was not read within ${timeoutMs} ms: ${this.status().lastError ?? "no answer"}`,
          ),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.off("change", done);
        resolve();
      };
      this.on("change", done);
    });
  }

  podAt(ip: string): { namespace: string; name: string; serviceAccount: string | undefined } | undefined {
    const pod = this.#model.podAt(ip);
    if (!pod?.metadata?.name) return undefined;
    return {
      namespace: pod.metadata.namespace ?? "",
      name: pod.metadata.name,
      serviceAccount: pod.spec?.serviceAccountName,
    };
  }

  close(): void {
    this.#closed = true;
    if (this.#flush) clearImmediate(this.#flush);
    for (const { reflector } of this.#reflectors) reflector.stop();
  }
}

/**
 * A service registry reading a real Kubernetes API server: Services (one per
 * host, a cluster per port), their endpoints from EndpointSlices with the
 * Pods' labels and identities and the Nodes' localities.
 */
export function createKubernetesSource(options: KubernetesSourceOptions = {}): KubernetesSource {
  return new KubernetesSourceImpl(options);
}
