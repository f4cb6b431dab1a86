// Routes: the mesh's rules for a host turned into Envoy/gRPC routes, with the
// semantics of the client kind where they differ (timeouts).
import { createHash } from "node:crypto";
import { type MessageInitShape, create, toBinary } from "@bufbuild/protobuf";
import { packAny } from "@xdskit/xds-types";
import {
  type RouteActionSchema,
  RouteSchema,
  type VirtualHostSchema,
} from "@xdskit/xds-types/gen/envoy/config/route/v3/route_components_pb";
import {
  type RouteConfiguration,
  RouteConfigurationSchema,
} from "@xdskit/xds-types/gen/envoy/config/route/v3/route_pb";
import { HTTPFaultSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/http/fault/v3/fault_pb";
import type { RouteFault, RouteRule, Service } from "../model.js";
import type { ProxyKind } from "../proxy.js";
import type { PushContext } from "../push-context.js";
import { FAULT_FILTER, PASSTHROUGH_CLUSTER, clusterName, duration, fraction, subsetClusterName } from "./common.js";

type RouteInit = MessageInitShape<typeof RouteSchema>;
type VirtualHostInit = MessageInitShape<typeof VirtualHostSchema>;

const GRPC_RETRY_ON = "unavailable,cancelled,deadline-exceeded";
const HTTP_RETRY_ON = "5xx,reset,connect-failure";

function faultConfig(fault: RouteFault) {
  return packAny(HTTPFaultSchema, {
    ...(fault.delay
      ? {
          delay: {
            faultDelaySecifier: { case: "fixedDelay", value: duration(fault.delay.fixedMs) },
            percentage: fraction(fault.delay.percent),
          },
        }
      : {}),
    ...(fault.abort
      ? {
          abort: {
            errorType:
              fault.abort.grpcStatus !== undefined
                ? { case: "grpcStatus", value: fault.abort.grpcStatus }
                : { case: "httpStatus", value: fault.abort.httpStatus ?? 503 },
            percentage: fraction(fault.abort.percent),
          },
        }
      : {}),
  });
}

// Ring hash reads the hash from the route (gRFC A42): a route hashes on the
// headers its first destination's load balancer names.
function hashPolicy(service: Service | undefined): Pick<MessageInitShape<typeof RouteActionSchema>, "hashPolicy"> {
  const headers = service?.loadBalancer?.policy === "ring-hash" ? (service.loadBalancer.hashHeaders ?? []) : [];
  if (headers.length === 0) return {};
  return {
    hashPolicy: headers.map((headerName) => ({ policySpecifier: { case: "header" as const, value: { headerName } } })),
  };
}

// Routes are named after their content. grpc-js-xds (1.14) compares a new
// resource with the one it holds key by key of the old one only, so a fault
// added to a route whose per-filter map was empty reads as no change; a name
// that changes with the content makes every change visible to it.
function contentName(prefix: string, route: RouteInit): string {
  // The encoded route: equal routes get equal names however they were written.
  const digest = createHash("sha1")
    .update(toBinary(RouteSchema, create(RouteSchema, route)))
    .digest("hex");
  return `${prefix}-${digest.slice(0, 10)}`;
}

/** One route from a rule: path prefix and header matches; weighted clusters, timeout, retries and faults. */
export function ruleRoute(rule: RouteRule, service: Service, push: PushContext, kind: ProxyKind): RouteInit {
  const dest = rule.split.flatMap((d) => {
    const view = push.destinationOf(d, service);
    return view ? [{ view, subset: d.subset, weight: d.weight }] : [];
  });
  const cluster = (s: Service, subset?: string) =>
    subset === undefined ? clusterName(s, push) : subsetClusterName(s, subset, push);
  const first = dest[0];
  const action: MessageInitShape<typeof RouteActionSchema> = {
    clusterSpecifier:
      dest.length === 1 && first
        ? { case: "cluster", value: cluster(first.view, first.subset) }
        : {
            case: "weightedClusters",
            value: { clusters: dest.map((d) => ({ name: cluster(d.view, d.subset), weight: d.weight })) },
          },
    ...hashPolicy(first?.view),
  };
  if (rule.timeoutMs !== undefined) {
    // Envoy enforces the route timeout; gRPC clients read only the max
    // stream duration (gRFC A31).
    if (kind !== "proxyless") action.timeout = duration(rule.timeoutMs);
  } else if (kind !== "proxyless") {
    // Envoy's default 15 s route timeout would cut long gRPC streams.
    action.timeout = duration(0);
  }
  if ((rule.timeoutMs !== undefined && kind === "proxyless") || rule.grpcTimeoutCapMs !== undefined) {
    // gRPC clients take the cap over the duration when both are set (A31).
    action.maxStreamDuration = {
      ...(rule.timeoutMs !== undefined && kind === "proxyless" ? { maxStreamDuration: duration(rule.timeoutMs) } : {}),
      ...(rule.grpcTimeoutCapMs !== undefined ? { grpcTimeoutHeaderMax: duration(rule.grpcTimeoutCapMs) } : {}),
    };
  }
  if (rule.retries) {
    const r = rule.retries;
    action.retryPolicy = {
      retryOn: r.on ?? (service.protocol === "http" ? HTTP_RETRY_ON : GRPC_RETRY_ON),
      numRetries: r.attempts,
      ...(r.backoffBaseMs !== undefined
        ? {
            retryBackOff: {
              baseInterval: duration(r.backoffBaseMs),
              maxInterval: duration(r.backoffMaxMs ?? r.backoffBaseMs * 10),
            },
          }
        : {}),
    };
  }
  const route: RouteInit = {
    match: {
      pathSpecifier: { case: "prefix", value: rule.pathPrefix ?? "" },
      headers: Object.entries(rule.headers ?? {}).map(([name, value]) => ({
        name,
        headerMatchSpecifier: { case: "stringMatch", value: { matchPattern: { case: "exact", value } } },
      })),
    },
    action: { case: "route", value: action },
    typedPerFilterConfig: rule.fault ? { [FAULT_FILTER]: faultConfig(rule.fault) } : {},
  };
  return { ...route, name: contentName(service.name, route) };
}

/** The routes of one host: its rules, most specific first, then a catch-all to the service itself. */
export function serviceRoutes(service: Service, push: PushContext, kind: ProxyKind): RouteInit[] {
  const routes: RouteInit[] = [];
  let catchAll = false;
  for (const rule of push.routesFor(service.name)) {
    routes.push(ruleRoute(rule, service, push, kind));
    if (!rule.pathPrefix && !rule.headers) catchAll = true;
  }
  if (!catchAll) {
    const route: RouteInit = {
      match: { pathSpecifier: { case: "prefix", value: "" } },
      action: {
        case: "route",
        value: {
          clusterSpecifier: { case: "cluster", value: clusterName(service, push) },
          ...(kind === "proxyless" ? {} : { timeout: duration(0) }),
          ...hashPolicy(service),
        },
      },
    };
    routes.push({ ...route, name: contentName(service.name, route) });
  }
  return routes;
}

/** A virtual host for a service, matched by its name with or without a port. */
export function serviceVirtualHost(
  service: Service,
  push: PushContext,
  kind: ProxyKind,
  domains: readonly string[] = [service.name, `${service.name}:${push.portOf(service)}`],
): VirtualHostInit {
  return {
    name: `${service.name}:${push.portOf(service)}`,
    domains: [...domains],
    routes: serviceRoutes(service, push, kind),
  };
}

/** Istio's `allow_any`: requests for hosts the mesh does not know go where the caller sent them. */
export function allowAnyVirtualHost(): VirtualHostInit {
  return {
    name: "allow_any",
    domains: ["*"],
    routes: [
      {
        match: { pathSpecifier: { case: "prefix", value: "/" } },
        action: {
          case: "route",
          value: { clusterSpecifier: { case: "cluster", value: PASSTHROUGH_CLUSTER }, timeout: duration(0) },
        },
      },
    ],
  };
}

/** A route configuration. */
export function routeConfiguration(name: string, virtualHosts: readonly VirtualHostInit[]): RouteConfiguration {
  return create(RouteConfigurationSchema, { name, virtualHosts: [...virtualHosts] });
}
