// The mesh file format (docs/mesh-file.md): parsing, shape and model checks.
import { XdsError } from "@xdskit/xds-types";
import { parse as parseYaml } from "yaml";
import type { Gateway, RouteRule, Service } from "./model.js";
import { validateGateway, validateReferences, validateRoute, validateService } from "./validate-model.js";
import { frozenService, rememberValid } from "./frozen.js";

/** The content of a mesh file. */
export interface MeshFile {
  readonly services: readonly Service[];
  readonly routes: readonly RouteRule[];
  /** Gateway ports (for `router~…` proxies). */
  readonly gateways: readonly Gateway[];
  /** The file means it when it lists no services (otherwise emptying a non-empty mesh is refused). */
  readonly allowEmpty?: boolean;
}

// "any": checked by the model's validation (a field of more than one shape).
type Shape = {
  [key: string]: "string" | "number" | "boolean" | "strings" | Shape | [Shape] | "record" | "json" | "any";
};

const ENDPOINT: Shape = {
  address: "string",
  port: "number",
  weight: "number",
  healthy: "boolean",
  health: "string",
  priority: "number",
  locality: { region: "string", zone: "string", subZone: "string" },
  labels: "record",
  metadata: "json",
  ports: "json",
  identity: "string",
};
const MESH: Shape = {
  allowEmpty: "boolean",
  services: [
    {
      name: "string",
      port: "number",
      protocol: "string",
      endpoints: [ENDPOINT],
      ports: [{ port: "number", name: "string", protocol: "string" }],
      labels: "record",
      metadata: "json",
      subsets: [{ name: "string", labels: "record" }],
      loadBalancer: {
        policy: "string",
        hashHeaders: "strings",
        minRingSize: "number",
        maxRingSize: "number",
        choiceCount: "number",
      },
      outlierDetection: {
        intervalMs: "number",
        baseEjectionMs: "number",
        maxEjectionMs: "number",
        maxEjectionPercent: "number",
        consecutiveErrors: "number",
        successRate: {
          stdevFactor: "number",
          minimumHosts: "number",
          requestVolume: "number",
          enforcingPercent: "number",
        },
        failurePercentage: {
          threshold: "number",
          minimumHosts: "number",
          requestVolume: "number",
          enforcingPercent: "number",
        },
      },
      circuitBreaker: {
        maxRequests: "number",
        maxConnections: "number",
        maxPendingRequests: "number",
        maxRetries: "number",
      },
      localityFailover: "any",
      tls: { mode: "string", identityProvider: "string", caProvider: "string", subjectAltNames: "strings" },
      authorization: [{ name: "string", action: "string", principals: "strings", paths: "strings", headers: "record" }],
      dns: { host: "string", port: "number" },
      aggregate: "strings",
    },
  ],
  routes: [
    {
      host: "string",
      split: [{ service: "string", subset: "string", port: "number", weight: "number" }],
      pathPrefix: "string",
      headers: "record",
      timeoutMs: "number",
      grpcTimeoutCapMs: "number",
      retries: { attempts: "number", on: "string", backoffBaseMs: "number", backoffMaxMs: "number" },
      fault: {
        delay: { fixedMs: "number", percent: "number" },
        abort: { httpStatus: "number", grpcStatus: "number", percent: "number" },
      },
    },
  ],
  gateways: [{ port: "number", hosts: "strings" }],
};

function describe(v: unknown): string {
  return Array.isArray(v)
    ? "a list"
    : v === null
      ? "null"
      : typeof v === "object"
        ? "a map"
        : `${typeof v} ${JSON.stringify(v)}`;
}

// Checks keys and types against the shape, so a typo is reported with its
// path instead of being silently ignored.
function checkShape(value: unknown, shape: Shape, at: string): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new XdsError("invalid_config", `${at || "top level"}: expected a map, got ${describe(value)}`);
  }
  for (const [key, v] of Object.entries(value)) {
    const where = at ? `${at}.${key}` : key;
    const want = shape[key];
    if (want === undefined) {
      throw new XdsError("invalid_config", `${where}: unknown key; expected one of ${Object.keys(shape).join(", ")}`);
    }
    if (v === undefined || v === null || want === "any") continue;
    if (want === "json") {
      if (typeof v !== "object" || Array.isArray(v))
        throw new XdsError("invalid_config", `${where}: expected a map, got ${describe(v)}`);
      continue;
    }
    if (want === "record") {
      if (typeof v !== "object" || Array.isArray(v))
        throw new XdsError("invalid_config", `${where}: expected a map, got ${describe(v)}`);
      for (const [k, x] of Object.entries(v)) {
        if (typeof x !== "string")
          throw new XdsError("invalid_config", `${where}.${k}: expected a string, got ${describe(x)}`);
      }
    } else if (want === "strings") {
      if (!Array.isArray(v)) throw new XdsError("invalid_config", `${where}: expected a list, got ${describe(v)}`);
      v.forEach((x, i) => {
        if (typeof x !== "string")
          throw new XdsError("invalid_config", `${where}[${i}]: expected a string, got ${describe(x)}`);
      });
    } else if (typeof want === "string") {
      if (typeof v !== want) throw new XdsError("invalid_config", `${where}: expected a ${want}, got ${describe(v)}`);
    } else if (Array.isArray(want)) {
      if (!Array.isArray(v)) throw new XdsError("invalid_config", `${where}: expected a list, got ${describe(v)}`);
      v.forEach((item, i) => {
        checkShape(item, want[0], `${where}[${i}]`);
      });
    } else {
      checkShape(v, want, where);
    }
  }
}

/** Parses and validates a mesh file's text (YAML or JSON). Throws `invalid_config` naming path and problem. */
export function parseMeshFile(text: string, fileName = "mesh"): MeshFile {
  // A file caught between truncate and write, or saved empty by mistake, must
  // never read as "no services".
  if (text.trim() === "") {
    throw new XdsError(
      "invalid_config",
      `${fileName}: the file is empty; a mesh with no services must say so with "allowEmpty: true"`,
    );
  }
  let doc: unknown;
  try {
    doc = fileName.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new XdsError(
      "invalid_config",
      `${fileName}: not valid ${fileName.endsWith(".json") ? "JSON" : "YAML"}: ${(err as Error).message}`,
    );
  }
  return meshFromData(doc, fileName);
}

/**
 * Checks a parsed mesh document (the YAML or JSON as data) and returns the
 * mesh it describes; throws `invalid_config` naming `fileName` and the path.
 * Service objects in `checked` were checked before (and are not again);
 * those that pass are added to it.
 */
export function meshFromData(doc: unknown, fileName = "mesh", checked?: WeakSet<object>): MeshFile {
  try {
    checkShape(doc ?? {}, MESH, "");
    const d = (doc ?? {}) as { services?: Service[]; routes?: RouteRule[]; gateways?: Gateway[]; allowEmpty?: boolean };
    const services = d.services ?? [];
    const routes = d.routes ?? [];
    services.forEach((s, i) => {
      // A service object already checked (the same object as in the last parse) is not checked again.
      if (checked?.has(s)) return;
      validateService(s, `services[${i}]`);
      checked?.add(s);
    });
    routes.forEach((r, i) => {
      validateRoute(r, `routes[${i}]`);
    });
    const gateways = d.gateways ?? [];
    gateways.forEach((g, i) => {
      validateGateway(g, `gateways[${i}]`);
    });
    validateReferences(services, routes, "", gateways);
    if (services.length === 0 && d.allowEmpty !== true) {
      throw new XdsError(
        "invalid_config",
        `lists no services; a mesh with no services must say so with "allowEmpty: true"`,
      );
    }
    return d.allowEmpty === true ? { services, routes, gateways, allowEmpty: true } : { services, routes, gateways };
  } catch (err) {
    if (err instanceof XdsError) throw new XdsError("invalid_config", `${fileName}: ${err.message}`);
    throw err;
  }
}

function parseText(text: string, where: string): unknown {
  // Stores mostly hold JSON, which JSON.parse reads ~10x faster than the YAML
  // parser; YAML flow style (`{name: echo}`) fails it and goes to YAML.
  const head = text.trimStart()[0];
  if (head === "{" || head === "[") {
    try {
      return JSON.parse(text);
    } catch {}
  }
  try {
    return parseYaml(text);
  } catch (err) {
    throw new XdsError("invalid_config", `${where}: not valid YAML or JSON: ${(err as Error).message}`);
  }
}

const SERVICE_SHAPE = (MESH.services as [Shape])[0];
const ROUTE_SHAPE = (MESH.routes as [Shape])[0];
const GATEWAY_SHAPE = (MESH.gateways as [Shape])[0];

/**
 * Parses one service as a store keeps it (a key's value: YAML or JSON in the
 * mesh file's schema) and checks it exactly as the mesh file's entries are.
 * References to other services are for the whole model to check. Throws
 * `invalid_config` naming `where` and the path. The service comes back frozen.
 */
export function parseServiceEntry(text: string, where: string): Service {
  const v = parseText(text, where);
  checkShape(v, SERVICE_SHAPE, where);
  validateService(v as Service, where);
  // Frozen, so a push reuses what was computed from it (validation, change
  // detection) for as long as the store keeps this value.
  const s = frozenService(v as Service);
  rememberValid(s);
  return s;
}

/** Parses the routing rules of one host (a rule, or a list of rules), checked as the mesh file's. */
export function parseRouteEntries(text: string, where: string): RouteRule[] {
  const v = parseText(text, where);
  const list = Array.isArray(v) ? v : [v];
  list.forEach((r, i) => {
    const at = Array.isArray(v) ? `${where}[${i}]` : where;
    checkShape(r, ROUTE_SHAPE, at);
    validateRoute(r as RouteRule, at);
  });
  return list as RouteRule[];
}

/** Parses one gateway port, checked as the mesh file's. */
export function parseGatewayEntry(text: string, where: string): Gateway {
  const v = parseText(text, where);
  checkShape(v, GATEWAY_SHAPE, where);
  validateGateway(v as Gateway, where);
  return v as Gateway;
}
