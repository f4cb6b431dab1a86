// Listeners for xDS-enabled gRPC servers (gRFC A36): a server asks for
// `grpc/server?xds.resource.listening_address=<ip>:<port>` (its bootstrap's
// server_listener_resource_name_template) and serves only once it has it.
// The listener carries the service's TLS (gRFC A29) and authorization as RBAC
// filters (gRFC A41).
import { type MessageInitShape, create } from "@bufbuild/protobuf";
import {
  downstreamTlsTransportSocket,
  httpConnectionManagerFilter,
  packAny,
  routerHttpFilter,
} from "@xdskit/xds-types";
import type { PermissionSchema, PrincipalSchema } from "@xdskit/xds-types/gen/envoy/config/rbac/v3/rbac_pb";
import { RBAC_Action } from "@xdskit/xds-types/gen/envoy/config/rbac/v3/rbac_pb";
import { type Listener, ListenerSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import { RBACSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/http/rbac/v3/rbac_pb";
import {
  type HttpFilter,
  HttpFilterSchema,
} from "@xdskit/xds-types/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb";
import type { Service } from "../model.js";
import type { AuthorizationRule } from "../policy.js";
import type { AccessPolicy } from "../model-security.js";
import { accessRbac } from "./access-rbac.js";
import { commonTls, nameMatchers } from "./cluster-policy.js";
import { socketAddress } from "./common.js";

/** What a gRPC server's bootstrap template puts before `<ip>:<port>` (Istio's convention too). */
export const SERVER_LISTENER_PREFIX = "grpc/server?xds.resource.listening_address=";

/** The server listener name for a listening address (`[::]` form for IPv6). */
export function serverListenerName(host: string, port: number): string {
  return `${SERVER_LISTENER_PREFIX}${host.includes(":") ? `[${host}]` : host}:${port}`;
}

type PermissionInit = MessageInitShape<typeof PermissionSchema>;
type PrincipalInit = MessageInitShape<typeof PrincipalSchema>;

function anyOf<T>(items: T[], or: (rules: T[]) => T, all: T): T {
  if (items.length === 0) return all;
  return items.length === 1 ? (items[0] as T) : or(items);
}

function permission(rule: AuthorizationRule): PermissionInit {
  const parts: PermissionInit[] = [];
  const paths = (rule.paths ?? []).map(
    (p): PermissionInit => ({
      rule: { case: "urlPath", value: { rule: { case: "path", value: nameMatchers([p])[0] ?? {} } } },
    }),
  );
  if (paths.length > 0)
    parts.push(
      anyOf(paths, (rules) => ({ rule: { case: "orRules", value: { rules } } }), {
        rule: { case: "any", value: true },
      }),
    );
  for (const [name, value] of Object.entries(rule.headers ?? {})) {
    parts.push({
      rule: {
        case: "header",
        value: {
          name,
          headerMatchSpecifier: { case: "stringMatch", value: { matchPattern: { case: "exact", value } } },
        },
      },
    });
  }
  if (parts.length === 0) return { rule: { case: "any", value: true } };
  return parts.length === 1 ? (parts[0] as PermissionInit) : { rule: { case: "andRules", value: { rules: parts } } };
}

function principal(rule: AuthorizationRule): PrincipalInit {
  const ids = (rule.principals ?? []).map(
    (p): PrincipalInit =>
      p === "*"
        ? // Any peer that showed a certificate the CA signed.
          {
            identifier: {
              case: "authenticated",
              value: { principalName: { matchPattern: { case: "prefix", value: "" } } },
            },
          }
        : { identifier: { case: "authenticated", value: { principalName: nameMatchers([p])[0] ?? {} } } },
  );
  return anyOf(ids, (list) => ({ identifier: { case: "orIds", value: { ids: list } } }), {
    identifier: { case: "any", value: true },
  });
}

function rbacFilter(name: string, action: RBAC_Action, rules: readonly AuthorizationRule[]): HttpFilter {
  return create(HttpFilterSchema, {
    name,
    configType: {
      case: "typedConfig",
      value: packAny(RBACSchema, {
        rules: {
          action,
          policies: Object.fromEntries(
            rules.map((r) => [r.name, { permissions: [permission(r)], principals: [principal(r)] }]),
          ),
        },
      }),
    },
  });
}

/**
 * The RBAC filters of a service's authorization: deny rules first, then,
 * when there are allow rules, only what one of them allows passes.
 */
export function authorizationFilters(rules: readonly AuthorizationRule[] | undefined): HttpFilter[] {
  const deny = (rules ?? []).filter((r) => r.action === "deny");
  const allow = (rules ?? []).filter((r) => r.action === "allow");
  const out: HttpFilter[] = [];
  if (deny.length > 0) out.push(rbacFilter("xdskit.authz.deny", RBAC_Action.DENY, deny));
  if (allow.length > 0) out.push(rbacFilter("xdskit.authz.allow", RBAC_Action.ALLOW, allow));
  return out;
}

/** The listener an xDS-enabled server of `service` gets for `host:port` (with the workload's AuthorizationPolicies). */
export function serverListener(
  service: Service,
  host: string,
  port: number,
  policies: readonly AccessPolicy[] = [],
): Listener {
  const access = accessRbac(policies, true);
  const policyFilters = [
    ...(access.deny ? [rbacHttpFilter("xdskit.policy.deny", access.deny)] : []),
    ...(access.allow ? [rbacHttpFilter("xdskit.policy.allow", access.allow)] : []),
  ];
  const tls = service.tls;
  const name = serverListenerName(host, port);
  return create(ListenerSchema, {
    name,
    address: socketAddress(host, port),
    filterChains: [
      {
        name: `inbound|${port}`,
        filters: [
          httpConnectionManagerFilter({
            statPrefix: `inbound_${port}`,
            routeSpecifier: {
              case: "routeConfig",
              value: {
                name: `inbound|${port}`,
                virtualHosts: [
                  {
                    name: `inbound|${port}`,
                    domains: ["*"],
                    routes: [
                      {
                        match: { pathSpecifier: { case: "prefix", value: "" } },
                        action: { case: "nonForwardingAction", value: {} },
                      },
                    ],
                  },
                ],
              },
            },
            httpFilters: [...authorizationFilters(service.authorization), ...policyFilters, routerHttpFilter()],
          }),
        ],
        ...(tls
          ? {
              transportSocket: downstreamTlsTransportSocket({
                commonTlsContext: commonTls({ ...tls, subjectAltNames: [] }, true),
                requireClientCertificate: (tls.mode ?? "mutual") === "mutual",
              }),
            }
          : {}),
      },
    ],
  });
}

/**
 * The server listeners of a proxyless node serving on `ip`: for every
 * service with an endpoint there, one per address a server may bind (the
 * IP itself, 0.0.0.0 and [::]).
 */
export function serverListeners(
  services: Iterable<Service>,
  ip: string,
  policies: readonly AccessPolicy[] = [],
): Listener[] {
  const out: Listener[] = [];
  const done = new Set<number>();
  for (const s of services) {
    for (const e of s.endpoints) {
      if (e.address !== ip || done.has(e.port)) continue;
      done.add(e.port);
      for (const host of [ip, "0.0.0.0", "::"]) out.push(serverListener(s, host, e.port, policies));
    }
  }
  return out;
}

function rbacHttpFilter(name: string, rules: MessageInitShape<typeof RBACSchema>["rules"]): HttpFilter {
  return create(HttpFilterSchema, {
    name,
    configType: { case: "typedConfig", value: packAny(RBACSchema, { ...(rules ? { rules } : {}) }) },
  });
}
