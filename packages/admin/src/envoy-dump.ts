// A node group's config in Envoy's own /config_dump shape
// (envoy.admin.v3.ConfigDump), so tools that read Envoy's dumps read ours.
import { type Message, create, toJson } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import type { Snapshot, TypeSnapshot } from "@xdskit/snapshot";
import { TypeUrl } from "@xdskit/xds-types";
import { ConfigDumpSchema } from "@xdskit/xds-types/gen/envoy/admin/v3/config_dump_pb";
import {
  ClustersConfigDumpSchema,
  EndpointsConfigDumpSchema,
  ListenersConfigDumpSchema,
  RoutesConfigDumpSchema,
} from "@xdskit/xds-types/gen/envoy/admin/v3/config_dump_shared_pb";
import { xdsRegistry } from "@xdskit/xds-types/registry";
import type { JsonValue } from "@bufbuild/protobuf";

function resources(ts: TypeSnapshot | undefined): { name: string; version: string; message: Message }[] {
  return [...(ts?.resources.values() ?? [])].map((r) => ({ name: r.name, version: r.version, message: r.message }));
}

/** A snapshot as Envoy's ConfigDump JSON: clusters, listeners, routes, endpoints. */
export function envoyConfigDump(snap: Snapshot | undefined): JsonValue {
  const pack = (m: Message) => anyPack(xdsRegistry.getMessage(m.$typeName) as never, m as never);
  const clusters = create(ClustersConfigDumpSchema, {
    versionInfo: snap?.get(TypeUrl.Cluster)?.version ?? "",
    dynamicActiveClusters: resources(snap?.get(TypeUrl.Cluster)).map((r) => ({
      versionInfo: r.version,
      cluster: pack(r.message),
    })),
  });
  const listeners = create(ListenersConfigDumpSchema, {
    versionInfo: snap?.get(TypeUrl.Listener)?.version ?? "",
    dynamicListeners: resources(snap?.get(TypeUrl.Listener)).map((r) => ({
      name: r.name,
      activeState: { versionInfo: r.version, listener: pack(r.message) },
    })),
  });
  const routes = create(RoutesConfigDumpSchema, {
    dynamicRouteConfigs: resources(snap?.get(TypeUrl.RouteConfiguration)).map((r) => ({
      versionInfo: r.version,
      routeConfig: pack(r.message),
    })),
  });
  const endpoints = create(EndpointsConfigDumpSchema, {
    dynamicEndpointConfigs: resources(snap?.get(TypeUrl.ClusterLoadAssignment)).map((r) => ({
      versionInfo: r.version,
      endpointConfig: pack(r.message),
    })),
  });
  const dump = create(ConfigDumpSchema, {
    configs: [pack(clusters), pack(listeners), pack(routes), pack(endpoints)],
  });
  return toJson(ConfigDumpSchema, dump, { registry: xdsRegistry });
}
