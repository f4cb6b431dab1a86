// Checks of security policies: every mistake refused with its field path.
import { isIP } from "node:net";
import { XdsError } from "@xdskit/xds-types";
import type { AccessPolicy, AccessRule, PeerAuthenticationPolicy } from "./model-security.js";

function fail(where: string, problem: string): never {
  throw new XdsError("invalid_config", `${where}: ${problem}`);
}

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const MODES = ["strict", "permissive", "disable", "unset"];

function strings(where: string, v: unknown): void {
  if (v === undefined) return;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x === ""))
    fail(where, "must be a list of non-empty strings");
}

function labels(where: string, l: unknown): void {
  if (l === undefined) return;
  if (typeof l !== "object" || l === null || Array.isArray(l)) fail(where, "must be a map of labels");
  for (const [k, v] of Object.entries(l as Record<string, unknown>))
    if (typeof v !== "string") fail(`${where}.${k}`, "must be a string");
}

function header(where: string, p: { name?: unknown; namespace?: unknown; selector?: unknown }): void {
  if (typeof p.name !== "string" || !/^[^/]+\/[^/]+$/.test(p.name)) fail(`${where}.name`, "must be namespace/name");
  if (typeof p.namespace !== "string" || !NAMESPACE.test(p.namespace))
    fail(`${where}.namespace`, "must be a namespace name");
  labels(`${where}.selector`, p.selector);
}

/** Checks a PeerAuthentication. */
export function validatePeerAuthentication(p: PeerAuthenticationPolicy, where: string): void {
  header(where, p);
  if (p.mode !== undefined && !MODES.includes(p.mode)) fail(`${where}.mode`, `must be one of ${MODES.join(", ")}`);
  if (p.portModes !== undefined) {
    if (!p.selector) fail(`${where}.portModes`, "port-level modes need a workload selector (as Istio's)");
    for (const [port, mode] of Object.entries(p.portModes)) {
      const n = Number(port);
      if (!Number.isInteger(n) || n < 1 || n > 65535)
        fail(`${where}.portModes.${port}`, "must be keyed by a port number");
      if (!MODES.includes(mode)) fail(`${where}.portModes.${port}`, `must be one of ${MODES.join(", ")}`);
    }
  }
}

function cidrs(where: string, v: readonly string[] | undefined): void {
  strings(where, v);
  (v ?? []).forEach((c, i) => {
    const [ip, bits] = c.split("/");
    if (isIP(ip ?? "") === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits)))
      fail(`${where}[${i}]`, `must be an address or CIDR block, got ${JSON.stringify(c)}`);
  });
}

function ports(where: string, v: readonly number[] | undefined): void {
  (v ?? []).forEach((p, i) => {
    if (!Number.isInteger(p) || p < 1 || p > 65535)
      fail(`${where}[${i}]`, `must be a port from 1 to 65535, got ${JSON.stringify(p)}`);
  });
}

/** Condition keys the builders enforce. */
export const CONDITION_KEYS =
  /^(request\.headers\[[^\]]+\]|source\.ip|remote\.ip|source\.namespace|source\.principal|destination\.port)$/;

function rule(r: AccessRule, where: string): void {
  (r.from ?? []).forEach((s, i) => {
    const at = `${where}.from[${i}]`;
    for (const k of ["principals", "notPrincipals", "namespaces", "notNamespaces"] as const)
      strings(`${at}.${k}`, s[k]);
    cidrs(`${at}.ipBlocks`, s.ipBlocks);
    cidrs(`${at}.notIpBlocks`, s.notIpBlocks);
  });
  (r.to ?? []).forEach((o, i) => {
    const at = `${where}.to[${i}]`;
    for (const k of ["hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"] as const)
      strings(`${at}.${k}`, o[k]);
    ports(`${at}.ports`, o.ports);
    ports(`${at}.notPorts`, o.notPorts);
  });
  (r.when ?? []).forEach((c, i) => {
    const at = `${where}.when[${i}]`;
    if (typeof c.key !== "string" || !CONDITION_KEYS.test(c.key))
      fail(
        `${at}.key`,
        `must be request.headers[<name>], source.ip, remote.ip, source.namespace, source.principal or destination.port, got ${JSON.stringify(c.key)}`,
      );
    strings(`${at}.values`, c.values);
    strings(`${at}.notValues`, c.notValues);
    if (!c.values?.length && !c.notValues?.length) fail(at, "needs values or notValues");
  });
}

/** Checks an AuthorizationPolicy. */
export function validateAccessPolicy(p: AccessPolicy, where: string): void {
  header(where, p);
  if (!["allow", "deny", "audit"].includes(p.action)) fail(`${where}.action`, "must be allow, deny or audit");
  if (!Array.isArray(p.rules)) fail(`${where}.rules`, "must be a list");
  p.rules.forEach((r, i) => {
    rule(r, `${where}.rules[${i}]`);
  });
}
