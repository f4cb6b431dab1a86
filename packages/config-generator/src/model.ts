// The service and routing model every source produces and every builder reads.

/** Where an endpoint runs. */
export interface Locality {
  readonly region?: string;
  readonly zone?: string;
  readonly subZone?: string;
}

/** One instance of a service. */
export interface ServiceEndpoint {
  readonly address: string;
  readonly port: number;
  /** Load-balancing weight (1..128 in Envoy's terms). Default 1. */
  readonly weight?: number;
  readonly locality?: Locality;
  /** Unhealthy endpoints are sent with health status UNHEALTHY and get no traffic. Default true. */
  readonly healthy?: boolean;
}

/** Application protocol of a port: decides between the HTTP connection manager and a TCP proxy for sidecars. */
export type PortProtocol = "http" | "grpc" | "tcp";

/** A service and its endpoints. */
export interface Service {
  /** Host name clients use, e.g. `echo` (dialled as `xds:///echo`). Unique across a push. */
  readonly name: string;
  /** The port clients call. Default: the first endpoint's port. */
  readonly port?: number;
  readonly protocol?: PortProtocol;
  readonly endpoints: readonly ServiceEndpoint[];
}

/** Traffic split entry of a route. */
export interface WeightedDestination {
  readonly service: string;
  readonly weight: number;
}

/** Routing for one host. */
export interface RouteRule {
  /** The host the rule applies to (a service name). */
  readonly host: string;
  /** Where traffic goes; weights are relative. */
  readonly split: readonly WeightedDestination[];
  /** Match only paths with this prefix. Default: every path. */
  readonly pathPrefix?: string;
  /** Match only requests carrying these exact header values. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Per-try timeout and overall timeout, in milliseconds. */
  readonly timeoutMs?: number;
  readonly retries?: { readonly attempts: number; readonly on?: string };
}

/** What a change touched: the push queue rebuilds only the types that depend on it. */
export type ChangeKind = "endpoints" | "services" | "routes";
