// Who may have config: a hook on the first request of every stream, and one
// per resource for sensitive types. Denials end the stream before anything is
// sent, or make a resource not exist for that client.
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { PeerIdentity } from "./identity.js";

/** What the authorization hook is asked on the first request of a stream. */
export interface AuthorizeRequest {
  /** The node the client claims. */
  readonly node: Node;
  /** Its verified identity (undefined on plaintext or TLS without a client certificate). */
  readonly identity: PeerIdentity | undefined;
  /** Its address. */
  readonly peer: string;
  /** The gRPC service of the stream (ADS or a per-type service). */
  readonly service: string;
  /**
   * The stream's request metadata (gRPC headers, lower-case names; binary
   * ones left out): where a client sends a token (Envoy's `initial_metadata`).
   */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * The hook's answer: allow (optionally with the node to serve instead of the
 * claimed one — say, one whose group comes from the identity), or deny with a
 * reason the client is told.
 */
export type AuthorizeResult =
  | {
      readonly allow: true;
      readonly node?: Node;
      /**
       * An identity the hook proved another way than the client certificate
       * (a Kubernetes service-account token, say): the stream carries it from
       * then on, for `authorizeResource` and the debug pages.
       */
      readonly identity?: PeerIdentity;
    }
  | { readonly allow: false; readonly reason: string };

/** Decides whether a stream may be served. Sync or async; throwing counts as a denial by an internal error. */
export type Authorizer = (request: AuthorizeRequest) => AuthorizeResult | Promise<AuthorizeResult>;

/** What the per-resource hook is asked for each resource of a sensitive type before it is sent. */
export interface ResourceAuthorizeRequest {
  readonly node: Node;
  readonly identity: PeerIdentity | undefined;
  readonly typeUrl: string;
  readonly name: string;
}

/** True when the client may receive the resource; otherwise it does not exist for that client. */
export type ResourceAuthorizer = (request: ResourceAuthorizeRequest) => boolean;

/** The parts of a SPIFFE ID in Istio's form `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`. */
export interface SpiffeParts {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** Parses an Istio-style SPIFFE ID; undefined when it is not one. */
export function parseSpiffeId(id: string | undefined): SpiffeParts | undefined {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(id ?? "");
  return m ? { trustDomain: m[1] as string, namespace: m[2] as string, serviceAccount: m[3] as string } : undefined;
}

function metadataString(node: Node, key: string): string | undefined {
  const v = (node.metadata as Record<string, unknown> | undefined)?.[key];
  return typeof v === "string" && v !== "" ? v : undefined;
}

/**
 * The namespace a node claims: metadata `NAMESPACE`, else the namespace part
 * of an Istio-style id `<type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local`.
 */
export function nodeNamespace(node: Node): string | undefined {
  const fromMetadata = metadataString(node, "NAMESPACE");
  if (fromMetadata) return fromMetadata;
  const parts = node.id.split("~");
  if (parts.length >= 4) {
    const ns = parts[2]?.split(".")[1];
    if (ns) return ns;
    const domain = parts[3]?.split(".")[0];
    if (domain) return domain;
  }
  return undefined;
}

/**
 * Istio's policy for mTLS: the client certificate's SPIFFE ID must be in the
 * trust domain, and its namespace (and service account, when the node's
 * metadata names one in `SERVICE_ACCOUNT`) must match what the node claims.
 * A node that claims no namespace is refused.
 */
export function spiffeNodePolicy(options: { trustDomain: string }): Authorizer {
  return ({ node, identity }) => {
    if (!identity) return { allow: false, reason: "a client certificate is required" };
    const id = parseSpiffeId(identity.spiffeId);
    if (!id) {
      return {
        allow: false,
        reason: `the client certificate has no SPIFFE ID of the form spiffe://${options.trustDomain}/ns/<namespace>/sa/<service account> (URI SANs: ${identity.uriSans.join(", ") || "none"})`,
      };
    }
    if (id.trustDomain !== options.trustDomain) {
      return {
        allow: false,
        reason: `the certificate's trust domain "${id.trustDomain}" is not "${options.trustDomain}"`,
      };
    }
    const ns = nodeNamespace(node);
    if (!ns) {
      return {
        allow: false,
        reason: `node "${node.id}" claims no namespace (metadata NAMESPACE, or an id like sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local); the certificate is for namespace "${id.namespace}"`,
      };
    }
    if (ns !== id.namespace) {
      return {
        allow: false,
        reason: `node "${node.id}" claims namespace "${ns}" but its certificate is for namespace "${id.namespace}"`,
      };
    }
    const sa = metadataString(node, "SERVICE_ACCOUNT");
    if (sa && sa !== id.serviceAccount) {
      return {
        allow: false,
        reason: `node "${node.id}" claims service account "${sa}" but its certificate is for "${id.serviceAccount}"`,
      };
    }
    return { allow: true };
  };
}

/**
 * Secrets named `<namespace>/<name>` go only to clients whose certificate is
 * for that namespace (Istio's SDS rule); a secret without a namespace prefix
 * goes to nobody with a certificate of another namespace.
 */
export const secretsByNamespace: ResourceAuthorizer = ({ identity, name }) => {
  const ns = parseSpiffeId(identity?.spiffeId)?.namespace;
  if (!ns) return false;
  const slash = name.indexOf("/");
  return slash > 0 && name.slice(0, slash) === ns;
};
