// The bodies of the debug pages.
import type { AdsServer } from "@xdskit/ads-server";
import type { DiscoveryController } from "@xdskit/config-generator";
import type { MemorySnapshotRegistry } from "@xdskit/snapshot";
import type { JsonValue } from "@bufbuild/protobuf";
import { messageToJson } from "@xdskit/xds-types/registry";

/** What /debug/mesh says of the mesh's source. */
export interface SourceInfo {
  /** The mesh file, when the mesh comes from one. */
  readonly file?: string | null;
  /** The source's last refusal. */
  readonly lastError: string | null;
  /** Anything else the source reports (an etcd source: connection, revision, lag, refused keys). */
  readonly status?: unknown;
}

const SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

// A secret's private key never leaves the process: the debug pages show that one is there.
function redacted(typeUrl: string, json: JsonValue): JsonValue {
  if (typeUrl !== SECRET || json === null || typeof json !== "object" || Array.isArray(json)) return json;
  const cert = json.tlsCertificate;
  if (cert === null || typeof cert !== "object" || Array.isArray(cert) || cert.privateKey === undefined) return json;
  return { ...json, tlsCertificate: { ...cert, privateKey: "[redacted]" } };
}

/** What a connected client's node group holds, per type, as JSON. */
export function configDump(ads: AdsServer, registry: MemorySnapshotRegistry, node: string): unknown {
  const conns = ads.connections.byNodeId(node);
  if (conns.length === 0) return undefined;
  const group = conns[0]?.nodeGroup ?? "";
  const snap = registry.getSnapshot(group);
  const types: Record<string, unknown> = {};
  for (const [typeUrl, ts] of snap?.types ?? []) {
    const schema = registry.resourceType(typeUrl)?.schema;
    types[typeUrl] = {
      version: ts.version,
      resources: [...ts.resources.values()].map((r) => ({
        name: r.name,
        version: r.version,
        resource: schema ? redacted(typeUrl, messageToJson(schema, r.message)) : null,
      })),
    };
  }
  return { node, nodeGroup: group, connections: conns, config: types };
}

/** The mesh as the last push saw it. */
export function meshPage(controller: DiscoveryController, source: SourceInfo | undefined): unknown {
  const push = controller.pushContext();
  return {
    file: source?.file ?? null,
    ...(source?.status !== undefined ? { source: source.status } : {}),
    lastError: source?.lastError ?? controller.lastRejection()?.error.message ?? null,
    ready: controller.ready(),
    refused: controller.refusedObjects(),
    services: [...push.services.values()],
    routes: [...push.routes.values()].flat(),
    gateways: push.gatewayList,
    tcpRoutes: push.tcpRoutes,
    policies: push.policies,
    sidecars: push.sidecars,
    nodeGroups: [...controller.nodeGroups().keys()],
  };
}

/** Node groups, their kind and streams, and what the registry holds. */
export function nodeGroupsPage(controller: DiscoveryController): unknown {
  const live = controller.registry.liveNodeGroups();
  return {
    stats: controller.registry.stats(),
    nodeGroups: [...controller.nodeGroups()].map(([name, proxy]) => ({
      name,
      kind: proxy.kind,
      streams: live.get(name) ?? 0,
      parts: controller.registry.partsOf(name) ?? [],
      hasSnapshot: controller.registry.getSnapshot(name) !== undefined,
    })),
  };
}
