import { isIP } from "node:net";
import { XdsError } from "@xdskit/xds-types";
import type { RouteRule, Service } from "./model.js";

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
  if (s.protocol !== undefined && !["http", "grpc", "tcp"].includes(s.protocol)) {
    fail(`${where}.protocol`, `must be http, grpc or tcp, got ${JSON.stringify(s.protocol)}`);
  }
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
  });
}

/** Checks one route rule (services it names are checked against a push by {@link validateReferences}). */
export function validateRoute(r: RouteRule, where = `route for ${JSON.stringify(r?.host)}`): void {
  if (typeof r?.host !== "string" || !NAME.test(r.host))
    fail(`${where}.host`, `must be a service name, got ${JSON.stringify(r?.host)}`);
  if (!Array.isArray(r.split) || r.split.length === 0) fail(`${where}.split`, "must list at least one service");
  let total = 0;
  r.split.forEach((d, i) => {
    if (typeof d?.service !== "string" || !NAME.test(d.service))
      fail(`${where}.split[${i}].service`, "must be a service name");
    if (!Number.isInteger(d.weight) || d.weight < 0) {
      fail(`${where}.split[${i}].weight`, `must be a whole number >= 0, got ${JSON.stringify(d.weight)}`);
    }
    total += d.weight;
  });
  if (total <= 0) fail(`${where}.split`, "weights must add up to more than 0");
  if (r.timeoutMs !== undefined && !(Number.isInteger(r.timeoutMs) && r.timeoutMs > 0)) {
    fail(`${where}.timeoutMs`, "must be a positive whole number of milliseconds");
  }
  if (
    r.retries !== undefined &&
    !(Number.isInteger(r.retries.attempts) && r.retries.attempts >= 0 && r.retries.attempts <= 10)
  ) {
    fail(`${where}.retries.attempts`, "must be a whole number from 0 to 10");
  }
}

/** Checks that no two services share a name and every route names existing services. */
export function validateReferences(services: readonly Service[], routes: readonly RouteRule[], where = ""): void {
  const seen = new Set<string>();
  services.forEach((s, i) => {
    if (seen.has(s.name)) fail(`${where}services[${i}].name`, `duplicate service name "${s.name}"`);
    seen.add(s.name);
  });
  routes.forEach((r, i) => {
    if (!seen.has(r.host)) fail(`${where}routes[${i}].host`, `no service named "${r.host}"`);
    r.split.forEach((d, j) => {
      if (!seen.has(d.service)) fail(`${where}routes[${i}].split[${j}].service`, `no service named "${d.service}"`);
    });
  });
}
