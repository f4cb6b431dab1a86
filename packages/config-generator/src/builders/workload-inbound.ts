// What a sidecar's inbound side is built from: the ports it takes
// connections on (its Sidecar's `ingress`, else the ports of the services it
// serves), each port's protocol and PeerAuthentication mode, and the
// AuthorizationPolicies that apply to it. Simple (a TCP proxy per port to
// the workload) unless the mesh speaks mutual TLS or a policy applies.
import type { PortProtocol } from "../model.js";
import type { AccessPolicy } from "../model-security.js";
import type { Proxy } from "../proxy.js";
import type { PushContext } from "../push-context.js";
import { accessPoliciesOf, mtlsModeOf } from "../push-security.js";
import { servicesByIp } from "./indexes.js";
import type { SecureTarget } from "./inbound.js";

/** A sidecar's inbound plan. */
export interface InboundPlan {
  readonly targets: readonly SecureTarget[];
  readonly policies: readonly AccessPolicy[];
  /** Built with chains per mode and RBAC filters (see `inbound.ts`), rather than a TCP proxy per port. */
  readonly secure: boolean;
  /** What it is built from, as a key. */
  readonly key: string;
}

// The protocol of the services this IP serves on a port (the first that says).
function protocolOn(push: PushContext, ip: string | undefined, port: number): PortProtocol | undefined {
  if (!ip) return undefined;
  for (const s of servicesByIp(push).get(ip) ?? [])
    if (s.endpoints.some((e) => e.address === ip && e.port === port) && s.protocol) return s.protocol;
  return undefined;
}

/** The inbound plan of a sidecar under a push. */
export function inboundPlan(proxy: Proxy, push: PushContext, endpointPorts: readonly number[]): InboundPlan {
  const ingress = push.scopeOf(proxy).sidecar?.ingress;
  const raw =
    ingress && ingress.length > 0
      ? [...ingress]
          .sort((a, b) => a.port - b.port)
          .map((g) => {
            const [host, port] = g.target.split(":") as [string, string];
            return {
              port: g.port,
              address: host === "0.0.0.0" ? (proxy.ip ?? "127.0.0.1") : host,
              targetPort: Number(port),
            };
          })
      : endpointPorts.map((port) => ({ port, address: "127.0.0.1", targetPort: port }));
  const policies = accessPoliciesOf(push.security, proxy);
  const secure = push.security.mtls || policies.length > 0;
  const targets = raw.map((t) => ({
    ...t,
    protocol: protocolOn(push, proxy.ip, t.targetPort) ?? protocolOn(push, proxy.ip, t.port),
    mode: mtlsModeOf(push.security, proxy, t.port),
  }));
  const key = secure
    ? JSON.stringify([targets, policies, push.security.trustDomain ?? ""])
    : targets
        .map((t) =>
          t.address === "127.0.0.1" && t.targetPort === t.port ? `${t.port}` : `${t.port}>${t.address}:${t.targetPort}`,
        )
        .join(",");
  return { targets, policies, secure, key };
}

/**
 * Sidecars' inbound-plan keys across pushes. Every push asks every group for
 * its key (thousands of sidecars), and a plain mesh's plan depends only on
 * the proxy's Sidecar scope and the services with an endpoint on its IP,
 * which keep their objects while unchanged: the key is computed again only
 * when one of them is another object. Under security policies it is always
 * computed (they are rebuilt with every push).
 */
export class InboundKeys {
  readonly #keys = new WeakMap<Proxy, { readonly inputs: readonly unknown[]; readonly key: string }>();

  /** The proxy's key under `push`: remembered, or `compute()`d and remembered. */
  keyOf(proxy: Proxy, push: PushContext, compute: () => string): string {
    const sec = push.security;
    if (sec.mtls || sec.peerAuthentications.length > 0 || sec.accessPolicies.length > 0) return compute();
    const inputs = [push.scopeOf(proxy).sidecar, ...((proxy.ip && servicesByIp(push).get(proxy.ip)) || [])];
    const hit = this.#keys.get(proxy);
    if (hit && hit.inputs.length === inputs.length && hit.inputs.every((x, i) => x === inputs[i])) return hit.key;
    const key = compute();
    this.#keys.set(proxy, { inputs, key });
    return key;
  }
}
