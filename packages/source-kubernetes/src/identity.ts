// Proxies are pods: a node whose IP is a Pod's must claim that Pod's
// namespace and service account, or its stream is refused — the identity a
// sidecar claims is checked against what the cluster says runs at its IP.
import type { Node } from "@xdskit/xds-types/gen/envoy/config/core/v3/base_pb";
import type { KubernetesSource } from "./source.js";

/** An authorization hook's answer (the shape `@xdskit/ads-server`'s `authorize` option takes). */
export type NodeDecision = { readonly allow: true } | { readonly allow: false; readonly reason: string };

/** An authorization hook over the node a stream claims (assignable to `@xdskit/ads-server`'s `Authorizer`). */
export type NodeAuthorizer<R extends { readonly node: Node } = { readonly node: Node }> = (
  request: R,
) => NodeDecision | Promise<NodeDecision>;

function metadataString(node: Node, key: string): string | undefined {
  const v = (node.metadata as Record<string, unknown> | undefined)?.[key];
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** The IP a node says it runs at: `sidecar~<ip>~…` ids, or metadata `INSTANCE_IPS` (the first). */
export function nodeIp(node: Node): string | undefined {
  const parts = node.id.split("~");
  if (parts.length >= 4 && parts[1]) return parts[1];
  return metadataString(node, "INSTANCE_IPS")?.split(",")[0]?.trim() || undefined;
}

/** The namespace a node claims: metadata `NAMESPACE`, else the `<pod>.<namespace>` part of an Istio-style id. */
function claimedNamespace(node: Node): string | undefined {
  const fromMetadata = metadataString(node, "NAMESPACE");
  if (fromMetadata) return fromMetadata;
  const parts = node.id.split("~");
  return parts.length >= 4 ? parts[2]?.split(".")[1] || undefined : undefined;
}

/**
 * An authorization hook for the ADS server (`authorize`): a node at a Pod's
 * IP must claim the Pod's namespace (metadata `NAMESPACE` or its id) and,
 * when it names one in `SERVICE_ACCOUNT`, the Pod's service account; a node
 * at no Pod's IP (outside the cluster) is left to `next`, or allowed.
 * Refusals are PERMISSION_DENIED naming both sides.
 */
export function podNodePolicy<R extends { readonly node: Node }>(
  source: Pick<KubernetesSource, "podAt">,
  next?: NodeAuthorizer<R>,
): NodeAuthorizer<R> {
  return (request) => {
    const { node } = request;
    const ip = nodeIp(node);
    const pod = ip ? source.podAt(ip) : undefined;
    if (!pod) return next ? next(request) : { allow: true };
    const ns = claimedNamespace(node);
    const sa = metadataString(node, "SERVICE_ACCOUNT");
    const where = `the pod at ${ip} (${pod.namespace}/${pod.name}) runs in namespace "${pod.namespace}" as service account "${pod.serviceAccount ?? "default"}"`;
    if (ns !== undefined && ns !== pod.namespace) {
      return { allow: false, reason: `node "${node.id}" claims namespace "${ns}", but ${where}` };
    }
    if (sa !== undefined && sa !== (pod.serviceAccount ?? "default")) {
      return { allow: false, reason: `node "${node.id}" claims service account "${sa}", but ${where}` };
    }
    return next ? next(request) : { allow: true };
  };
}
