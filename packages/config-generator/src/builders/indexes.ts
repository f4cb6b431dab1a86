// Indexes of a push's services by endpoint IP, built once per push context
// (every sidecar and serving proxyless node asks).
import type { Service } from "../model.js";
import type { PushContext } from "../push-context.js";

const ipServices = new WeakMap<PushContext, Map<string, Service[]>>();
/** Services with an endpoint on each IP. */
export function servicesByIp(push: PushContext): Map<string, Service[]> {
  let index = ipServices.get(push);
  if (!index) {
    index = new Map();
    for (const s of push.views) {
      for (const ip of new Set(s.endpoints.map((e) => e.address))) {
        const list = index.get(ip);
        if (list) list.push(s);
        else index.set(ip, [s]);
      }
    }
    ipServices.set(push, index);
  }
  return index;
}

/** The ports each of `services` serves on `ip`, as a key. */
export function servingPorts(services: readonly Service[], ip: string): string {
  return services.map((s) => `${s.name}=${s.endpoints.filter((e) => e.address === ip).map((e) => e.port)}`).join(",");
}

const ipPorts = new WeakMap<PushContext, Map<string, number[]>>();
/** Every endpoint IP's ports, sorted. */
export function portsByIp(push: PushContext): Map<string, number[]> {
  let index = ipPorts.get(push);
  if (!index) {
    const sets = new Map<string, Set<number>>();
    for (const s of push.views) {
      for (const e of s.endpoints) {
        let ports = sets.get(e.address);
        if (!ports) {
          ports = new Set();
          sets.set(e.address, ports);
        }
        ports.add(e.port);
      }
    }
    index = new Map([...sets].map(([ip, ports]) => [ip, [...ports].sort((a, b) => a - b)]));
    ipPorts.set(push, index);
  }
  return index;
}
