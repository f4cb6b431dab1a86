// Who may receive which workload secret: `default` only on a stream that
// proved the identity it is for (a client certificate, or a token the ADS
// authorization hook checked), `ROOTCA` on any stream.
import { type ResourceAuthorizer, nodeNamespace } from "@xdskit/ads-server";
import type { MeshCa } from "./ca.js";
import { ROOT_SECRET, WORKLOAD_SECRET } from "./workload-certs.js";

/**
 * The per-resource authorization of workload secrets; other names go to
 * `next` (e.g. `secretsByNamespace` for gateway credentials), else are refused.
 */
export function workloadSecretsPolicy(ca: MeshCa, next?: ResourceAuthorizer): ResourceAuthorizer {
  return (request) => {
    if (request.name === ROOT_SECRET) return true;
    if (request.name === WORKLOAD_SECRET) {
      const sa = (request.node.metadata as Record<string, unknown> | undefined)?.SERVICE_ACCOUNT;
      const ns = nodeNamespace(request.node);
      if (typeof sa !== "string" || !ns) return false;
      return request.identity?.spiffeId === ca.spiffeId(ns, sa);
    }
    return next ? next(request) : false;
  };
}
