import type { JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import { ExtensionName, TypeUrl, unpackHttpConnectionManager } from "@xdskit/xds-types";
import type { Cluster } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import type { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { Listener } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import { findMessageSchema, messageToJson } from "@xdskit/xds-types/registry";
import { type AdsClient, createAdsClient } from "./client.js";
import type { ConnectionSecurity } from "./credentials.js";
import type { ResourceStore } from "./store.js";

/** Options of {@link dumpConfig}. */
export interface DumpOptions {
  target: string;
  node: MessageInitShape<typeof NodeSchema>;
  protocol?: "sotw" | "delta";
  security?: ConnectionSecurity;
  /** How long to wait for each round of responses. Default 10 s. */
  timeoutMs?: number;
}

/** A node's configuration as a control plane serves it, in proto3 JSON (like Envoy's config dump). */
export interface ConfigDump {
  readonly node: string;
  readonly configs: readonly {
    readonly typeUrl: string;
    readonly resources: readonly { readonly name: string; readonly version: string; readonly resource: JsonValue }[];
  }[];
}

/** RDS names a listener uses, from its API listener or HTTP connection manager filters. */
function routeNames(l: Listener): string[] {
  const out: string[] = [];
  const take = (hcm: ReturnType<typeof unpackHttpConnectionManager>) => {
    if (hcm.routeSpecifier.case === "rds") out.push(hcm.routeSpecifier.value.routeConfigName);
  };
  if (l.apiListener?.apiListener) take(unpackHttpConnectionManager(l.apiListener.apiListener));
  for (const fc of [...l.filterChains, ...(l.defaultFilterChain ? [l.defaultFilterChain] : [])]) {
    for (const f of fc.filters) {
      if (f.name === ExtensionName.httpConnectionManager && f.configType.case === "typedConfig") {
        take(unpackHttpConnectionManager(f.configType.value));
      }
    }
  }
  return out;
}

/** EDS names the clusters use. */
function edsNames(clusters: Iterable<Cluster>): string[] {
  const out: string[] = [];
  for (const c of clusters) {
    if (c.edsClusterConfig) out.push(c.edsClusterConfig.serviceName || c.name);
  }
  return out;
}

function toDump(node: string, store: ResourceStore): ConfigDump {
  const order = [TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment];
  const types = [...order, ...store.typeUrls().filter((t) => !order.includes(t as (typeof order)[number]))];
  return {
    node,
    configs: types
      .filter((t) => store.all(t).size > 0)
      .map((typeUrl) => {
        const schema = findMessageSchema(typeUrl);
        return {
          typeUrl,
          resources: [...store.all(typeUrl).values()]
            .sort((a, b) => (a.name < b.name ? -1 : 1))
            .map((r) => ({
              name: r.name,
              version: r.version,
              resource:
                schema && r.message ? messageToJson(schema, r.message) : Buffer.from(r.bytes).toString("base64"),
            })),
        };
      }),
  };
}

/**
 * Fetches a node's whole configuration the way Envoy does: every listener
 * and cluster, then the routes and endpoints they name, until nothing new is
 * named; returns it as JSON.
 */
export async function dumpConfig(options: DumpOptions): Promise<ConfigDump> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const client: AdsClient = createAdsClient({
    target: options.target,
    node: options.node,
    reconnect: false,
    ...(options.protocol ? { protocol: options.protocol } : {}),
    ...(options.security ? { security: options.security } : {}),
  });
  try {
    client.subscribe(TypeUrl.Cluster);
    client.subscribe(TypeUrl.Listener);
    await client.synced(timeoutMs);
    // Each round may name more routes and endpoints; a handful of rounds is always enough.
    for (let round = 0; round < 8; round++) {
      const rds = [...client.store.listeners().values()].flatMap((l) => (l.message ? routeNames(l.message) : []));
      const eds = edsNames([...client.store.clusters().values()].flatMap((c) => (c.message ? [c.message] : [])));
      const missing = () =>
        rds.some((n) => !client.store.routes().has(n)) || eds.some((n) => !client.store.endpoints().has(n));
      if (!missing()) break;
      if (rds.length > 0) client.subscribe(TypeUrl.RouteConfiguration, rds);
      if (eds.length > 0) client.subscribe(TypeUrl.ClusterLoadAssignment, eds);
      // A name that does not exist never arrives over SotW: wait a bounded time, then dump what is there.
      const deadline = Date.now() + Math.min(timeoutMs, 3000);
      while (missing() && Date.now() < deadline) {
        client.assertHealthy();
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    return toDump(String(options.node.id ?? ""), client.store);
  } finally {
    client.close();
  }
}
