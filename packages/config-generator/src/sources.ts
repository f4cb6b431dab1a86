import type { ChangeKind, DestinationPolicy, Gateway, RouteRule, Service, SidecarScope, TcpRoute } from "./model.js";
import type { AccessPolicy, PeerAuthenticationPolicy } from "./model-security.js";

/** A change reported by a source. */
export interface SourceChange {
  readonly kinds: readonly ChangeKind[];
  /** Readable cause, e.g. `file mesh.yaml changed` or `endpoints of echo`. */
  readonly reason: string;
  /**
   * The source already waited for its input to go quiet (the file source's
   * settle): the controller then pushes it at once instead of debouncing it a
   * second time, unless other changes are already waiting for their quiet period.
   */
  readonly settled?: boolean;
}

/** Events every source emits. */
export interface SourceEvents {
  /** The source's data changed. */
  change: (change: SourceChange) => void;
  /** New input was refused; the last good state keeps being served. */
  rejected: (event: { reason: string; error: Error }) => void;
}

/**
 * How a source is listened to. Structural on purpose: eventemitter3, Node's
 * own `EventEmitter` and any object with these two methods all fit.
 */
export interface SourceEmitter {
  /** Listens for changes. */
  on(event: "change", listener: SourceEvents["change"]): unknown;
  /** Listens for refused input. */
  on(event: "rejected", listener: SourceEvents["rejected"]): unknown;
  /** Stops listening for changes. */
  off(event: "change", listener: SourceEvents["change"]): unknown;
  /** Stops listening for refused input. */
  off(event: "rejected", listener: SourceEvents["rejected"]): unknown;
}

/** What every source may tell the controller besides its data. */
export interface SourceStatus {
  /**
   * False until the source has read its data once (a store not reached yet).
   * The controller serves nothing it has not read. Default: always ready.
   */
  ready?(): boolean;
}

/** Where services and endpoints come from (Kubernetes, Consul, a file, your own). */
export interface ServiceRegistry extends SourceEmitter, SourceStatus {
  /** Every service with its endpoints, as of now. */
  services(): readonly Service[];
  /**
   * True when an empty list of services is meant (a mesh file with
   * `allowEmpty: true`). Otherwise the controller refuses a change that would
   * remove every service of a non-empty mesh. Default false.
   */
  allowsEmpty?(): boolean;
}

/** Where routing rules (and gateway ports) come from. */
export interface ConfigStore extends SourceEmitter, SourceStatus {
  /** Every routing rule, as of now. */
  routes(): readonly RouteRule[];
  /** Gateway ports, as of now. Default: none. */
  gateways?(): readonly Gateway[];
  /** Policies of destinations written apart from their services (DestinationRules). Default: none. */
  policies?(): readonly DestinationPolicy[];
  /** TCP and TLS routes. Default: none. */
  tcpRoutes?(): readonly TcpRoute[];
  /** Which services groups of sidecars see (Sidecar resources). Default: all. */
  sidecars?(): readonly SidecarScope[];
  /** Mutual TLS modes of workloads (PeerAuthentications). Default: none. */
  peerAuthentications?(): readonly PeerAuthenticationPolicy[];
  /** Who may call workloads (AuthorizationPolicies). Default: none. */
  accessPolicies?(): readonly AccessPolicy[];
}
