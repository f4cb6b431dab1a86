// The security debug pages: which workload certificate each connected
// client holds (identity, serial, expiry; never a key), and which
// PeerAuthentication modes and AuthorizationPolicies apply to a workload.
import type { AdsServer } from "@xdskit/ads-server";
import { type DiscoveryController, accessPoliciesOf, mtlsModeOf } from "@xdskit/config-generator";

interface CertLike {
  readonly spiffeId: string;
  readonly serial: string;
  readonly notAfter: string;
}

/** /debug/certs: the certificates issued, and for each connected client the identity it proved and the certificate of that identity. */
export function certsPage(ads: AdsServer, certificates: readonly CertLike[]): unknown {
  const byId = new Map(certificates.map((c) => [c.spiffeId, c]));
  return {
    certificates,
    clients: ads.connections.list().map((c) => {
      const id = c.identity?.spiffeId;
      const cert = id ? byId.get(id) : undefined;
      return {
        nodeId: c.nodeId,
        identity: id ?? null,
        ...(cert ? { serial: cert.serial, notAfter: cert.notAfter } : {}),
      };
    }),
  };
}

/** /debug/authz: a connected workload's mutual TLS mode per inbound port and the authorization policies that apply to it. */
export function authzPage(ads: AdsServer, controller: DiscoveryController, nodeId: string): unknown {
  const conn = ads.connections.byNodeId(nodeId)[0];
  if (!conn) return undefined;
  const proxy = controller.nodeGroups().get(conn.nodeGroup);
  if (!proxy) return undefined;
  const push = controller.pushContext();
  const ports = new Set<number>();
  if (proxy.ip) for (const s of push.views) for (const e of s.endpoints) if (e.address === proxy.ip) ports.add(e.port);
  return {
    nodeId,
    nodeGroup: conn.nodeGroup,
    namespace: proxy.namespace ?? null,
    labels: proxy.labels,
    mtls: push.security.mtls,
    ports: [...ports].sort((a, b) => a - b).map((port) => ({ port, mode: mtlsModeOf(push.security, proxy, port) })),
    policies: accessPoliciesOf(push.security, proxy),
  };
}
