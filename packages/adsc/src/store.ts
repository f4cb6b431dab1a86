import type { Message } from "@bufbuild/protobuf";
import { TypeUrl, decodeResource, findResourceType } from "@xdskit/xds-types";
import type { Cluster } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import type { ClusterLoadAssignment } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import type { Listener } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import type { RouteConfiguration } from "@xdskit/xds-types/gen/envoy/config/route/v3/route_pb";

/** One resource as the client holds it. */
export interface StoredResource<M extends Message = Message> {
  readonly name: string;
  readonly typeUrl: string;
  /** Per-resource version (Delta), or the version of the response that carried it (SotW). */
  readonly version: string;
  /** The decoded message; undefined for a type URL this client has no schema for. */
  readonly message: M | undefined;
  /** The encoded message (the Any's value), as received. */
  readonly bytes: Uint8Array;
  /** Delta TTL in milliseconds, if the server set one. */
  readonly ttlMs?: number;
}

/** A resource as it came off the wire, before it is accepted into the store. */
export interface ReceivedResource {
  readonly name: string;
  readonly version: string;
  readonly bytes: Uint8Array;
  readonly ttlMs?: number;
}

/**
 * Decodes a received resource. Throws with the type and name when the bytes
 * do not decode (the client NACKs such a response).
 */
export function decodeReceived(typeUrl: string, r: ReceivedResource): StoredResource {
  const type = findResourceType(typeUrl);
  let message: Message | undefined;
  if (type) {
    try {
      message = decodeResource(typeUrl, r.bytes);
    } catch (err) {
      throw new Error(
        `${type.shortName} resource "${r.name}" does not decode: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  const name = r.name || (type && message ? type.nameOf(message) : "");
  return {
    name,
    typeUrl,
    version: r.version,
    message,
    bytes: r.bytes,
    ...(r.ttlMs !== undefined ? { ttlMs: r.ttlMs } : {}),
  };
}

/** The decoded configuration a client holds, per type URL and name. */
export class ResourceStore {
  readonly #types = new Map<string, Map<string, StoredResource>>();

  /** Every resource of a type, by name. */
  all(typeUrl: string): ReadonlyMap<string, StoredResource> {
    return this.#types.get(typeUrl) ?? new Map();
  }

  /** One resource. */
  get(typeUrl: string, name: string): StoredResource | undefined {
    return this.#types.get(typeUrl)?.get(name);
  }

  /** Type URLs holding at least one resource. */
  typeUrls(): string[] {
    return [...this.#types].filter(([, m]) => m.size > 0).map(([t]) => t);
  }

  /** Listeners by name. */
  listeners(): ReadonlyMap<string, StoredResource<Listener>> {
    return this.all(TypeUrl.Listener) as ReadonlyMap<string, StoredResource<Listener>>;
  }

  /** Clusters by name. */
  clusters(): ReadonlyMap<string, StoredResource<Cluster>> {
    return this.all(TypeUrl.Cluster) as ReadonlyMap<string, StoredResource<Cluster>>;
  }

  /** Route configurations by name. */
  routes(): ReadonlyMap<string, StoredResource<RouteConfiguration>> {
    return this.all(TypeUrl.RouteConfiguration) as ReadonlyMap<string, StoredResource<RouteConfiguration>>;
  }

  /** Cluster load assignments by cluster name. */
  endpoints(): ReadonlyMap<string, StoredResource<ClusterLoadAssignment>> {
    return this.all(TypeUrl.ClusterLoadAssignment) as ReadonlyMap<string, StoredResource<ClusterLoadAssignment>>;
  }

  /** Per-resource versions of a type, as Delta's `initial_resource_versions` wants them. */
  versions(typeUrl: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [n, r] of this.all(typeUrl)) out[n] = r.version;
    return out;
  }

  /** Inserts or replaces resources. */
  upsert(typeUrl: string, resources: readonly StoredResource[]): void {
    let m = this.#types.get(typeUrl);
    if (!m) {
      m = new Map();
      this.#types.set(typeUrl, m);
    }
    for (const r of resources) m.set(r.name, r);
  }

  /** Removes resources by name; returns the names that were there. */
  remove(typeUrl: string, names: Iterable<string>): string[] {
    const m = this.#types.get(typeUrl);
    const out: string[] = [];
    if (!m) return out;
    for (const n of names) if (m.delete(n)) out.push(n);
    return out;
  }
}
