// Which security policies apply to a workload, with Istio's precedence:
// PeerAuthentication — the workload's own (a selector matching its labels;
// a port's mode over the policy's), then its namespace's, then the mesh's
// (the root namespace's), `unset` inheriting from the next; and the
// AuthorizationPolicies of its namespace and of the root namespace whose
// selector (if any) matches it.
import type { AccessPolicy, MtlsMode, PeerAuthenticationPolicy } from "./model-security.js";
import type { Proxy } from "./proxy.js";
import { selects } from "./push-scopes.js";

/** What decides a workload's policies. */
export interface SecurityPolicies {
  readonly peerAuthentications: readonly PeerAuthenticationPolicy[];
  readonly accessPolicies: readonly AccessPolicy[];
  readonly rootNamespace: string;
  /** The mesh issues workload certificates (mutual TLS is possible at all). */
  readonly mtls: boolean;
}

/** The effective mode of one port of a workload: `strict`, `permissive` or `disable`. */
export function mtlsModeOf(
  p: SecurityPolicies,
  proxy: Pick<Proxy, "namespace" | "labels">,
  port: number,
): Exclude<MtlsMode, "unset"> {
  if (!p.mtls) return "disable";
  const ns = proxy.namespace;
  const inNs = p.peerAuthentications.filter((a) => a.namespace === ns);
  const own = inNs.filter((a) => a.selector !== undefined && selects(a.selector, proxy.labels));
  // The oldest of several matching selectors wins in Istio; names stand in for age here.
  const workload = own.sort((a, b) => (a.name < b.name ? -1 : 1))[0];
  const namespace = inNs.find((a) => a.selector === undefined);
  const mesh = p.peerAuthentications.find((a) => a.namespace === p.rootNamespace && a.selector === undefined);
  const chain: (MtlsMode | undefined)[] = [
    workload?.portModes?.[String(port)],
    workload?.mode,
    namespace?.mode,
    mesh?.mode,
  ];
  const mode = chain.find((m) => m !== undefined && m !== "unset");
  return (mode as Exclude<MtlsMode, "unset"> | undefined) ?? "permissive";
}

/** The authorization policies that apply to a workload, deny before allow, each once, in name order. */
export function accessPoliciesOf(p: SecurityPolicies, proxy: Pick<Proxy, "namespace" | "labels">): AccessPolicy[] {
  const applies = (a: AccessPolicy) =>
    (a.namespace === proxy.namespace || a.namespace === p.rootNamespace) &&
    (a.selector === undefined || selects(a.selector, proxy.labels));
  return p.accessPolicies.filter(applies).sort((a, b) => (a.name < b.name ? -1 : 1));
}
