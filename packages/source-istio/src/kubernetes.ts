// Istio objects from the Kubernetes API as custom resources: each kind
// listed and watched (resumed, re-listed after 410) by the Kubernetes
// source's reflectors, into the same store the folder source fills. Not
// ready until every kind was listed once; losing the API server keeps the
// last good objects.
import { type KubeConfig, KubernetesObjectApi, type KubernetesObject, Watch } from "@kubernetes/client-node";
import { Reflector, type ReflectorStatus, loadKubeConfig, rawLister } from "@xdskit/source-kubernetes";
import { type IstioKind, KINDS, groupOf } from "./objects.js";
import { type IstioStoreOptions, IstioStore, type ObjectUpdate } from "./store.js";

/** Options of {@link createIstioKubernetesSource}. */
export interface IstioKubernetesOptions extends IstioStoreOptions {
  /** A loaded kubeconfig. Default: `kubeconfig` if given, else the in-cluster account or `~/.kube/config`. */
  readonly kubeConfig?: KubeConfig;
  /** A kubeconfig file to load. */
  readonly kubeconfig?: string;
  /** Read only these namespaces (each listed and watched on its own). Default: all. */
  readonly namespaces?: readonly string[];
  /** The API version read (`v1`, `v1beta1` or `v1alpha3` of networking.istio.io). Default `v1`. */
  readonly version?: "v1" | "v1beta1" | "v1alpha3";
  /** The API version of security.istio.io read. Default `v1`. */
  readonly securityVersion?: "v1" | "v1beta1";
  /** Most objects of one kind held. Default 20,000. */
  readonly maxObjects?: number;
  /** First retry after a failure, ms (doubling, jittered). Default 200. */
  readonly retryMs?: number;
}

/** Istio custom resources of a cluster, as a store kept in sync. */
export interface IstioKubernetesSource extends IstioStore {
  readonly kubeConfig: KubeConfig;
  /** False until every kind was listed once. */
  ready(): boolean;
  /** Each kind's list/watch and its state. */
  watches(): readonly (ReflectorStatus & { readonly kind: string; readonly namespace: string | undefined })[];
  /** Stops every watch. */
  close(): void;
}

const PLURALS: Record<IstioKind, string> = {
  VirtualService: "virtualservices",
  DestinationRule: "destinationrules",
  ServiceEntry: "serviceentries",
  WorkloadEntry: "workloadentries",
  Gateway: "gateways",
  Sidecar: "sidecars",
  PeerAuthentication: "peerauthentications",
  AuthorizationPolicy: "authorizationpolicies",
};

class IstioKubernetes extends IstioStore implements IstioKubernetesSource {
  readonly kubeConfig: KubeConfig;
  readonly #reflectors: { kind: IstioKind; reflector: Reflector }[] = [];
  #ready = false;
  #pending: ObjectUpdate[] = [];
  #flush: NodeJS.Immediate | undefined;

  constructor(options: IstioKubernetesOptions) {
    super(options);
    this.kubeConfig = loadKubeConfig(options);
    const api = KubernetesObjectApi.makeApiClient(this.kubeConfig);
    const watch = new Watch(this.kubeConfig);
    const version = options.version ?? "v1";
    const rawList = rawLister(this.kubeConfig);
    // Security resources are read as v1 (AuthorizationPolicy and PeerAuthentication are v1 since Istio 1.22).
    const apiVersionOf = (kind: IstioKind) =>
      groupOf(kind) === "security.istio.io"
        ? `security.istio.io/${options.securityVersion ?? "v1"}`
        : `networking.istio.io/${version}`;
    const timing = {
      pageSize: 500,
      retryMs: options.retryMs ?? 200,
      maxRetryMs: 5000,
      maxObjects: options.maxObjects ?? 20_000,
      watchTimeoutS: 300,
    };
    for (const kind of KINDS) {
      const objects = new Map<string, KubernetesObject>();
      const apiVersion = apiVersionOf(kind);
      const group = `/apis/${apiVersion}`;
      for (const ns of options.namespaces ?? [undefined]) {
        const reflector = new Reflector(
          objects,
          {
            apiVersion,
            kind,
            path: ns ? `${group}/namespaces/${ns}/${PLURALS[kind]}` : `${group}/${PLURALS[kind]}`,
            ...(ns ? { namespace: ns } : {}),
            rawList,
          },
          api,
          watch,
          timing,
          ({ keys }) => {
            for (const key of keys) {
              const [namespace = "", name = ""] = key.split("/");
              const o = objects.get(key);
              // The API server's list items carry no kind: it is the list's.
              this.#pending.push(
                o ? { kind, namespace, name, doc: { ...o, kind, apiVersion } } : { kind, namespace, name },
              );
            }
            this.#schedule();
          },
          // A failed list settles a kind that is not served: readiness is looked at again.
          () => this.#schedule(),
        );
        this.#reflectors.push({ kind, reflector });
      }
    }
    for (const { reflector } of this.#reflectors) reflector.start();
  }

  // A watch's events of one turn are one change; nothing is reported before every kind was listed.
  #schedule(): void {
    let first = false;
    if (!this.#ready) {
      // A kind the API server does not serve (its CRD not installed) counts as
      // empty; its reflector keeps trying and picks it up once it is.
      const settled = (r: Reflector) => r.status().synced || /HTTP 404/.test(r.status().lastError ?? "");
      if (!this.#reflectors.every((r) => settled(r.reflector))) return;
      this.#ready = true;
      first = true;
    }
    if (this.#flush) return;
    this.#flush = setImmediate(() => {
      this.#flush = undefined;
      const updates = this.#pending;
      this.#pending = [];
      this.applyObjects(updates, { source: "kubernetes" });
      // Becoming ready is news even for a cluster without any Istio object.
      if (first)
        this.emit("change", {
          kinds: ["services", "endpoints", "routes", "gateways"],
          reason: "Istio resources listed",
        });
    });
  }

  ready(): boolean {
    return this.#ready;
  }

  watches() {
    return this.#reflectors.map(({ kind, reflector }) => ({
      kind,
      namespace: reflector.spec.namespace,
      ...reflector.status(),
    }));
  }

  close(): void {
    if (this.#flush) clearImmediate(this.#flush);
    for (const { reflector } of this.#reflectors) reflector.stop();
  }
}

/** Lists and watches Istio's networking and security resources in a cluster (see the module comment). */
export function createIstioKubernetesSource(options: IstioKubernetesOptions = {}): IstioKubernetesSource {
  return new IstioKubernetes(options);
}
