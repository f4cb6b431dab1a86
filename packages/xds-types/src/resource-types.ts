import type { DescMessage, Message } from "@bufbuild/protobuf";
import { ClusterSchema } from "./gen/envoy/config/cluster/v3/cluster_pb.js";
import { TypedExtensionConfigSchema } from "./gen/envoy/config/core/v3/extension_pb.js";
import { ClusterLoadAssignmentSchema } from "./gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { ListenerSchema } from "./gen/envoy/config/listener/v3/listener_pb.js";
import { VirtualHostSchema } from "./gen/envoy/config/route/v3/route_components_pb.js";
import { RouteConfigurationSchema } from "./gen/envoy/config/route/v3/route_pb.js";
import { ScopedRouteConfigurationSchema } from "./gen/envoy/config/route/v3/scoped_route_pb.js";
import { SecretSchema } from "./gen/envoy/extensions/transport_sockets/tls/v3/secret_pb.js";
import { RuntimeSchema } from "./gen/envoy/service/runtime/v3/rtds_pb.js";
import { type KnownTypeUrl, type ShortTypeName, TypeUrl } from "./type-url.js";

/** What xdskit needs to know about one xDS resource type. */
export interface ResourceType<T extends Message = Message> {
  /** The type URL, e.g. `type.googleapis.com/envoy.config.cluster.v3.Cluster`. */
  readonly typeUrl: string;
  /** The short name of its discovery service: CDS, EDS, LDS… */
  readonly shortName: string;
  /** The protobuf-es schema of the resource message. */
  readonly schema: DescMessage;
  /**
   * True when a SotW response must hold every subscribed resource of the type
   * and a resource left out is deleted (Listener and Cluster).
   */
  readonly fullState: boolean;
  /** Reads the name a client subscribes to from a resource. */
  readonly nameOf: (resource: T) => string;
  /** The gRPC service that serves only this type (non-aggregated xDS), if any. */
  readonly serviceName?: string;
}

function byName(r: Message): string {
  return (r as unknown as { name: string }).name;
}

function entry(
  typeUrl: KnownTypeUrl,
  shortName: ShortTypeName,
  schema: DescMessage,
  fullState: boolean,
  nameOf: (r: Message) => string,
  serviceName: string,
): ResourceType {
  return { typeUrl, shortName, schema, fullState, nameOf, serviceName };
}

/**
 * The resource-type table: every xDS type xdskit serves out of the box, by
 * type URL. Hosts may add their own types with {@link defineResourceType}.
 */
export const resourceTypes: ReadonlyMap<string, ResourceType> = new Map(
  [
    entry(TypeUrl.Cluster, "CDS", ClusterSchema, true, byName, "envoy.service.cluster.v3.ClusterDiscoveryService"),
    entry(
      TypeUrl.ClusterLoadAssignment,
      "EDS",
      ClusterLoadAssignmentSchema,
      false,
      (r) => (r as unknown as { clusterName: string }).clusterName,
      "envoy.service.endpoint.v3.EndpointDiscoveryService",
    ),
    entry(TypeUrl.Listener, "LDS", ListenerSchema, true, byName, "envoy.service.listener.v3.ListenerDiscoveryService"),
    entry(
      TypeUrl.RouteConfiguration,
      "RDS",
      RouteConfigurationSchema,
      false,
      byName,
      "envoy.service.route.v3.RouteDiscoveryService",
    ),
    entry(
      TypeUrl.ScopedRouteConfiguration,
      "SRDS",
      ScopedRouteConfigurationSchema,
      false,
      byName,
      "envoy.service.route.v3.ScopedRoutesDiscoveryService",
    ),
    entry(
      TypeUrl.VirtualHost,
      "VHDS",
      VirtualHostSchema,
      false,
      byName,
      "envoy.service.route.v3.VirtualHostDiscoveryService",
    ),
    entry(TypeUrl.Secret, "SDS", SecretSchema, false, byName, "envoy.service.secret.v3.SecretDiscoveryService"),
    entry(TypeUrl.Runtime, "RTDS", RuntimeSchema, false, byName, "envoy.service.runtime.v3.RuntimeDiscoveryService"),
    entry(
      TypeUrl.ExtensionConfig,
      "ECDS",
      TypedExtensionConfigSchema,
      false,
      byName,
      "envoy.service.extension.v3.ExtensionConfigDiscoveryService",
    ),
  ].map((t) => [t.typeUrl, t]),
);

/** Looks up a type URL in the table; `undefined` when xdskit does not know it. */
export function findResourceType(typeUrl: string): ResourceType | undefined {
  return resourceTypes.get(typeUrl);
}

/**
 * Describes a resource type that is not in the built-in table (a host's own
 * message type served over xDS). The name is read from `nameOf`, or from a
 * string field called `name` by default.
 */
export function defineResourceType<T extends Message>(options: {
  schema: DescMessage;
  shortName?: string;
  fullState?: boolean;
  nameOf?: (resource: T) => string;
}): ResourceType {
  const { schema } = options;
  const nameField = schema.fields.find((f) => f.localName === "name" && f.fieldKind === "scalar");
  const nameOf =
    options.nameOf ??
    ((r: T) => {
      if (!nameField) {
        return "";
      }
      const v = (r as unknown as Record<string, unknown>)[nameField.localName];
      return typeof v === "string" ? v : "";
    });
  return {
    typeUrl: `type.googleapis.com/${schema.typeName}`,
    shortName: options.shortName ?? schema.name,
    schema,
    fullState: options.fullState ?? false,
    nameOf: nameOf as (r: Message) => string,
  };
}
