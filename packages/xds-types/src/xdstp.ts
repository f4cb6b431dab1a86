// xDS federation names (xdstp://authority/type/id?params). The control plane
// treats them as opaque names except for two things: context parameters are
// put in a canonical order, so one resource has one name, and a name whose id
// ends in `*` is a glob collection that stands for every resource directly
// under that path.

/** The parts of an `xdstp://` resource name. */
export interface XdstpName {
  readonly authority: string;
  /** The fully qualified message name, e.g. `envoy.config.listener.v3.Listener`. */
  readonly resourceType: string;
  /** The id path; a glob collection ends with `*`. */
  readonly id: string;
  /** Context parameters, sorted by key. */
  readonly params: readonly (readonly [string, string])[];
}

const SCHEME = "xdstp://";

/** Parses an `xdstp://` name; `undefined` for any other name or a malformed one. */
export function parseXdstpName(name: string): XdstpName | undefined {
  if (!name.startsWith(SCHEME)) return undefined;
  const rest = name.slice(SCHEME.length);
  const q = rest.indexOf("?");
  const path = q < 0 ? rest : rest.slice(0, q);
  const slash1 = path.indexOf("/");
  if (slash1 < 0) return undefined;
  const slash2 = path.indexOf("/", slash1 + 1);
  if (slash2 < 0) return undefined;
  const authority = path.slice(0, slash1);
  const resourceType = path.slice(slash1 + 1, slash2);
  const id = path.slice(slash2 + 1);
  if (resourceType === "" || id === "") return undefined;
  const params: [string, string][] = [];
  if (q >= 0) {
    for (const pair of rest.slice(q + 1).split("&")) {
      if (pair === "") continue;
      const eq = pair.indexOf("=");
      params.push(eq < 0 ? [pair, ""] : [pair.slice(0, eq), pair.slice(eq + 1)]);
    }
    params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
  return { authority, resourceType, id, params };
}

function format(n: XdstpName, id = n.id): string {
  const query = n.params.length > 0 ? `?${n.params.map(([k, v]) => `${k}=${v}`).join("&")}` : "";
  return `${SCHEME}${n.authority}/${n.resourceType}/${id}${query}`;
}

/**
 * The canonical form of a resource name: `xdstp://` names get their context
 * parameters sorted by key; every other name is returned as it is.
 */
export function canonicalResourceName(name: string): string {
  if (!name.startsWith(SCHEME)) return name;
  const parsed = parseXdstpName(name);
  return parsed ? format(parsed) : name;
}

/** True for an `xdstp://` glob collection (`…/path/*`), which subscribes to every resource directly in that path. */
export function isGlobCollection(name: string): boolean {
  if (!name.startsWith(SCHEME)) return false;
  const parsed = parseXdstpName(name);
  return parsed !== undefined && (parsed.id === "*" || parsed.id.endsWith("/*"));
}

/**
 * Whether `name` belongs to the glob collection `glob`: same authority, type
 * and context parameters, and an id directly under the glob's path.
 */
export function inGlobCollection(glob: string, name: string): boolean {
  if (!name.startsWith(SCHEME)) return false;
  const g = parseXdstpName(glob);
  const n = parseXdstpName(name);
  if (!g || !n || g.authority !== n.authority || g.resourceType !== n.resourceType) return false;
  const prefix = g.id.slice(0, -1);
  if (!n.id.startsWith(prefix) || n.id === g.id) return false;
  const leaf = n.id.slice(prefix.length);
  if (leaf === "" || leaf.includes("/")) return false;
  if (g.params.length !== n.params.length) return false;
  return g.params.every(([k, v], i) => n.params[i]?.[0] === k && n.params[i]?.[1] === v);
}
