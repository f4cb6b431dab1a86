// Request matches as Envoy route matches: one Envoy route per match of a
// rule (any may match), each holding every condition of its match and the
// rule's short form (path prefix, exact headers). Conditions a kind of client
// cannot evaluate are decided here: a port is known when the route is built
// (a route configuration serves one port), and gRPC clients never see a
// route whose condition they would ignore or refuse.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  HeaderMatcherSchema,
  QueryParameterMatcherSchema,
  RouteMatchSchema,
} from "@xdskit/xds-types/gen/envoy/config/route/v3/route_components_pb";
import type { StringMatcherSchema } from "@xdskit/xds-types/gen/envoy/type/matcher/v3/string_pb";
import type { RouteRule } from "../model.js";
import type { RouteMatch, StringMatch } from "../model-routing.js";
import type { ProxyKind } from "../proxy.js";

type RouteMatchInit = MessageInitShape<typeof RouteMatchSchema>;
type HeaderMatcherInit = MessageInitShape<typeof HeaderMatcherSchema>;
type StringMatcherInit = MessageInitShape<typeof StringMatcherSchema>;

/** A string match as Envoy's string matcher (regexes are RE2, whole string). */
export function stringMatcher(m: StringMatch, ignoreCase = false): StringMatcherInit {
  const base = ignoreCase ? { ignoreCase } : {};
  if ("exact" in m) return { ...base, matchPattern: { case: "exact", value: m.exact } };
  if ("prefix" in m) return { ...base, matchPattern: { case: "prefix", value: m.prefix } };
  return { matchPattern: { case: "safeRegex", value: { regex: m.regex } } };
}

/** A header condition; `{ prefix: "" }` is "present with any value" (Envoy refuses an empty prefix). */
export function headerMatcher(name: string, m: StringMatch, invert = false): HeaderMatcherInit {
  const spec: HeaderMatcherInit["headerMatchSpecifier"] =
    "prefix" in m && m.prefix === ""
      ? { case: "presentMatch", value: true }
      : { case: "stringMatch", value: stringMatcher(m) };
  return { name, headerMatchSpecifier: spec, ...(invert ? { invertMatch: true } : {}) };
}

function queryMatcher(name: string, m: StringMatch): MessageInitShape<typeof QueryParameterMatcherSchema> {
  if ("prefix" in m && m.prefix === "")
    return { name, queryParameterMatchSpecifier: { case: "presentMatch", value: true } };
  return { name, queryParameterMatchSpecifier: { case: "stringMatch", value: stringMatcher(m) } };
}

/**
 * Why gRPC clients cannot take a match: they have no query string, and
 * pseudo-headers (method, authority) are not metadata they match on.
 * Undefined when they can.
 */
export function proxylessUnsupported(m: RouteMatch): string | undefined {
  if (m.queryParams && Object.keys(m.queryParams).length > 0) return "query parameters";
  if (m.method) return "method";
  if (m.authority) return "authority";
  const pseudo = [...Object.keys(m.headers ?? {}), ...Object.keys(m.withoutHeaders ?? {})].find((h) =>
    h.startsWith(":"),
  );
  return pseudo ? `pseudo-header ${pseudo}` : undefined;
}

/** What the rule's short form adds to every match: a path prefix and exact headers. */
function shortForm(rule: RouteRule): RouteMatch {
  return {
    ...(rule.pathPrefix !== undefined ? { uri: { prefix: rule.pathPrefix } } : {}),
    ...(rule.headers
      ? { headers: Object.fromEntries(Object.entries(rule.headers).map(([k, v]) => [k, { exact: v }])) }
      : {}),
  };
}

/** Where a route is built: the port it serves and the gateway (`mesh` for sidecars and proxyless clients). */
export interface MatchSite {
  readonly kind: ProxyKind;
  readonly port: number;
  readonly gateway: string;
}

/**
 * The matches of a rule that can hold at a site, combined with its short
 * form: an empty list means the rule never applies there. A rule without
 * `match` is one match of its short form.
 */
export function applicableMatches(rule: RouteRule, site: MatchSite): RouteMatch[] {
  const base = shortForm(rule);
  const matches = rule.match && rule.match.length > 0 ? rule.match : [{}];
  const out: RouteMatch[] = [];
  for (const m of matches) {
    if (m.port !== undefined && m.port !== site.port) continue;
    if (m.gateways && !m.gateways.includes(site.gateway)) continue;
    // A scoped push has already kept the matches whose source labels hold for its proxies (and cleared them).
    if (m.sourceLabels && Object.keys(m.sourceLabels).length > 0) continue;
    if (site.kind === "proxyless" && proxylessUnsupported(m)) continue;
    // The short form and the match both hold (the match's URI wins when both give one).
    out.push({
      ...base,
      ...m,
      headers: { ...(base.headers ?? {}), ...(m.headers ?? {}) },
    });
  }
  return out;
}

/** True when a match holds for every request (so later rules are unreachable). */
export function matchesEverything(m: RouteMatch): boolean {
  const uriAll = !m.uri || ("prefix" in m.uri && (m.uri.prefix === "" || m.uri.prefix === "/"));
  const empty = (x: object | undefined) => !x || Object.keys(x).length === 0;
  return uriAll && empty(m.headers) && empty(m.withoutHeaders) && empty(m.queryParams) && !m.method && !m.authority;
}

/** An Envoy route match from one request match. */
export function envoyRouteMatch(m: RouteMatch): RouteMatchInit {
  const uri = m.uri;
  const pathSpecifier: RouteMatchInit["pathSpecifier"] = !uri
    ? { case: "prefix", value: "" }
    : "exact" in uri
      ? { case: "path", value: uri.exact }
      : "prefix" in uri
        ? { case: "prefix", value: uri.prefix }
        : { case: "safeRegex", value: { regex: uri.regex } };
  const headers: HeaderMatcherInit[] = [];
  for (const [name, v] of Object.entries(m.headers ?? {})) headers.push(headerMatcher(name, v));
  for (const [name, v] of Object.entries(m.withoutHeaders ?? {})) headers.push(headerMatcher(name, v, true));
  if (m.method) headers.push(headerMatcher(":method", m.method));
  if (m.authority) headers.push(headerMatcher(":authority", m.authority));
  return {
    pathSpecifier,
    ...(m.ignoreUriCase ? { caseSensitive: false } : {}),
    headers,
    queryParameters: Object.entries(m.queryParams ?? {}).map(([name, v]) => queryMatcher(name, v)),
  };
}
