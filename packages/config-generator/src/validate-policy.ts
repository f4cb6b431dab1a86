// Checks of a service's traffic policy (policy.ts): every mistake is refused
// at the source with the path of the field, never NACKed by clients.
import { isIP } from "node:net";
import { XdsError } from "@xdskit/xds-types";
import type { Service } from "./model.js";
import type { AuthorizationRule, CircuitBreaker, OutlierDetection, ServiceTls } from "./policy.js";

const POLICIES = ["round-robin", "ring-hash", "least-request", "weighted-round-robin", "random"];
const HEADER = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const PROVIDER = /^[A-Za-z0-9_.-]{1,128}$/;
const HOST =
  /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;
const HEALTH = ["healthy", "unhealthy", "draining", "degraded", "unknown"];

function fail(where: string, problem: string): never {
  throw new XdsError("invalid_config", `${where}: ${problem}`);
}

function whole(where: string, v: unknown, min: number, max: number, unit = ""): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    fail(where, `must be a whole number${unit} from ${min} to ${max}, got ${JSON.stringify(v)}`);
}

function list(where: string, v: unknown): asserts v is readonly unknown[] {
  if (!Array.isArray(v)) fail(where, `must be a list, got ${JSON.stringify(v)}`);
}

const DAY_MS = 86_400_000;

/** Checks a circuit-breaker policy; throws naming the field at `where`. */
export function validateCircuitBreaker(cb: CircuitBreaker, where: string): void {
  if (typeof cb !== "object" || cb === null) fail(where, "must be an object");
  for (const k of [
    "maxRequests",
    "maxConnections",
    "maxPendingRequests",
    "maxRetries",
    "maxRequestsPerConnection",
  ] as const)
    whole(`${where}.${k}`, cb[k], 1, 4_294_967_295);
}

/** Checks an outlier-detection policy; throws naming the field at `where`. */
export function validateOutlierDetection(o: OutlierDetection, where: string): void {
  if (typeof o !== "object" || o === null) fail(where, "must be an object");
  validateOutlier(o, where);
}

function validateOutlier(o: OutlierDetection, where: string): void {
  whole(`${where}.intervalMs`, o.intervalMs, 1, DAY_MS, " of ms");
  whole(`${where}.baseEjectionMs`, o.baseEjectionMs, 1, DAY_MS, " of ms");
  whole(`${where}.maxEjectionMs`, o.maxEjectionMs, 1, DAY_MS, " of ms");
  if (o.maxEjectionMs !== undefined && o.maxEjectionMs < (o.baseEjectionMs ?? 30_000))
    fail(`${where}.maxEjectionMs`, "must be at least baseEjectionMs (default 30000)");
  whole(`${where}.maxEjectionPercent`, o.maxEjectionPercent, 0, 100);
  whole(`${where}.consecutiveErrors`, o.consecutiveErrors, 1, 1_000_000);
  if (o.successRate) {
    const at = `${where}.successRate`;
    whole(`${at}.stdevFactor`, o.successRate.stdevFactor, 1, 1_000_000);
    whole(`${at}.minimumHosts`, o.successRate.minimumHosts, 1, 1_000_000);
    whole(`${at}.requestVolume`, o.successRate.requestVolume, 1, 1_000_000);
    whole(`${at}.enforcingPercent`, o.successRate.enforcingPercent, 0, 100);
  }
  if (o.failurePercentage) {
    const at = `${where}.failurePercentage`;
    if (o.failurePercentage.threshold === undefined) fail(`${at}.threshold`, "is required (percent of failed calls)");
    whole(`${at}.threshold`, o.failurePercentage.threshold, 0, 100);
    whole(`${at}.minimumHosts`, o.failurePercentage.minimumHosts, 1, 1_000_000);
    whole(`${at}.requestVolume`, o.failurePercentage.requestVolume, 1, 1_000_000);
    whole(`${at}.enforcingPercent`, o.failurePercentage.enforcingPercent, 0, 100);
  }
  if (!o.successRate && !o.failurePercentage && o.consecutiveErrors === undefined)
    fail(where, "needs at least one of successRate, failurePercentage and consecutiveErrors");
}

function validateTls(t: ServiceTls, where: string): void {
  if (t.mode !== undefined && t.mode !== "mutual" && t.mode !== "simple")
    fail(`${where}.mode`, `must be mutual or simple, got ${JSON.stringify(t.mode)}`);
  for (const k of ["identityProvider", "caProvider"] as const) {
    const v = t[k];
    if (v !== undefined && (typeof v !== "string" || !PROVIDER.test(v)))
      fail(
        `${where}.${k}`,
        `must name a certificate provider instance (letters, digits, _ . -), got ${JSON.stringify(v)}`,
      );
  }
  if (t.subjectAltNames !== undefined) {
    list(`${where}.subjectAltNames`, t.subjectAltNames);
    t.subjectAltNames.forEach((n, i) => {
      pattern(`${where}.subjectAltNames[${i}]`, n, false);
    });
  }
}

function pattern(where: string, v: unknown, allowAny: boolean): void {
  if (
    typeof v !== "string" ||
    v.length === 0 ||
    (v.includes("*") && !(v.endsWith("*") && v.indexOf("*") === v.length - 1))
  )
    fail(where, `must be exact, or a prefix ending in '*', got ${JSON.stringify(v)}`);
  if (v === "*" && !allowAny) fail(where, "'*' alone matches everything; leave the field out instead");
}

function validateAuthorization(rules: readonly AuthorizationRule[], where: string): void {
  list(where, rules);
  const names = new Set<string>();
  rules.forEach((r, i) => {
    const at = `${where}[${i}]`;
    if (typeof r?.name !== "string" || !/^[A-Za-z0-9_.-]{1,128}$/.test(r.name))
      fail(`${at}.name`, `must be a name (letters, digits, _ . -), got ${JSON.stringify(r?.name)}`);
    if (names.has(r.name)) fail(`${at}.name`, `duplicate rule "${r.name}"`);
    names.add(r.name);
    if (r.action !== "allow" && r.action !== "deny")
      fail(`${at}.action`, `must be allow or deny, got ${JSON.stringify(r.action)}`);
    if (r.principals !== undefined) {
      list(`${at}.principals`, r.principals);
      r.principals.forEach((p, j) => {
        pattern(`${at}.principals[${j}]`, p, true);
      });
    }
    if (r.paths !== undefined) {
      list(`${at}.paths`, r.paths);
      r.paths.forEach((p, j) => {
        pattern(`${at}.paths[${j}]`, p, false);
        if (!String(p).startsWith("/")) fail(`${at}.paths[${j}]`, `must start with '/', got ${JSON.stringify(p)}`);
      });
    }
    if (r.headers !== undefined) {
      if (typeof r.headers !== "object" || r.headers === null || Array.isArray(r.headers))
        fail(`${at}.headers`, "must be a map of header names to values");
      for (const [k, v] of Object.entries(r.headers)) {
        if (!HEADER.test(k) || k.startsWith(":"))
          fail(`${at}.headers.${k}`, "must be a lower-case header name (pseudo-headers cannot be matched)");
        if (typeof v !== "string") fail(`${at}.headers.${k}`, `must be a string, got ${JSON.stringify(v)}`);
      }
    }
  });
}

/** Checks the traffic policy fields of one service; throws `invalid_config` naming the path and the problem. */
export function validatePolicy(s: Service, where: string): void {
  s.endpoints.forEach((e, i) => {
    const at = `${where}.endpoints[${i}]`;
    if (e.health !== undefined && !HEALTH.includes(e.health))
      fail(`${at}.health`, `must be one of ${HEALTH.join(", ")}, got ${JSON.stringify(e.health)}`);
    whole(`${at}.priority`, e.priority, 0, 127);
  });
  // gRPC refuses an assignment with one locality in two priorities.
  const priorityOf = new Map<string, number | undefined>();
  s.endpoints.forEach((e, i) => {
    const l = `${e.locality?.region ?? ""}/${e.locality?.zone ?? ""}/${e.locality?.subZone ?? ""}`;
    if (priorityOf.has(l) && priorityOf.get(l) !== e.priority)
      fail(
        `${where}.endpoints[${i}].priority`,
        `must equal the priority of the other endpoints in locality "${l}" (one locality is in one priority)`,
      );
    priorityOf.set(l, e.priority);
  });
  const lb = s.loadBalancer;
  if (lb !== undefined) {
    const at = `${where}.loadBalancer`;
    if (!POLICIES.includes(lb.policy))
      fail(`${at}.policy`, `must be one of ${POLICIES.join(", ")}, got ${JSON.stringify(lb.policy)}`);
    if (lb.policy !== "ring-hash")
      for (const k of [
        "hashHeaders",
        "minRingSize",
        "maxRingSize",
        "hashCookie",
        "hashSourceIp",
        "hashQueryParam",
      ] as const)
        if (lb[k] !== undefined) fail(`${at}.${k}`, "applies only to policy ring-hash");
    if (lb.hashCookie !== undefined && !(typeof lb.hashCookie?.name === "string" && lb.hashCookie.name.length > 0))
      fail(`${at}.hashCookie.name`, "must name the cookie");
    if (lb.hashQueryParam !== undefined && !(typeof lb.hashQueryParam === "string" && lb.hashQueryParam.length > 0))
      fail(`${at}.hashQueryParam`, "must name the query parameter");
    if (lb.policy !== "least-request" && lb.choiceCount !== undefined)
      fail(`${at}.choiceCount`, "applies only to policy least-request");
    if (lb.hashHeaders !== undefined) {
      list(`${at}.hashHeaders`, lb.hashHeaders);
      lb.hashHeaders.forEach((h, i) => {
        if (typeof h !== "string" || !HEADER.test(h) || h.endsWith("-bin"))
          fail(`${at}.hashHeaders[${i}]`, `must be a lower-case header name (not binary), got ${JSON.stringify(h)}`);
      });
    }
    whole(`${at}.minRingSize`, lb.minRingSize, 1, 8_388_608);
    whole(`${at}.maxRingSize`, lb.maxRingSize, 1, 8_388_608);
    if ((lb.minRingSize ?? 1024) > (lb.maxRingSize ?? 8_388_608))
      fail(`${at}.minRingSize`, "must not be more than maxRingSize");
    whole(`${at}.choiceCount`, lb.choiceCount, 2, 100);
  }
  if (s.outlierDetection !== undefined) validateOutlier(s.outlierDetection, `${where}.outlierDetection`);
  if (s.circuitBreaker !== undefined) validateCircuitBreaker(s.circuitBreaker, `${where}.circuitBreaker`);
  const fo = s.localityFailover;
  if (fo !== undefined && fo !== "nearest") {
    if (!Array.isArray(fo) || fo.length === 0)
      fail(
        `${where}.localityFailover`,
        `must be "nearest" or a non-empty list of localities, got ${JSON.stringify(fo)}`,
      );
    fo.forEach((l, i) => {
      if (typeof l !== "object" || l === null || (!l.region && !l.zone && !l.subZone))
        fail(`${where}.localityFailover[${i}]`, "must give at least one of region, zone and subZone");
    });
  }
  if (s.tls !== undefined) validateTls(s.tls, `${where}.tls`);
  if (s.authorization !== undefined) validateAuthorization(s.authorization, `${where}.authorization`);
  if (s.dns !== undefined) {
    if (typeof s.dns.host !== "string" || !HOST.test(s.dns.host) || isIP(s.dns.host) !== 0)
      fail(
        `${where}.dns.host`,
        `must be a DNS host name (for an IP, list it as an endpoint), got ${JSON.stringify(s.dns.host)}`,
      );
    whole(`${where}.dns.port`, s.dns.port, 1, 65535);
    if (s.dns.port === undefined) fail(`${where}.dns.port`, "is required");
  }
  if (s.aggregate !== undefined) {
    list(`${where}.aggregate`, s.aggregate);
    if (s.aggregate.length === 0) fail(`${where}.aggregate`, "must list at least one service");
    if (s.dns) fail(`${where}.aggregate`, "a service is either dns or aggregate, not both");
  }
  if ((s.dns || s.aggregate) && s.endpoints.length > 0)
    fail(
      `${where}.endpoints`,
      `must be empty for a ${s.dns ? "dns" : "aggregate"} service (its ${s.dns ? "host name" : "members"} give the endpoints)`,
    );
  if ((s.dns || s.aggregate) && (s.subsets?.length ?? 0) > 0)
    fail(`${where}.subsets`, `a ${s.dns ? "dns" : "aggregate"} service has no endpoints to take subsets of`);
}

/**
 * Checks what spans services: aggregate members exist, are not aggregates
 * themselves (gRPC allows a depth of one here) and are not the service;
 * services serving on one address and port agree on TLS and authorization,
 * since one server listener carries both. `byName` saves building the name
 * map again when the caller has one.
 */
export function validatePolicyReferences(
  services: readonly Service[],
  where = "",
  byName: ReadonlyMap<string, Service> = new Map(services.map((s) => [s.name, s])),
): void {
  services.forEach((s, i) => {
    s.aggregate?.forEach((m, j) => {
      const at = `${where}services[${i}].aggregate[${j}]`;
      const member = byName.get(m);
      if (!member) fail(at, `no service named ${JSON.stringify(m)}`);
      if (m === s.name) fail(at, "a service cannot be a member of itself");
      if (member.aggregate) fail(at, `"${m}" is an aggregate itself; list its members instead`);
    });
  });
  // Only tls and authorization can disagree on a shared server address; a
  // mesh without either (most, and every large one measured) skips the walk.
  if (!services.some((s) => s.tls !== undefined || s.authorization !== undefined)) return;
  const servers = new Map<string, Service>();
  for (const s of services) {
    for (const e of s.endpoints) {
      const key = `${e.address}:${e.port}`;
      const other = servers.get(key);
      if (!other) {
        servers.set(key, s);
        continue;
      }
      if (other === s) continue;
      if (JSON.stringify(other.tls ?? null) !== JSON.stringify(s.tls ?? null))
        fail(
          `${where}service "${s.name}"`,
          `serves on ${key} like "${other.name}" but with other tls settings; one server listener carries one`,
        );
      if (JSON.stringify(other.authorization ?? null) !== JSON.stringify(s.authorization ?? null))
        fail(
          `${where}service "${s.name}"`,
          `serves on ${key} like "${other.name}" but with other authorization rules; one server listener carries one set`,
        );
    }
  }
}
