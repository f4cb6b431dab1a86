// TCP and TLS routing for Envoy: where a connection to a TCP service goes
// (its TCP routes, weighted, first match wins; else the service itself), and
// the filter chains that pick the service of a connection by destination
// address, or by the server name (SNI) of a TLS client hello.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { packAny } from "@xdskit/xds-types";
import type {
  Filter,
  ListenerFilterSchema,
} from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_components_pb";
import { TlsInspectorSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector_pb";
import type { Service } from "../model.js";
import type { ConnectionMatch, TcpRoute } from "../model-routing.js";
import type { PushContext } from "../push-context.js";
import { clusterName, subsetClusterName } from "./common.js";
import { type WeightedCluster, tcpProxyFilter } from "./listeners.js";

/** A filter chain of a TCP port, as these builders make them. */
export interface FilterChainInit {
  readonly name: string;
  readonly filterChainMatch: {
    readonly prefixRanges?: readonly { readonly addressPrefix: string; readonly prefixLen: number }[];
    readonly serverNames?: readonly string[];
    readonly transportProtocol?: string;
  };
  readonly filters: readonly Filter[];
}

/** The TLS inspector: reads the client hello's server name for SNI chains. */
export function tlsInspector(): MessageInitShape<typeof ListenerFilterSchema> {
  return {
    name: "envoy.filters.listener.tls_inspector",
    configType: { case: "typedConfig", value: packAny(TlsInspectorSchema, {}) },
  };
}

/** Where a TCP route sends connections that came in on `from`; empty when none of its destinations is visible. */
export function tcpDestinations(route: TcpRoute, from: Service | undefined, push: PushContext): WeightedCluster[] {
  return route.split.flatMap((d) => {
    const view = push.destinationOf(d, from);
    if (!view || d.weight <= 0) return [];
    const name = d.subset === undefined ? clusterName(view, push) : subsetClusterName(view, d.subset, push);
    return [{ name, weight: d.weight }];
  });
}

/** The matches of a TCP route that can hold at a port and gateway (none given: one that always holds). */
export function connectionMatches(route: TcpRoute, port: number, gateway: string): ConnectionMatch[] {
  const all = route.match && route.match.length > 0 ? route.match : [{}];
  return all.filter(
    (m) =>
      (m.port === undefined || m.port === port) &&
      (m.gateways === undefined || m.gateways.includes(gateway)) &&
      !(m.sourceLabels && Object.keys(m.sourceLabels).length > 0),
  );
}

// An address or CIDR block as a prefix range.
function prefixRange(a: string) {
  const [ip, bits] = a.split("/") as [string, string | undefined];
  return { addressPrefix: ip, prefixLen: bits !== undefined ? Number(bits) : ip.includes(":") ? 128 : 32 };
}

/**
 * The filter chains of one TCP or TLS service on a sidecar's outbound port:
 * its TLS routes by SNI, then its own connections — by its endpoints' and
 * virtual addresses, and for a TLS service by its name as SNI — to its first
 * applicable TCP route, or to itself.
 */
export function serviceTcpChains(s: Service, port: number, push: PushContext): FilterChainInit[] {
  const chains: FilterChainInit[] = [];
  const stat = `outbound_${port}_${s.name}`;
  let target: WeightedCluster[] | undefined;
  for (const r of push.tcpRoutesFor(s.name)) {
    const matches = connectionMatches(r, port, "mesh");
    if (matches.length === 0) continue;
    const dest = tcpDestinations(r, s, push);
    if (r.kind === "tls") {
      for (const m of matches) {
        if (!m.sniHosts?.length || dest.length === 0) continue;
        chains.push({
          name: `${clusterName(s, push)}|sni:${m.sniHosts.join(",")}`,
          filterChainMatch: { serverNames: [...m.sniHosts], transportProtocol: "tls" },
          filters: [tcpProxyFilter(stat, dest)],
        });
      }
      continue;
    }
    // A TCP route whose matches name addresses narrows by them; otherwise it takes the service's connections.
    if (target === undefined && dest.length > 0 && matches.every((m) => !m.destinationSubnets?.length)) target = dest;
    else if (dest.length > 0)
      for (const m of matches.filter((x) => x.destinationSubnets?.length))
        chains.push({
          name: `${clusterName(s, push)}|to:${m.destinationSubnets?.join(",")}`,
          filterChainMatch: { prefixRanges: (m.destinationSubnets ?? []).map(prefixRange) },
          filters: [tcpProxyFilter(stat, dest)],
        });
  }
  const to = target ?? [{ name: clusterName(s, push), weight: 1 }];
  const addresses = [...new Set([...s.endpoints.map((e) => e.address), ...(s.addresses ?? [])])];
  if (addresses.length > 0)
    chains.push({
      name: clusterName(s, push),
      filterChainMatch: { prefixRanges: addresses.map(prefixRange) },
      filters: [tcpProxyFilter(stat, to)],
    });
  if (s.protocol === "tls")
    chains.push({
      name: `${clusterName(s, push)}|sni`,
      filterChainMatch: { serverNames: [s.name], transportProtocol: "tls" },
      filters: [tcpProxyFilter(stat, to)],
    });
  return chains;
}

/** True when some chain of the list matches on SNI (the listener then needs the TLS inspector). */
export function readsSni(chains: readonly FilterChainInit[]): boolean {
  return chains.some((c) => (c.filterChainMatch?.serverNames?.length ?? 0) > 0);
}
