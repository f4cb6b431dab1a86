// TLS for Envoy with certificates over SDS (the pilot's secrets, Istio's
// `credentialName`): a secret `<ns>/<name>` holds a certificate and key, and
// `<ns>/<name>-cacert` the CA that checks the peer (the secrets folder serves
// both from one folder holding tls.crt, tls.key and ca.crt, as Istio reads a
// Kubernetes secret with those keys).
import type { MessageInitShape } from "@bufbuild/protobuf";
import { packAny } from "@xdskit/xds-types";
import type { TransportSocketSchema } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import {
  type CommonTlsContextSchema,
  DownstreamTlsContextSchema,
  UpstreamTlsContextSchema,
} from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/tls/v3/tls_pb";
import { SubjectAltNameMatcher_SanType } from "@xdskit/xds-types/gen/envoy/extensions/transport_sockets/tls/v3/common_pb";
import type { Service } from "../model.js";
import type { UpstreamTls } from "../policy.js";
import { TLS_TRANSPORT_SOCKET, nameMatchers } from "./cluster-policy.js";
import { ADS } from "./common.js";

type CommonInit = MessageInitShape<typeof CommonTlsContextSchema>;

/** The SDS name of the CA that goes with a credential. */
export function caSecretName(credential: string): string {
  return `${credential}-cacert`;
}

const sds = (name: string) => ({ name, sdsConfig: ADS });

// SANs of either kind: a SPIFFE ID is a URI SAN, anything else a DNS name.
function sanMatchers(names: readonly string[] | undefined) {
  return (names ?? []).map((n) => ({
    sanType: n.startsWith("spiffe://") ? SubjectAltNameMatcher_SanType.URI : SubjectAltNameMatcher_SanType.DNS,
    matcher: nameMatchers([n])[0] ?? {},
  }));
}

/** A common TLS context from SDS secrets: our certificate (when given) and the peer's CA (when given). */
export function sdsCommonTls(
  certificate: string | undefined,
  ca: string | undefined,
  subjectAltNames?: readonly string[],
  alpn?: readonly string[],
): CommonInit {
  const sans = sanMatchers(subjectAltNames);
  return {
    tlsCertificateSdsSecretConfigs: certificate ? [sds(certificate)] : [],
    ...(ca
      ? {
          validationContextType: {
            case: "combinedValidationContext" as const,
            value: {
              defaultValidationContext: { matchTypedSubjectAltNames: sans },
              validationContextSdsSecretConfig: sds(ca),
            },
          },
        }
      : {}),
    alpnProtocols: [...(alpn ?? [])],
  };
}

/**
 * Envoy's TLS to a service (a DestinationRule's `tls`): `simple` checks the
 * server with the credential's CA (none given: the server is not checked),
 * `mutual` also shows the credential's certificate. Undefined for
 * `disable`, and for `istio-mutual`, which needs the mesh's own workload
 * certificates (not issued by this pilot: traffic stays as it is).
 */
export function envoyUpstreamTls(
  tls: UpstreamTls | undefined,
  service: Service,
): MessageInitShape<typeof TransportSocketSchema> | undefined {
  if (!tls || tls.mode === "disable" || tls.mode === "istio-mutual") return undefined;
  const cred = tls.credentialName;
  const common = sdsCommonTls(
    tls.mode === "mutual" ? cred : undefined,
    cred ? caSecretName(cred) : undefined,
    tls.subjectAltNames,
    service.protocol === "grpc" ? ["h2"] : service.protocol === "http" ? ["http/1.1"] : [],
  );
  const sni = tls.sni ?? service.dns?.host ?? service.name;
  return {
    name: TLS_TRANSPORT_SOCKET,
    configType: { case: "typedConfig", value: packAny(UpstreamTlsContextSchema, { commonTlsContext: common, sni }) },
  };
}

/** A gateway server's TLS: the credential's certificate; `mutual` also asks for and checks the client's. */
export function gatewayDownstreamTls(
  credential: string,
  mutual: boolean,
  alpn: readonly string[],
): MessageInitShape<typeof TransportSocketSchema> {
  return {
    name: TLS_TRANSPORT_SOCKET,
    configType: {
      case: "typedConfig",
      value: packAny(DownstreamTlsContextSchema, {
        commonTlsContext: sdsCommonTls(credential, mutual ? caSecretName(credential) : undefined, undefined, alpn),
        ...(mutual ? { requireClientCertificate: true } : {}),
      }),
    },
  };
}
