// A sidecar proves its service account with a Kubernetes token: it sends
// `authorization: Bearer <token>` on its ADS stream (Envoy's
// `initial_metadata`), and the pilot asks the API server (TokenReview) whose
// it is. The stream then carries that identity, as if it had shown a client
// certificate for it; a node claiming another namespace or service account is
// refused.
import { createHash } from "node:crypto";
import { AuthenticationV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";

/** An identity as the ADS server's streams carry it (the shape of `@xdskit/ads-server`'s `PeerIdentity`). */
export interface TokenIdentity {
  readonly uriSans: readonly string[];
  readonly dnsSans: readonly string[];
  readonly spiffeId: string | undefined;
  readonly subject: string;
  readonly fingerprint: string;
}

/** What the hook is asked (the shape of `@xdskit/ads-server`'s `AuthorizeRequest`). */
export interface TokenAuthorizeRequest {
  readonly node: Node;
  readonly identity: TokenIdentity | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The hook's answer, with the identity the token proved. */
export type TokenDecision =
  | { readonly allow: true; readonly node?: Node; readonly identity?: TokenIdentity }
  | { readonly allow: false; readonly reason: string };

/** Options of {@link serviceAccountTokenPolicy}. */
export interface TokenPolicyOptions<R extends TokenAuthorizeRequest = TokenAuthorizeRequest> {
  readonly kubeConfig: KubeConfig;
  /** SPIFFE trust domain of the identities. Default `cluster.local`. */
  readonly trustDomain?: string;
  /** Audiences the token must be for (TokenReview `spec.audiences`). Default: the API server's. */
  readonly audiences?: readonly string[];
  /** Streams without a token (nor a client certificate) are refused. Default false: left to `next`. */
  readonly required?: boolean;
  /** How long a reviewed token's answer is kept, ms. Default 60 s. */
  readonly cacheMs?: number;
  /** Most answers kept. Default 10,000. */
  readonly maxCached?: number;
  /** The hook asked after the token was checked (with the proven identity), e.g. `podNodePolicy`. */
  readonly next?: (request: R) => TokenDecision | Promise<TokenDecision>;
}

function metadataString(node: Node, key: string): string | undefined {
  const v = (node.metadata as Record<string, unknown> | undefined)?.[key];
  return typeof v === "string" && v !== "" ? v : undefined;
}

function claimedNamespace(node: Node): string | undefined {
  const fromMetadata = metadataString(node, "NAMESPACE");
  if (fromMetadata) return fromMetadata;
  const parts = node.id.split("~");
  return parts.length >= 4 ? parts[2]?.split(".")[1] || undefined : undefined;
}

/** An ADS authorization hook that proves identities with Kubernetes service-account tokens (see the module comment). */
export function serviceAccountTokenPolicy<R extends TokenAuthorizeRequest>(options: TokenPolicyOptions<R>) {
  const api = options.kubeConfig.makeApiClient(AuthenticationV1Api);
  const td = options.trustDomain ?? "cluster.local";
  const ttl = options.cacheMs ?? 60_000;
  const max = options.maxCached ?? 10_000;
  const cache = new Map<string, { at: number; account?: { ns: string; sa: string }; error?: string }>();

  const review = async (token: string) => {
    const key = createHash("sha256").update(token).digest("hex");
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < ttl) return hit;
    const res = await api.createTokenReview({
      body: { spec: { token, ...(options.audiences ? { audiences: [...options.audiences] } : {}) } },
    });
    const user = res.status?.user?.username ?? "";
    const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user);
    const entry = !res.status?.authenticated
      ? {
          at: Date.now(),
          error: `the token was not accepted by the API server${res.status?.error ? `: ${res.status.error}` : ""}`,
        }
      : !m
        ? { at: Date.now(), error: `the token is for "${user}", not a service account` }
        : { at: Date.now(), account: { ns: m[1] as string, sa: m[2] as string } };
    cache.delete(key);
    cache.set(key, entry);
    while (cache.size > max) cache.delete(cache.keys().next().value as string);
    return entry;
  };

  return async (request: R): Promise<TokenDecision> => {
    const header = request.metadata.authorization ?? "";
    const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
    if (!token) {
      if (options.required && !request.identity)
        return {
          allow: false,
          reason: "a service-account token (authorization: Bearer …) or a client certificate is required",
        };
      return options.next ? options.next(request) : { allow: true };
    }
    let checked: Awaited<ReturnType<typeof review>>;
    try {
      checked = await review(token);
    } catch (err) {
      return {
        allow: false,
        reason: `the token could not be reviewed: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
    if (!checked.account) return { allow: false, reason: checked.error ?? "the token was not accepted" };
    const { ns, sa } = checked.account;
    const claimedNs = claimedNamespace(request.node);
    if (claimedNs !== ns)
      return {
        allow: false,
        reason: `node "${request.node.id}" claims namespace "${claimedNs ?? "(none)"}" but its token is for "${ns}"`,
      };
    const claimedSa = metadataString(request.node, "SERVICE_ACCOUNT");
    if (claimedSa && claimedSa !== sa)
      return {
        allow: false,
        reason: `node "${request.node.id}" claims service account "${claimedSa}" but its token is for "${sa}"`,
      };
    const spiffeId = `spiffe://${td}/ns/${ns}/sa/${sa}`;
    const identity: TokenIdentity = {
      uriSans: [spiffeId],
      dnsSans: [],
      spiffeId,
      subject: `system:serviceaccount:${ns}:${sa}`,
      fingerprint: "",
    };
    const next = options.next ? await options.next({ ...request, identity }) : { allow: true as const };
    if (!next.allow) return next;
    return { ...next, identity };
  };
}
