// Security policy of workloads, as Istio's PeerAuthentication and
// AuthorizationPolicy say it: which connections a workload's sidecar takes
// (mutual TLS or plaintext) and which requests it lets through.

/** Labels as the model has them (declared here to keep the model files acyclic). */
type Labels = Readonly<Record<string, string>>;

/** How a workload takes connections: mutual TLS only, both, or plaintext only. `unset`: inherit. */
export type MtlsMode = "strict" | "permissive" | "disable" | "unset";

/**
 * Mutual TLS of workloads (a PeerAuthentication): mesh-wide in the root
 * namespace, namespace-wide, or for the workloads a selector picks; per port.
 */
export interface PeerAuthenticationPolicy {
  /** `namespace/name`, for reports. */
  readonly name: string;
  readonly namespace: string;
  /** Only workloads with these labels; none: the whole namespace (or the mesh, in the root namespace). */
  readonly selector?: Labels;
  /** The mode of every port. Default `unset`. */
  readonly mode?: MtlsMode;
  /** Per workload port (the port the workload listens on), over `mode`; needs a selector. */
  readonly portModes?: Readonly<Record<string, MtlsMode>>;
}

/** Who a request comes from: every field given must hold (a list: any of it). */
export interface AccessSource {
  /** Peer identities (SPIFFE IDs without `spiffe://`, as Istio writes them: `cluster.local/ns/a/sa/b`); `*`, `prefix*`, `*suffix`. */
  readonly principals?: readonly string[];
  readonly notPrincipals?: readonly string[];
  /** Namespaces of the peer's identity. */
  readonly namespaces?: readonly string[];
  readonly notNamespaces?: readonly string[];
  /** The peer's address, as addresses or CIDR blocks. */
  readonly ipBlocks?: readonly string[];
  readonly notIpBlocks?: readonly string[];
}

/** What a request asks for: every field given must hold (a list: any of it). */
export interface AccessOperation {
  readonly hosts?: readonly string[];
  readonly notHosts?: readonly string[];
  /** Workload ports. */
  readonly ports?: readonly number[];
  readonly notPorts?: readonly number[];
  readonly methods?: readonly string[];
  readonly notMethods?: readonly string[];
  /** Paths: exact, `prefix*` or `*suffix`. */
  readonly paths?: readonly string[];
  readonly notPaths?: readonly string[];
}

/** A condition on a request attribute (`request.headers[x-token]`, `source.ip`, `source.namespace`, `source.principal`, `destination.port`). */
export interface AccessCondition {
  readonly key: string;
  readonly values?: readonly string[];
  readonly notValues?: readonly string[];
}

/** One rule: a request matches when it matches any source, any operation and every condition given. */
export interface AccessRule {
  readonly from?: readonly AccessSource[];
  readonly to?: readonly AccessOperation[];
  readonly when?: readonly AccessCondition[];
}

/**
 * Who may call a workload (an AuthorizationPolicy). Deny policies are
 * evaluated first; once any allow policy applies to a workload, only
 * requests matching one are let through; audit policies change nothing.
 */
export interface AccessPolicy {
  /** `namespace/name`, for reports. */
  readonly name: string;
  readonly namespace: string;
  /** Only workloads with these labels; none: the whole namespace (or the mesh, in the root namespace). */
  readonly selector?: Labels;
  readonly action: "allow" | "deny" | "audit";
  /** Any of them. An allow policy without rules lets nothing through; a deny policy without rules denies nothing. */
  readonly rules: readonly AccessRule[];
  /**
   * Why the policy cannot be applied as written (a field xdskit cannot
   * enforce), when it cannot: it then fails closed — a deny policy denies
   * every request, an allow policy lets none through.
   */
  readonly unenforceable?: string;
}
