// What a matched route does: forward to weighted clusters (with timeout,
// retries, hashing, rewrites and mirrors), or redirect; plus per-route header
// operations, faults and CORS. Features only Envoy has are left out for gRPC
// clients, which would ignore or refuse them.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { packAny } from "@xdskit/xds-types";
import { HeaderValueOption_HeaderAppendAction } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import {
  RedirectAction_RedirectResponseCode,
  type RedirectActionSchema,
  type Route,
  type RouteActionSchema,
  type RouteSchema,
} from "@xdskit/xds-types/gen/envoy/config/route/v3/route_components_pb";
import { CorsPolicySchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/http/cors/v3/cors_pb";
import { HTTPFaultSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/http/fault/v3/fault_pb";
import type { RouteFault, RouteRule, Service } from "../model.js";
import type { CorsPolicy, HeaderOperations, RouteMatch, RouteRedirect } from "../model-routing.js";
import type { ProxyKind } from "../proxy.js";
import type { PushContext } from "../push-context.js";
import { CORS_FILTER, FAULT_FILTER, clusterName, duration, fraction, subsetClusterName } from "./common.js";
import { stringMatcher } from "./route-match.js";

type RouteInit = Exclude<MessageInitShape<typeof RouteSchema>, Route>;
type ActionInit = MessageInitShape<typeof RouteActionSchema>;

const GRPC_RETRY_ON = "unavailable,cancelled,deadline-exceeded";
const HTTP_RETRY_ON = "5xx,reset,connect-failure";

/** A fault as the HTTP fault filter's per-route config (Envoy and gRPC both read it). */
export function faultConfig(fault: RouteFault) {
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

/**
 * Ring hash reads the hash from the route (gRFC A42): a route hashes on what
 * its first destination's load balancer names. gRPC hashes on headers only.
 */
export function hashPolicy(service: Service | undefined, kind: ProxyKind): Pick<ActionInit, "hashPolicy"> {
  const lb = service?.loadBalancer;
  if (lb?.policy !== "ring-hash") return {};
  const out: NonNullable<ActionInit["hashPolicy"]> = (lb.hashHeaders ?? []).map((headerName) => ({
    policySpecifier: { case: "header" as const, value: { headerName } },
  }));
  if (kind !== "proxyless") {
    if (lb.hashCookie)
      out.push({
        policySpecifier: {
          case: "cookie",
          value: {
            name: lb.hashCookie.name,
            ...(lb.hashCookie.ttlMs !== undefined ? { ttl: duration(lb.hashCookie.ttlMs) } : {}),
            ...(lb.hashCookie.path ? { path: lb.hashCookie.path } : {}),
          },
        },
      });
    if (lb.hashSourceIp) out.push({ policySpecifier: { case: "connectionProperties", value: { sourceIp: true } } });
    if (lb.hashQueryParam)
      out.push({ policySpecifier: { case: "queryParameter", value: { name: lb.hashQueryParam } } });
  }
  return out.length > 0 ? { hashPolicy: out } : {};
}

/** Header operations as a route's (or virtual host's) fields: set replaces, add appends. */
export function headerFields(request: HeaderOperations | undefined, response: HeaderOperations | undefined) {
  const adds = (h: HeaderOperations | undefined) => [
    ...Object.entries(h?.set ?? {}).map(([key, value]) => ({
      header: { key, value },
      appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
    })),
    ...Object.entries(h?.add ?? {}).map(([key, value]) => ({
      header: { key, value },
      appendAction: HeaderValueOption_HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD,
    })),
  ];
  return {
    requestHeadersToAdd: adds(request),
    requestHeadersToRemove: [...(request?.remove ?? [])],
    responseHeadersToAdd: adds(response),
    responseHeadersToRemove: [...(response?.remove ?? [])],
  };
}

/** A CORS policy as the CORS filter's per-route config. */
export function corsConfig(cors: CorsPolicy) {
  return packAny(CorsPolicySchema, {
    allowOriginStringMatch: cors.allowOrigins.map((o) => stringMatcher(o)),
    allowMethods: (cors.allowMethods ?? []).join(","),
    allowHeaders: (cors.allowHeaders ?? []).join(","),
    exposeHeaders: (cors.exposeHeaders ?? []).join(","),
    ...(cors.maxAgeS !== undefined ? { maxAge: String(cors.maxAgeS) } : {}),
    ...(cors.allowCredentials !== undefined ? { allowCredentials: cors.allowCredentials } : {}),
  });
}

const REDIRECT_CODES: Record<number, RedirectAction_RedirectResponseCode> = {
  301: RedirectAction_RedirectResponseCode.MOVED_PERMANENTLY,
  302: RedirectAction_RedirectResponseCode.FOUND,
  303: RedirectAction_RedirectResponseCode.SEE_OTHER,
  307: RedirectAction_RedirectResponseCode.TEMPORARY_REDIRECT,
  308: RedirectAction_RedirectResponseCode.PERMANENT_REDIRECT,
};

/** A redirect as Envoy's redirect action. */
export function redirectAction(r: RouteRedirect): MessageInitShape<typeof RedirectActionSchema> {
  return {
    ...(r.authority ? { hostRedirect: r.authority } : {}),
    ...(r.port !== undefined ? { portRedirect: r.port } : {}),
    ...(r.uri !== undefined ? { pathRewriteSpecifier: { case: "pathRedirect" as const, value: r.uri } } : {}),
    ...(r.scheme ? { schemeRewriteSpecifier: { case: "schemeRedirect" as const, value: r.scheme } } : {}),
    responseCode: REDIRECT_CODES[r.code ?? 301] ?? RedirectAction_RedirectResponseCode.MOVED_PERMANENTLY,
  };
}

/** The cluster of a destination as seen from a view: the service's own, or its subset's. */
function destCluster(push: PushContext, s: Service, subset?: string): string {
  return subset === undefined ? clusterName(s, push) : subsetClusterName(s, subset, push);
}

/**
 * The forwarding action of a rule for requests that came in on `from`:
 * undefined when none of its destinations is visible here.
 */
export function forwardAction(
  rule: RouteRule,
  from: Service,
  match: RouteMatch,
  push: PushContext,
  kind: ProxyKind,
): ActionInit | undefined {
  const dest = rule.split.flatMap((d) => {
    const view = push.destinationOf(d, from);
    return view && d.weight > 0 ? [{ view, subset: d.subset, weight: d.weight }] : [];
  });
  const first = dest[0];
  if (!first) return undefined;
  const action: ActionInit = {
    clusterSpecifier:
      dest.length === 1
        ? { case: "cluster", value: destCluster(push, first.view, first.subset) }
        : {
            case: "weightedClusters",
            value: { clusters: dest.map((d) => ({ name: destCluster(push, d.view, d.subset), weight: d.weight })) },
          },
    ...hashPolicy(first.view, kind),
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
      retryOn: r.on ?? (from.protocol === "http" ? HTTP_RETRY_ON : GRPC_RETRY_ON),
      numRetries: r.attempts,
      ...(r.perTryTimeoutMs !== undefined && kind !== "proxyless"
        ? { perTryTimeout: duration(r.perTryTimeoutMs) }
        : {}),
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
  if (kind === "proxyless") return action;
  const rw = rule.rewrite;
  if (rw?.uriRegex) action.regexRewrite = { pattern: { regex: rw.uriRegex.match }, substitution: rw.uriRegex.rewrite };
  else if (rw?.uri !== undefined) {
    // A prefix (or a whole path) is replaced as matched; a regex match has no
    // prefix to replace, so its whole path is.
    if (match.uri && "regex" in match.uri) action.regexRewrite = { pattern: { regex: "^.*$" }, substitution: rw.uri };
    else action.prefixRewrite = rw.uri;
  }
  if (rw?.authority) action.hostRewriteSpecifier = { case: "hostRewriteLiteral", value: rw.authority };
  const m = rule.mirror;
  const mirrorView = m ? push.destinationOf(m, from) : undefined;
  if (m && mirrorView) {
    action.requestMirrorPolicies = [
      {
        cluster: destCluster(push, mirrorView, m.subset),
        ...(m.percent !== undefined && m.percent < 100
          ? { runtimeFraction: { defaultValue: fraction(m.percent) } }
          : {}),
      },
    ];
  }
  return action;
}

/** What a route adds beside its action: faults for every client; headers and CORS for Envoy. */
export function routeExtras(rule: RouteRule, kind: ProxyKind): Partial<RouteInit> {
  const filters: Record<string, ReturnType<typeof packAny>> = {};
  if (rule.fault) filters[FAULT_FILTER] = faultConfig(rule.fault);
  if (kind !== "proxyless" && rule.cors) filters[CORS_FILTER] = corsConfig(rule.cors);
  return {
    typedPerFilterConfig: filters,
    ...(kind !== "proxyless" ? headerFields(rule.requestHeaders, rule.responseHeaders) : {}),
  };
}
