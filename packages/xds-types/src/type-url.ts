/** The prefix every xDS type URL carries. */
export const TYPE_URL_PREFIX = "type.googleapis.com/";

/**
 * Type URLs of the xDS resource types.
 *
 * This module imports nothing, so a host that only needs the constants does
 * not load any generated code.
 */
export const TypeUrl = {
  Listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  RouteConfiguration: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  ScopedRouteConfiguration: "type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration",
  VirtualHost: "type.googleapis.com/envoy.config.route.v3.VirtualHost",
  Cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  ClusterLoadAssignment: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
  Secret: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
  Runtime: "type.googleapis.com/envoy.service.runtime.v3.Runtime",
  ExtensionConfig: "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
} as const;

/** One of the type URLs in {@link TypeUrl}. */
export type KnownTypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

/** Short names of the discovery services, as operators know them. */
export type ShortTypeName = "LDS" | "RDS" | "SRDS" | "VHDS" | "CDS" | "EDS" | "SDS" | "RTDS" | "ECDS";

/** Returns the fully-qualified message name a type URL points at (the part after the last `/`). */
export function typeNameOf(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf("/");
  return slash < 0 ? typeUrl : typeUrl.slice(slash + 1);
}

/** Builds the type URL of a fully-qualified message name. */
export function typeUrlOf(typeName: string): string {
  return TYPE_URL_PREFIX + typeName;
}
