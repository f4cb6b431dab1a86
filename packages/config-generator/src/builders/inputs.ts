// The inputs each memoized builder reads, as strings: equal strings mean the
// built resource would be the same.
import type { Gateway, Service } from "../model.js";
import type { PushContext } from "../push-context.js";

// Services in a push context are frozen: their content key is computed once
// per object, and a source that keeps unchanged objects never pays it again.
const serviceKeys = new WeakMap<Service, string>();

/** A service's whole content. */
export function serviceKey(service: Service, _push: PushContext): string {
  let key = serviceKeys.get(service);
  if (key === undefined) {
    key = JSON.stringify(service);
    serviceKeys.set(service, key);
  }
  return key;
}

// Under the mesh's mutual TLS a cluster reads the trust domain and the
// identities of the service's endpoints (the SANs it accepts).
function meshKey(service: Service, push: PushContext): string {
  const td = push.security.trustDomain;
  if (!td) return "";
  const ids = [...new Set(service.endpoints.map((e) => e.identity ?? ""))].join(",");
  return `|mtls:${td}:${service.external ? "ext" : ""}:${ids}`;
}

/** What a service's cluster reads: its name, port, protocol and traffic policy (and its members' ports). */
export function clusterInputs(service: Service, push: PushContext): string {
  const base = `${service.name}|${push.portOf(service)}|${service.protocol ?? ""}`;
  const { loadBalancer, outlierDetection, circuitBreaker, tls, dns, aggregate } = service;
  const { connectTimeoutMs, upstreamTls, passthrough } = service;
  const extra = connectTimeoutMs !== undefined || upstreamTls !== undefined || passthrough !== undefined;
  if (!loadBalancer && !outlierDetection && !circuitBreaker && !tls && !dns && !aggregate && !extra)
    return `${base}${meshKey(service, push)}`;
  const members = (aggregate ?? []).map((m) => {
    const s = push.viewOf(m);
    return s ? `${m}:${push.portOf(s)}` : `${m}:-`;
  });
  const policy = {
    loadBalancer,
    outlierDetection,
    circuitBreaker,
    tls,
    dns,
    connectTimeoutMs,
    upstreamTls,
    passthrough,
  };
  return `${base}|${JSON.stringify(policy)}|${members.join(",")}${meshKey(service, push)}`;
}

/** What a service's routes read: the service, its rules, and the ports of every service the rules send to. */
export function routeInputs(service: Service, push: PushContext): string {
  const rules = push.routesFor(service.name);
  const targets = new Set(
    rules.flatMap((r) =>
      [...r.split, ...(r.mirror ? [r.mirror] : [])].map((d) => push.destinationOf(d, service) ?? d.service),
    ),
  );
  targets.add(service);
  const ports = [...targets].map((t) => {
    // Routes hash on the headers their destination's ring hash names.
    return typeof t === "string" ? `${t}:-` : `${t.name}:${push.portOf(t)}:${JSON.stringify(t.loadBalancer ?? null)}`;
  });
  const addresses = service.addresses?.join(",") ?? "";
  return `${clusterInputs(service, push)}|${JSON.stringify(rules)}|${ports.join(",")}|${addresses}`;
}

/** What the listener and routes of a group of services on one port read (TCP routes too). */
export function portInputs(services: readonly Service[], push: PushContext): string {
  return services
    .map((s) => {
      const tcp = push.tcpRoutesFor(s.name);
      const tcpKey =
        tcp.length === 0
          ? ""
          : `|${JSON.stringify(tcp)}|${tcp.flatMap((r) => r.split.map((d) => push.destinationOf(d, s)?.port ?? "-")).join(",")}`;
      return `${routeInputs(s, push)}|${s.endpoints.map((e) => e.address).join(",")}${tcpKey}`;
    })
    .join("\n");
}

/** What a gateway's listener and routes read. */
export function gatewayInputs(gateway: Gateway, push: PushContext): string {
  return `${gateway.port}|${gateway.hosts
    .map((h) => {
      const s = push.viewOf(h);
      return s ? routeInputs(s, push) : `${h}:-`;
    })
    .join("\n")}`;
}
