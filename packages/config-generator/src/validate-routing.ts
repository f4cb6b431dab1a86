// Checks of the richer routing and of destination policies, gateways and
// sidecar scopes: every mistake is refused with the path of the field, never
// NACKed by clients. Regular expressions are RE2, as Envoy and gRPC run them.
import { isIP } from "node:net";
import { XdsError } from "@xdskit/xds-types";
import { RE2JS } from "re2js";
import type { Gateway, RouteRule, Service } from "./model.js";
import type { CorsPolicy, HeaderOperations, RouteMatch, SidecarScope, StringMatch, TcpRoute } from "./model-routing.js";
import type { DestinationPolicy, TrafficPolicy, UpstreamTls } from "./policy.js";
import { validateCircuitBreaker, validatePolicy } from "./validate-policy.js";

function fail(where: string, problem: string): never {
  throw new XdsError("invalid_config", `${where}: ${problem}`);
}

const HEADER = /^:?[a-z0-9!#$%&'*+.^_`|~-]+$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HOST = /^(\*|(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$/;
const SERVICE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** Longest regular expression accepted, in characters. */
export const MAX_ROUTE_REGEX = 1024;

function port(where: string, p: unknown): void {
  if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 65535)
    fail(where, `port must be a whole number from 1 to 65535, got ${JSON.stringify(p)}`);
}

function map(where: string, m: unknown): void {
  if (typeof m !== "object" || m === null || Array.isArray(m)) fail(where, "must be a map");
}

function list(where: string, v: unknown): asserts v is readonly unknown[] {
  if (!Array.isArray(v)) fail(where, `must be a list, got ${JSON.stringify(v)}`);
}

/** Checks an RE2 regular expression; throws naming `where`. */
export function validateRegex(where: string, pattern: unknown): void {
  if (typeof pattern !== "string" || pattern.length === 0) fail(where, "must be a non-empty regular expression");
  if (pattern.length > MAX_ROUTE_REGEX) fail(where, `is ${pattern.length} characters; at most ${MAX_ROUTE_REGEX}`);
  try {
    RE2JS.compile(pattern);
  } catch (err) {
    fail(where, `is not an RE2 regular expression: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Checks a string match: exactly one of exact, prefix and regex. */
export function validateStringMatch(where: string, value: unknown): asserts value is StringMatch {
  map(where, value);
  const m = value as Record<string, unknown>;
  const keys = Object.keys(m).filter((k) => m[k] !== undefined);
  if (keys.length !== 1 || !["exact", "prefix", "regex"].includes(keys[0] as string))
    fail(where, `needs exactly one of exact, prefix and regex, got ${keys.join(", ") || "none"}`);
  const k = keys[0] as "exact" | "prefix" | "regex";
  if (typeof m[k] !== "string") fail(`${where}.${k}`, "must be a string");
  if (k === "regex") validateRegex(`${where}.regex`, m.regex);
}

function headerMap(where: string, h: unknown): void {
  if (h === undefined) return;
  map(where, h);
  for (const [name, m] of Object.entries(h as Record<string, unknown>)) {
    if (!HEADER.test(name)) fail(`${where}.${name}`, "is not a lower-case header name");
    validateStringMatch(`${where}.${name}`, m);
  }
}

function labels(where: string, l: unknown): void {
  if (l === undefined) return;
  map(where, l);
  for (const [k, v] of Object.entries(l as Record<string, unknown>))
    if (typeof v !== "string") fail(`${where}.${k}`, "must be a string");
}

/** `mesh`, or a gateway name `namespace/name`. */
function gatewayNames(where: string, g: unknown): void {
  if (g === undefined) return;
  list(where, g);
  g.forEach((x, i) => {
    if (x !== "mesh" && !(typeof x === "string" && /^[a-z0-9][-a-z0-9.]*\/[a-z0-9][-a-z0-9.]*$/.test(x)))
      fail(`${where}[${i}]`, `must be "mesh" or a gateway name namespace/name, got ${JSON.stringify(x)}`);
  });
}

/** `*`, `.`, or namespace names. */
export function validateExportTo(where: string, e: unknown): void {
  if (e === undefined) return;
  list(where, e);
  e.forEach((x, i) => {
    if (x !== "*" && x !== "." && !(typeof x === "string" && NAMESPACE.test(x)))
      fail(`${where}[${i}]`, `must be "*", "." or a namespace, got ${JSON.stringify(x)}`);
  });
}

function validateMatch(m: RouteMatch, where: string): void {
  map(where, m);
  if (m.uri !== undefined) validateStringMatch(`${where}.uri`, m.uri);
  headerMap(`${where}.headers`, m.headers);
  headerMap(`${where}.withoutHeaders`, m.withoutHeaders);
  if (m.queryParams !== undefined) {
    map(`${where}.queryParams`, m.queryParams);
    for (const [k, v] of Object.entries(m.queryParams)) validateStringMatch(`${where}.queryParams.${k}`, v);
  }
  if (m.method !== undefined) validateStringMatch(`${where}.method`, m.method);
  if (m.authority !== undefined) validateStringMatch(`${where}.authority`, m.authority);
  if (m.port !== undefined) port(`${where}.port`, m.port);
  labels(`${where}.sourceLabels`, m.sourceLabels);
  gatewayNames(`${where}.gateways`, m.gateways);
}

function validateHeaderOps(h: HeaderOperations, where: string): void {
  map(where, h);
  for (const k of ["set", "add"] as const) {
    const v = h[k];
    if (v === undefined) continue;
    map(`${where}.${k}`, v);
    for (const [name, value] of Object.entries(v)) {
      if (!HEADER.test(name) || name.startsWith(":")) fail(`${where}.${k}.${name}`, "is not a lower-case header name");
      if (typeof value !== "string") fail(`${where}.${k}.${name}`, "must be a string");
    }
  }
  if (h.remove !== undefined) {
    list(`${where}.remove`, h.remove);
    h.remove.forEach((n, i) => {
      if (typeof n !== "string" || !HEADER.test(n)) fail(`${where}.remove[${i}]`, "is not a lower-case header name");
    });
  }
}

function validateCors(c: CorsPolicy, where: string): void {
  map(where, c);
  list(`${where}.allowOrigins`, c.allowOrigins);
  if (c.allowOrigins.length === 0) fail(`${where}.allowOrigins`, "must list at least one origin");
  c.allowOrigins.forEach((o, i) => {
    validateStringMatch(`${where}.allowOrigins[${i}]`, o);
  });
  if (c.maxAgeS !== undefined && !(Number.isInteger(c.maxAgeS) && c.maxAgeS >= 0))
    fail(`${where}.maxAgeS`, "must be a whole number of seconds");
}

/** The parts of a route rule beyond the mesh file's short form. */
export function validateRouteExtras(r: RouteRule, where: string): void {
  const gatewayOnly = r.gateways !== undefined && !r.gateways.includes("mesh");
  const hostOk = typeof r.host === "string" && (gatewayOnly ? HOST.test(r.host) : SERVICE.test(r.host));
  if (!hostOk)
    fail(
      `${where}.host`,
      gatewayOnly
        ? `must be a host name or wildcard (*.example.com), got ${JSON.stringify(r.host)}`
        : `must be a service name, got ${JSON.stringify(r.host)}`,
    );
  if (r.order !== undefined && !(Number.isInteger(r.order) && r.order >= 0))
    fail(`${where}.order`, "must be a whole number >= 0");
  if (r.match !== undefined) {
    list(`${where}.match`, r.match);
    r.match.forEach((m, i) => {
      validateMatch(m, `${where}.match[${i}]`);
    });
  }
  if (r.redirect !== undefined) {
    const d = r.redirect;
    map(`${where}.redirect`, d);
    if (d.uri !== undefined && !(typeof d.uri === "string" && d.uri.startsWith("/")))
      fail(`${where}.redirect.uri`, "must be a path starting with /");
    if (d.port !== undefined) port(`${where}.redirect.port`, d.port);
    if (d.scheme !== undefined && !["http", "https"].includes(d.scheme))
      fail(`${where}.redirect.scheme`, `must be http or https, got ${JSON.stringify(d.scheme)}`);
    if (d.code !== undefined && ![301, 302, 303, 307, 308].includes(d.code))
      fail(`${where}.redirect.code`, `must be 301, 302, 303, 307 or 308, got ${JSON.stringify(d.code)}`);
    if (r.split.length > 0) fail(`${where}.redirect`, "a redirect does not route: give it or a split, not both");
  }
  if (r.rewrite !== undefined) {
    const w = r.rewrite;
    map(`${where}.rewrite`, w);
    if (w.uri !== undefined && !(typeof w.uri === "string" && w.uri.startsWith("/")))
      fail(`${where}.rewrite.uri`, "must be a path starting with /");
    if (w.uriRegex !== undefined) {
      validateRegex(`${where}.rewrite.uriRegex.match`, w.uriRegex.match);
      if (typeof w.uriRegex.rewrite !== "string") fail(`${where}.rewrite.uriRegex.rewrite`, "must be a string");
      if (w.uri !== undefined) fail(`${where}.rewrite`, "give uri or uriRegex, not both");
    }
  }
  if (r.mirror !== undefined) {
    const m = r.mirror;
    map(`${where}.mirror`, m);
    if (typeof m.service !== "string" || !SERVICE.test(m.service))
      fail(`${where}.mirror.service`, "must be a service name");
    if (m.port !== undefined) port(`${where}.mirror.port`, m.port);
    if (m.percent !== undefined && !(typeof m.percent === "number" && m.percent >= 0 && m.percent <= 100))
      fail(`${where}.mirror.percent`, `must be a percentage from 0 to 100, got ${JSON.stringify(m.percent)}`);
  }
  if (r.requestHeaders !== undefined) validateHeaderOps(r.requestHeaders, `${where}.requestHeaders`);
  if (r.responseHeaders !== undefined) validateHeaderOps(r.responseHeaders, `${where}.responseHeaders`);
  if (r.cors !== undefined) validateCors(r.cors, `${where}.cors`);
  gatewayNames(`${where}.gateways`, r.gateways);
  validateExportTo(`${where}.exportTo`, r.exportTo);
  if (r.namespace !== undefined && !NAMESPACE.test(r.namespace)) fail(`${where}.namespace`, "must be a namespace name");
  const perTry = r.retries?.perTryTimeoutMs;
  if (perTry !== undefined && !(Number.isInteger(perTry) && perTry > 0))
    fail(`${where}.retries.perTryTimeoutMs`, "must be a positive whole number of milliseconds");
}

/** Checks a TCP or TLS route. */
export function validateTcpRoute(r: TcpRoute, where: string): void {
  map(where, r);
  if (typeof r.host !== "string" || !HOST.test(r.host))
    fail(`${where}.host`, `must be a host name, got ${JSON.stringify(r.host)}`);
  if (r.kind !== "tcp" && r.kind !== "tls") fail(`${where}.kind`, `must be tcp or tls, got ${JSON.stringify(r.kind)}`);
  list(`${where}.split`, r.split);
  if (r.split.length === 0) fail(`${where}.split`, "must list at least one service");
  let total = 0;
  r.split.forEach((d, i) => {
    if (typeof d?.service !== "string" || !SERVICE.test(d.service))
      fail(`${where}.split[${i}].service`, "must be a service name");
    if (d.port !== undefined) port(`${where}.split[${i}].port`, d.port);
    if (!Number.isInteger(d.weight) || d.weight < 0) fail(`${where}.split[${i}].weight`, "must be a whole number >= 0");
    total += d.weight;
  });
  if (total <= 0) fail(`${where}.split`, "weights must add up to more than 0");
  (r.match ?? []).forEach((m, i) => {
    const at = `${where}.match[${i}]`;
    map(at, m);
    if (m.port !== undefined) port(`${at}.port`, m.port);
    if (m.sniHosts !== undefined) {
      list(`${at}.sniHosts`, m.sniHosts);
      m.sniHosts.forEach((h, j) => {
        if (typeof h !== "string" || !HOST.test(h)) fail(`${at}.sniHosts[${j}]`, "must be a host name or wildcard");
      });
    } else if (r.kind === "tls") fail(`${at}.sniHosts`, "a TLS route matches by SNI: list the server names");
    for (const [j, s] of (m.destinationSubnets ?? []).entries()) {
      const [ip, bits] = String(s).split("/");
      if (isIP(ip ?? "") === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits)))
        fail(`${at}.destinationSubnets[${j}]`, `must be an address or CIDR block, got ${JSON.stringify(s)}`);
    }
    labels(`${at}.sourceLabels`, m.sourceLabels);
    gatewayNames(`${at}.gateways`, m.gateways);
  });
  gatewayNames(`${where}.gateways`, r.gateways);
  validateExportTo(`${where}.exportTo`, r.exportTo);
  if (r.namespace !== undefined && !NAMESPACE.test(r.namespace)) fail(`${where}.namespace`, "must be a namespace name");
}

function validateUpstreamTls(t: UpstreamTls, where: string): void {
  map(where, t);
  if (!["disable", "simple", "mutual", "istio-mutual"].includes(t.mode))
    fail(`${where}.mode`, `must be disable, simple, mutual or istio-mutual, got ${JSON.stringify(t.mode)}`);
  if (t.mode === "mutual" && !t.credentialName)
    fail(`${where}.credentialName`, "mutual TLS needs the secret with the client certificate");
  if (
    t.credentialName !== undefined &&
    !(typeof t.credentialName === "string" && /^[a-z0-9][-a-z0-9.]*(\/[a-z0-9][-a-z0-9.]*)?$/.test(t.credentialName))
  )
    fail(`${where}.credentialName`, "must be a secret name (or namespace/name)");
  if (t.sni !== undefined && !(typeof t.sni === "string" && HOST.test(t.sni)))
    fail(`${where}.sni`, "must be a host name");
  if (t.subjectAltNames !== undefined) list(`${where}.subjectAltNames`, t.subjectAltNames);
}

/** Checks a traffic policy (a service's own fields, or a destination policy's). */
export function validateTrafficPolicy(p: TrafficPolicy, where: string): void {
  map(where, p);
  validatePolicy(
    {
      name: "policy",
      endpoints: [],
      ...(p.loadBalancer ? { loadBalancer: p.loadBalancer } : {}),
      ...(p.outlierDetection ? { outlierDetection: p.outlierDetection } : {}),
      ...(p.localityFailover ? { localityFailover: p.localityFailover } : {}),
    },
    where,
  );
  if (p.circuitBreaker !== undefined) validateCircuitBreaker(p.circuitBreaker, `${where}.circuitBreaker`);
  if (p.connectTimeoutMs !== undefined && !(Number.isInteger(p.connectTimeoutMs) && p.connectTimeoutMs > 0))
    fail(`${where}.connectTimeoutMs`, "must be a positive whole number of milliseconds");
  if (p.upstreamTls !== undefined) validateUpstreamTls(p.upstreamTls, `${where}.upstreamTls`);
}

/** Checks a destination policy (a DestinationRule). */
export function validateDestinationPolicy(d: DestinationPolicy, where: string): void {
  map(where, d);
  if (typeof d.host !== "string" || !(SERVICE.test(d.host) || HOST.test(d.host)))
    fail(`${where}.host`, `must be a service name or a wildcard host (*.example.com), got ${JSON.stringify(d.host)}`);
  if (d.trafficPolicy !== undefined) validateTrafficPolicy(d.trafficPolicy, `${where}.trafficPolicy`);
  for (const [p, tp] of Object.entries(d.portPolicies ?? {})) {
    port(`${where}.portPolicies.${p}`, Number(p));
    validateTrafficPolicy(tp, `${where}.portPolicies.${p}`);
  }
  const names = new Set<string>();
  (d.subsets ?? []).forEach((s, i) => {
    const at = `${where}.subsets[${i}]`;
    if (typeof s?.name !== "string" || !SERVICE.test(s.name)) fail(`${at}.name`, "must be a DNS-style name");
    if (names.has(s.name)) fail(`${at}.name`, `duplicate subset "${s.name}"`);
    names.add(s.name);
    labels(`${at}.labels`, s.labels);
    if (!s.labels || Object.keys(s.labels).length === 0) fail(`${at}.labels`, "must select by at least one label");
    if (s.trafficPolicy !== undefined) validateTrafficPolicy(s.trafficPolicy, `${at}.trafficPolicy`);
  });
  validateExportTo(`${where}.exportTo`, d.exportTo);
}

/** Checks a sidecar scope (a Sidecar resource). */
export function validateSidecarScope(s: SidecarScope, where: string): void {
  map(where, s);
  if (typeof s.namespace !== "string" || !NAMESPACE.test(s.namespace))
    fail(`${where}.namespace`, "must be a namespace name");
  labels(`${where}.workloadSelector`, s.workloadSelector);
  list(`${where}.egressHosts`, s.egressHosts);
  s.egressHosts.forEach((h, i) => {
    const [ns, host] = String(h).split("/");
    const nsOk = ns === "*" || ns === "." || ns === "~" || NAMESPACE.test(ns ?? "");
    if (host === undefined || !nsOk || !HOST.test(host))
      fail(`${where}.egressHosts[${i}]`, `must be namespace/host (./*, ns/*, */host), got ${JSON.stringify(h)}`);
  });
  if (s.outboundTrafficPolicy !== undefined && !["allow-any", "registry-only"].includes(s.outboundTrafficPolicy))
    fail(`${where}.outboundTrafficPolicy`, "must be allow-any or registry-only");
  if (s.ingress !== undefined) {
    list(`${where}.ingress`, s.ingress);
    const seen = new Set<number>();
    s.ingress.forEach((g, i) => {
      port(`${where}.ingress[${i}].port`, g?.port);
      if (seen.has(g.port)) fail(`${where}.ingress[${i}].port`, `port ${g.port} is listed twice`);
      seen.add(g.port);
      const m = /^(127\.0\.0\.1|0\.0\.0\.0):(\d{1,5})$/.exec(String(g.target));
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
        fail(
          `${where}.ingress[${i}].target`,
          `must be 127.0.0.1:<port> or 0.0.0.0:<port>, got ${JSON.stringify(g.target)}`,
        );
    });
  }
}

/** Checks the parts of a gateway beyond the mesh file's short form. */
export function validateGatewayExtras(g: Gateway, where: string): void {
  if (g.name !== undefined && !/^[a-z0-9][-a-z0-9.]*\/[a-z0-9][-a-z0-9.]*$/.test(g.name))
    fail(`${where}.name`, `must be namespace/name, got ${JSON.stringify(g.name)}`);
  labels(`${where}.selector`, g.selector);
  if (g.protocol !== undefined && !["http", "https", "tls", "tcp"].includes(g.protocol))
    fail(`${where}.protocol`, `must be http, https, tls or tcp, got ${JSON.stringify(g.protocol)}`);
  if (g.tls !== undefined) {
    map(`${where}.tls`, g.tls);
    if (!["simple", "mutual", "passthrough"].includes(g.tls.mode))
      fail(`${where}.tls.mode`, `must be simple, mutual or passthrough, got ${JSON.stringify(g.tls.mode)}`);
    if (g.tls.mode !== "passthrough" && !g.tls.credentialName)
      fail(`${where}.tls.credentialName`, "a gateway terminating TLS needs the secret with its certificate");
  }
}

/** Checks a service's fields beyond the mesh file's first form (policy set from outside, visibility, addresses). */
export function validateServiceExtras(s: Service, where: string): void {
  if (s.connectTimeoutMs !== undefined && !(Number.isInteger(s.connectTimeoutMs) && s.connectTimeoutMs > 0))
    fail(`${where}.connectTimeoutMs`, "must be a positive whole number of milliseconds");
  if (s.upstreamTls !== undefined) validateUpstreamTls(s.upstreamTls, `${where}.upstreamTls`);
  const ports = new Set((s.ports ?? []).map((p) => p.port));
  if (s.port !== undefined) ports.add(s.port);
  for (const [p, tp] of Object.entries(s.portPolicies ?? {})) {
    if (!ports.has(Number(p))) fail(`${where}.portPolicies.${p}`, `the service has no port ${p}`);
    validateTrafficPolicy(tp, `${where}.portPolicies.${p}`);
  }
  if (s.namespace !== undefined && !NAMESPACE.test(s.namespace)) fail(`${where}.namespace`, "must be a namespace name");
  validateExportTo(`${where}.exportTo`, s.exportTo);
  if (s.addresses !== undefined) {
    list(`${where}.addresses`, s.addresses);
    s.addresses.forEach((a, i) => {
      const [ip, bits] = String(a).split("/");
      if (isIP(ip ?? "") === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits)))
        fail(`${where}.addresses[${i}]`, `must be an address or CIDR block, got ${JSON.stringify(a)}`);
    });
  }
  if (s.passthrough !== undefined && typeof s.passthrough !== "boolean")
    fail(`${where}.passthrough`, "must be true or false");
  if (s.passthrough && s.endpoints.length > 0)
    fail(`${where}.endpoints`, "must be empty for a passthrough service (connections go where the client sent them)");
  (s.subsets ?? []).forEach((sub, i) => {
    if (sub.trafficPolicy !== undefined)
      validateTrafficPolicy(sub.trafficPolicy, `${where}.subsets[${i}].trafficPolicy`);
  });
}
