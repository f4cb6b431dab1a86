// Reading Istio's field forms: hosts relative to a namespace, durations,
// string matches, percentages; every mistake names its field path.
import type { StringMatch } from "@xdskit/config-generator";

/** A field that cannot be turned into the model: its path in the object and why. */
export class FieldError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = "FieldError";
  }
}

/** Throws a {@link FieldError}. */
export function fieldFail(path: string, reason: string): never {
  throw new FieldError(path, reason);
}

/** What resolving names needs: the object's namespace and the cluster's DNS domain. */
export interface NameContext {
  readonly namespace: string;
  readonly domain: string;
}

/**
 * A host as Istio reads it in a resource of `namespace`: a short name (no
 * dot, not a wildcard) is a Kubernetes service of that namespace
 * (`reviews` → `reviews.default.svc.cluster.local`); anything else is taken
 * as written, lower-cased.
 */
export function resolveHost(host: string, ctx: NameContext): string {
  const h = host.toLowerCase();
  if (h === "*" || h.includes(".") || h.startsWith("*")) return h;
  return `${h}.${ctx.namespace}.svc.${ctx.domain}`;
}

/** A gateway reference (`mesh`, `name`, `ns/name`) as `namespace/name`. */
export function resolveGateway(ref: string, ctx: NameContext): string {
  if (ref === "mesh") return "mesh";
  if (ref.includes("/")) return ref;
  // `name.namespace.svc.<domain>`, an older form, names the same gateway.
  const parts = ref.split(".");
  if (parts.length >= 2) return `${parts[1]}/${parts[0]}`;
  return `${ctx.namespace}/${ref}`;
}

const UNITS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };

/** A protobuf duration (`1.5s`, `100ms`, `1m30s`) in whole milliseconds (at least 1 when non-zero). */
export function durationMs(value: unknown, path: string): number {
  if (typeof value !== "string" || value === "")
    fieldFail(path, `must be a duration such as "1.5s", got ${JSON.stringify(value)}`);
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g;
  let total = 0;
  let used = 0;
  for (const m of value.matchAll(re)) {
    total += Number(m[1]) * (UNITS[m[2] as string] ?? 0);
    used += m[0].length;
  }
  if (used !== value.length)
    fieldFail(path, `must be a duration such as "1.5s" or "100ms", got ${JSON.stringify(value)}`);
  const ms = Math.round(total);
  return total > 0 && ms === 0 ? 1 : ms;
}

/** An Istio StringMatch (exact, prefix or regex) as the model's. */
export function stringMatch(value: unknown, path: string): StringMatch {
  const m = (value ?? {}) as Record<string, unknown>;
  const set = ["exact", "prefix", "regex"].filter((k) => typeof m[k] === "string");
  if (set.length !== 1)
    fieldFail(path, `needs exactly one of exact, prefix and regex, got ${set.join(", ") || "none"}`);
  const k = set[0] as "exact" | "prefix" | "regex";
  const v = m[k] as string;
  return k === "exact" ? { exact: v } : k === "prefix" ? { prefix: v } : { regex: v };
}

/** A map of header or parameter names to string matches. */
export function matchMap(value: unknown, path: string, lowerCase: boolean): Record<string, StringMatch> | undefined {
  if (value === undefined || value === null) return undefined;
  const out: Record<string, StringMatch> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    // Istio: an empty match object means "present".
    const present = v && typeof v === "object" && Object.keys(v).length === 0;
    out[lowerCase ? k.toLowerCase() : k] = present ? { prefix: "" } : stringMatch(v, `${path}.${k}`);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A `Percent` ({ value: 12.5 }) or an old integer percentage, 0..100. */
export function percent(value: unknown, legacy: unknown, path: string): number | undefined {
  const v = value && typeof value === "object" ? (value as { value?: unknown }).value : undefined;
  const p = v ?? legacy;
  if (p === undefined || p === null) return undefined;
  if (typeof p !== "number" || !(p >= 0 && p <= 100))
    fieldFail(path, `must be a percentage from 0 to 100, got ${JSON.stringify(p)}`);
  return p;
}

/** Lists as given, none as empty. */
export function arr<T = unknown>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

/** A map of strings. */
export function strings(v: unknown): Record<string, string> | undefined {
  if (!v || typeof v !== "object") return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === "string") out[k] = x;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The `exportTo` of an object, as the model reads it (undefined: everywhere). */
export function exportTo(v: unknown): string[] | undefined {
  const list = arr<string>(v);
  return list.length > 0 ? list : undefined;
}

/** gRPC status names as numbers (a fault's `grpcStatus`). */
export const GRPC_CODES: Record<string, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};
