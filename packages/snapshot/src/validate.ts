// Cheap structural rules that catch what Envoy or gRPC would NACK, so a bad
// resource is refused at the door with a readable reason instead of being
// pushed to every client and rejected there.
import { isIP } from "node:net";
import { type DescMessage, type Message, type Registry, createRegistry } from "@bufbuild/protobuf";
import { TypeUrl, isEdsCluster, referencesOf } from "@xdskit/xds-types";
import { HTTPFaultSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/http/fault/v3/fault_pb";
import { RouterSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/http/router/v3/router_pb";
import { OriginalDstSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/listener/original_dst/v3/original_dst_pb";
import { TcpProxySchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb";
import { HttpProtocolOptionsSchema } from "@xdskit/xds-types/gen/envoy/extensions/upstreams/http/v3/http_protocol_options_pb";
import { HttpConnectionManagerSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb";
import {
  DownstreamTlsContextSchema,
  UpstreamTlsContextSchema,
} from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/tls/v3/tls_pb";
import { checkRules } from "@xdskit/xds-types/rules";
import type { Cluster } from "@xdskit/xds-types/gen/envoy/config/cluster/v3/cluster_pb";
import type { ClusterLoadAssignment } from "@xdskit/xds-types/gen/envoy/config/endpoint/v3/endpoint_pb";
import type { Listener } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import type { RouteConfiguration } from "@xdskit/xds-types/gen/envoy/config/route/v3/route_pb";

/** Returns the broken rules of one resource as readable sentences; empty when it is fine. */
export function structuralProblems(typeUrl: string, message: Message): string[] {
  const problems: string[] = [];
  switch (typeUrl) {
    case TypeUrl.Cluster: {
      const c = message as Cluster;
      if (isEdsCluster(c) && !c.edsClusterConfig) {
        problems.push("a cluster of type EDS needs eds_cluster_config (where to fetch its endpoints)");
      }
      break;
    }
    case TypeUrl.ClusterLoadAssignment: {
      const cla = message as ClusterLoadAssignment;
      cla.endpoints.forEach((loc, i) => {
        loc.lbEndpoints.forEach((lb, j) => {
          if (lb.hostIdentifier.case !== "endpoint") return;
          const address = lb.hostIdentifier.value.address;
          if (!address) {
            problems.push(`endpoints[${i}].lb_endpoints[${j}] has an endpoint without an address`);
            return;
          }
          // Clients connect to EDS endpoints as they are: a socket address must
          // be an IP unless a resolver is named to turn it into one.
          const sa = address.address.case === "socketAddress" ? address.address.value : undefined;
          if (sa && !sa.resolverName && isIP(sa.address) === 0) {
            problems.push(
              `endpoints[${i}].lb_endpoints[${j}].endpoint.address.socket_address.address: ${JSON.stringify(sa.address)} is not an IP address; EDS endpoints must be IPs (name a resolver_name, or use a STRICT_DNS/LOGICAL_DNS cluster for host names)`,
            );
          }
        });
      });
      break;
    }
    case TypeUrl.Listener: {
      const l = message as Listener;
      if (!l.address && !l.apiListener) problems.push("a listener needs an address or an api_listener");
      break;
    }
    case TypeUrl.RouteConfiguration: {
      const rc = message as RouteConfiguration;
      rc.virtualHosts.forEach((vh, i) => {
        if (vh.domains.length === 0) problems.push(`virtual_hosts[${i}] ("${vh.name}") has no domains`);
        vh.routes.forEach((r, j) => {
          if (!r.match) problems.push(`virtual_hosts[${i}].routes[${j}] has no match`);
          if (r.action.case === undefined) problems.push(`virtual_hosts[${i}].routes[${j}] has no action`);
        });
      });
      break;
    }
  }
  // References must at least be readable (an HCM Any that does not decode is broken).
  try {
    for (const ref of referencesOf(typeUrl, message)) {
      if (!ref.toName) problems.push(`a ${ref.via} reference has an empty name`);
    }
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
  }
  return problems;
}

/**
 * The extension types the rule check looks into by default (the ones xdskit's
 * own builders put in `Any` fields); a host passes a fuller registry, such as
 * `xdsRegistry` from `@xdskit/xds-types/registry`, to cover every type.
 */
export const defaultAnyRegistry: Registry = createRegistry(
  HttpConnectionManagerSchema,
  RouterSchema,
  HTTPFaultSchema,
  TcpProxySchema,
  OriginalDstSchema,
  HttpProtocolOptionsSchema,
  UpstreamTlsContextSchema,
  DownstreamTlsContextSchema,
);

/** The protoc-gen-validate rules a resource breaks, as `path: what` sentences. */
export function ruleProblems(schema: DescMessage, message: Message, anyRegistry: Registry): string[] {
  return checkRules(schema, message, { registry: anyRegistry, limit: 10 }).map((v) => `${v.path}: ${v.message}`);
}
