// The sidecar layout, shaped like Istio's so a real Envoy accepts it:
//
//   virtualOutbound  0.0.0.0:15001  use_original_dst: hands each captured
//                                    connection to the listener of its original
//                                    destination port; unknown → PassthroughCluster
//   0.0.0.0_<port>   bind_to_port: false, one per service port: HTTP (HCM, RDS
//                                    "<port>", unknown hosts → PassthroughCluster)
//                                    or TCP (by destination IP or TLS server name
//                                    → the service's TCP routes or its cluster;
//                                    else PassthroughCluster)
//   (registry-only Sidecar scopes: BlackHoleCluster and 502 instead of passthrough)
//   virtualInbound   0.0.0.0:15006  original_dst listener filter; a filter chain
//                                    per inbound port → inbound|<port>|| (the
//                                    workload on 127.0.0.1); else InboundPassthroughCluster
//
// No listener binds a port the application uses.
import { type MessageInitShape, create } from "@bufbuild/protobuf";
import { packAny } from "@xdskit/xds-types";
import { TrafficDirection } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { type Listener, ListenerSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import { OriginalDstSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/listener/original_dst/v3/original_dst_pb";
import type { Service } from "../model.js";
import type { PushContext } from "../push-context.js";
import {
  BLACKHOLE_CLUSTER,
  INBOUND_CAPTURE_PORT,
  INBOUND_PASSTHROUGH_CLUSTER,
  OUTBOUND_CAPTURE_PORT,
  PASSTHROUGH_CLUSTER,
  inboundClusterName,
  socketAddress,
} from "./common.js";
import { httpRdsFilter, tcpProxyFilter } from "./listeners.js";
import { type FilterChainInit, readsSni, serviceTcpChains, tlsInspector } from "./tcp-routes.js";

/** Services by the port clients call, ports ascending. */
export function servicesByPort(push: PushContext): [number, Service[]][] {
  const byPort = new Map<number, Service[]>();
  for (const s of push.views) {
    const p = push.portOf(s);
    const list = byPort.get(p);
    if (list) list.push(s);
    else byPort.set(p, [s]);
  }
  return [...byPort].sort((a, b) => a[0] - b[0]);
}

/** True when every service on a port is TCP or TLS: the port gets TCP proxies instead of the HTTP connection manager. */
export function isTcpPort(services: readonly Service[]): boolean {
  return services.every((s) => s.protocol === "tcp" || s.protocol === "tls");
}

/** Where connections to destinations the mesh does not know go: through, or nowhere (registry-only). */
export function unknownDestination(push: PushContext): string {
  return push.outboundTrafficPolicy === "registry-only" ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER;
}

/** The listener that takes every captured outbound connection and hands it on by original destination. */
export function virtualOutbound(push?: PushContext): Listener {
  const unknown = push ? unknownDestination(push) : PASSTHROUGH_CLUSTER;
  return create(ListenerSchema, {
    name: "virtualOutbound",
    address: socketAddress("0.0.0.0", OUTBOUND_CAPTURE_PORT),
    useOriginalDst: true,
    trafficDirection: TrafficDirection.OUTBOUND,
    filterChains: [{ name: "virtualOutbound-catchall-tcp", filters: [tcpProxyFilter(unknown, unknown)] }],
  });
}

// Envoy refuses two chains with equal matches: an address (or server name)
// a service earlier on the port already claimed is left out of later ones.
function withoutClaimed(chains: FilterChainInit[], claimed: Set<string>): FilterChainInit[] {
  const out: FilterChainInit[] = [];
  for (const c of chains) {
    const m = c.filterChainMatch;
    const ranges = (m?.prefixRanges ?? []).filter((r) => !claimed.has(`ip:${r.addressPrefix}/${r.prefixLen}`));
    const names = (m?.serverNames ?? []).filter((n) => !claimed.has(`sni:${n}`));
    if ((m?.prefixRanges?.length ?? 0) > 0 && ranges.length === 0) continue;
    if ((m?.serverNames?.length ?? 0) > 0 && names.length === 0) continue;
    for (const r of ranges) claimed.add(`ip:${r.addressPrefix}/${r.prefixLen}`);
    for (const n of names) claimed.add(`sni:${n}`);
    out.push({ ...c, filterChainMatch: { ...m, prefixRanges: ranges, serverNames: names } });
  }
  return out;
}

/** The outbound listener of one service port; it never binds the port. */
export function outboundPortListener(port: number, services: readonly Service[], push: PushContext): Listener {
  const name = `0.0.0.0_${port}`;
  if (!isTcpPort(services)) {
    return create(ListenerSchema, {
      name,
      address: socketAddress("0.0.0.0", port),
      bindToPort: false,
      trafficDirection: TrafficDirection.OUTBOUND,
      filterChains: [{ filters: [httpRdsFilter(`outbound_${name}`, String(port))] }],
    });
  }
  // Without service VIPs, a TCP connection says where it goes by its
  // destination address (its endpoints' or the service's own addresses), or
  // for TLS by the server name it asks for.
  const claimed = new Set<string>();
  const filterChains = services.flatMap((s) => withoutClaimed(serviceTcpChains(s, port, push), claimed));
  const unknown = unknownDestination(push);
  return create(ListenerSchema, {
    name,
    address: socketAddress("0.0.0.0", port),
    bindToPort: false,
    trafficDirection: TrafficDirection.OUTBOUND,
    filterChains: filterChains.map((c) => ({
      name: c.name,
      filterChainMatch: {
        prefixRanges: [...(c.filterChainMatch.prefixRanges ?? [])],
        serverNames: [...(c.filterChainMatch.serverNames ?? [])],
        ...(c.filterChainMatch.transportProtocol ? { transportProtocol: c.filterChainMatch.transportProtocol } : {}),
      },
      filters: [...c.filters],
    })),
    ...(readsSni(filterChains) ? { listenerFilters: [tlsInspector()] } : {}),
    defaultFilterChain: { name: unknown, filters: [tcpProxyFilter(unknown, unknown)] },
  });
}

/**
 * The listener that takes every captured inbound connection: the given
 * chains by original destination (a TLS inspector too when `inspect`), the
 * rest through InboundPassthroughCluster.
 */
export function inboundListener(
  filterChains: MessageInitShape<typeof ListenerSchema>["filterChains"],
  inspect = false,
): Listener {
  return create(ListenerSchema, {
    name: "virtualInbound",
    address: socketAddress("0.0.0.0", INBOUND_CAPTURE_PORT),
    trafficDirection: TrafficDirection.INBOUND,
    listenerFilters: [
      {
        name: "envoy.filters.listener.original_dst",
        configType: { case: "typedConfig", value: packAny(OriginalDstSchema, {}) },
      },
      ...(inspect ? [tlsInspector()] : []),
    ],
    filterChains: filterChains ?? [],
    defaultFilterChain: {
      name: INBOUND_PASSTHROUGH_CLUSTER,
      filters: [tcpProxyFilter(INBOUND_PASSTHROUGH_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER)],
    },
  });
}

/** The listener that takes every captured inbound connection: a chain per port the workload serves. */
export function virtualInbound(inboundPorts: readonly number[]): Listener {
  return inboundListener(
    inboundPorts.map((port) => ({
      name: inboundClusterName(port),
      filterChainMatch: { destinationPort: port },
      filters: [tcpProxyFilter(`inbound_${port}`, inboundClusterName(port))],
    })),
  );
}
