// The config half of the controller's guard: routes, TCP routes, gateways,
// destination policies and sidecar scopes are checked one by one, and a bad
// one is refused alone — with its name and the field path — while every
// other is served. (Services stay all or nothing: a service list that does
// not check out is a source in trouble.) Sources that refuse per object
// themselves (Istio resources) and sources that refuse whole files (the mesh
// file) both end here with a consistent model.
import type { ConfigStore } from "./sources.js";
import type { Gateway, RouteRule, Service } from "./model.js";
import type { SidecarScope, TcpRoute } from "./model-routing.js";
import type { DestinationPolicy } from "./policy.js";
import { validateGateway, validateRoute } from "./validate-model.js";
import { validateDestinationPolicy, validateSidecarScope, validateTcpRoute } from "./validate-routing.js";
import type { AccessPolicy, PeerAuthenticationPolicy } from "./model-security.js";
import { validateAccessPolicy, validatePeerAuthentication } from "./validate-security.js";

/** Config that passed its checks, and what was refused. */
export interface AcceptedConfig {
  readonly routes: readonly RouteRule[];
  readonly gateways: readonly Gateway[];
  readonly policies: readonly DestinationPolicy[];
  readonly tcpRoutes: readonly TcpRoute[];
  readonly sidecars: readonly SidecarScope[];
  readonly peerAuthentications: readonly PeerAuthenticationPolicy[];
  readonly accessPolicies: readonly AccessPolicy[];
  /** Objects refused, each as `what: reason` (the rest is served). */
  readonly refused: readonly string[];
}

function listOf<T>(what: string, read: (() => readonly T[]) | undefined): readonly T[] {
  const v = read?.();
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new Error(`${what}(): expected a list`);
  return v;
}

const label = (kind: string, i: number, name: string | undefined) => `${kind}[${i}]${name ? ` (${name})` : ""}`;

/**
 * Reads and checks a config store's output against the accepted services.
 * A refused object with a name whose last accepted version (in `previous`,
 * by the same name) still checks out is served in that version.
 */
export function acceptConfig(
  config: ConfigStore | undefined,
  services: readonly Service[],
  previous?: Omit<AcceptedConfig, "refused">,
): AcceptedConfig {
  const refused: string[] = [];
  const byName = new Map(services.map((s) => [s.name, s]));
  const keep = <T extends { readonly name?: string | undefined }>(
    items: readonly T[],
    where: (x: T, i: number) => string,
    check: (x: T, at: string) => void,
    before: readonly T[] = [],
  ): T[] =>
    items.flatMap((x, i) => {
      const at = where(x, i);
      try {
        check(x, at);
        return [x];
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        const name = x?.name;
        const last = name === undefined ? undefined : before.find((b) => b.name === name && b !== x);
        if (last) {
          try {
            check(last, at);
            refused.push(`${reason} (its last good version is served)`);
            return [last];
          } catch {
            // the last version no longer holds either
          }
        }
        refused.push(reason);
        return [];
      }
    });
  const store = config;
  const gateways = keep(
    listOf("gateways", store?.gateways?.bind(store)),
    (g, i) => label("gateways", i, g?.name),
    (g, at) => {
      validateGateway(g, at);
      if (g.name === undefined) {
        g.hosts.forEach((h, j) => {
          if (!byName.has(h)) throw new Error(`${at}.hosts[${j}]: no service named "${h}"`);
        });
      }
    },
    previous?.gateways,
  );
  // Unnamed gateways own their port; a later one on the same port is refused.
  const owned = new Set<number>();
  const uniqueGateways = gateways.filter((g, i) => {
    if (g.name !== undefined) return true;
    if (!owned.has(g.port)) {
      owned.add(g.port);
      return true;
    }
    refused.push(`gateways[${i}].port: port ${g.port} is used by another gateway`);
    return false;
  });
  const policies = keep(
    listOf("policies", store?.policies?.bind(store)),
    (p, i) => label("policies", i, p?.name),
    (p, at) => {
      validateDestinationPolicy(p, at);
      // A wildcard host applies to whichever services it matches, none included.
      if (!p.host.startsWith("*") && !byName.has(p.host)) throw new Error(`${at}.host: no service named "${p.host}"`);
    },
    previous?.policies,
  );
  // Subsets a route may name: the service's own and its destination policies'.
  const subsetsOf = (host: string) =>
    new Set([
      ...(byName.get(host)?.subsets ?? []).map((x) => x.name),
      ...policies.filter((p) => p.host === host).flatMap((p) => (p.subsets ?? []).map((x) => x.name)),
    ]);
  const gatewayNames = new Set(uniqueGateways.flatMap((g) => (g.name ? [g.name] : [])));
  const routes = keep(
    listOf("routes", store ? () => store.routes() : undefined),
    (r, i) => label("routes", i, r?.name),
    (r, at) => {
      validateRoute(r, at);
      routeReferences(r, at, byName, subsetsOf, gatewayNames);
    },
    previous?.routes,
  );
  const tcpRoutes = keep(
    listOf("tcpRoutes", store?.tcpRoutes?.bind(store)),
    (r, i) => label("tcpRoutes", i, r?.name),
    (r, at) => {
      validateTcpRoute(r, at);
      r.split.forEach((d, j) => {
        if (!byName.has(d.service)) throw new Error(`${at}.split[${j}].service: no service named "${d.service}"`);
        if (d.subset !== undefined && !subsetsOf(d.service).has(d.subset))
          throw new Error(`${at}.split[${j}].subset: service "${d.service}" has no subset "${d.subset}"`);
      });
      (r.gateways ?? []).forEach((g, i) => {
        if (g !== "mesh" && !gatewayNames.has(g)) throw new Error(`${at}.gateways[${i}]: no gateway named "${g}"`);
      });
    },
    previous?.tcpRoutes,
  );
  const sidecars = keep(
    listOf("sidecars", store?.sidecars?.bind(store)),
    (s, i) => label("sidecars", i, s?.name),
    validateSidecarScope,
    previous?.sidecars,
  );
  const peerAuthentications = keep(
    listOf("peerAuthentications", store?.peerAuthentications?.bind(store)),
    (p, i) => label("peerAuthentications", i, p?.name),
    validatePeerAuthentication,
    previous?.peerAuthentications,
  );
  const accessPolicies = keep(
    listOf("accessPolicies", store?.accessPolicies?.bind(store)),
    (p, i) => label("accessPolicies", i, p?.name),
    validateAccessPolicy,
    previous?.accessPolicies,
  );
  return {
    routes,
    gateways: uniqueGateways,
    policies,
    tcpRoutes,
    sidecars,
    peerAuthentications,
    accessPolicies,
    refused,
  };
}

function routeReferences(
  r: RouteRule,
  at: string,
  byName: ReadonlyMap<string, Service>,
  subsetsOf: (host: string) => ReadonlySet<string>,
  gateways: ReadonlySet<string>,
): void {
  const mesh = r.gateways === undefined || r.gateways.includes("mesh");
  if (mesh && !byName.has(r.host)) throw new Error(`${at}.host: no service named "${r.host}"`);
  (r.gateways ?? []).forEach((g, i) => {
    if (g !== "mesh" && !gateways.has(g)) throw new Error(`${at}.gateways[${i}]: no gateway named "${g}"`);
  });
  const dest = (service: string, subset: string | undefined, port: number | undefined, where: string) => {
    const target = byName.get(service);
    if (!target) throw new Error(`${where}.service: no service named "${service}"`);
    if (subset !== undefined && !subsetsOf(service).has(subset))
      throw new Error(`${where}.subset: service "${service}" has no subset "${subset}"`);
    if (port !== undefined && target.ports && !target.ports.some((p) => p.port === port))
      throw new Error(
        `${where}.port: service "${service}" has no port ${port}; it has ${target.ports.map((p) => p.port).join(", ")}`,
      );
  };
  r.split.forEach((d, j) => {
    dest(d.service, d.subset, d.port, `${at}.split[${j}]`);
  });
  if (r.mirror) dest(r.mirror.service, r.mirror.subset, r.mirror.port, `${at}.mirror`);
}
