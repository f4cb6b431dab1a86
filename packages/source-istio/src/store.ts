// The Istio objects a source holds, and the model they make. Each object is
// checked and converted on its own: a bad one is refused with where it came
// from (file and document, or the API server), `kind namespace/name`, the
// field path and the reason, and its last good version keeps being served;
// every other object is unaffected. Conversions are remembered per object,
// so an edit converts what it touched.
import { EventEmitter } from "node:events";
import type {
  AccessPolicy,
  ChangeKind,
  PeerAuthenticationPolicy,
  ConfigStore,
  DestinationPolicy,
  Gateway,
  RouteRule,
  Service,
  ServiceRegistry,
  SidecarScope,
  SourceEvents,
  TcpRoute,
} from "@xdskit/config-generator";
import { convertDestinationRule } from "./destination-rule.js";
import { FieldError } from "./fields.js";
import { convertGateway, convertSidecar } from "./gateway-sidecar.js";
import {
  type IstioKind,
  type IstioObject,
  type Located,
  type Origin,
  checkObject,
  describe,
  keyOf,
  where,
} from "./objects.js";
import { type Workload, convertServiceEntry } from "./service-entry.js";
import { convertVirtualService } from "./virtual-service.js";
import { convertAuthorizationPolicy, convertPeerAuthentication } from "./security.js";

/** Naming options of a store. */
export interface IstioStoreOptions {
  /** The cluster's DNS domain: short hosts become `<name>.<namespace>.svc.<domain>`. Default `cluster.local`. */
  readonly domain?: string;
  /** Trust domain of workload identities (WorkloadEntry service accounts). Default `cluster.local`. */
  readonly trustDomain?: string;
  /** The namespace of objects that name none (files). Default `default`. */
  readonly defaultNamespace?: string;
}

/** One document of a source: the parsed object, or why it could not be parsed. */
export interface SourceDocument {
  readonly doc?: unknown;
  readonly origin: Origin;
  /** Set when the document could not be read (bad YAML, too large): its objects keep their last good versions. */
  readonly problem?: string;
}

/** An object added or changed (`doc` given) or deleted. */
export interface ObjectUpdate {
  readonly kind: IstioKind;
  readonly namespace: string;
  readonly name: string;
  readonly doc?: unknown;
}

/** An object refused, and why. */
export interface RefusedObject {
  /** `file document n: kind namespace/name`, or `kubernetes: …`. */
  readonly object: string;
  /** `spec.http[0].route[1].weight: must be integer`. */
  readonly reason: string;
  /** True when its last good version is served meanwhile. */
  readonly lastGoodServed: boolean;
}

/** What one object contributes to the model. */
interface Parts {
  services?: Service[];
  routes?: RouteRule[];
  tcpRoutes?: TcpRoute[];
  policies?: DestinationPolicy[];
  gateways?: Gateway[];
  sidecars?: SidecarScope[];
  peerAuthentications?: PeerAuthenticationPolicy[];
  accessPolicies?: AccessPolicy[];
}

interface Entry {
  readonly located: Located;
  /** The object as text: equal text, equal conversion. */
  readonly text: string;
}

const KIND_CHANGES: Record<IstioKind, ChangeKind[]> = {
  VirtualService: ["routes", "gateways"],
  DestinationRule: ["services", "endpoints"],
  ServiceEntry: ["services", "endpoints"],
  WorkloadEntry: ["services", "endpoints"],
  Gateway: ["gateways"],
  Sidecar: ["services", "endpoints"],
  PeerAuthentication: ["services", "endpoints"],
  AuthorizationPolicy: ["services", "endpoints"],
};

/** Istio objects, and the model they make: a service registry and a config store at once. */
export class IstioStore extends EventEmitter implements ServiceRegistry, ConfigStore {
  readonly #entries = new Map<string, Entry>();
  /** Documents that could not be read as an object at all, by origin. */
  readonly #unreadable = new Map<string, RefusedObject>();
  readonly #lastGood = new Map<string, { text: string; parts: Parts }>();
  #model: { parts: Parts; refused: RefusedObject[] } | undefined;
  #reported = new Set<string>();
  readonly domain: string;
  readonly trustDomain: string;
  readonly defaultNamespace: string;

  constructor(options: IstioStoreOptions = {}) {
    super();
    this.domain = options.domain ?? "cluster.local";
    this.trustDomain = options.trustDomain ?? "cluster.local";
    this.defaultNamespace = options.defaultNamespace ?? "default";
  }

  /**
   * Replaces every object that came from `source` (a file) by `docs`. Returns
   * the kinds of change, and emits `change` when any.
   */
  replaceSource(source: string, docs: readonly SourceDocument[]): void {
    const kinds = new Set<ChangeKind>();
    const seen = new Set<string>();
    for (const k of [...this.#unreadable.keys()]) if (k.startsWith(`${source}\u0000`)) this.#unreadable.delete(k);
    for (const { doc, origin, problem } of docs) {
      if (problem !== undefined) {
        const at = origin.document !== undefined ? `${origin.source} document ${origin.document + 1}` : origin.source;
        // What the document (or, with no document given, the whole file) held stays until it reads again.
        let kept = false;
        for (const [key, e] of this.#entries)
          if (
            e.located.origin.source === source &&
            (origin.document === undefined || e.located.origin.document === origin.document)
          ) {
            seen.add(key);
            kept = true;
          }
        this.#unreadable.set(`${source}\u0000${origin.document ?? ""}`, {
          object: at,
          reason: problem,
          lastGoodServed: kept,
        });
        continue;
      }
      const key = this.#put(doc, origin, kinds);
      if (key) seen.add(key);
    }
    for (const [key, e] of this.#entries)
      if (e.located.origin.source === source && !seen.has(key)) {
        this.#entries.delete(key);
        this.#lastGood.delete(key);
        for (const k of KIND_CHANGES[e.located.object.kind]) kinds.add(k);
      }
    this.#changed(kinds, `istio objects in ${source} changed`);
  }

  /**
   * Applies objects added or changed (with `doc`) and deleted (without) as
   * one change: what a watch delivered in one turn.
   */
  applyObjects(updates: readonly ObjectUpdate[], origin: Origin): void {
    const kinds = new Set<ChangeKind>();
    for (const u of updates) {
      if (u.doc !== undefined) {
        this.#put(u.doc, origin, kinds);
        continue;
      }
      const key = keyOf(u.kind, u.namespace, u.name);
      this.#unreadable.delete(`${origin.source}\u0000${key}`);
      if (!this.#entries.delete(key)) continue;
      this.#lastGood.delete(key);
      for (const k of KIND_CHANGES[u.kind]) kinds.add(k);
    }
    const only = updates.length === 1 ? updates[0] : undefined;
    this.#changed(
      kinds,
      only ? `${describe(only.kind, only.namespace, only.name)} changed` : `${updates.length} istio objects changed`,
    );
  }

  // Checks a document and stores it; returns its key (undefined when unreadable).
  #put(doc: unknown, origin: Origin, kinds: Set<ChangeKind>): string | undefined {
    const { object, problems } = checkObject(doc);
    const raw = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
    const kind = typeof raw?.kind === "string" ? raw.kind : "object";
    const name = typeof raw?.metadata?.name === "string" ? raw.metadata.name : "?";
    const namespace = typeof raw?.metadata?.namespace === "string" ? raw.metadata.namespace : this.defaultNamespace;
    const located: Located | undefined = object ? { object, origin, namespace } : undefined;
    const key = keyOf(kind, namespace, name);
    if (!located) {
      const label = where({ object: { kind, metadata: { name } } as IstioObject, origin, namespace });
      const reason = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join("; ");
      const held = this.#entries.get(key);
      // A known object that turned invalid keeps its last good version.
      if (held && held.located.origin.source === origin.source) {
        this.#unreadable.set(`${origin.source}\u0000${key}`, {
          object: label,
          reason,
          lastGoodServed: this.#lastGood.has(key),
        });
        return key;
      }
      this.#unreadable.set(`${origin.source}\u0000${origin.document ?? ""}`, {
        object: label,
        reason,
        lastGoodServed: false,
      });
      return undefined;
    }
    this.#unreadable.delete(`${origin.source}\u0000${key}`);
    const held = this.#entries.get(key);
    if (held && held.located.origin.source !== origin.source && origin.source !== "kubernetes") {
      this.#unreadable.set(`${origin.source}\u0000${key}`, {
        object: where(located),
        reason: `defined twice: ${where(held.located)} is served`,
        lastGoodServed: false,
      });
      return undefined;
    }
    const text = JSON.stringify(located.object);
    if (held?.text === text) return key;
    this.#entries.set(key, { located, text });
    for (const k of KIND_CHANGES[located.object.kind]) kinds.add(k);
    return key;
  }

  #changed(kinds: Set<ChangeKind>, reason: string): void {
    this.#model = undefined;
    // Each refusal is reported once, when it first appears.
    const now = new Set<string>();
    for (const r of this.refused()) {
      const line = `${r.object}: ${r.reason}`;
      now.add(line);
      if (!this.#reported.has(line)) this.emit("rejected", { reason: "istio object refused", error: new Error(line) });
    }
    this.#reported = now;
    if (kinds.size > 0) this.emit("change", { kinds: [...kinds], reason });
  }

  #build(): { parts: Parts; refused: RefusedObject[] } {
    if (this.#model) return this.#model;
    const refused: RefusedObject[] = [...this.#unreadable.values()];
    const all: Parts = {
      services: [],
      routes: [],
      tcpRoutes: [],
      policies: [],
      gateways: [],
      sidecars: [],
      peerAuthentications: [],
      accessPolicies: [],
    };
    const workloads: Workload[] = [];
    for (const e of this.#entries.values())
      if (e.located.object.kind === "WorkloadEntry")
        workloads.push({
          namespace: e.located.namespace,
          name: e.located.object.metadata.name,
          spec: e.located.object.spec,
        });
    // First match wins across VirtualServices of a host in creation order (then by name), as Istio orders them.
    const entries = [...this.#entries.entries()].sort(([ka, a], [kb, b]) => {
      const ta = a.located.object.metadata.creationTimestamp ?? "";
      const tb = b.located.object.metadata.creationTimestamp ?? "";
      return ta < tb ? -1 : ta > tb ? 1 : ka < kb ? -1 : 1;
    });
    let order = 0;
    const wlText = JSON.stringify(workloads);
    for (const [key, e] of entries) {
      const { object, namespace } = e.located;
      // A ServiceEntry selecting workloads is converted again when they change.
      // A VirtualService's rules carry their place in the order.
      const text =
        object.kind === "ServiceEntry" && object.spec.workloadSelector
          ? `${e.text}${wlText}`
          : object.kind === "VirtualService"
            ? `${e.text}#${order}`
            : e.text;
      const label = where(e.located);
      let parts: Parts;
      const last = this.#lastGood.get(key);
      if (last && last.text === text) parts = last.parts;
      else {
        try {
          parts = this.#convert(object, namespace, label, order, workloads);
          this.#lastGood.set(key, { text, parts });
        } catch (err) {
          const reason = err instanceof FieldError ? err.message : err instanceof Error ? err.message : String(err);
          refused.push({ object: label, reason, lastGoodServed: last !== undefined });
          if (!last) continue;
          parts = last.parts;
        }
      }
      order += Math.max(1, (parts.routes?.length ?? 0) + (parts.tcpRoutes?.length ?? 0));
      for (const k of Object.keys(all) as (keyof Parts)[])
        (all[k] as unknown[]).push(...((parts[k] as unknown[] | undefined) ?? []));
    }
    this.#model = { parts: all, refused };
    return this.#model;
  }

  #convert(o: IstioObject, namespace: string, label: string, order: number, workloads: readonly Workload[]): Parts {
    const ctx = { namespace, domain: this.domain };
    const name = `${namespace}/${o.metadata.name}`;
    switch (o.kind) {
      case "VirtualService":
        return convertVirtualService(o.spec, ctx, label, order);
      case "DestinationRule":
        return { policies: [convertDestinationRule(o.spec, ctx, label)] };
      case "ServiceEntry":
        return { services: convertServiceEntry(o.spec, { ...ctx, trustDomain: this.trustDomain, workloads }) };
      case "Gateway":
        return { gateways: convertGateway(o.spec, ctx, name) };
      case "Sidecar":
        return { sidecars: [convertSidecar(o.spec, ctx, name)] };
      case "PeerAuthentication":
        return { peerAuthentications: [convertPeerAuthentication(o.spec, ctx, name)] };
      case "AuthorizationPolicy":
        return { accessPolicies: [convertAuthorizationPolicy(o.spec, ctx, name)] };
      case "WorkloadEntry":
        if (typeof o.spec.address !== "string" || o.spec.address === "")
          throw new FieldError("spec.address", "is required");
        return {};
    }
  }

  /** Objects refused now, each with where it came from and why. */
  refused(): readonly RefusedObject[] {
    return this.#build().refused;
  }

  /** How many objects are held, by kind. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.#entries.values()) out[e.located.object.kind] = (out[e.located.object.kind] ?? 0) + 1;
    return out;
  }

  services(): readonly Service[] {
    return this.#build().parts.services ?? [];
  }
  routes(): readonly RouteRule[] {
    return this.#build().parts.routes ?? [];
  }
  tcpRoutes(): readonly TcpRoute[] {
    return this.#build().parts.tcpRoutes ?? [];
  }
  policies(): readonly DestinationPolicy[] {
    return this.#build().parts.policies ?? [];
  }
  gateways(): readonly Gateway[] {
    return this.#build().parts.gateways ?? [];
  }
  sidecars(): readonly SidecarScope[] {
    return this.#build().parts.sidecars ?? [];
  }
  peerAuthentications(): readonly PeerAuthenticationPolicy[] {
    return this.#build().parts.peerAuthentications ?? [];
  }
  accessPolicies(): readonly AccessPolicy[] {
    return this.#build().parts.accessPolicies ?? [];
  }
  /** An empty set of Istio objects is a valid state (every ServiceEntry deleted). */
  allowsEmpty(): boolean {
    return true;
  }

  override on<K extends keyof SourceEvents>(event: K, listener: SourceEvents[K]): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }
  override off<K extends keyof SourceEvents>(event: K, listener: SourceEvents[K]): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
}
