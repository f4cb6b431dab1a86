// Named gateways (Istio's Gateway servers) on gateway proxies: one bound
// listener per port, holding a chain per kind of server on it — plain HTTP
// (routes `http.<port>`), HTTPS terminated with the server's credential over
// SDS (routes `https.<port>.<gateway>.<n>`, matched by SNI), TLS passed
// through by SNI to the TLS routes bound to the gateway, and TCP to its TCP
// routes. Virtual hosts are the hosts of the rules bound to the port's
// gateways that the servers' host patterns admit.
import { type MessageInitShape, create } from "@bufbuild/protobuf";
import { type Listener, ListenerSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import type { FilterChainSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_components_pb";
import type { RouteConfiguration } from "@xdskit/xds-types/gen/envoy/config/route/v3/route_pb";
import type { VirtualHostSchema } from "@xdskit/xds-types/gen/envoy/config/route/v3/route_components_pb";
import type { Gateway, RouteRule, Service } from "../model.js";
import type { TcpRoute } from "../model-routing.js";
import type { PushContext } from "../push-context.js";
import { socketAddress } from "./common.js";
import { httpRdsFilter, tcpProxyFilter } from "./listeners.js";
import { routeConfiguration, ruleRoutes } from "./routes.js";
import { gatewayDownstreamTls } from "./sds-tls.js";
import { connectionMatches, tcpDestinations, tlsInspector } from "./tcp-routes.js";

type ChainInit = MessageInitShape<typeof FilterChainSchema>;
type VirtualHostInit = MessageInitShape<typeof VirtualHostSchema>;

/** The ports that have named gateways, with their servers, ports ascending. */
export function namedGatewayPorts(push: PushContext): [number, Gateway[]][] {
  const byPort = new Map<number, Gateway[]>();
  for (const g of push.gatewayList) {
    if (g.name === undefined) continue;
    const list = byPort.get(g.port) ?? [];
    list.push(g);
    byPort.set(g.port, list);
  }
  return [...byPort].sort((a, b) => a[0] - b[0]);
}

/** What a server is on the wire. */
export function serverKind(g: Gateway): "http" | "https" | "passthrough" | "tcp" {
  if (g.tls?.mode === "passthrough") return "passthrough";
  if (g.tls) return "https";
  if (g.protocol === "tcp" || g.protocol === "tls") return g.protocol === "tls" ? "passthrough" : "tcp";
  return "http";
}

/**
 * True when a server host pattern admits a host of a rule written in
 * `namespace`: `ns/host` patterns only that namespace's rules (a `*`
 * namespace any, `.` the gateway's own), `*` everything, `*.example.com` its
 * subdomains (and a rule's own wildcard no wider than the pattern).
 */
export function admits(
  pattern: string,
  host: string,
  ruleNamespace: string | undefined,
  gatewayNamespace?: string,
): boolean {
  const slash = pattern.indexOf("/");
  if (slash >= 0) {
    const ns = pattern.slice(0, slash);
    if (ns !== "*" && (ns === "." ? gatewayNamespace : ns) !== ruleNamespace) return false;
    pattern = pattern.slice(slash + 1);
  }
  if (pattern === "*" || pattern === host) return true;
  if (pattern.startsWith("*.")) {
    const suffix = pattern.slice(1);
    return host.endsWith(suffix) && (host.startsWith("*.") ? host.length >= pattern.length : true);
  }
  return host.startsWith("*.") && pattern.endsWith(host.slice(1));
}

const hostOf = (pattern: string) => pattern.slice(pattern.indexOf("/") + 1);

/** The SDS name of a server's credential: `<ns>/<name>` as given, else in the gateway's namespace. */
export function credentialSecret(g: Gateway): string {
  const c = g.tls?.credentialName ?? "";
  return c.includes("/") ? c : `${g.namespace ?? "default"}/${c}`;
}

/** The rules of a host bound to any of the servers' gateways, in order, each once. */
function rulesAt(push: PushContext, host: string, servers: readonly Gateway[]): { rule: RouteRule; gateway: string }[] {
  const seen = new Set<RouteRule>();
  const out: { rule: RouteRule; gateway: string }[] = [];
  for (const name of new Set(servers.map((s) => s.name as string))) {
    for (const rule of push.routesFor(host, name)) {
      if (seen.has(rule)) continue;
      seen.add(rule);
      out.push({ rule, gateway: name });
    }
  }
  return out.sort((a, b) => (a.rule.order ?? Number.MAX_SAFE_INTEGER) - (b.rule.order ?? Number.MAX_SAFE_INTEGER));
}

/** The virtual hosts a group of servers serves: every bound rule host their patterns admit. */
export function gatewayVirtualHosts(servers: readonly Gateway[], push: PushContext): VirtualHostInit[] {
  const port = servers[0]?.port ?? 0;
  const hosts = new Set<string>();
  for (const s of servers)
    for (const host of push.gatewayHosts(s.name as string))
      if (
        s.hosts.some((p) =>
          (push.routes.get(host) ?? []).some(
            (r) => r.gateways?.includes(s.name as string) && admits(p, host, r.namespace, s.namespace),
          ),
        )
      )
        hosts.add(host);
  return [...hosts].sort().map((host) => {
    const at: Service = push.viewOf(host) ?? { name: host, endpoints: [] };
    const routes = rulesAt(push, host, servers).flatMap(({ rule, gateway }) =>
      ruleRoutes(rule, at, push, "gateway", gateway, port),
    );
    return { name: host, domains: host.includes("*") ? [host] : [host, `${host}:*`], routes };
  });
}

/** Route configuration names: `http.<port>` for plain servers, `https.<port>.<gateway>.<n>` for each terminating one. */
export function httpsRouteName(g: Gateway, index: number): string {
  return `https.${g.port}.${g.name}.${index}`;
}

/** The route configurations of one port's servers. */
export function gatewayPortRoutes(port: number, servers: readonly Gateway[], push: PushContext): RouteConfiguration[] {
  const out: RouteConfiguration[] = [];
  const plain = servers.filter((s) => serverKind(s) === "http");
  if (plain.length > 0) out.push(routeConfiguration(`http.${port}`, gatewayVirtualHosts(plain, push)));
  servers.forEach((s, i) => {
    if (serverKind(s) === "https") out.push(routeConfiguration(httpsRouteName(s, i), gatewayVirtualHosts([s], push)));
  });
  return out;
}

/** TCP and TLS routes bound to a gateway, in order. */
function gatewayTcpRoutes(push: PushContext, gateway: string, kind: TcpRoute["kind"]): TcpRoute[] {
  return push.tcpRoutes
    .filter((r) => r.kind === kind && r.gateways?.includes(gateway))
    .sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
}

/** The bound listener of one port's servers. */
export function gatewayPortListener(port: number, servers: readonly Gateway[], push: PushContext): Listener {
  const chains: ChainInit[] = [];
  const stat = `gateway_${port}`;
  servers.forEach((s, i) => {
    const kind = serverKind(s);
    const names = s.hosts.map(hostOf).filter((h) => h !== "*");
    if (kind === "https") {
      const alpn = ["h2", "http/1.1"];
      chains.push({
        name: `https.${port}.${s.name}.${i}`,
        filterChainMatch: { serverNames: names, transportProtocol: "tls" },
        transportSocket: gatewayDownstreamTls(credentialSecret(s), s.tls?.mode === "mutual", alpn),
        filters: [httpRdsFilter(stat, httpsRouteName(s, i))],
      });
    } else if (kind === "passthrough") {
      for (const r of gatewayTcpRoutes(push, s.name as string, "tls")) {
        const dest = tcpDestinations(r, push.viewOf(r.split[0]?.service ?? ""), push);
        for (const m of connectionMatches(r, port, s.name as string)) {
          const sni = (m.sniHosts ?? []).filter((h) => s.hosts.some((p) => admits(p, h, undefined)));
          if (sni.length === 0 || dest.length === 0) continue;
          chains.push({
            name: `tls.${port}.${s.name}.${sni.join(",")}`,
            filterChainMatch: { serverNames: sni, transportProtocol: "tls" },
            filters: [tcpProxyFilter(stat, dest)],
          });
        }
      }
    } else if (kind === "tcp") {
      const r = gatewayTcpRoutes(push, s.name as string, "tcp").find(
        (x) => connectionMatches(x, port, s.name as string).length > 0,
      );
      const dest = r ? tcpDestinations(r, push.viewOf(r.split[0]?.service ?? ""), push) : [];
      if (dest.length > 0) chains.push({ name: `tcp.${port}.${s.name}`, filters: [tcpProxyFilter(stat, dest)] });
    }
  });
  if (servers.some((s) => serverKind(s) === "http"))
    chains.push({ name: `http.${port}`, filters: [httpRdsFilter(stat, `http.${port}`)] });
  // Envoy refuses equal matches: the first server claiming a server name keeps it.
  const claimed = new Set<string>();
  const unique = chains.filter((c) => {
    const key = `${c.filterChainMatch?.transportProtocol ?? ""}|${[...(c.filterChainMatch?.serverNames ?? [])].sort().join(",")}`;
    if (claimed.has(key)) return false;
    claimed.add(key);
    return true;
  });
  const sni = unique.some((c) => c.filterChainMatch?.transportProtocol === "tls");
  return create(ListenerSchema, {
    name: `0.0.0.0_${port}`,
    address: socketAddress("0.0.0.0", port),
    filterChains: unique,
    ...(sni ? { listenerFilters: [tlsInspector()] } : {}),
  });
}

/** What one port's listener and routes read, as a memo key. */
export function gatewayPortInputs(port: number, servers: readonly Gateway[], push: PushContext): string {
  const names = new Set(servers.map((s) => s.name as string));
  const hosts = [...names].flatMap((n) => push.gatewayHosts(n));
  const rules = hosts.map((h) => push.routes.get(h));
  const tcp = push.tcpRoutes.filter((r) => r.gateways?.some((g) => names.has(g)));
  const targets = [...rules.flat(), ...tcp]
    .flatMap((r) =>
      r ? [...r.split.map((d) => d.service), ...("mirror" in r && r.mirror ? [r.mirror.service] : [])] : [],
    )
    .map((n) =>
      push
        .viewsOf(n)
        .map((v) => `${n}:${push.portOf(v)}:${JSON.stringify(v.loadBalancer ?? null)}`)
        .join(","),
    );
  return JSON.stringify([port, servers, rules, tcp, targets]);
}
