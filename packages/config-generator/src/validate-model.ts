import { isIP } from "node:net";
import { XdsError } from "@xdskit/xds-types";
import type { Gateway, RouteRule, Service } from "./model.js";
import { validatePolicy, validatePolicyReferences } from "./validate-policy.js";
import { validateGatewayExtras, validateRouteExtras, validateServiceExtras } from "./validate-routing.js";

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function fail(where: string, problem: string): never {
  throw new XdsError("invalid_config", `${where}: ${problem}`);
}

function port(where: string, p: unknown): void {
  if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 65535) {
    fail(where, `port must be a whole number from 1 to 65535, got ${JSON.stringify(p)}`);
  }
}

/** Checks one service; throws `invalid_config` naming the path (default `service "<name>"`) and the problem. */
export function validateService(s: Service, where = `service ${JSON.stringify(s?.name)}`): void {
  if (typeof s?.name !== "string" || !NAME.test(s.name)) {
    fail(
      `${where}.name`,
      `must be a DNS-style name (lower-case letters, digits, '-' and '.'), got ${JSON.stringify(s?.name)}`,
    );
  }
  if (s.port !== undefined) port(`${where}.port`, s.port);
  protocol(`${where}.protocol`, s.protocol);
  const servicePorts = validatePorts(s, where);
  if (!Array.isArray(s.endpoints)) fail(`${where}.endpoints`, "must be a list");
  s.endpoints.forEach((e, i) => {
    const at = `${where}.endpoints[${i}]`;
    if (typeof e?.address !== "string" || isIP(e.address) === 0)
      fail(`${at}.address`, `must be an IPv4 or IPv6 address, got ${JSON.stringify(e?.address)}`);
    port(`${at}.port`, e.port);
    if (e.weight !== undefined && (!Number.isInteger(e.weight) || e.weight < 1 || e.weight > 128)) {
      fail(`${at}.weight`, `must be a whole number from 1 to 128, got ${JSON.stringify(e.weight)}`);
    }
    if (e.healthy !== undefined && typeof e.healthy !== "boolean") {
      fail(`${at}.healthy`, `must be true or false, got ${JSON.stringify(e.healthy)}`);
    }
    if (e.locality !== undefined) {
      for (const k of ["region", "zone", "subZone"] as const) {
        const v = (e.locality as Record<string, unknown> | null)?.[k];
        if (v !== undefined && typeof v !== "string")
          fail(`${at}.locality.${k}`, `must be a string, got ${JSON.stringify(v)}`);
      }
    }
    labels(`${at}.labels`, e.labels);
    metadata(`${at}.metadata`, e.metadata);
    endpointPorts(`${at}.ports`, e.ports, servicePorts);
    if (
      e.identity !== undefined &&
      (typeof e.identity !== "string" || e.identity.length === 0 || e.identity.length > 512)
    )
      fail(`${at}.identity`, `must be a non-empty string of at most 512 characters, got ${JSON.stringify(e.identity)}`);
  });
  labels(`${where}.labels`, s.labels);
  metadata(`${where}.metadata`, s.metadata);
  if (s.subsets !== undefined) {
    if (!Array.isArray(s.subsets)) fail(`${where}.subsets`, "must be a list");
    const names = new Set<string>();
    s.subsets.forEach((sub, i) => {
      const at = `${where}.subsets[${i}]`;
      if (typeof sub?.name !== "string" || !NAME.test(sub.name))
        fail(`${at}.name`, `must be a DNS-style name, got ${JSON.stringify(sub?.name)}`);
      if (names.has(sub.name)) fail(`${at}.name`, `duplicate subset "${sub.name}"`);
      names.add(sub.name);
      labels(`${at}.labels`, sub.labels);
      if (!sub.labels || Object.keys(sub.labels).length === 0)
        fail(`${at}.labels`, "must select by at least one label");
    });
  }
  validatePolicy(s, where);
  validateServiceExtras(s, where);
}

const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function protocol(where: string, p: unknown): void {
  if (p !== undefined && !["http", "grpc", "tcp", "tls"].includes(p as string)) {
    fail(where, `must be http, grpc, tcp or tls, got ${JSON.stringify(p)}`);
  }
}

/** Checks a service's `ports`; returns the port numbers it declares (undefined without `ports`). */
function validatePorts(s: Service, where: string): Set<number> | undefined {
  if (s.ports === undefined) return undefined;
  const at = `${where}.ports`;
  if (!Array.isArray(s.ports) || s.ports.length === 0) fail(at, "must list at least one port");
  if (s.port !== undefined) fail(`${where}.port`, "give either port or ports, not both");
  if (s.aggregate) fail(at, "an aggregate service has one port, not several");
  const numbers = new Set<number>();
  const names = new Set<string>();
  s.ports.forEach((p, i) => {
    port(`${at}[${i}].port`, p?.port);
    if (numbers.has(p.port)) fail(`${at}[${i}].port`, `port ${p.port} is listed twice`);
    numbers.add(p.port);
    if (p.name !== undefined) {
      if (typeof p.name !== "string" || !PORT_NAME.test(p.name))
        fail(
          `${at}[${i}].name`,
          `must be a DNS label (lower-case letters, digits and '-'), got ${JSON.stringify(p.name)}`,
        );
      if (names.has(p.name)) fail(`${at}[${i}].name`, `port name "${p.name}" is listed twice`);
      names.add(p.name);
    }
    protocol(`${at}[${i}].protocol`, p.protocol);
  });
  return numbers;
}

function endpointPorts(where: string, p: unknown, servicePorts: Set<number> | undefined): void {
  if (p === undefined) return;
  if (!servicePorts) fail(where, "applies only to a service with ports");
  if (typeof p !== "object" || p === null || Array.isArray(p)) fail(where, "must map service ports to ports");
  for (const [k, v] of Object.entries(p)) {
    if (!servicePorts.has(Number(k)))
      fail(`${where}.${k}`, `the service has no port ${k}; it has ${[...servicePorts].join(", ")}`);
    port(`${where}.${k}`, v);
  }
}

// Kubernetes label keys: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters.
const LABEL = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

function labels(where: string, l: unknown): void {
  if (l === undefined) return;
  if (typeof l !== "object" || l === null || Array.isArray(l)) fail(where, "must be a map of strings");
  for (const [k, v] of Object.entries(l)) {
    if (!LABEL.test(k))
      fail(
        `${where}.${k}`,
        "is not a valid label key (an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' and '.')",
      );
    if (typeof v !== "string" || v.length > 63)
      fail(`${where}.${k}`, `must be a string of at most 63 characters, got ${JSON.stringify(v)}`);
  }
}

function metadata(where: string, m: unknown): void {
  if (m === undefined) return;
  if (typeof m !== "object" || m === null || Array.isArray(m)) fail(where, "must be a map");
  try {
    JSON.stringify(m);
  } catch {
    fail(where, "must be plain JSON data");
  }
}

/** Checks one route rule (services it names are checked against a push by {@link validateReferences}). */
export function validateRoute(r: RouteRule, where = `route for ${JSON.stringify(r?.host)}`): void {
  if (typeof r !== "object" || r === null) fail(where, "must be a map");
  if (!Array.isArray(r.split)) fail(`${where}.split`, "must list at least one service");
  validateRouteExtras(r, where);
  if (r.redirect !== undefined && r.split.length === 0) {
    validateTiming(r, where);
    return;
  }
  if (r.split.length === 0) fail(`${where}.split`, "must list at least one service (or give a redirect)");
  let total = 0;
  r.split.forEach((d, i) => {
    if (typeof d?.service !== "string" || !NAME.test(d.service))
      fail(`${where}.split[${i}].service`, "must be a service name");
    if (d.port !== undefined) port(`${where}.split[${i}].port`, d.port);
    if (!Number.isInteger(d.weight) || d.weight < 0) {
      fail(`${where}.split[${i}].weight`, `must be a whole number >= 0, got ${JSON.stringify(d.weight)}`);
    }
    total += d.weight;
  });
  if (total <= 0) fail(`${where}.split`, "weights must add up to more than 0");
  validateTiming(r, where);
}

function validateTiming(r: RouteRule, where: string): void {
  if (r.timeoutMs !== undefined && !(Number.isInteger(r.timeoutMs) && r.timeoutMs > 0)) {
    fail(`${where}.timeoutMs`, "must be a positive whole number of milliseconds");
  }
  const cap = r.grpcTimeoutCapMs;
  if (cap !== undefined && !(Number.isInteger(cap) && cap >= 0))
    fail(`${where}.grpcTimeoutCapMs`, "must be a whole number of milliseconds (0: no cap)");
  if (r.retries !== undefined) validateRetries(r.retries, `${where}.retries`);
  if (r.fault !== undefined) validateFault(r.fault, `${where}.fault`);
}

const RETRY_ON = new Set([
  "cancelled",
  "deadline-exceeded",
  "internal",
  "resource-exhausted",
  "unavailable",
  "5xx",
  "gateway-error",
  "reset",
  "connect-failure",
  "retriable-4xx",
  "refused-stream",
  "retriable-status-codes",
  "http3-post-connect-failure",
]);

function validateRetries(r: NonNullable<RouteRule["retries"]>, where: string): void {
  if (!(Number.isInteger(r.attempts) && r.attempts >= 0 && r.attempts <= 10)) {
    fail(`${where}.attempts`, `must be a whole number from 0 to 10, got ${JSON.stringify(r.attempts)}`);
  }
  if (r.on !== undefined) {
    for (const c of String(r.on).split(",")) {
      if (!RETRY_ON.has(c.trim()))
        fail(`${where}.on`, `unknown retry condition "${c.trim()}"; expected some of ${[...RETRY_ON].join(", ")}`);
    }
  }
  const base = r.backoffBaseMs;
  if (base !== undefined && !(Number.isInteger(base) && base > 0))
    fail(`${where}.backoffBaseMs`, "must be a positive whole number of milliseconds");
  const max = r.backoffMaxMs;
  if (max !== undefined && !(Number.isInteger(max) && max >= (base ?? 1))) {
    fail(`${where}.backoffMaxMs`, "must be a whole number of milliseconds, at least backoffBaseMs");
  }
}

function percent(where: string, p: unknown): void {
  if (typeof p !== "number" || !(p >= 0 && p <= 100))
    fail(where, `must be a percentage from 0 to 100, got ${JSON.stringify(p)}`);
}

function validateFault(f: NonNullable<RouteRule["fault"]>, where: string): void {
  if (!f.delay && !f.abort) fail(where, "needs a delay, an abort, or both");
  if (f.delay) {
    if (!(Number.isInteger(f.delay.fixedMs) && f.delay.fixedMs > 0))
      fail(`${where}.delay.fixedMs`, "must be a positive whole number of milliseconds");
    percent(`${where}.delay.percent`, f.delay.percent);
  }
  if (f.abort) {
    const { httpStatus, grpcStatus } = f.abort;
    if ((httpStatus === undefined) === (grpcStatus === undefined))
      fail(`${where}.abort`, "needs exactly one of httpStatus and grpcStatus");
    if (httpStatus !== undefined && !(Number.isInteger(httpStatus) && httpStatus >= 200 && httpStatus < 600)) {
      fail(`${where}.abort.httpStatus`, `must be an HTTP status from 200 to 599, got ${JSON.stringify(httpStatus)}`);
    }
    if (grpcStatus !== undefined && !(Number.isInteger(grpcStatus) && grpcStatus >= 1 && grpcStatus <= 16)) {
      fail(`${where}.abort.grpcStatus`, `must be a gRPC status code from 1 to 16, got ${JSON.stringify(grpcStatus)}`);
    }
    percent(`${where}.abort.percent`, f.abort.percent);
  }
}

/** Checks one gateway port (the hosts it names are checked by {@link validateReferences}). */
export function validateGateway(g: Gateway, where = `gateway on port ${JSON.stringify(g?.port)}`): void {
  port(`${where}.port`, g?.port);
  if (!Array.isArray(g.hosts) || g.hosts.length === 0) fail(`${where}.hosts`, "must list at least one service");
  // A named gateway (Istio's) serves host names and wildcards; an unnamed one, services.
  const host = g.name !== undefined ? GATEWAY_HOST : NAME;
  g.hosts.forEach((h, i) => {
    // Named gateways' hosts may be narrowed to the rules of one namespace: `ns/host`, `*/host`, `./host`.
    const slash = typeof h === "string" && g.name !== undefined ? h.indexOf("/") : -1;
    const ns = slash >= 0 ? (h as string).slice(0, slash) : undefined;
    const bare = slash >= 0 ? (h as string).slice(slash + 1) : h;
    const nsOk = ns === undefined || ns === "*" || ns === "." || /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns);
    if (typeof bare !== "string" || !host.test(bare) || !nsOk)
      fail(
        `${where}.hosts[${i}]`,
        `must be ${g.name !== undefined ? "a host name or wildcard, optionally namespace/host" : "a service name"}, got ${JSON.stringify(h)}`,
      );
  });
  validateGatewayExtras(g, where);
}

const GATEWAY_HOST = /^(\*|(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$/;

/** Checks that no two services share a name, and every route and gateway names existing services (gateway ports unique). */
export function validateReferences(
  services: readonly Service[],
  routes: readonly RouteRule[],
  where = "",
  gateways: readonly Gateway[] = [],
): void {
  // One name → service map; a route's subset is looked up only where a
  // route names one (a per-service set of subsets cost every push 10,000
  // allocations at 10,000 services).
  const byName = new Map<string, Service>();
  services.forEach((s, i) => {
    if (byName.has(s.name)) fail(`${where}services[${i}].name`, `duplicate service name "${s.name}"`);
    byName.set(s.name, s);
  });
  routes.forEach((r, i) => {
    // A rule only gateways use routes any host they serve; one sidecars use names a service.
    const mesh = r.gateways === undefined || r.gateways.includes("mesh");
    if (mesh && !byName.has(r.host)) fail(`${where}routes[${i}].host`, `no service named "${r.host}"`);
    if (r.mirror && !byName.has(r.mirror.service))
      fail(`${where}routes[${i}].mirror.service`, `no service named "${r.mirror.service}"`);
    r.split.forEach((d, j) => {
      const target = byName.get(d.service);
      if (!target) fail(`${where}routes[${i}].split[${j}].service`, `no service named "${d.service}"`);
      if (d.subset !== undefined && !(target.subsets ?? []).some((x) => x.name === d.subset)) {
        fail(`${where}routes[${i}].split[${j}].subset`, `service "${d.service}" has no subset "${d.subset}"`);
      }
      if (d.port !== undefined && target.ports && !target.ports.some((p) => p.port === d.port)) {
        fail(
          `${where}routes[${i}].split[${j}].port`,
          `service "${d.service}" has no port ${d.port}; it has ${target.ports.map((p) => p.port).join(", ")}`,
        );
      }
    });
  });
  validatePolicyReferences(services, where, byName);
  const ports = new Set<number>();
  gateways.forEach((g, i) => {
    // Named gateways (Istio's servers) may share a port, told apart by host and SNI.
    if (g.name !== undefined) return;
    if (ports.has(g.port)) fail(`${where}gateways[${i}].port`, `port ${g.port} is used by another gateway`);
    ports.add(g.port);
    g.hosts.forEach((h, j) => {
      if (!byName.has(h)) fail(`${where}gateways[${i}].hosts[${j}]`, `no service named "${h}"`);
    });
  });
}
