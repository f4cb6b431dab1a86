// The inputs each memoized builder reads, as strings: equal strings mean the
// built resource would be the same.
import type { Gateway, Service } from "../model.js";
import type { PushContext } from "../push-context.js";

const serviceKeys = new WeakMap<PushContext, Map<string, string>>();

/** A service's whole content, once per push. */
export function serviceKey(service: Service, push: PushContext): string {
  let byName = serviceKeys.get(push);
  if (!byName) {
    byName = new Map();
    serviceKeys.set(push, byName);
  }
  let key = byName.get(service.name);
  if (key === undefined) {
    key = JSON.stringify(service);
    byName.set(service.name, key);
  }
  return key;
}

/** What a service's cluster reads: its name, port and protocol. */
export function clusterInputs(service: Service, push: PushContext): string {
  return `${service.name}|${push.portOf(service)}|${service.protocol ?? ""}`;
}

/** What a service's routes read: the service, its rules, and the ports of every service the rules send to. */
export function routeInputs(service: Service, push: PushContext): string {
  const rules = push.routesFor(service.name);
  const targets = new Set(rules.flatMap((r) => r.split.map((d) => d.service)));
  const ports = [...targets].map((t) => {
    const s = push.services.get(t);
    return s ? `${t}:${push.portOf(s)}` : `${t}:-`;
  });
  return `${clusterInputs(service, push)}|${JSON.stringify(rules)}|${ports.join(",")}`;
}

/** What the listener and routes of a group of services on one port read. */
export function portInputs(services: readonly Service[], push: PushContext): string {
  return services.map((s) => `${routeInputs(s, push)}|${s.endpoints.map((e) => e.address).join(",")}`).join("\n");
}

/** What a gateway's listener and routes read. */
export function gatewayInputs(gateway: Gateway, push: PushContext): string {
  return `${gateway.port}|${gateway.hosts
    .map((h) => {
      const s = push.services.get(h);
      return s ? routeInputs(s, push) : `${h}:-`;
    })
    .join("\n")}`;
}
