import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { type TransportSocket, TransportSocketSchema } from "./gen/envoy/config/core/v3/base_pb.js";
import { type Filter, FilterSchema } from "./gen/envoy/config/listener/v3/listener_components_pb.js";
import { RouterSchema } from "./gen/envoy/extensions/filters/http/router/v3/router_pb.js";
import {
  type HttpConnectionManager,
  HttpConnectionManagerSchema,
  type HttpFilter,
  HttpFilterSchema,
} from "./gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import {
  DownstreamTlsContextSchema,
  UpstreamTlsContextSchema,
} from "./gen/envoy/extensions/transport_sockets/tls/v3/tls_pb.js";
import { packAny, unpackAny } from "./any.js";
import type { Any } from "@bufbuild/protobuf/wkt";

/** Well-known extension names Envoy and gRPC use for the typed configs below. */
export const ExtensionName = {
  httpConnectionManager: "envoy.filters.network.http_connection_manager",
  router: "envoy.filters.http.router",
  tls: "envoy.transport_sockets.tls",
} as const;

/** Packs an HttpConnectionManager into the Any a Listener's `api_listener` or network filter carries. */
export function packHttpConnectionManager(init: MessageInitShape<typeof HttpConnectionManagerSchema>): Any {
  return packAny(HttpConnectionManagerSchema, init);
}

/** Unpacks the HttpConnectionManager from an Any, with a clear error if it holds something else. */
export function unpackHttpConnectionManager(any: Any | undefined): HttpConnectionManager {
  return unpackAny(any, HttpConnectionManagerSchema);
}

/** A network filter running the HTTP connection manager with the given config. */
export function httpConnectionManagerFilter(init: MessageInitShape<typeof HttpConnectionManagerSchema>): Filter {
  return create(FilterSchema, {
    name: ExtensionName.httpConnectionManager,
    configType: { case: "typedConfig", value: packHttpConnectionManager(init) },
  });
}

/** The router HTTP filter, which every HCM filter chain must end with. */
export function routerHttpFilter(init: MessageInitShape<typeof RouterSchema> = {}): HttpFilter {
  return create(HttpFilterSchema, {
    name: ExtensionName.router,
    configType: { case: "typedConfig", value: packAny(RouterSchema, init) },
  });
}

/** A TLS transport socket for a Cluster (client side). */
export function upstreamTlsTransportSocket(init: MessageInitShape<typeof UpstreamTlsContextSchema>): TransportSocket {
  return create(TransportSocketSchema, {
    name: ExtensionName.tls,
    configType: { case: "typedConfig", value: packAny(UpstreamTlsContextSchema, init) },
  });
}

/** A TLS transport socket for a Listener's filter chain (server side). */
export function downstreamTlsTransportSocket(
  init: MessageInitShape<typeof DownstreamTlsContextSchema>,
): TransportSocket {
  return create(TransportSocketSchema, {
    name: ExtensionName.tls,
    configType: { case: "typedConfig", value: packAny(DownstreamTlsContextSchema, init) },
  });
}

/** Reads the UpstreamTlsContext out of a transport socket. */
export function unpackUpstreamTlsContext(socket: TransportSocket) {
  return unpackAny(
    socket.configType.case === "typedConfig" ? socket.configType.value : undefined,
    UpstreamTlsContextSchema,
  );
}

/** Reads the DownstreamTlsContext out of a transport socket. */
export function unpackDownstreamTlsContext(socket: TransportSocket) {
  return unpackAny(
    socket.configType.case === "typedConfig" ? socket.configType.value : undefined,
    DownstreamTlsContextSchema,
  );
}
