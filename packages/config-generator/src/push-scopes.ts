// What a client may see: services and rules exported to its namespace
// (`exportTo`), narrowed for sidecars by the Sidecar scope that applies to
// them (its egress hosts, and whether unknown destinations pass). Clients
// that see the same things share one build (a scope); a mesh without any
// restriction is one scope, as before.
import type { Labels, RouteRule, Service } from "./model.js";
import type { SidecarScope, TcpRoute } from "./model-routing.js";
import type { DestinationPolicy } from "./policy.js";
import type { Proxy } from "./proxy.js";

/** What a client may see: a key naming it, and what decides it. */
export interface ScopeChoice {
  /**
   * `mesh` (everything), else `+`-joined parts: `ns:<namespace>` (exports,
   * short names), `sidecar:<namespace/name>`, `src:<i,j>` (which source-label
   * selectors of route matches hold), `gw:<names>` (the gateways selecting a
   * gateway proxy).
   */
  readonly key: string;
  readonly namespace?: string;
  readonly sidecar?: SidecarScope;
  /** The source-label selectors (as JSON) that hold for the scope's proxies; undefined: no route has any. */
  readonly sources?: ReadonlySet<string>;
  /** Gateway proxies: the names of the selector-bearing gateways that select them; undefined: none has a selector. */
  readonly gateways?: ReadonlySet<string>;
}

/** What the scope of a proxy depends on, computed once per push. */
export interface ScopeInputs {
  readonly sidecars: readonly SidecarScope[];
  /** Some object restricts who sees it (exportTo). */
  readonly restricted: boolean;
  /** Some service has a namespace: sidecars get its short names in their own one. */
  readonly namespaced: boolean;
  /** Distinct source-label selectors of route matches, as JSON. */
  readonly sourceSelectors: readonly string[];
  /** Gateways with a selector: `namespace/name` and selector. */
  readonly gatewaySelectors: readonly { readonly name: string; readonly selector: Labels }[];
  readonly rootNamespace: string;
}

/** The things visibility is decided over. */
export interface Visible {
  readonly services: readonly Service[];
  readonly routes: readonly RouteRule[];
  readonly policies: readonly DestinationPolicy[];
  readonly tcpRoutes: readonly TcpRoute[];
}

/** True when every label of `selector` is on `labels` (no selector: true). */
export const selects = (selector: Labels | undefined, labels: Labels) =>
  selector === undefined || Object.entries(selector).every(([k, v]) => labels[k] === v);

/** True when something exported to `exportTo` from `owner` is visible in `namespace`. */
export function exportedTo(
  exportTo: readonly string[] | undefined,
  owner: string | undefined,
  namespace: string | undefined,
): boolean {
  if (exportTo === undefined || exportTo.includes("*")) return true;
  if (namespace === undefined) return false;
  return exportTo.some((e) => (e === "." ? owner === namespace : e === namespace));
}

/** True when any object restricts who sees it (so scopes split by namespace). */
export function restricts(v: Visible): boolean {
  const narrow = (e: readonly string[] | undefined) => e !== undefined && !e.includes("*");
  return (
    v.services.some((s) => narrow(s.exportTo)) ||
    v.routes.some((r) => narrow(r.exportTo)) ||
    v.tcpRoutes.some((r) => narrow(r.exportTo)) ||
    v.policies.some((p) => narrow(p.exportTo))
  );
}

/** The source-label selectors of route and TCP route matches, as JSON, deduplicated. */
export function sourceSelectorsOf(routes: readonly RouteRule[], tcpRoutes: readonly TcpRoute[]): string[] {
  const out = new Set<string>();
  for (const r of [...routes, ...tcpRoutes])
    for (const m of r.match ?? [])
      if (m.sourceLabels && Object.keys(m.sourceLabels).length > 0) out.add(labelKey(m.sourceLabels));
  return [...out].sort();
}

/** A selector's JSON with sorted keys (equal selectors, equal keys). */
export function labelKey(l: Labels): string {
  return JSON.stringify(Object.fromEntries(Object.entries(l).sort(([a], [b]) => (a < b ? -1 : 1))));
}

/**
 * The scope of a client: for a sidecar, the Sidecar of its namespace whose
 * workload selector matches its labels (one with a selector wins over one
 * without), else its namespace's plain one, else the root namespace's; its
 * namespace when exports are restricted or services have namespaces; which
 * route source selectors hold for it; for a gateway proxy, which gateways
 * select it.
 */
export function scopeOf(proxy: Proxy, inputs: ScopeInputs): ScopeChoice {
  const ns = proxy.namespace;
  const parts: string[] = [];
  let sidecar: SidecarScope | undefined;
  if (proxy.kind === "sidecar" && inputs.sidecars.length > 0) {
    const inNs = inputs.sidecars.filter((s) => s.namespace === ns);
    sidecar =
      inNs.find((s) => s.workloadSelector !== undefined && selects(s.workloadSelector, proxy.labels)) ??
      inNs.find((s) => s.workloadSelector === undefined) ??
      inputs.sidecars.find((s) => s.namespace === inputs.rootNamespace && s.workloadSelector === undefined);
    if (sidecar) parts.push(`sidecar:${sidecar.name}`);
  }
  const byNamespace = sidecar || inputs.restricted || (inputs.namespaced && proxy.kind === "sidecar");
  if (byNamespace && ns) parts.push(`ns:${ns}`);
  let sources: Set<string> | undefined;
  if (inputs.sourceSelectors.length > 0) {
    sources = new Set();
    const held: number[] = [];
    inputs.sourceSelectors.forEach((sel, i) => {
      if (selects(JSON.parse(sel) as Labels, proxy.labels)) {
        sources?.add(sel);
        held.push(i);
      }
    });
    parts.push(`src:${held.join(",")}`);
  }
  let gateways: Set<string> | undefined;
  if (proxy.kind === "gateway" && inputs.gatewaySelectors.length > 0) {
    gateways = new Set(inputs.gatewaySelectors.filter((g) => selects(g.selector, proxy.labels)).map((g) => g.name));
    parts.push(`gw:${[...gateways].sort().join(",")}`);
  }
  if (parts.length === 0) return { key: "mesh" };
  return {
    key: parts.join("+"),
    ...(byNamespace && ns ? { namespace: ns } : {}),
    ...(sidecar ? { sidecar } : {}),
    ...(sources ? { sources } : {}),
    ...(gateways ? { gateways } : {}),
  };
}

// `namespace/host` egress patterns against a service.
function egressAllows(hosts: readonly string[], own: string, s: Service): boolean {
  return hosts.some((h) => {
    const [ns, host] = h.split("/") as [string, string];
    const nsOk = ns === "*" || (ns === "." ? s.namespace === own : ns === "~" ? false : s.namespace === ns);
    if (!nsOk) return false;
    if (host === "*") return true;
    if (host.startsWith("*.")) return s.name.endsWith(host.slice(1));
    return s.name === host;
  });
}

// Keeps the matches whose source labels hold for the scope (clearing them);
// a rule left with no match is dropped. Rules without source labels pass.
function bySource<T extends RouteRule | TcpRoute>(rules: readonly T[], sources: ReadonlySet<string> | undefined): T[] {
  if (!sources) return [...rules];
  const out: T[] = [];
  for (const r of rules) {
    const ms = r.match;
    if (!ms?.some((m) => m.sourceLabels && Object.keys(m.sourceLabels).length > 0)) {
      out.push(r);
      continue;
    }
    const kept = ms.flatMap((m) => {
      if (!m.sourceLabels || Object.keys(m.sourceLabels).length === 0) return [m];
      if (!sources.has(labelKey(m.sourceLabels))) return [];
      const { sourceLabels: _held, ...rest } = m;
      return [rest];
    });
    if (kept.length > 0) out.push({ ...r, match: kept });
  }
  return out;
}

/** What a scope sees of everything. */
export function visibleIn(all: Visible, choice: ScopeChoice): Visible {
  if (choice.key === "mesh") return all;
  const ns = choice.namespace;
  const sidecar = choice.sidecar;
  const services = all.services.filter(
    (s) =>
      exportedTo(s.exportTo, s.namespace, ns) && (!sidecar || egressAllows(sidecar.egressHosts, sidecar.namespace, s)),
  );
  const names = new Set(services.map((s) => s.name));
  const routes = all.routes.filter((r) => exportedTo(r.exportTo, r.namespace, ns) && (names.has(r.host) || !isMesh(r)));
  return {
    services,
    routes: bySource(routes, choice.sources),
    policies: all.policies.filter((p) => exportedTo(p.exportTo, p.namespace, ns)),
    tcpRoutes: bySource(
      all.tcpRoutes.filter(
        (r) =>
          exportedTo(r.exportTo, r.namespace, ns) &&
          (names.has(r.host) || !(r.gateways === undefined || r.gateways.includes("mesh"))),
      ),
      choice.sources,
    ),
  };
}

const isMesh = (r: RouteRule) => r.gateways === undefined || r.gateways.includes("mesh");
