// Where the mesh lives in etcd: one key per service, per host's routes and
// per gateway port under a prefix, so one change is one key.

/** What a key under the prefix holds. */
export type EntryKind = "services" | "routes" | "gateways";

/** A key, understood. */
export interface EntryKey {
  readonly kind: EntryKind;
  /** Service name, route host, or gateway port. */
  readonly name: string;
}

const KINDS: readonly EntryKind[] = ["services", "routes", "gateways"];

/** Checks a prefix: absolute, ending in `/` (so `/xdskit/` never matches `/xdskit-old/…`). */
export function checkPrefix(prefix: string): string {
  if (typeof prefix !== "string" || !prefix.startsWith("/") || !prefix.endsWith("/") || prefix.length < 2)
    throw new Error(`the etcd prefix must start and end with '/', like /xdskit/; got ${JSON.stringify(prefix)}`);
  return prefix;
}

/** The key of an entry: `<prefix><kind>/<name>`. */
export function entryKey(prefix: string, kind: EntryKind, name: string): string {
  return `${prefix}${kind}/${name}`;
}

/** Reads a key under the prefix; undefined for keys that are not mesh entries. */
export function parseKey(prefix: string, key: string): EntryKey | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return undefined;
  const kind = rest.slice(0, slash) as EntryKind;
  const name = rest.slice(slash + 1);
  if (!KINDS.includes(kind) || name.length === 0 || name.includes("/")) return undefined;
  return { kind, name };
}
