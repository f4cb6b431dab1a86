// The cluster's services, kept incrementally: a change to an object marks
// only the services that read it (a Service itself; the Service of a slice;
// the Services whose slices name a Pod or a Node) and only those are built
// again, so an event storm costs what it touches. Every built service is
// checked like a mesh-file service; a bad one is refused alone, with its
// object and field path, and its last good form keeps being served.
import type { V1EndpointSlice, V1Namespace, V1Pod } from "@kubernetes/client-node";
import { type Service, validateService } from "@xdskit/config-generator";
import { type ClusterObjects, type MappingOptions, ownedBy, serviceOf, sliceService } from "./mapping.js";

/** A Service whose latest form is not served, and why. */
export interface RejectedService {
  /** `namespace/name` of the Service. */
  readonly key: string;
  readonly reason: string;
}

/** The objects the model reads, by kind, as the reflectors hold them. */
export interface ClusterStores extends ClusterObjects {
  readonly namespaces: ReadonlyMap<string, V1Namespace>;
}

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  let set = index.get(key);
  if (!set) {
    set = new Set();
    index.set(key, set);
  }
  set.add(value);
}

function removeFrom(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  set?.delete(value);
  if (set?.size === 0) index.delete(key);
}

/** The model's services of a cluster, rebuilt per Service as its objects change. */
export class ClusterModel {
  readonly #built = new Map<string, Service>();
  /** Each built service's JSON: a rebuild that changes nothing keeps the old object (and what was computed from it). */
  readonly #json = new WeakMap<Service, string>();
  readonly #dirty = new Set<string>();
  readonly #rejected = new Map<string, string>();
  /** Slices of each Service, and what each slice references (to undo on change). */
  readonly #slicesOf = new Map<string, Set<string>>();
  readonly #sliceRefs = new Map<string, { service: string; pods: string[]; nodes: string[] }>();
  readonly #podServices = new Map<string, Set<string>>();
  readonly #nodeServices = new Map<string, Set<string>>();
  /** Pods by IP, for proxies that are pods. */
  readonly #podByIp = new Map<string, string>();
  readonly #podIps = new Map<string, string[]>();
  #all = true;
  #list: Service[] = [];

  constructor(
    readonly stores: ClusterStores,
    readonly options: MappingOptions,
    /** Told about each Service refused (once per distinct reason). */
    readonly onRejected: (key: string, reason: string) => void,
  ) {}

  /** A Service changed (or went). */
  serviceChanged(key: string): void {
    this.#dirty.add(key);
  }

  /** A slice changed (or went): its old and new Service, and the Pods and Nodes it names, are re-indexed. */
  sliceChanged(key: string): void {
    const old = this.#sliceRefs.get(key);
    if (old) {
      this.#dirty.add(old.service);
      removeFrom(this.#slicesOf, old.service, key);
      for (const p of old.pods) removeFrom(this.#podServices, p, old.service);
      for (const n of old.nodes) removeFrom(this.#nodeServices, n, old.service);
      this.#sliceRefs.delete(key);
    }
    const slice = this.stores.slices.get(key);
    const service = slice ? sliceService(slice) : undefined;
    if (!slice || !service) return;
    const pods: string[] = [];
    const nodes: string[] = [];
    for (const e of slice.endpoints ?? []) {
      if (e.targetRef?.kind === "Pod")
        pods.push(`${e.targetRef.namespace ?? slice.metadata?.namespace ?? ""}/${e.targetRef.name ?? ""}`);
      if (e.nodeName) nodes.push(`/${e.nodeName}`);
    }
    this.#sliceRefs.set(key, { service, pods, nodes });
    addTo(this.#slicesOf, service, key);
    for (const p of pods) addTo(this.#podServices, p, service);
    for (const n of nodes) addTo(this.#nodeServices, n, service);
    this.#dirty.add(service);
  }

  /** A Pod changed (or went): the Services whose slices name it, and the IP index. */
  podChanged(key: string): void {
    for (const s of this.#podServices.get(key) ?? []) this.#dirty.add(s);
    for (const ip of this.#podIps.get(key) ?? []) if (this.#podByIp.get(ip) === key) this.#podByIp.delete(ip);
    this.#podIps.delete(key);
    const pod = this.stores.pods.get(key);
    const ips = (pod?.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => !!ip);
    if (pod?.status?.podIP && !ips.includes(pod.status.podIP)) ips.push(pod.status.podIP);
    // Finished pods give their IP back.
    if (pod && !["Succeeded", "Failed"].includes(pod.status?.phase ?? "")) {
      for (const ip of ips) this.#podByIp.set(ip, key);
      this.#podIps.set(key, ips);
    }
  }

  /** A Node changed: the Services with endpoints on it. */
  nodeChanged(key: string): void {
    for (const s of this.#nodeServices.get(key) ?? []) this.#dirty.add(s);
  }

  /** Namespaces changed (a selector's answer may have): every Service is looked at again. */
  namespacesChanged(): void {
    this.#all = true;
  }

  /** Everything is looked at again (after a re-list). */
  invalidate(): void {
    this.#all = true;
  }

  /** The pod at an IP, if any. */
  podAt(ip: string): V1Pod | undefined {
    const key = this.#podByIp.get(ip);
    return key ? this.stores.pods.get(key) : undefined;
  }

  /** Services refused and why. */
  rejected(): RejectedService[] {
    return [...this.#rejected].map(([key, reason]) => ({ key, reason }));
  }

  /** The current services, sorted by host; only what changed since the last call is built again. */
  services(): readonly Service[] {
    if (!this.#all && this.#dirty.size === 0) return this.#list;
    const keys = this.#all ? new Set([...this.stores.services.keys(), ...this.#built.keys()]) : this.#dirty;
    for (const key of keys) this.#rebuild(key);
    this.#all = false;
    this.#dirty.clear();
    this.#list = [...this.#built.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return this.#list;
  }

  #rebuild(key: string): void {
    const svc = this.stores.services.get(key);
    if (!svc || !this.options.namespaceSelected(svc.metadata?.namespace ?? "")) {
      this.#built.delete(key);
      this.#rejected.delete(key);
      return;
    }
    const slices: V1EndpointSlice[] = [];
    for (const sk of this.#slicesOf.get(key) ?? []) {
      const s = this.stores.slices.get(sk);
      if (s && ownedBy(s, svc)) slices.push(s);
    }
    let next: Service | undefined;
    try {
      next = serviceOf(svc, slices, this.stores, this.options);
      if (next) validateService(next, `Service ${key}`);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (this.#rejected.get(key) !== reason) this.onRejected(key, reason);
      this.#rejected.set(key, reason);
      // The last good form stays, if there is one.
      return;
    }
    this.#rejected.delete(key);
    if (!next) {
      this.#built.delete(key);
      return;
    }
    const json = JSON.stringify(next);
    const old = this.#built.get(key);
    if (old && this.#json.get(old) === json) return;
    const frozen = Object.freeze({ ...next, endpoints: Object.freeze(next.endpoints.map((e) => Object.freeze(e))) });
    this.#json.set(frozen, json);
    this.#built.set(key, frozen);
  }
}
