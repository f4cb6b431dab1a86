// AuthorizationPolicies as Envoy RBAC, the way Istio lays them out: a DENY
// filter first, then an ALLOW filter when any allow policy applies (with no
// matching policy a request is refused). Within a rule, sources are any-of,
// each source all-of its fields, each field any-of its values; the same for
// operations; conditions all-of. On TCP, HTTP-only fields cannot be read: an
// allow rule with them matches nothing, a deny rule is applied without them
// (it denies more, never less). A policy that cannot be enforced fails
// closed.
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type PermissionSchema,
  type PrincipalSchema,
  RBAC_Action,
  type RBACSchema,
} from "@xdskit/xds-types/gen/envoy/config/rbac/v3/rbac_pb";
import type { AccessCondition, AccessOperation, AccessPolicy, AccessRule, AccessSource } from "../model-security.js";

type Perm = MessageInitShape<typeof PermissionSchema>;
type Prin = MessageInitShape<typeof PrincipalSchema>;
type Rbac = MessageInitShape<typeof RBACSchema>;

const ANY_PERM: Perm = { rule: { case: "any", value: true } };
const ANY_PRIN: Prin = { identifier: { case: "any", value: true } };

const orPerm = (xs: Perm[]): Perm =>
  xs.length === 1 ? (xs[0] as Perm) : { rule: { case: "orRules", value: { rules: xs } } };
const andPerm = (xs: Perm[]): Perm =>
  xs.length === 0 ? ANY_PERM : xs.length === 1 ? (xs[0] as Perm) : { rule: { case: "andRules", value: { rules: xs } } };
const notPerm = (x: Perm): Perm => ({ rule: { case: "notRule", value: x } });
const orPrin = (xs: Prin[]): Prin =>
  xs.length === 1 ? (xs[0] as Prin) : { identifier: { case: "orIds", value: { ids: xs } } };
const andPrin = (xs: Prin[]): Prin =>
  xs.length === 0
    ? ANY_PRIN
    : xs.length === 1
      ? (xs[0] as Prin)
      : { identifier: { case: "andIds", value: { ids: xs } } };
const notPrin = (x: Prin): Prin => ({ identifier: { case: "notId", value: x } });

// Istio's wildcard strings: `*`, `prefix*`, `*suffix`, or exact.
function stringMatcher(v: string, prefixWith = "") {
  if (v === "*") return { matchPattern: { case: "prefix" as const, value: prefixWith } };
  if (v.endsWith("*")) return { matchPattern: { case: "prefix" as const, value: prefixWith + v.slice(0, -1) } };
  if (v.startsWith("*")) return { matchPattern: { case: "suffix" as const, value: v.slice(1) } };
  return { matchPattern: { case: "exact" as const, value: prefixWith + v } };
}

const principal = (p: string): Prin => ({
  identifier: { case: "authenticated", value: { principalName: stringMatcher(p, "spiffe://") } },
});
const namespacePrin = (ns: string): Prin => ({
  identifier: {
    case: "authenticated",
    value: {
      principalName: {
        matchPattern: {
          case: "safeRegex",
          value: { regex: `spiffe://[^/]+/ns/${ns.replace(/[^a-z0-9-]/g, "")}/sa/.+` },
        },
      },
    },
  },
});
function cidr(c: string) {
  const [ip, bits] = c.split("/") as [string, string | undefined];
  return { addressPrefix: ip, prefixLen: bits !== undefined ? Number(bits) : ip.includes(":") ? 128 : 32 };
}
const sourceIp = (c: string): Prin => ({ identifier: { case: "directRemoteIp", value: cidr(c) } });
const remoteIp = (c: string): Prin => ({ identifier: { case: "remoteIp", value: cidr(c) } });
const header = (name: string, v: string): Perm => ({
  rule: {
    case: "header",
    value: {
      name,
      headerMatchSpecifier: { case: "stringMatch", value: { ...stringMatcher(v), ignoreCase: name === ":authority" } },
    },
  },
});
const path = (v: string): Perm => ({
  rule: { case: "urlPath", value: { rule: { case: "path", value: stringMatcher(v) } } },
});
const port = (n: number): Perm => ({ rule: { case: "destinationPort", value: n } });

// A field: any of its values, and none of its negated ones.
function field<T>(values: readonly T[] | undefined, nots: readonly T[] | undefined, one: (v: T) => Perm): Perm[] {
  const out: Perm[] = [];
  if (values?.length) out.push(orPerm(values.map(one)));
  if (nots?.length) out.push(notPerm(orPerm(nots.map(one))));
  return out;
}
function fieldP<T>(values: readonly T[] | undefined, nots: readonly T[] | undefined, one: (v: T) => Prin): Prin[] {
  const out: Prin[] = [];
  if (values?.length) out.push(orPrin(values.map(one)));
  if (nots?.length) out.push(notPrin(orPrin(nots.map(one))));
  return out;
}

function source(s: AccessSource): Prin {
  return andPrin([
    ...fieldP(s.principals, s.notPrincipals, principal),
    ...fieldP(s.namespaces, s.notNamespaces, namespacePrin),
    ...fieldP(s.ipBlocks, s.notIpBlocks, sourceIp),
  ]);
}

function operation(o: AccessOperation, http: boolean): Perm {
  return andPerm([
    ...(http ? field(o.hosts, o.notHosts, (h) => header(":authority", h)) : []),
    ...field(o.ports, o.notPorts, port),
    ...(http ? field(o.methods, o.notMethods, (m) => header(":method", m)) : []),
    ...(http ? field(o.paths, o.notPaths, path) : []),
  ]);
}

const httpOnlyOp = (o: AccessOperation) =>
  [o.hosts, o.notHosts, o.methods, o.notMethods, o.paths, o.notPaths].some((x) => x?.length);
const httpOnlyCond = (c: AccessCondition) => c.key.startsWith("request.");

// A condition as a permission (request attributes) or a principal (source attributes).
function condition(c: AccessCondition): { perm?: Perm; prin?: Prin } {
  const header = /^request\.headers\[(.+)\]$/.exec(c.key);
  if (header)
    return { perm: andPerm(field(c.values, c.notValues, (v) => headerPerm((header[1] as string).toLowerCase(), v))) };
  if (c.key === "destination.port")
    return { perm: andPerm(field(c.values?.map(Number), c.notValues?.map(Number), port)) };
  if (c.key === "source.ip") return { prin: andPrin(fieldP(c.values, c.notValues, sourceIp)) };
  if (c.key === "remote.ip") return { prin: andPrin(fieldP(c.values, c.notValues, remoteIp)) };
  if (c.key === "source.namespace") return { prin: andPrin(fieldP(c.values, c.notValues, namespacePrin)) };
  return { prin: andPrin(fieldP(c.values, c.notValues, principal)) };
}
const headerPerm = header;

/** One rule as an Envoy policy; undefined when it can never match here (an allow rule reading HTTP on TCP). */
function policyOf(
  rule: AccessRule,
  http: boolean,
  deny: boolean,
): { permissions: Perm[]; principals: Prin[] } | undefined {
  const ops = rule.to ?? [];
  const conds = rule.when ?? [];
  if (!http && !deny && (ops.some(httpOnlyOp) || conds.some(httpOnlyCond))) return undefined;
  const parts = conds.filter((c) => http || !httpOnlyCond(c)).map(condition);
  const perms = [
    ...(ops.length ? [orPerm(ops.map((o) => operation(o, http)))] : []),
    ...parts.flatMap((p) => (p.perm ? [p.perm] : [])),
  ];
  const prins = [
    ...(rule.from?.length ? [orPrin(rule.from.map(source))] : []),
    ...parts.flatMap((p) => (p.prin ? [p.prin] : [])),
  ];
  return { permissions: [andPerm(perms)], principals: [andPrin(prins)] };
}

/** The RBAC filters (deny, then allow) for a workload's policies on an HTTP or a TCP chain. */
export function accessRbac(policies: readonly AccessPolicy[], http: boolean): { deny?: Rbac; allow?: Rbac } {
  const deny: Record<string, { permissions: Perm[]; principals: Prin[] }> = {};
  const allow: Record<string, { permissions: Perm[]; principals: Prin[] }> = {};
  let anyAllow = false;
  for (const p of policies) {
    if (p.action === "audit") continue;
    const into = p.action === "deny" ? deny : allow;
    if (p.action === "allow") anyAllow = true;
    if (p.unenforceable) {
      // Fails closed: a deny policy denies everything; an allow policy adds nothing.
      if (p.action === "deny")
        deny[`ns[${p.namespace}]-policy[${p.name}]-unenforceable`] = {
          permissions: [ANY_PERM],
          principals: [ANY_PRIN],
        };
      continue;
    }
    p.rules.forEach((r, i) => {
      const policy = policyOf(r, http, p.action === "deny");
      if (policy) into[`ns[${p.namespace}]-policy[${p.name}]-rule[${i}]`] = policy;
    });
  }
  return {
    ...(Object.keys(deny).length > 0 ? { deny: { action: RBAC_Action.DENY, policies: deny } } : {}),
    // An allow filter with no policy refuses every request: what an allow policy with no rule means.
    ...(anyAllow ? { allow: { action: RBAC_Action.ALLOW, policies: allow } } : {}),
  };
}
