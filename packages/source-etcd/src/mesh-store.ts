// Writing and reading a mesh file's content as etcd keys: what `xdskit-mesh
// put|get` does, as a library for hosts and tests.
import {
  type Gateway,
  type MeshFile,
  type RouteRule,
  type Service,
  parseGatewayEntry,
  parseRouteEntries,
  parseServiceEntry,
} from "@xdskit/config-generator";
import type { Etcd3 } from "etcd3";
import { checkPrefix, entryKey, parseKey } from "./layout.js";

/** What a put did. */
export interface PutResult {
  /** Keys written (new or changed). */
  readonly written: number;
  /** Keys already holding the same value. */
  readonly unchanged: number;
  /** Keys under the prefix the mesh no longer has, deleted (with `prune`). */
  readonly deleted: number;
}

/** The etcd entries of a mesh: key → JSON value. */
export function meshEntries(
  prefix: string,
  mesh: Pick<MeshFile, "services" | "routes" | "gateways">,
): Map<string, string> {
  checkPrefix(prefix);
  const out = new Map<string, string>();
  for (const s of mesh.services) out.set(entryKey(prefix, "services", s.name), JSON.stringify(s));
  const byHost = new Map<string, RouteRule[]>();
  for (const r of mesh.routes) byHost.set(r.host, [...(byHost.get(r.host) ?? []), r]);
  for (const [host, rules] of byHost) out.set(entryKey(prefix, "routes", host), JSON.stringify(rules));
  for (const g of mesh.gateways ?? []) out.set(entryKey(prefix, "gateways", String(g.port)), JSON.stringify(g));
  return out;
}

/**
 * Services that declare no port get one written with them: the port already
 * stored for the service, else its first endpoint's. Every replica reading
 * the store then agrees on the port, and an endpoint moving to another port
 * stays an endpoint change instead of renaming the service's clusters.
 */
function pinPorts(prefix: string, services: readonly Service[], have: ReadonlyMap<string, string>): Service[] {
  return services.map((s) => {
    if (s.port !== undefined || s.dns || s.aggregate) return s;
    let stored: number | undefined;
    try {
      const old = have.get(entryKey(prefix, "services", s.name));
      const port = old ? (JSON.parse(old) as { port?: unknown }).port : undefined;
      if (typeof port === "number") stored = port;
    } catch {
      // A value that is not JSON (YAML written by hand) pins nothing.
    }
    const port = stored ?? s.endpoints[0]?.port;
    return port === undefined ? s : { ...s, port };
  });
}

/**
 * Writes a mesh into etcd, one key per entry, in one transaction per 64 keys;
 * keys whose value is already the same are left alone, so a watcher sees
 * only what changed. `prune` deletes mesh keys under the prefix the mesh no
 * longer has. A service without a port is written with one (see pinPorts).
 */
export async function putMesh(
  client: Etcd3,
  prefix: string,
  mesh: Pick<MeshFile, "services" | "routes" | "gateways">,
  options: { prune?: boolean } = {},
): Promise<PutResult> {
  checkPrefix(prefix);
  const have = new Map(Object.entries(await client.getAll().prefix(prefix).strings()));
  const want = meshEntries(prefix, { ...mesh, services: pinPorts(prefix, mesh.services, have) });
  const writes = [...want].filter(([k, v]) => have.get(k) !== v);
  const deletes = options.prune ? [...have.keys()].filter((k) => parseKey(prefix, k) && !want.has(k)) : [];
  for (let i = 0; i < writes.length; i += 64) {
    const batch = writes.slice(i, i + 64);
    await client
      .if(prefix, "Create", ">", -1)
      .then(...batch.map(([k, v]) => client.put(k).value(v)))
      .commit();
  }
  for (let i = 0; i < deletes.length; i += 64) {
    const batch = deletes.slice(i, i + 64);
    await client
      .if(prefix, "Create", ">", -1)
      .then(...batch.map((k) => client.delete().key(k)))
      .commit();
  }
  return { written: writes.length, unchanged: want.size - writes.length, deleted: deletes.length };
}

/** Reads the mesh under a prefix, every value checked as the mesh file's; throws naming the first bad key. */
export async function getMesh(
  client: Etcd3,
  prefix: string,
): Promise<{ services: Service[]; routes: RouteRule[]; gateways: Gateway[] }> {
  checkPrefix(prefix);
  const all = await client.getAll().prefix(prefix).strings();
  const services: Service[] = [];
  const routes: RouteRule[] = [];
  const gateways: Gateway[] = [];
  for (const key of Object.keys(all).sort()) {
    const entry = parseKey(prefix, key);
    const text = all[key] as string;
    if (entry?.kind === "services") services.push(parseServiceEntry(text, `key ${key}`));
    else if (entry?.kind === "routes") routes.push(...parseRouteEntries(text, `key ${key}`));
    else if (entry?.kind === "gateways") gateways.push(parseGatewayEntry(text, `key ${key}`));
  }
  return { services, routes, gateways };
}
