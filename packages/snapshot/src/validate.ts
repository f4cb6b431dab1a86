// Cheap structural rules that catch what Envoy or gRPC would NACK, so a bad
// resource is refused at the door with a readable reason instead of being
// pushed to every client and rejected there.
import { isIP } from "node:net";
import { type DescMessage, type Message, type Registry, createRegistry } from "@bufbuild/protobuf";
import { type ResourceType, TypeUrl, isEdsCluster, referencesOf } from "@xdskit/xds-types";
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
import type { SnapshotRegistryOptions } from "./registry-api.js";

const NONE: readonly string[] = [];

/**
 * True for an IPv4 address in dotted-quad form (what nearly every endpoint
 * is), read by hand: a hundred thousand endpoints are checked per build, and
 * `isIP`'s regular expressions cost several times more. Anything else goes
 * to `isIP`.
 */
function isDottedQuad(s: string): boolean {
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      // No empty part, no leading zero ("01"), nothing above 255.
      if (digits === 0 || value > 255 || (digits > 1 && s.charCodeAt(i - digits) === 48)) return false;
      parts++;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      value = value * 10 + (c - 48);
      digits++;
    } else return false;
  }
  return parts === 4;
}

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
      // Plain loops: every endpoint of every assignment passes here on each build.
      for (let i = 0; i < cla.endpoints.length; i++) {
        const lbs = (cla.endpoints[i] as (typeof cla.endpoints)[number]).lbEndpoints;
        for (let j = 0; j < lbs.length; j++) {
          const host = (lbs[j] as (typeof lbs)[number]).hostIdentifier;
          if (host.case !== "endpoint") continue;
          const address = host.value.address;
          if (!address) {
            problems.push(`endpoints[${i}].lb_endpoints[${j}] has an endpoint without an address`);
            continue;
          }
          // Clients connect to EDS endpoints as they are: a socket address must
          // be an IP unless a resolver is named to turn it into one.
          const sa = address.address.case === "socketAddress" ? address.address.value : undefined;
          if (sa && !sa.resolverName && !isDottedQuad(sa.address) && isIP(sa.address) === 0) {
            problems.push(
              `endpoints[${i}].lb_endpoints[${j}].endpoint.address.socket_address.address: ${JSON.stringify(sa.address)} is not an IP address; EDS endpoints must be IPs (name a resolver_name, or use a STRICT_DNS/LOGICAL_DNS cluster for host names)`,
            );
          }
        }
      }
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
export function ruleProblems(schema: DescMessage, message: Message, anyRegistry: Registry): readonly string[] {
  const broken = checkRules(schema, message, { registry: anyRegistry, limit: 10 });
  return broken.length === 0 ? NONE : broken.map((v) => `${v.path}: ${v.message}`);
}

/**
 * Everything wrong with one resource under a registry's options: the
 * structural and protoc-gen-validate checks when `fresh` (content not already
 * held, so not checked before), then the host's own `validate`. The lists are
 * joined only when something is wrong, so a valid resource allocates none.
 */
export function resourceProblems(
  options: Pick<SnapshotRegistryOptions, "structuralValidation" | "protoRules" | "anyRegistry" | "validate">,
  type: ResourceType,
  message: Message,
  fresh: boolean,
): readonly string[] {
  let out = NONE;
  if (fresh) {
    if (options.structuralValidation !== false) out = joined(out, structuralProblems(type.typeUrl, message));
    if (options.protoRules !== false)
      out = joined(out, ruleProblems(type.schema, message, options.anyRegistry ?? defaultAnyRegistry));
  }
  return joined(out, options.validate?.(type.typeUrl, message));
}

function joined(a: readonly string[], b: readonly string[] | undefined): readonly string[] {
  if (!b || b.length === 0) return a;
  return a.length === 0 ? b : [...a, ...b];
}
