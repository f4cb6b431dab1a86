// What per-workload builders may read of a proxy. A node group serves every
// client whose key is equal, with config built once from one of them; a
// builder that read something the key does not cover (another member's
// metadata, say) would give every member the first member's value, silently.
// So builders get a view of exactly what the key covers, and reading anything
// else throws, naming the field and how to cover it.
import type { JsonObject } from "@bufbuild/protobuf";
import { XdsError } from "@xdskit/xds-types";
import type { Proxy } from "./proxy.js";

/** What the default node group key covers besides kind and cluster (and a sidecar's IP). */
export interface GroupBy {
  /** Node metadata keys to group by (and so for builders to read). */
  readonly metadata?: readonly string[];
  /** Group by locality (region, zone, sub-zone), so builders may read it. */
  readonly locality?: boolean;
  /** One group per node id: builders may read everything (and nothing is shared per group). */
  readonly nodeId?: boolean;
}

/** The node group key of a proxy under `by`. */
export function groupKeyOf(proxy: Proxy, by: GroupBy = {}): string {
  if (by.nodeId) return `${proxy.kind}/${proxy.cluster}/id:${proxy.id}`;
  let key =
    proxy.kind !== "gateway" && proxy.ip
      ? `${proxy.kind}/${proxy.cluster}/${proxy.ip}`
      : `${proxy.kind}/${proxy.cluster}`;
  // What a client may see depends on its namespace (exportTo, Sidecar scopes):
  // clients of one cluster in two namespaces are two groups.
  if (!(proxy.kind !== "gateway" && proxy.ip) && proxy.namespace) key += `/ns:${proxy.namespace}`;
  // Workload certificates are per service account.
  if (!(proxy.kind !== "gateway" && proxy.ip) && proxy.serviceAccount) key += `/sa:${proxy.serviceAccount}`;
  // Gateways are chosen by their labels (a Gateway's selector), so are their groups.
  if (!(proxy.kind !== "gateway" && proxy.ip) && Object.keys(proxy.labels).length > 0)
    key += `/labels:${Object.entries(proxy.labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join(",")}`;
  if (by.locality)
    key += `/${proxy.locality.region ?? ""}/${proxy.locality.zone ?? ""}/${proxy.locality.subZone ?? ""}`;
  for (const k of by.metadata ?? []) key += `/${k}=${JSON.stringify(proxy.metadata[k] ?? null)}`;
  return key;
}

function uncovered(field: string, how: string): never {
  throw new XdsError(
    "invalid_argument",
    `a builder read proxy.${field}, which the node group key does not cover, so every member of the group would get the first member's value; ${how}`,
  );
}

/** The proxy as builders of the group may see it: only what `by` covers. */
export function groupView(proxy: Proxy, group: string, by: GroupBy = {}): Proxy {
  if (by.nodeId) return proxy;
  const allowed = new Set(by.metadata ?? []);
  const metadata = new Proxy(proxy.metadata, {
    get(target, key) {
      if (typeof key !== "string" || allowed.has(key)) return (target as Record<string | symbol, unknown>)[key];
      // Serialising or inspecting the object is not reading a value.
      if (key === "toJSON" || key === "constructor") return undefined;
      return uncovered(`metadata.${key}`, `add "${key}" to the controller's groupBy.metadata`);
    },
    has: (target, key) => (typeof key === "string" && allowed.has(key) ? key in target : false),
    ownKeys: (target) => Reflect.ownKeys(target).filter((k) => typeof k === "string" && allowed.has(k)),
  }) as JsonObject;
  const locality = by.locality ? proxy.locality : guardedLocality();
  return { ...proxy, id: group, metadata, locality };
}

/** A locality that throws when read, naming the option that makes it readable. */
export function guardedLocality(): Proxy["locality"] {
  return new Proxy(
    {},
    {
      get: (_t, key) =>
        typeof key === "string" && key !== "toJSON"
          ? uncovered(`locality.${key}`, "set the controller's groupBy.locality")
          : undefined,
      has: () => false,
      ownKeys: () => [],
    },
  ) as Proxy["locality"];
}
