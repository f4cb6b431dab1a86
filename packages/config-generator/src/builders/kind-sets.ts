// The shared listeners and route configurations of each kind of client, as
// sets: one memoized resource per service, port or gateway port. The
// generator's protected methods call these with its own `memo`, so a subclass
// that overrides `memo` or one kind's method still sees every build.
import type { Message } from "@bufbuild/protobuf";
import { TypeUrl } from "@xdskit/xds-types";
import type { Listener } from "@xdskit/xds-types/gen/envoy/config/listener/v3/listener_pb";
import type { RouteConfiguration } from "@xdskit/xds-types/gen/envoy/config/route/v3/route_pb";
import type { PushContext } from "../push-context.js";
import { gatewayPortInputs, gatewayPortListener, gatewayPortRoutes, namedGatewayPorts } from "./gateways.js";
import { clusterInputs, gatewayInputs, portInputs, routeInputs } from "./inputs.js";
import { gatewayListener, gatewayRouteName, proxylessListeners, proxylessRouteName } from "./listeners.js";
import { routeConfiguration, serviceVirtualHost, unknownHostVirtualHost } from "./routes.js";
import { isTcpPort, outboundPortListener, servicesByPort, virtualOutbound } from "./sidecar.js";

/** A memoized build: the resource built for `slot` from `inputs`, reused while they stay the same. */
export type Memo = <T extends Message | readonly Message[]>(
  typeUrl: string,
  slot: string,
  inputs: string,
  build: () => T,
) => T;

/** API listeners for every service (proxyless gRPC). */
export function proxylessListenerSet(push: PushContext, memo: Memo): Listener[] {
  return push.views
    .filter((s) => !s.passthrough)
    .flatMap((s) =>
      memo(
        TypeUrl.Listener,
        `grpc|${s.name}:${push.portOf(s)}`,
        `${clusterInputs(s, push)}|${push.isDefaultPort(s)}`,
        () => proxylessListeners(s, push),
      ),
    );
}

/** A route configuration per service, named after it (proxyless gRPC). */
export function proxylessRouteSet(push: PushContext, memo: Memo): RouteConfiguration[] {
  return push.views
    .filter((s) => !s.passthrough)
    .map((s) =>
      memo(
        TypeUrl.RouteConfiguration,
        `grpc|${push.scopeKey}|${s.name}:${push.portOf(s)}`,
        `${routeInputs(s, push)}|${push.isDefaultPort(s)}`,
        () => routeConfiguration(proxylessRouteName(s, push), [serviceVirtualHost(s, push, "proxyless")]),
      ),
    );
}

/** virtualOutbound and an outbound listener per service port (sidecars). */
export function sidecarListenerSet(push: PushContext, memo: Memo): Listener[] {
  const policy = push.outboundTrafficPolicy;
  const out = [memo(TypeUrl.Listener, `virtualOutbound|${policy}`, "", () => virtualOutbound(push))];
  for (const [port, services] of servicesByPort(push)) {
    out.push(
      memo(TypeUrl.Listener, `sidecar|${push.scopeKey}|${port}`, `${policy}|${portInputs(services, push)}`, () =>
        outboundPortListener(port, services, push),
      ),
    );
  }
  return out;
}

/** A route configuration per HTTP port: a virtual host per service, and `allow_any` for the rest (sidecars). */
export function sidecarRouteSet(push: PushContext, memo: Memo): RouteConfiguration[] {
  return servicesByPort(push)
    .filter(([, services]) => !isTcpPort(services))
    .map(([port, services]) =>
      memo(
        TypeUrl.RouteConfiguration,
        `sidecar|${push.scopeKey}|${port}`,
        `${push.outboundTrafficPolicy}|${push.clientNamespace ?? ""}|${portInputs(services, push)}`,
        () =>
          routeConfiguration(String(port), [
            ...services
              .filter((s) => s.protocol !== "tcp" && s.protocol !== "tls")
              .map((s) => serviceVirtualHost(s, push, "sidecar")),
            unknownHostVirtualHost(push),
          ]),
      ),
    );
}

/** A bound listener per gateway port: the mesh file's by service, and named gateways' servers. */
export function gatewayListenerSet(push: PushContext, memo: Memo): Listener[] {
  const named = namedGatewayPorts(push);
  const namedPorts = new Set(named.map(([p]) => p));
  const out = [...push.gateways.values()]
    .filter((g) => g.name === undefined && !namedPorts.has(g.port))
    .map((g) => memo(TypeUrl.Listener, `gateway|${g.port}`, String(g.port), () => gatewayListener(g)));
  for (const [port, servers] of named)
    out.push(
      memo(TypeUrl.Listener, `gateway|${push.scopeKey}|${port}`, gatewayPortInputs(port, servers, push), () =>
        gatewayPortListener(port, servers, push),
      ),
    );
  return out;
}

/** Route configurations of gateway ports: a virtual host per host (matched with any port). */
export function gatewayRouteSet(push: PushContext, memo: Memo): RouteConfiguration[] {
  const named = namedGatewayPorts(push);
  const namedPorts = new Set(named.map(([p]) => p));
  const out = [...push.gateways.values()]
    .filter((g) => g.name === undefined && !namedPorts.has(g.port))
    .map((g) =>
      memo(TypeUrl.RouteConfiguration, `gateway|${g.port}`, gatewayInputs(g, push), () =>
        routeConfiguration(
          gatewayRouteName(g),
          g.hosts.flatMap((h) => {
            const s = push.viewOf(h);
            return s ? [serviceVirtualHost(s, push, "gateway", [h, `${h}:*`])] : [];
          }),
        ),
      ),
    );
  for (const [port, servers] of named)
    out.push(
      ...memo(
        TypeUrl.RouteConfiguration,
        `gateway|${push.scopeKey}|${port}`,
        gatewayPortInputs(port, servers, push),
        () => gatewayPortRoutes(port, servers, push),
      ),
    );
  return out;
}
