import type { JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import { TypeUrl, referencesOf } from "@xdskit/xds-types";
import type { NodeSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { findMessageSchema, messageToJsonTolerant } from "@xdskit/xds-types/registry";
import { type AdsClient, createAdsClient } from "./client.js";
import type { ConnectionSecurity } from "./credentials.js";
import type { ResourceStore } from "./store.js";

/** Options of {@link dumpConfig}. */
export interface DumpOptions {
  target: string | readonly string[];
  node: MessageInitShape<typeof NodeSchema>;
  protocol?: "sotw" | "delta";
  security?: ConnectionSecurity;
  /** How long to wait for each round of responses. Default 10 s. */
  timeoutMs?: number;
}

/** A node's configuration as a control plane serves it, in proto3 JSON (like Envoy's config dump). */
export interface ConfigDump {
  readonly node: string;
  /**
   * Type URLs of `Any` values this client cannot decode (another control
   * plane's extensions): shown in place as `{ "@type", "@unknownType", "value" }`
   * with the bytes in base64.
   */
  readonly unknownTypes: readonly string[];
  readonly configs: readonly {
    readonly typeUrl: string;
    readonly resources: readonly { readonly name: string; readonly version: string; readonly resource: JsonValue }[];
  }[];
}

/** Names of `toType` that the held resources of `fromType` refer to (listeners → RDS, clusters → EDS). */
function namesUsed(store: ResourceStore, fromType: string, toType: string): string[] {
  const out: string[] = [];
  for (const r of store.all(fromType).values()) {
    if (!r.message) continue;
    for (const ref of referencesOf(fromType, r.message)) if (ref.toType === toType) out.push(ref.toName);
  }
  return out;
}

function toDump(node: string, store: ResourceStore): ConfigDump {
  const unknown = new Set<string>();
  const json = (typeUrl: string, r: { message?: unknown; bytes: Uint8Array }): JsonValue => {
    const schema = findMessageSchema(typeUrl);
    if (!schema || !r.message) {
      unknown.add(typeUrl);
      return {
        "@type": typeUrl,
        "@unknownType": "not in this client's type registry: raw bytes",
        value: Buffer.from(r.bytes).toString("base64"),
      };
    }
    const out = messageToJsonTolerant(schema, r.message as Parameters<typeof messageToJsonTolerant>[1]);
    for (const t of out.unknownTypes) unknown.add(t);
    return out.json;
  };
  const order = [TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment];
  const types = [...order, ...store.typeUrls().filter((t) => !order.includes(t as (typeof order)[number]))];
  const configs = types
    .filter((t) => store.all(t).size > 0)
    .map((typeUrl) => {
      return {
        typeUrl,
        resources: [...store.all(typeUrl).values()]
          .sort((a, b) => (a.name < b.name ? -1 : 1))
          .map((r) => ({ name: r.name, version: r.version, resource: json(typeUrl, r) })),
      };
    });
  return { node, configs, unknownTypes: [...unknown].sort() };
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
      const rds = namesUsed(client.store, TypeUrl.Listener, TypeUrl.RouteConfiguration);
      const eds = namesUsed(client.store, TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment);
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
