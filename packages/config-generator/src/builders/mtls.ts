// Mutual TLS between sidecars with the workload certificates the mesh issues
// over SDS (`default`, and `ROOTCA` to check the peer): what a client's
// cluster originates and what a server's inbound chain terminates. Auto mTLS
// as Istio's: a cluster speaks mutual TLS to the endpoints that run a
// sidecar (label `security.istio.io/tlsMode: istio`, carried to Envoy as
// endpoint metadata) and plaintext to the rest.
import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import { packAny } from "@xdskit/xds-types";
import type { TransportSocketSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import { RawBufferSchema } from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer_pb";
import type { Service, ServiceEndpoint } from "../model.js";
import type { PushContext } from "../push-context.js";
import { TLS_TRANSPORT_SOCKET } from "./cluster-policy.js";
import { sdsCommonTls } from "./sds-tls.js";
import {
  DownstreamTlsContextSchema,
  UpstreamTlsContextSchema,
} from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/tls/v3/tls_pb";

type SocketInit = MessageInitShape<typeof TransportSocketSchema>;

/** The label Istio puts on workloads that run a sidecar. */
export const TLS_MODE_LABEL = "security.istio.io/tlsMode";
/** The endpoint metadata key Envoy's transport socket matches read. */
export const SOCKET_MATCH_KEY = "envoy.transport_socket_match";

/** True when an endpoint runs a sidecar that speaks mutual TLS. */
export function speaksMtls(e: ServiceEndpoint): boolean {
  return e.labels?.[TLS_MODE_LABEL] === "istio";
}

/** The endpoint metadata that selects the mutual TLS socket (undefined for an endpoint without a sidecar). */
export function socketMatchMetadata(e: ServiceEndpoint): { filterMetadata: Record<string, JsonObject> } | undefined {
  return speaksMtls(e) ? { filterMetadata: { [SOCKET_MATCH_KEY]: { tlsMode: "istio" } } } : undefined;
}

/** The identities a client accepts from a service's servers: its endpoints' own, else any of the trust domain. */
export function acceptedIdentities(service: Service, trustDomain: string): string[] {
  const ids = [...new Set(service.endpoints.flatMap((e) => (e.identity ? [e.identity] : [])))].sort();
  return ids.length > 0 ? ids : [`spiffe://${trustDomain}/*`];
}

/** Istio's SNI for mutual TLS to a cluster: `outbound_.<port>_.<subset>_.<host>`. */
export function mtlsSni(service: Service, push: PushContext, subset?: string): string {
  return `outbound_.${push.portOf(service)}_.${subset ?? ""}_.${service.name}`;
}

/** The client side: the workload certificate, the peer checked against the mesh's roots and `identities`. */
export function mtlsUpstreamSocket(identities: readonly string[], sni: string): SocketInit {
  return {
    name: TLS_TRANSPORT_SOCKET,
    configType: {
      case: "typedConfig",
      value: packAny(UpstreamTlsContextSchema, {
        commonTlsContext: sdsCommonTls("default", "ROOTCA", identities),
        sni,
      }),
    },
  };
}

/** The server side: its workload certificate, and a client certificate of the mesh required. */
export function mtlsDownstreamSocket(trustDomain: string): SocketInit {
  return {
    name: TLS_TRANSPORT_SOCKET,
    configType: {
      case: "typedConfig",
      value: packAny(DownstreamTlsContextSchema, {
        commonTlsContext: sdsCommonTls("default", "ROOTCA", [`spiffe://${trustDomain}/*`]),
        requireClientCertificate: true,
      }),
    },
  };
}

/**
 * The transport of a sidecar's cluster under the mesh's mutual TLS: the
 * DestinationRule's `ISTIO_MUTUAL` always speaks it; without a TLS setting,
 * auto mTLS (socket matches by endpoint metadata). Empty when neither applies
 * (another TLS mode, an external or a DNS service).
 */
export function meshTransport(service: Service, push: PushContext, subset?: string) {
  const td = push.security.trustDomain;
  if (!td) return {};
  const socket = () => mtlsUpstreamSocket(acceptedIdentities(service, td), mtlsSni(service, push, subset));
  const mode = service.upstreamTls?.mode;
  if (mode === "istio-mutual") return { transportSocket: socket() };
  if (mode !== undefined || service.external || service.dns || service.passthrough || service.aggregate) return {};
  return {
    transportSocketMatches: [
      { name: "tlsMode-istio", match: { tlsMode: "istio" }, transportSocket: socket() },
      {
        name: "tlsMode-disabled",
        match: {},
        transportSocket: {
          name: "envoy.transport_sockets.raw_buffer",
          configType: { case: "typedConfig" as const, value: packAny(RawBufferSchema, {}) },
        },
      },
    ],
  };
}
