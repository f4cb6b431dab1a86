// The controller's guard between sources and builders: whatever a source
// returns is checked exactly as the mesh file is, and only a model that passes
// replaces the last good one. A source that breaks, or suddenly reports no
// services at all, never turns into a push that removes config clients need.
import { XdsError } from "@xdskit/xds-types";
import { frozenService, knownValid, rememberValid } from "./frozen.js";
import { type AcceptedConfig, acceptConfig } from "./accept-config.js";
import type { ChangeKind, Service } from "./model.js";
import type { ConfigStore, ServiceRegistry } from "./sources.js";
import { validateReferences, validateService } from "./validate-model.js";

/** Services and config that passed validation together (config objects refused alone are listed in `refused`). */
export interface AcceptedModel extends AcceptedConfig {
  readonly services: readonly Service[];
  /**
   * The port of each service that declares none, by name: its first
   * endpoint's port when it was first seen with endpoints, kept for as long
   * as the service exists, so endpoints moving never rename its clusters.
   */
  readonly derivedPorts: ReadonlyMap<string, number>;
}

/** Why the sources' current output was not accepted; the last good model stays. */
export class ModelRejected extends Error {
  constructor(
    message: string,
    /** True when a source is not ready yet (nothing read): not an error of its content. */
    readonly notReady = false,
  ) {
    super(message);
    this.name = "ModelRejected";
  }
}

/**
 * Reads and checks the sources' output. Throws {@link ModelRejected} when a
 * source is not ready, a service or route is invalid, names clash, a route
 * names a missing service, or every service of a non-empty mesh would vanish
 * without the source saying it means it (`allowsEmpty`).
 */
export function acceptModel(
  services: ServiceRegistry,
  config: ConfigStore | undefined,
  previous: AcceptedModel | undefined,
): AcceptedModel {
  for (const src of [services, config]) {
    if (src?.ready && !src.ready()) throw new ModelRejected("a source has not loaded its data yet", true);
  }
  let list: readonly Service[];
  try {
    list = services.services();
  } catch (err) {
    throw new ModelRejected(`a source failed to list its data: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    if (!Array.isArray(list)) throw new XdsError("invalid_config", "services(): expected a list of services");
    list.forEach((s, i) => {
      if (knownValid(s)) return;
      validateService(s, `services[${i}] (${JSON.stringify(s?.name)})`);
      rememberValid(s);
    });
    validateReferences(list, [], "");
  } catch (err) {
    throw new ModelRejected(err instanceof Error ? err.message : String(err));
  }
  let accepted: AcceptedConfig;
  try {
    accepted = acceptConfig(config, list, previous);
  } catch (err) {
    throw new ModelRejected(`a source failed to list its data: ${err instanceof Error ? err.message : String(err)}`);
  }
  const intended = services.allowsEmpty?.() ?? false;
  if (list.length === 0 && previous && previous.services.length > 0 && !intended) {
    throw new ModelRejected(
      `the source now lists no services where it listed ${previous.services.length}; refusing to remove every service (a source must say it means it: allowEmpty in a mesh file, allowsEmpty() in code)`,
    );
  }
  return {
    services: list,
    ...accepted,
    derivedPorts: derivedPortsOf(list, previous?.derivedPorts),
  };
}

/**
 * The ports of services that declare none. A port taken from the first
 * endpoint sticks: a pod moving to another port, or a reordered endpoint
 * list, must stay an endpoint change, not rename the service's clusters
 * (which resets every client's connection pool). A service without
 * endpoints and without a remembered port is on its DNS target's port, or
 * 80, until it has some.
 */
export function derivedPortsOf(
  services: readonly Service[],
  previous: ReadonlyMap<string, number> | undefined,
): ReadonlyMap<string, number> {
  const ports = new Map<string, number>();
  for (const s of services) {
    if (s.port !== undefined || s.ports) continue;
    const kept = s.dns ? undefined : previous?.get(s.name);
    const first = s.endpoints[0]?.port;
    if (kept !== undefined) ports.set(s.name, kept);
    else if (first !== undefined && !s.dns) ports.set(s.name, first);
  }
  return ports;
}

/** The port a service is called on: declared, else derived and remembered, else its DNS target's, else 80. */
export function servicePort(service: Service, derived: ReadonlyMap<string, number> | undefined): number {
  return service.port ?? derived?.get(service.name) ?? service.endpoints[0]?.port ?? service.dns?.port ?? 80;
}

/**
 * What really changed between two models, whatever the source said: a
 * service whose derived port changed (it had no endpoints before, so none
 * was remembered) changes its cluster names, which an "endpoints" change
 * alone would not rebuild.
 */
export function modelChanges(prev: AcceptedModel, next: AcceptedModel): Set<ChangeKind> {
  const kinds = serviceChanges(prev.services, next.services);
  if (!kinds.has("services") && !samePorts(prev.derivedPorts, next.derivedPorts)) {
    kinds.add("services");
    kinds.add("endpoints");
  }
  if (!sameJson(prev.routes, next.routes)) kinds.add("routes");
  // TCP routes are listener chains (and gateway routes).
  if (!sameJson(prev.tcpRoutes, next.tcpRoutes)) {
    kinds.add("routes");
    kinds.add("gateways");
  }
  if (!sameJson(prev.gateways, next.gateways)) kinds.add("gateways");
  // Destination policies and sidecar scopes change clusters, listeners and routes.
  if (
    !sameJson(prev.policies, next.policies) ||
    !sameJson(prev.sidecars, next.sidecars) ||
    !sameJson(prev.peerAuthentications, next.peerAuthentications) ||
    !sameJson(prev.accessPolicies, next.accessPolicies)
  ) {
    kinds.add("services");
    kinds.add("endpoints");
  }
  return kinds;
}

function samePorts(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/**
 * How two service lists differ: "services" (and "endpoints") when a service
 * was added, removed, reordered or changed anything but its endpoints;
 * "endpoints" alone when only endpoints changed (a port derived from the
 * first endpoint sticks, see {@link derivedPortsOf}). Pairwise, in order: a service object handed on
 * unchanged is skipped by identity, and a changed one costs its own JSON, not
 * the world's (each frozen service's forms are computed once and remembered).
 */
export function serviceChanges(a: readonly Service[], b: readonly Service[]): Set<ChangeKind> {
  const kinds = new Set<ChangeKind>();
  if (a.length !== b.length) kinds.add("services");
  for (let i = 0; i < a.length && !kinds.has("services"); i++) {
    const x = a[i] as Service;
    const y = b[i] as Service;
    if (x === y) continue;
    if (shapeOf(x) !== shapeOf(y)) kinds.add("services");
    else if (endpointsOf(x) !== endpointsOf(y)) kinds.add("endpoints");
  }
  if (kinds.has("services")) kinds.add("endpoints");
  return kinds;
}

/**
 * The services of `next`, frozen, with every one equal to the service of the
 * same name in `prev` replaced by that (frozen) object: a reload that changed
 * one service keeps the identity of the rest, so validation and builds
 * computed from them are reused.
 */
export function reuseUnchanged(prev: readonly Service[], next: readonly Service[]): Service[] {
  const before = new Map(prev.map((s) => [s.name, s]));
  return next.map((s) => {
    const old = before.get(s.name);
    if (old && cacheable(old) && wholeOf(old) === JSON.stringify(s)) return old;
    return frozenService(s);
  });
}

// A service's form, computed by `form` and remembered per object — only for
// frozen services, which cannot change under the cache.
function remembered(form: (s: Service) => string): (s: Service) => string {
  const cache = new WeakMap<Service, string>();
  return (s) => {
    let v = cache.get(s);
    if (v === undefined) {
      v = form(s);
      if (cacheable(s)) cache.set(s, v);
    }
    return v;
  };
}

const cacheable = (s: Service) => Object.isFrozen(s) && Object.isFrozen(s.endpoints);

// A service's identity and traffic policy as JSON: what clusters, routes
// (hashing) and server listeners read besides the endpoints.
// Everything but the endpoints, except what listeners read of them: a TCP
// or TLS port's chains match the endpoints' addresses.
const shapeOf = remembered((s) => {
  const { endpoints, ...rest } = s;
  const tcp =
    s.protocol === "tcp" || s.protocol === "tls" || s.ports?.some((p) => p.protocol === "tcp" || p.protocol === "tls");
  return JSON.stringify([rest, tcp ? [...new Set(endpoints.map((e) => e.address))].sort() : null]);
});
const wholeOf = remembered((s) => JSON.stringify(s));
const endpointsOf = remembered((s) => JSON.stringify(s.endpoints));

function sameJson(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
