// Routes: the mesh's rules for a host turned into Envoy/gRPC routes (first
// match wins, as Istio's), virtual hosts with the names clients use, and the
// virtual host for hosts the mesh does not know.
import { createHash } from "node:crypto";
import { type MessageInitShape, create, toBinary } from "@bufbuild/protobuf";
import {
  type Route,
  RouteSchema,
  type VirtualHostSchema,
} from "@xdskit/xds-types/gen/envoy/config/route/v3/route_components_pb";
import {
  type RouteConfiguration,
  RouteConfigurationSchema,
} from "@xdskit/xds-types/gen/envoy/config/route/v3/route_pb";
import type { RouteRule, Service } from "../model.js";
import type { ProxyKind } from "../proxy.js";
import type { PushContext } from "../push-context.js";
import { PASSTHROUGH_CLUSTER, clusterName, duration } from "./common.js";
import { forwardAction, hashPolicy, redirectAction, routeExtras } from "./route-actions.js";
import { applicableMatches, envoyRouteMatch, matchesEverything } from "./route-match.js";

type RouteInit = Exclude<MessageInitShape<typeof RouteSchema>, Route>;
type VirtualHostInit = MessageInitShape<typeof VirtualHostSchema>;

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

/**
 * The routes of one rule for requests that came in on `service` (a view) at
 * `gateway` (on `port`: the service's, or the gateway server's): one per
 * match that can hold there. A rule none of whose
 * destinations is visible answers 503 on Envoy and is left out for gRPC
 * clients; a redirect is Envoy's only.
 */
export function ruleRoutes(
  rule: RouteRule,
  service: Service,
  push: PushContext,
  kind: ProxyKind,
  gateway = "mesh",
  port = push.portOf(service),
): RouteInit[] {
  if (rule.redirect && kind === "proxyless") return [];
  const out: RouteInit[] = [];
  for (const m of applicableMatches(rule, { kind, port, gateway })) {
    let action: RouteInit["action"];
    if (rule.redirect) action = { case: "redirect", value: redirectAction(rule.redirect) };
    else {
      const forward = forwardAction(rule, service, m, push, kind);
      if (forward) action = { case: "route", value: forward };
      else if (kind === "proxyless") continue;
      else action = { case: "directResponse", value: { status: 503 } };
    }
    const route: RouteInit = { match: envoyRouteMatch(m), action, ...routeExtras(rule, kind) };
    out.push({ ...route, name: contentName(service.name, route) });
  }
  return out;
}

/** One route from a rule: its first applicable match (see {@link ruleRoutes}). */
export function ruleRoute(rule: RouteRule, service: Service, push: PushContext, kind: ProxyKind): RouteInit {
  const [first] = ruleRoutes(rule, service, push, kind);
  if (!first) throw new Error(`rule for ${rule.host} has no route for ${kind} clients on port ${push.portOf(service)}`);
  return first;
}

/**
 * The routes of one host: its rules in order (first match wins), then,
 * unless a rule already matches everything, a catch-all to the service
 * itself (none for a host that is not a service: a gateway's own host).
 */
export function serviceRoutes(
  service: Service | undefined,
  push: PushContext,
  kind: ProxyKind,
  host = service?.name ?? "",
  gateway = "mesh",
): RouteInit[] {
  const routes: RouteInit[] = [];
  let catchAll = false;
  const at = service ?? { name: host, endpoints: [] };
  for (const rule of push.routesFor(host, gateway)) {
    if (catchAll) break;
    const built = ruleRoutes(rule, at, push, kind, gateway);
    routes.push(...built);
    if (applicableMatches(rule, { kind, port: push.portOf(at), gateway }).some(matchesEverything)) catchAll = true;
  }
  if (!catchAll && service) {
    const route: RouteInit = {
      match: { pathSpecifier: { case: "prefix", value: "" } },
      action: {
        case: "route",
        value: {
          clusterSpecifier: { case: "cluster", value: clusterName(service, push) },
          ...(kind === "proxyless" ? {} : { timeout: duration(0) }),
          ...hashPolicy(service, kind),
        },
      },
    };
    routes.push({ ...route, name: contentName(service.name, route) });
  }
  return routes;
}

/**
 * The names a sidecar's request may carry for a service: its name, and for
 * a Kubernetes name (`name.ns.svc.<domain>`) its shorter forms; the bare
 * name only for clients of its own namespace (a scoped push). Each also with
 * the port, and the service's addresses with the port.
 */
export function serviceDomains(service: Service, push: PushContext): string[] {
  const port = push.portOf(service);
  const names = [service.name];
  const k8s = /^([^.]+)\.([^.]+)\.svc\.(.+)$/.exec(service.name);
  if (k8s) {
    const [, name, ns] = k8s as unknown as [string, string, string];
    names.push(`${name}.${ns}.svc`, `${name}.${ns}`);
    if (push.clientNamespace === ns) names.push(name);
  }
  const out = names.flatMap((n) => [n, `${n}:${port}`]);
  for (const a of service.addresses ?? []) if (!a.includes("/")) out.push(a, `${a}:${port}`);
  return out;
}

/** A virtual host for a service, matched by its name with or without a port. */
export function serviceVirtualHost(
  service: Service,
  push: PushContext,
  kind: ProxyKind,
  domains: readonly string[] = serviceDomains(service, push),
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

/** Istio's `block_all` (REGISTRY_ONLY): requests for hosts the mesh does not know fail with 502. */
export function blockAllVirtualHost(): VirtualHostInit {
  return {
    name: "block_all",
    domains: ["*"],
    routes: [
      {
        match: { pathSpecifier: { case: "prefix", value: "/" } },
        action: { case: "directResponse", value: { status: 502 } },
      },
    ],
  };
}

/** The virtual host for unknown hosts: passthrough, or refused when the scope is registry-only. */
export function unknownHostVirtualHost(push: PushContext): VirtualHostInit {
  return push.outboundTrafficPolicy === "registry-only" ? blockAllVirtualHost() : allowAnyVirtualHost();
}

/** A route configuration. */
export function routeConfiguration(name: string, virtualHosts: readonly VirtualHostInit[]): RouteConfiguration {
  return create(RouteConfigurationSchema, { name, virtualHosts: [...virtualHosts] });
}
