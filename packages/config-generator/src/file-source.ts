import fs from "node:fs";
import path from "node:path";
import { XdsError } from "@xdskit/xds-types";
import { EventEmitter } from "eventemitter3";
import { parse as parseYaml } from "yaml";
import type { ChangeKind, RouteRule, Service } from "./model.js";
import type { ConfigStore, ServiceRegistry, SourceEvents } from "./sources.js";
import { validateReferences, validateRoute, validateService } from "./validate-model.js";

/** The content of a mesh file. */
export interface MeshFile {
  readonly services: readonly Service[];
  readonly routes: readonly RouteRule[];
}

type Shape = { [key: string]: "string" | "number" | "boolean" | Shape | [Shape] | "record" };

const ENDPOINT: Shape = {
  address: "string",
  port: "number",
  weight: "number",
  healthy: "boolean",
  locality: { region: "string", zone: "string", subZone: "string" },
};
const MESH: Shape = {
  services: [{ name: "string", port: "number", protocol: "string", endpoints: [ENDPOINT] }],
  routes: [
    {
      host: "string",
      split: [{ service: "string", weight: "number" }],
      pathPrefix: "string",
      headers: "record",
      timeoutMs: "number",
      retries: { attempts: "number", on: "string" },
    },
  ],
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
    if (v === undefined || v === null) continue;
    if (want === "record") {
      if (typeof v !== "object" || Array.isArray(v))
        throw new XdsError("invalid_config", `${where}: expected a map, got ${describe(v)}`);
      for (const [k, x] of Object.entries(v)) {
        if (typeof x !== "string")
          throw new XdsError("invalid_config", `${where}.${k}: expected a string, got ${describe(x)}`);
      }
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
  let doc: unknown;
  try {
    doc = fileName.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new XdsError(
      "invalid_config",
      `${fileName}: not valid ${fileName.endsWith(".json") ? "JSON" : "YAML"}: ${(err as Error).message}`,
    );
  }
  try {
    checkShape(doc ?? {}, MESH, "");
    const d = (doc ?? {}) as { services?: Service[]; routes?: RouteRule[] };
    const services = d.services ?? [];
    const routes = d.routes ?? [];
    services.forEach((s, i) => {
      validateService(s, `services[${i}]`);
    });
    routes.forEach((r, i) => {
      validateRoute(r, `routes[${i}]`);
    });
    validateReferences(services, routes);
    return { services, routes };
  } catch (err) {
    if (err instanceof XdsError) throw new XdsError("invalid_config", `${fileName}: ${err.message}`);
    throw err;
  }
}

/** A watched mesh file as a service registry and config store. */
export interface FileSource extends ServiceRegistry, ConfigStore {
  readonly path: string;
  /** The last refusal, if the current file content is broken (the previous good content is served). */
  readonly lastError: Error | undefined;
  /** Stops watching. */
  close(): void;
}

function kindsOf(prev: MeshFile, next: MeshFile): ChangeKind[] {
  const kinds: ChangeKind[] = [];
  const shape = (m: MeshFile) => JSON.stringify(m.services.map((s) => [s.name, s.port, s.protocol]));
  const eps = (m: MeshFile) => JSON.stringify(m.services.map((s) => [s.name, s.endpoints]));
  if (shape(prev) !== shape(next)) kinds.push("services", "endpoints");
  else if (eps(prev) !== eps(next)) kinds.push("endpoints");
  if (JSON.stringify(prev.routes) !== JSON.stringify(next.routes)) kinds.push("routes");
  return kinds;
}

class FileSourceImpl extends EventEmitter<SourceEvents> implements FileSource {
  #current: MeshFile;
  #lastError: Error | undefined;
  #closed = false;
  readonly #listener: (curr: fs.Stats, prev: fs.Stats) => void;

  constructor(
    readonly path: string,
    pollMs: number,
  ) {
    super();
    this.#current = parseMeshFile(this.#read(), path);
    this.#listener = (curr, prev) => {
      if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size) this.reload();
    };
    // Polling survives editors that replace the file instead of writing it.
    fs.watchFile(path, { interval: pollMs, persistent: false }, this.#listener);
  }

  #read(): string {
    try {
      return fs.readFileSync(this.path, "utf8");
    } catch (err) {
      throw new XdsError("invalid_config", `${this.path}: cannot read: ${(err as Error).message}`);
    }
  }

  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /** Re-reads the file now; on error the previous content stays served and `rejected` is emitted. */
  reload(): void {
    if (this.#closed) return;
    let next: MeshFile;
    try {
      next = parseMeshFile(this.#read(), this.path);
    } catch (err) {
      this.#lastError = err as Error;
      this.emit("rejected", { reason: `${path.basename(this.path)} rejected`, error: err as Error });
      return;
    }
    this.#lastError = undefined;
    const kinds = kindsOf(this.#current, next);
    this.#current = next;
    if (kinds.length > 0) this.emit("change", { kinds, reason: `file ${path.basename(this.path)} changed` });
  }

  services(): readonly Service[] {
    return this.#current.services;
  }

  routes(): readonly RouteRule[] {
    return this.#current.routes;
  }

  close(): void {
    this.#closed = true;
    fs.unwatchFile(this.path, this.#listener);
  }
}

/**
 * Reads and watches a mesh file (YAML, or JSON by `.json` extension). A broken
 * first read throws; a broken later edit is refused with a `rejected` event
 * naming file, path and problem, and the last good content keeps being served.
 */
export function createFileSource(options: { path: string; pollMs?: number }): FileSource & { reload(): void } {
  return new FileSourceImpl(path.resolve(options.path), options.pollMs ?? 250);
}
