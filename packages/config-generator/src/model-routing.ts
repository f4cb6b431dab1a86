// The model's richer routing, as Istio's traffic API needs it: request
// matches, redirects, rewrites, mirrors, header operations and CORS on HTTP
// routes, and TCP/TLS routes. Every field is optional: the mesh file's short
// routes (a path prefix, exact headers, a split) are still the common case.

/** Labels as the model has them (see `Labels` in model.ts; declared here to keep the two files acyclic). */
type Labels = Readonly<Record<string, string>>;

/** How a string is matched: exactly, by prefix, or by an RE2 regular expression (the whole string). */
export type StringMatch = { readonly exact: string } | { readonly prefix: string } | { readonly regex: string };

/** One way a request can match a route: every field given must hold. */
export interface RouteMatch {
  /** The path (without the query). */
  readonly uri?: StringMatch;
  /** Match the path ignoring case. */
  readonly ignoreUriCase?: boolean;
  /** Headers that must match (`{ prefix: "" }`: present with any value). Lower-case names. */
  readonly headers?: Readonly<Record<string, StringMatch>>;
  /** Headers that must not match (absent, or another value). */
  readonly withoutHeaders?: Readonly<Record<string, StringMatch>>;
  /** Query parameters that must match (Envoy only: gRPC has no query). */
  readonly queryParams?: Readonly<Record<string, StringMatch>>;
  /** The HTTP method. */
  readonly method?: StringMatch;
  /** The authority (`:authority` / `Host`). */
  readonly authority?: StringMatch;
  /** Only requests that came in on this port of the service. */
  readonly port?: number;
  /** Only requests from workloads with these labels (Envoy sidecars; others never match). */
  readonly sourceLabels?: Labels;
  /** Only on these gateways (`mesh` for sidecars), narrowing the rule's own `gateways`. */
  readonly gateways?: readonly string[];
}

/** Add, replace or remove request or response headers. */
export interface HeaderOperations {
  /** Headers set, replacing any the message has. */
  readonly set?: Readonly<Record<string, string>>;
  /** Headers appended to any the message has. */
  readonly add?: Readonly<Record<string, string>>;
  /** Headers removed. */
  readonly remove?: readonly string[];
}

/** Answer with a redirect instead of routing (Envoy only: gRPC clients have no redirects). */
export interface RouteRedirect {
  /** The new path. Default: the same. */
  readonly uri?: string;
  /** The new authority. Default: the same. */
  readonly authority?: string;
  /** The new port. */
  readonly port?: number;
  /** `http` or `https`. */
  readonly scheme?: string;
  /** 301 (default), 302, 303, 307 or 308. */
  readonly code?: number;
}

/** Rewrite the request before it is forwarded. */
export interface RouteRewrite {
  /** Replaces the matched prefix (with a prefix match) or the whole path. */
  readonly uri?: string;
  /** Rewrites the path with an RE2 regular expression and its substitution (`\1` for groups). */
  readonly uriRegex?: { readonly match: string; readonly rewrite: string };
  /** The new authority. */
  readonly authority?: string;
}

/** Copy requests to another service, fire and forget (Envoy only). */
export interface RouteMirror {
  readonly service: string;
  readonly subset?: string;
  readonly port?: number;
  /** The share of requests copied, percent (default 100). */
  readonly percent?: number;
}

/** Cross-origin resource sharing answered by the proxy (Envoy only). */
export interface CorsPolicy {
  readonly allowOrigins: readonly StringMatch[];
  readonly allowMethods?: readonly string[];
  readonly allowHeaders?: readonly string[];
  readonly exposeHeaders?: readonly string[];
  /** How long a preflight answer may be cached, seconds. */
  readonly maxAgeS?: number;
  readonly allowCredentials?: boolean;
}

/** Where a TCP or TLS connection matches a route: every field given must hold. */
export interface ConnectionMatch {
  /** The destination port. */
  readonly port?: number;
  /** TLS routes: the server names (SNI) the client asks for; `*.example.com` wildcards. */
  readonly sniHosts?: readonly string[];
  /** Destination addresses, as CIDR blocks or addresses. */
  readonly destinationSubnets?: readonly string[];
  /** Only connections from workloads with these labels (Envoy sidecars). */
  readonly sourceLabels?: Labels;
  readonly gateways?: readonly string[];
}

/** Routing of TCP connections (or TLS ones by SNI, without terminating TLS) to a service: Envoy only. */
export interface TcpRoute {
  /** A name for reports (a refused route's last good version is found by it). */
  readonly name?: string;
  /** The host the rule applies to (a service name, or an external host for gateways). */
  readonly host: string;
  /** `tcp`, or `tls` (matched by SNI; TLS passes through). */
  readonly kind: "tcp" | "tls";
  /** Any of them (none: every connection to the host). */
  readonly match?: readonly ConnectionMatch[];
  readonly split: readonly {
    readonly service: string;
    readonly subset?: string;
    readonly port?: number;
    readonly weight: number;
  }[];
  /** Where the rule applies: `mesh` (sidecars; the default) and gateway names. */
  readonly gateways?: readonly string[];
  /** Rules with an order are tried in it, first match wins. */
  readonly order?: number;
  /** Namespaces whose clients see the route: `*` (default), `.`, or names (with `namespace`). */
  readonly exportTo?: readonly string[];
  /** The namespace the route was written in. */
  readonly namespace?: string;
}

/**
 * Which services a group of sidecars sees (Istio's Sidecar resource): what
 * it may not see it gets neither clusters nor routes for.
 */
export interface SidecarScope {
  /** `namespace/name`, for reports. */
  readonly name: string;
  /** The namespace of the sidecars it applies to. */
  readonly namespace: string;
  /** Only sidecars with these labels; none: every sidecar of the namespace without a more specific scope. */
  readonly workloadSelector?: Labels;
  /**
   * Services visible, as `namespace/host` patterns, either part `*` or a
   * `*.`-prefixed wildcard: `./*` is every service of the scope's own
   * namespace, `istio-system/*` every one of that namespace, and a `*`
   * namespace part with a host (`reviews.default.svc.cluster.local`) that
   * host in any namespace.
   */
  readonly egressHosts: readonly string[];
  /** `allow-any` (default): unknown destinations pass through; `registry-only`: they are refused. */
  readonly outboundTrafficPolicy?: "allow-any" | "registry-only";
  /**
   * The ports the sidecars take inbound connections on, each handed to the
   * workload at `target` (instead of the ports of the services the workload
   * serves, each to itself on the loopback).
   */
  readonly ingress?: readonly SidecarIngress[];
}

/** One inbound port of a sidecar scope (a Sidecar's `ingress`). */
export interface SidecarIngress {
  /** The port connections arrive on. */
  readonly port: number;
  /** Where they go: `127.0.0.1:<port>`, or `0.0.0.0:<port>` for the workload's own address. */
  readonly target: string;
}
