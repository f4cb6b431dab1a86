// The service and routing model every source produces and every builder reads.
import type {
  CorsPolicy,
  HeaderOperations,
  RouteMatch,
  RouteMirror,
  RouteRedirect,
  RouteRewrite,
  TcpRoute,
  SidecarScope,
} from "./model-routing.js";
import type {
  AuthorizationRule,
  Locality,
  CircuitBreaker,
  DestinationPolicy,
  DnsTarget,
  LoadBalancer,
  LocalityFailover,
  OutlierDetection,
  ServiceTls,
  TrafficPolicy,
  UpstreamTls,
} from "./policy.js";

export type { Locality } from "./policy.js";

/** Labels: string keys and values, as Kubernetes has them (`version: v2`). */
export type Labels = Readonly<Record<string, string>>;

/** JSON-like metadata a host carries through a push for its own builders. */
export type Metadata = Readonly<Record<string, string | number | boolean | null | readonly unknown[] | object>>;

/**
 * Configuration of the whole mesh that every builder reads (Istio's mesh
 * config), from `createDiscoveryController({ meshConfig })`. Empty by
 * default: hosts add their own fields by augmenting this interface:
 *
 * ```ts
 * declare module "@xdskit/config-generator" {
 *   interface MeshConfig { tenant: string; defaultTimeoutMs: number }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: hosts augment it
export interface MeshConfig {}

/** One instance of a service. */
export interface ServiceEndpoint {
  readonly address: string;
  readonly port: number;
  /** Load-balancing weight (1..128 in Envoy's terms). Default 1. */
  readonly weight?: number;
  readonly locality?: Locality;
  /** Unhealthy endpoints are sent with health status UNHEALTHY and get no traffic. Default true. */
  readonly healthy?: boolean;
  /**
   * The health state sent to clients, finer than `healthy` (which it
   * overrides): `draining` and `unhealthy` endpoints get no new calls;
   * `degraded` ones get calls only when too few others are healthy (Envoy).
   */
  readonly health?: EndpointHealth;
  /** Failover priority (0 first); overrides the service's `localityFailover`. */
  readonly priority?: number;
  /** Labels of this instance: subsets select endpoints by them. */
  readonly labels?: Labels;
  /** The host's own data about this instance. */
  readonly metadata?: Metadata;
  /**
   * For a service with several `ports`: the port this instance serves each
   * of them on, keyed by the service port's number (`{ "7070": 8080 }`, as
   * a Kubernetes target port). A service port not listed is served on `port`.
   */
  readonly ports?: Readonly<Record<string, number>>;
  /**
   * The workload identity of this instance (a SPIFFE ID such as
   * `spiffe://cluster.local/ns/default/sa/echo`), where the source knows it.
   */
  readonly identity?: string;
}

/** One port of a service that has several (a Kubernetes Service, an Istio ServiceEntry). */
export interface ServicePort {
  /** The port clients call. */
  readonly port: number;
  /** Its name, unique within the service (Kubernetes port names such as `grpc` or `http-web`). */
  readonly name?: string;
  /** The protocol of this port. Default: the service's. */
  readonly protocol?: PortProtocol;
}

/** Health states of an endpoint, as EDS sends them. */
export type EndpointHealth = "healthy" | "unhealthy" | "draining" | "degraded" | "unknown";

/** A named slice of a service's endpoints, chosen by labels (Istio's subsets): routes can send to it. */
export interface Subset {
  /** DNS-style name, unique within the service. */
  readonly name: string;
  /** Endpoints with all these labels belong to the subset. */
  readonly labels: Labels;
  /** Traffic policy of the subset's cluster, over the service's. */
  readonly trafficPolicy?: TrafficPolicy;
}

/** Application protocol of a port: decides between the HTTP connection manager and a TCP proxy for sidecars. */
export type PortProtocol = "http" | "grpc" | "tcp" | "tls";

/** A service and its endpoints. */
export interface Service {
  /** Host name clients use, e.g. `echo` (dialled as `xds:///echo`). Unique across a push. */
  readonly name: string;
  /** The port clients call. Default: the first endpoint's port (a DNS service's target port). */
  readonly port?: number;
  /**
   * Several ports instead of one (exclusive with `port`): each gets clusters,
   * listeners and routes of its own (`outbound|<port>||<name>`, the
   * proxyless listener `<name>:<port>`); a client naming no port gets the
   * first. Route rules of the service apply to every port.
   */
  readonly ports?: readonly ServicePort[];
  readonly protocol?: PortProtocol;
  readonly endpoints: readonly ServiceEndpoint[];
  /** Labels of the service. */
  readonly labels?: Labels;
  /** The host's own data about the service (policy for its builders, say). */
  readonly metadata?: Metadata;
  /** Named subsets of the endpoints: each gets a cluster of its own (`outbound|port|subset|name`). */
  readonly subsets?: readonly Subset[];
  /** How clients balance calls over the endpoints (default round robin). */
  readonly loadBalancer?: LoadBalancer;
  /** Ejection of failing endpoints. */
  readonly outlierDetection?: OutlierDetection;
  /** Limits on calls in flight. */
  readonly circuitBreaker?: CircuitBreaker;
  /** Priorities of endpoints by locality: who gets traffic when a locality empties. */
  readonly localityFailover?: LocalityFailover;
  /** TLS between the service's proxyless clients and its xDS-enabled servers (gRFC A29). */
  readonly tls?: ServiceTls;
  /** Authorization of calls at the service's xDS-enabled servers (gRFC A41). */
  readonly authorization?: readonly AuthorizationRule[];
  /**
   * The service is a host name clients resolve (logical DNS); it then has no
   * endpoints. With `ports`, each port connects to the name on that port.
   */
  readonly dns?: DnsTarget;
  /**
   * The service is the union of other services, tried in order: calls go to
   * the first with a healthy endpoint (an aggregate cluster, gRFC A37). It
   * then has no endpoints of its own.
   */
  readonly aggregate?: readonly string[];
  /** How long a client may take to connect to an endpoint, ms (default 5000). */
  readonly connectTimeoutMs?: number;
  /** TLS from Envoy sidecars and gateways to the service's endpoints. */
  readonly upstreamTls?: UpstreamTls;
  /** Traffic policy per port (a service with several), over the service's, by port number. */
  readonly portPolicies?: Readonly<Record<string, TrafficPolicy>>;
  /** The namespace the service belongs to, when its source has namespaces (visibility, Sidecar scopes). */
  readonly namespace?: string;
  /** Namespaces that may see the service: `*` (default), `.` (its own), or names. */
  readonly exportTo?: readonly string[];
  /** Virtual addresses clients connect to (a ServiceEntry's addresses): TCP connections are matched by them. */
  readonly addresses?: readonly string[];
  /**
   * Connections go where the client sent them (Istio's resolution NONE): an
   * original-destination cluster, no endpoints (Envoy only).
   */
  readonly passthrough?: boolean;
  /** The service is outside the mesh (a ServiceEntry's MESH_EXTERNAL): no sidecar serves it. */
  readonly external?: boolean;
}

/** Traffic split entry of a route. */
export interface WeightedDestination {
  readonly service: string;
  /** A subset of the service to send to, instead of all its endpoints. */
  readonly subset?: string;
  /**
   * Which port of a service with several to send to. Default: the port the
   * request came in on, when the destination has it; else its first.
   */
  readonly port?: number;
  readonly weight: number;
}

/** Fault injection on a route (Envoy's HTTP fault filter; gRFC A33 for proxyless clients). */
export interface RouteFault {
  /** Delay a share of requests by a fixed time. */
  readonly delay?: { readonly fixedMs: number; readonly percent: number };
  /** Fail a share of requests at once: with an HTTP status, or a gRPC status for gRPC callers. */
  readonly abort?: { readonly httpStatus?: number; readonly grpcStatus?: number; readonly percent: number };
}

/** Retries of a route (Envoy's retry policy; gRFC A44 for proxyless clients). */
export interface RouteRetries {
  /** Retries after the first try, 0..10. */
  readonly attempts: number;
  /** How long each try may take, ms (Envoy). Default: the route's timeout. */
  readonly perTryTimeoutMs?: number;
  /**
   * Conditions, comma-separated: gRPC status names (`unavailable`,
   * `cancelled`, `deadline-exceeded`, `internal`, `resource-exhausted`) and,
   * for Envoy, HTTP ones (`5xx`, `gateway-error`, `reset`, `connect-failure`,
   * `retriable-4xx`). Default: the gRPC ones for gRPC services, else `5xx,reset,connect-failure`.
   */
  readonly on?: string;
  /** First backoff interval in ms (then doubling, jittered). Default: the client's own (25 ms). */
  readonly backoffBaseMs?: number;
  /** Longest backoff interval in ms. Default 10 × base. */
  readonly backoffMaxMs?: number;
}

/** Routing for one host. */
export interface RouteRule {
  /**
   * The host the rule applies to: a service name; for rules bound to
   * gateways, any host the gateway serves (`*.example.com` wildcards too).
   */
  readonly host: string;
  /** A name for reports (`namespace/VirtualService[2]`). */
  readonly name?: string;
  /**
   * Rules with an order are tried in it (lowest first), first match wins,
   * before rules without one (those go most specific first).
   */
  readonly order?: number;
  /** Where traffic goes; weights are relative. May be empty with `redirect`. */
  readonly split: readonly WeightedDestination[];
  /** Match any of these (with `pathPrefix`/`headers`, those too). Default: every request. */
  readonly match?: readonly RouteMatch[];
  /** Answer with a redirect instead (Envoy only). */
  readonly redirect?: RouteRedirect;
  /** Rewrite the path or authority before forwarding (Envoy only). */
  readonly rewrite?: RouteRewrite;
  /** Copy requests to another service (Envoy only). */
  readonly mirror?: RouteMirror;
  /** Headers set, added or removed on the request (Envoy only). */
  readonly requestHeaders?: HeaderOperations;
  /** Headers set, added or removed on the response (Envoy only). */
  readonly responseHeaders?: HeaderOperations;
  /** Cross-origin requests answered by the proxy (Envoy only). */
  readonly cors?: CorsPolicy;
  /**
   * Where the rule applies: `mesh` (sidecars and proxyless clients; the
   * default) and gateway names (`namespace/name`).
   */
  readonly gateways?: readonly string[];
  /** Namespaces whose clients see the rule: `*` (default), `.`, or names (with `namespace`). */
  readonly exportTo?: readonly string[];
  /** The namespace the rule was written in (short hosts and exportTo resolve in it). */
  readonly namespace?: string;
  /** Match only paths with this prefix. Default: every path. */
  readonly pathPrefix?: string;
  /** Match only requests carrying these exact header values. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * How long a request may take overall, in milliseconds: Envoy's route
   * timeout; gRPC clients' max stream duration (gRFC A31).
   */
  readonly timeoutMs?: number;
  /**
   * The longest deadline a gRPC caller may ask for, in ms (`grpc-timeout`
   * header max, gRFC A31): a later or missing deadline is cut to it; 0 lets
   * callers' deadlines stand. gRPC clients then use it instead of
   * `timeoutMs`; Envoy applies it to gRPC requests it proxies.
   */
  readonly grpcTimeoutCapMs?: number;
  readonly retries?: RouteRetries;
  readonly fault?: RouteFault;
}

/** TLS a gateway terminates (or lets through). */
export interface GatewayTls {
  /** `simple`: the server's certificate; `mutual`: and the client's too; `passthrough`: routed by SNI, not terminated. */
  readonly mode: "simple" | "mutual" | "passthrough";
  /** The secret with the certificate and key (served over SDS as `<namespace>/<name>`); `mutual` also reads its CA. */
  readonly credentialName?: string;
}

/**
 * An ingress gateway port: a listener that binds `port` on gateway proxies
 * (Istio-style `router~…` nodes) and routes each of `hosts` by the request's
 * authority, as the mesh's routes say.
 */
export interface Gateway {
  readonly port: number;
  /**
   * Hosts served on the port. Without `name`: service names, each routed by
   * its own rules. With `name` (Istio's Gateway servers): any host names or
   * wildcards (`*.example.com`, `*`), routed by the rules bound to the gateway.
   */
  readonly hosts: readonly string[];
  /** The gateway's name (`namespace/name`), which route rules bind to by `gateways`. */
  readonly name?: string;
  /** Gateway proxies it applies to: those whose labels (node metadata LABELS) match. Default: every gateway. */
  readonly selector?: Labels;
  /** `http` (default; HTTP/1.1 and HTTP/2), `https`, `tls` or `tcp`. */
  readonly protocol?: "http" | "https" | "tls" | "tcp";
  readonly tls?: GatewayTls;
  /** The namespace it was written in: secrets are looked up there. */
  readonly namespace?: string;
}

export type { DestinationPolicy, SidecarScope, TcpRoute };

/** What a change touched: the push queue rebuilds only the types that depend on it. */
export type ChangeKind = "endpoints" | "services" | "routes" | "gateways" | "secrets";
