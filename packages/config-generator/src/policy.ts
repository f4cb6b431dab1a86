// Per-service traffic policy of the model: how clients balance, eject,
// limit, fail over, secure and authorize calls to a service. Each field maps
// to what Envoy and proxyless gRPC clients implement (docs/proxyless.md has
// the matrix).

/** Where an endpoint runs. */
export interface Locality {
  readonly region?: string;
  readonly zone?: string;
  readonly subZone?: string;
}

/** Load-balancing policies a service can ask its clients for. */
export type LoadBalancingPolicy = "round-robin" | "ring-hash" | "least-request" | "weighted-round-robin" | "random";

/** How clients spread calls over a service's endpoints. */
export interface LoadBalancer {
  /**
   * `round-robin` (default); `ring-hash`: consistent hashing on request
   * headers (gRFC A42); `least-request`: the endpoint with fewer calls in
   * flight of `choiceCount` random ones (gRFC A48); `weighted-round-robin`:
   * weights from the backends' own load reports (gRFC A58). Clients that lack
   * a policy fall back to round robin.
   */
  readonly policy: LoadBalancingPolicy;
  /**
   * ring-hash only: request headers hashed to pick the endpoint, first
   * present wins. None (or none present): each call hashes at random.
   */
  readonly hashHeaders?: readonly string[];
  /** ring-hash only: hash on this cookie, setting it when absent with `ttlMs` (Envoy). */
  readonly hashCookie?: { readonly name: string; readonly ttlMs?: number; readonly path?: string };
  /** ring-hash only: hash on the client's address (Envoy). */
  readonly hashSourceIp?: boolean;
  /** ring-hash only: hash on this query parameter (Envoy). */
  readonly hashQueryParam?: string;
  /** ring-hash only: smallest ring (default 1024). */
  readonly minRingSize?: number;
  /** ring-hash only: largest ring (default 8M). */
  readonly maxRingSize?: number;
  /** least-request only: endpoints compared per pick, 2..100 (default 2). */
  readonly choiceCount?: number;
}

/**
 * Outlier detection (gRFC A50): endpoints that fail too much are taken out of
 * rotation for a while. gRPC clients run the success-rate and
 * failure-percentage algorithms; Envoy also runs consecutive errors.
 */
export interface OutlierDetection {
  /** How often endpoints are judged, ms (default 10000). */
  readonly intervalMs?: number;
  /** First ejection's length, ms; it grows with each repeat ejection (default 30000). */
  readonly baseEjectionMs?: number;
  /** Longest ejection, ms (default 300000, at least baseEjectionMs). */
  readonly maxEjectionMs?: number;
  /** Most endpoints out at once, percent (default 10; at least one is always allowed). */
  readonly maxEjectionPercent?: number;
  /** Envoy only: eject after this many consecutive errors (off by default). */
  readonly consecutiveErrors?: number;
  /** Eject endpoints whose success rate is `stdevFactor`/1000 deviations below the mean. */
  readonly successRate?: {
    /** In thousandths (1900 = 1.9 standard deviations, the default). */
    readonly stdevFactor?: number;
    /** Judged only when at least this many endpoints had `requestVolume` calls (default 5). */
    readonly minimumHosts?: number;
    /** Calls an endpoint needs in an interval to be judged (default 100). */
    readonly requestVolume?: number;
    /** Percent chance an ejection the rule finds is carried out (default 100). */
    readonly enforcingPercent?: number;
  };
  /** Eject endpoints whose share of failed calls is at least `threshold` percent. */
  readonly failurePercentage?: {
    readonly threshold: number;
    /** Judged only when at least this many endpoints had `requestVolume` calls (default 5). */
    readonly minimumHosts?: number;
    /** Calls an endpoint needs in an interval to be judged (default 50). */
    readonly requestVolume?: number;
    /** Percent chance an ejection the rule finds is carried out (default 100). */
    readonly enforcingPercent?: number;
  };
}

/** Circuit breaking (gRFC A32): calls beyond a limit fail at once instead of queueing. */
export interface CircuitBreaker {
  /** Most calls in flight to the service from one client (gRPC and Envoy; default 1024). */
  readonly maxRequests?: number;
  /** Envoy only: most requests one connection carries before it is closed. */
  readonly maxRequestsPerConnection?: number;
  /** Envoy only: most connections. */
  readonly maxConnections?: number;
  /** Envoy only: most requests waiting for a connection. */
  readonly maxPendingRequests?: number;
  /** Envoy only: most retries in flight. */
  readonly maxRetries?: number;
}

/**
 * Locality failover (gRFC A27): endpoints are put in priorities; a client
 * sends to the first priority with healthy endpoints and moves down when it
 * empties. `nearest`: the client's own zone first, then its region, then
 * the rest (needs the controller's `groupBy.locality`). A list: localities
 * in order of preference (a locality matches when every field it gives is
 * equal); endpoints in none come last. An endpoint's own `priority` wins.
 */
export type LocalityFailover = "nearest" | readonly Locality[];

/**
 * Transport security between a service's clients and its servers, from
 * certificate-provider instances the clients' and servers' bootstraps
 * define (gRFC A29; `certificate_providers` in the bootstrap).
 */
export interface ServiceTls {
  /** `mutual` (default): both sides show certificates; `simple`: only the server does. */
  readonly mode?: "mutual" | "simple";
  /** Instance holding this side's certificate and key (default `default`). */
  readonly identityProvider?: string;
  /** Instance holding the CA that checks the peer (default: the identity provider). */
  readonly caProvider?: string;
  /**
   * Names the server's certificate must carry (exact, or a prefix ending in
   * `*`), e.g. `spiffe://cluster.local/ns/default/sa/echo`. Default: any the
   * CA signed.
   */
  readonly subjectAltNames?: readonly string[];
}

/**
 * One authorization rule of a service's xDS-enabled servers (gRFC A41, as
 * Istio's AuthorizationPolicy): a call matches when it matches every field
 * given (and any entry of a list).
 */
export interface AuthorizationRule {
  /** Unique within the service; reported by the server's RBAC. */
  readonly name: string;
  /** `allow`: once a service has allow rules, only calls matching one pass. `deny`: matching calls fail. */
  readonly action: "allow" | "deny";
  /** Peer identities (certificate SAN: SPIFFE ID or DNS name), exact or prefix ending in `*`; `*` is any authenticated peer. */
  readonly principals?: readonly string[];
  /** Method paths (`/pkg.Service/Method`), exact or prefix ending in `*`. */
  readonly paths?: readonly string[];
  /** Request headers that must have these exact values. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A service addressed by a host name that clients resolve themselves (a logical DNS cluster, gRFC A37). */
export interface DnsTarget {
  readonly host: string;
  readonly port: number;
}

/** TLS from Envoy to a service (a DestinationRule's `tls`). */
export interface UpstreamTls {
  /**
   * `disable`: plaintext; `simple`: TLS, checking the server with the CA;
   * `mutual`: TLS with a client certificate; `istio-mutual`: the mesh's own
   * workload certificates.
   */
  readonly mode: "disable" | "simple" | "mutual" | "istio-mutual";
  /** The secret (served over SDS as `<namespace>/<name>`) with the client certificate and key (`mutual`) and the CA. */
  readonly credentialName?: string;
  /** The server name asked for (SNI). */
  readonly sni?: string;
  /** Names the server's certificate must carry (exact, or a prefix ending in `*`). */
  readonly subjectAltNames?: readonly string[];
}

/** Traffic policy of a destination: the service's own fields, set from outside it (a DestinationRule). */
export interface TrafficPolicy {
  readonly loadBalancer?: LoadBalancer;
  /** Who gets traffic when a locality empties (a DestinationRule's locality settings). */
  readonly localityFailover?: LocalityFailover;
  readonly outlierDetection?: OutlierDetection;
  readonly circuitBreaker?: CircuitBreaker;
  /** How long a client may take to connect, ms. */
  readonly connectTimeoutMs?: number;
  readonly upstreamTls?: UpstreamTls;
}

/**
 * Policy for a host written apart from the service (Istio's DestinationRule):
 * merged over the service of that name wherever it comes from.
 */
export interface DestinationPolicy {
  /** The service it applies to. */
  readonly host: string;
  /** A name for reports. */
  readonly name?: string;
  readonly trafficPolicy?: TrafficPolicy;
  /** Per port number, over `trafficPolicy`. */
  readonly portPolicies?: Readonly<Record<string, TrafficPolicy>>;
  /** Subsets, replacing the service's own, each with its own policy over the rest. */
  readonly subsets?: readonly {
    readonly name: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly trafficPolicy?: TrafficPolicy;
  }[];
  /** The namespace it was written in. */
  readonly namespace?: string;
  /** Namespaces whose clients it applies to: `*` (default), `.`, or names. */
  readonly exportTo?: readonly string[];
}
