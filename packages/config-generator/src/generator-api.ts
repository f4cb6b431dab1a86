// What a config generator is to the controller, and what host builders get.
import type { Message } from "@bufbuild/protobuf";
import type { SnapshotInput } from "@xdskit/snapshot";
import { TypeUrl } from "@xdskit/xds-types";
import type { ChangeKind, Service, Subset } from "./model.js";
import type { Proxy } from "./proxy.js";
import type { PushContext } from "./push-context.js";

/** What an outbound cluster was built from: handed to `DefaultConfigGenerator.decorateCluster`. */
export interface ClusterOrigin {
  /** The service the cluster reaches. */
  readonly service: Service;
  /** The subset, for a subset's cluster (`outbound|port|subset|host`); undefined for the service's own. */
  readonly subset: Subset | undefined;
  /** The scope's view of a proxy: its `kind` (clusters are shared by every proxy of a scope). */
  readonly proxy: Proxy;
  readonly push: PushContext;
}

/** What a builder of any type gets. */
export interface BuildContext {
  /** The group's proxy for workload builders; the scope's view of a proxy for shared ones. */
  readonly proxy: Proxy;
  readonly push: PushContext;
}

/** Builds the resources of one type URL for a proxy. */
export type ResourceBuilder = (ctx: BuildContext) => readonly Message[];

/** Options of `DefaultConfigGenerator.registerBuilder`. */
export interface BuilderOptions {
  /**
   * True: the builder's resources are the same for every proxy of a scope and
   * are built once per scope (it sees only the scope's view: `proxy.kind`).
   * False (default): built per workload with the group's own proxy.
   */
  readonly shared?: boolean;
  /**
   * Per-workload builders: what of the proxy the builder reads, as a key
   * (say, its namespace and service account): proxies with equal keys share
   * what it builds. Without it, a per-workload builder may read anything of
   * the proxy, and each node gets a workload part of its own.
   */
  readonly workloadKey?: (proxy: Proxy) => string;
}

/**
 * What the discovery controller asks of a generator (pilot's
 * ConfigGenerator): config in two parts, so what many proxies share is built
 * once. `DefaultConfigGenerator` implements it; extend that to change
 * one builder and keep the rest.
 */
export interface ConfigGenerator {
  /**
   * Resources every proxy of a scope shares (outbound clusters, endpoints,
   * listeners, routes), for the types in `types` (all when omitted). Called
   * once per scope per push; `scope` is the scope's view of a proxy: its
   * `kind`, and `id`/`cluster` naming the scope — nothing of one workload.
   */
  generateShared(scope: Proxy, push: PushContext, types?: ReadonlySet<string>): SnapshotInput;
  /** Resources of one workload (a sidecar's inbound listener and clusters); its names must not clash with shared ones. */
  generateWorkload(proxy: Proxy, push: PushContext, types?: ReadonlySet<string>): SnapshotInput;
  /** Proxies with equal keys get equal workload resources, built and held once. */
  workloadKey(proxy: Proxy, push: PushContext): string;
  /** Type URLs built beyond CDS, EDS, LDS and RDS (so pushes rebuild them). Default none. */
  extraTypes?(): Iterable<string>;
  /** A push starts (memoized generators count and keep their caches per push). */
  beginPush?(): void;
  /** A push ended, having built `types` (undefined: all). */
  endPush?(types: ReadonlySet<string> | undefined): void;
}

/** Which types a change of a kind touches (and so which builders a push must run). */
export function typesTouchedBy(kinds: Iterable<ChangeKind>): Set<string> {
  const out = new Set<string>();
  for (const k of kinds) {
    if (k === "endpoints") out.add(TypeUrl.ClusterLoadAssignment);
    if (k === "services") {
      for (const t of [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration])
        out.add(t);
    }
    if (k === "routes") out.add(TypeUrl.RouteConfiguration);
    if (k === "secrets") out.add(TypeUrl.Secret);
    if (k === "gateways") {
      out.add(TypeUrl.Listener);
      out.add(TypeUrl.RouteConfiguration);
    }
  }
  return out;
}
