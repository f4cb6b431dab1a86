// Listeners: API listeners for proxyless gRPC, bound listeners for gateways,
// and the network filters they share with the sidecar layout.
import { create } from "@bufbuild/protobuf";
import { httpConnectionManagerFilter, packAny, packHttpConnectionManager, routerHttpFilter } from "@xdskit/xds-types";
import { type Listener, ListenerSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import { type Filter, FilterSchema } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_components_pb";
import { TcpProxySchema } from "@xdskit/xds-types/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy_pb";
import type { Gateway, Service } from "../model.js";
import type { PushContext } from "../push-context.js";
import { ADS, corsHttpFilter, faultHttpFilter, socketAddress } from "./common.js";

/** A cluster and its share of connections. */
export interface WeightedCluster {
  readonly name: string;
  readonly weight: number;
}

/** A TCP proxy network filter to one cluster, or spread over several by weight. */
export function tcpProxyFilter(statPrefix: string, cluster: string | readonly WeightedCluster[]): Filter {
  const only = typeof cluster === "string" ? cluster : cluster.length === 1 ? cluster[0]?.name : undefined;
  return create(FilterSchema, {
    name: "envoy.filters.network.tcp_proxy",
    configType: {
      case: "typedConfig",
      value: packAny(TcpProxySchema, {
        statPrefix,
        clusterSpecifier:
          only !== undefined
            ? { case: "cluster", value: only }
            : { case: "weightedClusters", value: { clusters: [...(cluster as readonly WeightedCluster[])] } },
      }),
    },
  });
}

/** An HTTP connection manager network filter over RDS, with the fault and router filters. */
export function httpRdsFilter(statPrefix: string, routeConfigName: string): Filter {
  return httpConnectionManagerFilter({
    statPrefix,
    routeSpecifier: { case: "rds", value: { routeConfigName, configSource: ADS } },
    httpFilters: [corsHttpFilter(), faultHttpFilter(), routerHttpFilter()],
  });
}

/**
 * gRPC names the listener after the dial target: xds:///echo and
 * xds:///echo:8080; for a service with several ports, the bare name is its
 * first port's.
 */
export function proxylessListenerNames(service: Service, push: PushContext): string[] {
  const withPort = `${service.name}:${push.portOf(service)}`;
  return push.isDefaultPort(service) ? [service.name, withPort] : [withPort];
}

/** The route configuration a proxyless listener reads: the service's name, with the port for a further port. */
export function proxylessRouteName(service: Service, push: PushContext): string {
  return push.isDefaultPort(service) ? service.name : `${service.name}:${push.portOf(service)}`;
}

/** The API listeners of one service for proxyless gRPC clients, reading the service's route configuration. */
export function proxylessListeners(service: Service, push: PushContext): Listener[] {
  return proxylessListenerNames(service, push).map((name) =>
    create(ListenerSchema, {
      name,
      apiListener: {
        apiListener: packHttpConnectionManager({
          statPrefix: name,
          routeSpecifier: {
            case: "rds",
            value: { routeConfigName: proxylessRouteName(service, push), configSource: ADS },
          },
          httpFilters: [faultHttpFilter(), routerHttpFilter()],
        }),
      },
    }),
  );
}

/** The route configuration name of a gateway port. */
export function gatewayRouteName(gateway: Gateway): string {
  return `http.${gateway.port}`;
}

/** A gateway port's listener: it binds the port and routes by authority (HTTP/1.1, HTTP/2, gRPC). */
export function gatewayListener(gateway: Gateway): Listener {
  const name = `0.0.0.0_${gateway.port}`;
  return create(ListenerSchema, {
    name,
    address: socketAddress("0.0.0.0", gateway.port),
    filterChains: [{ filters: [httpRdsFilter(`gateway_${gateway.port}`, gatewayRouteName(gateway))] }],
  });
}
