// The sidecar layout, shaped like Istio's so a real Envoy accepts it:
//
//   virtualOutbound  0.0.0.0:15001  use_original_dst: hands each captured
//                                    connection to the listener of its original
//                                    destination port; unknown → PassthroughCluster
//   0.0.0.0_<port>   bind_to_port: false, one per service port: HTTP (HCM, RDS
//                                    "<port>", unknown hosts → PassthroughCluster)
//                                    or TCP (by destination IP → the service's
//                                    cluster; else PassthroughCluster)
//   virtualInbound   0.0.0.0:15006  original_dst listener filter; a filter chain
//                                    per inbound port → inbound|<port>|| (the
//                                    workload on 127.0.0.1); else InboundPassthroughCluster
//
// No listener binds a port the application uses.
import { type MessageInitShape, create } from "@bufbuild/protobuf";
import { packAny } from "@xdskit/xds-types";
import { TrafficDirection } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { type Listener, ListenerSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import type { FilterChainSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_components_pb";
import { OriginalDstSchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/listener/original_dst/v3/original_dst_pb";
import type { Service } from "../model.js";
import type { PushContext } from "../push-context.js";
import {
  INBOUND_CAPTURE_PORT,
  INBOUND_PASSTHROUGH_CLUSTER,
  OUTBOUND_CAPTURE_PORT,
  PASSTHROUGH_CLUSTER,
  clusterName,
  inboundClusterName,
  socketAddress,
} from "./common.js";
import { httpRdsFilter, tcpProxyFilter } from "./listeners.js";

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

/** True when every service on a port is TCP: the port gets a TCP proxy instead of the HTTP connection manager. */
export function isTcpPort(services: readonly Service[]): boolean {
  return services.every((s) => s.protocol === "tcp");
}

/** The listener that takes every captured outbound connection and hands it on by original destination. */
export function virtualOutbound(): Listener {
  return create(ListenerSchema, {
    name: "virtualOutbound",
    address: socketAddress("0.0.0.0", OUTBOUND_CAPTURE_PORT),
    useOriginalDst: true,
    trafficDirection: TrafficDirection.OUTBOUND,
    filterChains: [
      { name: "virtualOutbound-catchall-tcp", filters: [tcpProxyFilter(PASSTHROUGH_CLUSTER, PASSTHROUGH_CLUSTER)] },
    ],
  });
}

/** The outbound listener of one service port; it never binds the port. */
export function outboundPortListener(port: number, services: readonly Service[], push: PushContext): Listener {
  const name = `0.0.0.0_${port}`;
  let filterChains: MessageInitShape<typeof FilterChainSchema>[];
  if (isTcpPort(services)) {
    // Without service VIPs, a TCP connection says where it goes by its
    // destination IP: each service's endpoints get a chain of their own.
    filterChains = services
      .filter((s) => s.endpoints.length > 0)
      .map((s) => ({
        name: clusterName(s, push),
        filterChainMatch: {
          prefixRanges: [...new Set(s.endpoints.map((e) => e.address))].map((ip) => ({
            addressPrefix: ip,
            prefixLen: ip.includes(":") ? 128 : 32,
          })),
        },
        filters: [tcpProxyFilter(`outbound_${port}_${s.name}`, clusterName(s, push))],
      }));
  } else {
    filterChains = [{ filters: [httpRdsFilter(`outbound_${name}`, String(port))] }];
  }
  return create(ListenerSchema, {
    name,
    address: socketAddress("0.0.0.0", port),
    bindToPort: false,
    trafficDirection: TrafficDirection.OUTBOUND,
    filterChains,
    ...(isTcpPort(services)
      ? {
          defaultFilterChain: {
            name: PASSTHROUGH_CLUSTER,
            filters: [tcpProxyFilter(PASSTHROUGH_CLUSTER, PASSTHROUGH_CLUSTER)],
          },
        }
      : {}),
  });
}

/** The listener that takes every captured inbound connection: a chain per port the workload serves. */
export function virtualInbound(inboundPorts: readonly number[]): Listener {
  return create(ListenerSchema, {
    name: "virtualInbound",
    address: socketAddress("0.0.0.0", INBOUND_CAPTURE_PORT),
    trafficDirection: TrafficDirection.INBOUND,
    listenerFilters: [
      {
        name: "envoy.filters.listener.original_dst",
        configType: { case: "typedConfig", value: packAny(OriginalDstSchema, {}) },
      },
    ],
    filterChains: inboundPorts.map((port) => ({
      name: inboundClusterName(port),
      filterChainMatch: { destinationPort: port },
      filters: [tcpProxyFilter(`inbound_${port}`, inboundClusterName(port))],
    })),
    defaultFilterChain: {
      name: INBOUND_PASSTHROUGH_CLUSTER,
      filters: [tcpProxyFilter(INBOUND_PASSTHROUGH_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER)],
    },
  });
}
