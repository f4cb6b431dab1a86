// The mesh as the store says it and as it was accepted. Every key is checked
// on its own (content, exactly as a mesh file entry) and against the rest
// (references); a key that fails keeps its last good value — or stays absent,
// or stays present when its deletion would break a reference — and is retried
// whenever another key changes, since that change may be what it waited for.
import { createHash } from "node:crypto";
import {
  type ChangeKind,
  type Gateway,
  type RouteRule,
  type Service,
  parseGatewayEntry,
  parseRouteEntries,
  parseServiceEntry,
  validateReferences,
} from "@xdskit/config-generator";
import type { EntryKey, EntryKind } from "./layout.js";

type Value = Service | RouteRule[] | Gateway;

// An oversized value is held as this marker (its size and digest), never as text.
const OVERSIZE = "\u0000xdskit-oversize:";

/** A key whose latest value (or deletion) is not served, and why. */
export interface RejectedKey {
  readonly key: string;
  readonly reason: string;
}

/** What applying changes did. */
export interface ApplyResult {
  /** Change kinds of what the accepted mesh now differs in. */
  readonly kinds: ReadonlySet<ChangeKind>;
  /** Keys whose change changed the accepted mesh. */
  readonly changed: readonly string[];
  /** Keys refused by this apply. */
  readonly rejected: readonly RejectedKey[];
}

function parse(kind: EntryKind, name: string, text: string, where: string): Value {
  if (text.startsWith(OVERSIZE)) {
    const [bytes, limit] = text.slice(OVERSIZE.length).split(":");
    throw new Error(`${where}: the value is ${bytes} bytes; the limit is ${limit} (maxValueBytes)`);
  }
  if (kind === "services") {
    const s = parseServiceEntry(text, where);
    if (s.name !== name) throw new Error(`${where}: the key names service "${name}" but the value is "${s.name}"`);
    return s;
  }
  if (kind === "routes") {
    const rules = parseRouteEntries(text, where);
    rules.forEach((r, i) => {
      if (r.host !== name) throw new Error(`${where}: the key names host "${name}" but rule ${i} is for "${r.host}"`);
    });
    return rules;
  }
  const g = parseGatewayEntry(text, where);
  if (String(g.port) !== name) throw new Error(`${where}: the key names port ${name} but the value is ${g.port}`);
  return g;
}

// A service's change is endpoints-only when nothing else of it differs.
function kindsOf(kind: EntryKind, before: Value | undefined, after: Value | undefined): ChangeKind[] {
  if (kind === "routes") return ["routes"];
  if (kind === "gateways") return ["gateways"];
  if (before && after) {
    const { endpoints: _a, ...restBefore } = before as Service;
    const { endpoints: _b, ...restAfter } = after as Service;
    if (JSON.stringify(restBefore) === JSON.stringify(restAfter)) return ["endpoints"];
  }
  return ["services", "endpoints"];
}

/** What one store may hold, so a careless or hostile writer cannot grow the pilot without bound. */
export interface MeshLimits {
  /** Largest value accepted, in bytes; a bigger one is refused (and not kept). */
  readonly maxValueBytes: number;
  /** Most keys held; a new key beyond them is refused. */
  readonly maxKeys: number;
}

/** The accepted mesh of a store, key by key. */
export class MeshState {
  readonly #limits: MeshLimits;
  /** New keys refused because the store was full: re-read once there is room. */
  readonly #overflow = new Set<string>();

  /** What the store holds now: key → text (absent: deleted). */
  readonly #raw = new Map<string, { entry: EntryKey; text: string }>();
  /** What is served: key → value. */
  #accepted = new Map<string, { entry: EntryKey; value: Value }>();
  readonly #rejected = new Map<string, string>();
  #services: Service[] = [];
  #routes: RouteRule[] = [];
  #gateways: Gateway[] = [];
  /** The accepted keys, sorted. */
  #order: readonly string[] = [];

  constructor(limits: MeshLimits = { maxValueBytes: 1 << 20, maxKeys: 100_000 }) {
    this.#limits = limits;
  }

  /** Services as accepted. */
  services(): readonly Service[] {
    return this.#services;
  }

  /** Routing rules as accepted. */
  routes(): readonly RouteRule[] {
    return this.#routes;
  }

  /** Gateway ports as accepted. */
  gateways(): readonly Gateway[] {
    return this.#gateways;
  }

  /** Keys whose latest value is not served. */
  rejected(): RejectedKey[] {
    return [...this.#rejected].map(([key, reason]) => ({ key, reason }));
  }

  /** The store's texts, for a re-list to compare with. */
  rawKeys(): ReadonlySet<string> {
    return new Set(this.#raw.keys());
  }

  /** True when keys were refused for lack of room and there is room now: the caller should re-list. */
  wantsRelist(): boolean {
    return this.#overflow.size > 0 && this.#raw.size < this.#limits.maxKeys;
  }

  /**
   * Applies what the store now says of some keys (`text` undefined: deleted),
   * then retries every key refused earlier. Returns what the accepted mesh
   * changed in.
   */
  apply(changes: readonly { key: string; entry: EntryKey; text: string | undefined }[]): ApplyResult {
    const kinds = new Set<ChangeKind>();
    const changed: string[] = [];
    const rejected: RejectedKey[] = [];
    const pending: string[] = [];
    for (const change of changes) {
      const c = { ...change, text: this.#bounded(change.text) };
      if (c.text !== undefined && !this.#raw.has(c.key) && this.#raw.size >= this.#limits.maxKeys) {
        // Full: the key is refused (absent stays absent) and read again once
        // deletions make room.
        this.#overflow.add(c.key);
        const reason = `key ${c.key}: the prefix already holds ${this.#raw.size} keys, the limit (maxKeys); delete some to add more`;
        this.#rejected.set(c.key, reason);
        rejected.push({ key: c.key, reason });
        continue;
      }
      this.#overflow.delete(c.key);
      const same = this.#raw.get(c.key)?.text === c.text;
      if (c.text === undefined) this.#raw.delete(c.key);
      else this.#raw.set(c.key, { entry: c.entry, text: c.text });
      if (!same || this.#rejected.has(c.key)) pending.push(c.key);
    }
    // Usually a whole batch is good: accepted in one step, one reference check.
    if (this.#applyBatch(pending, kinds, changed, rejected)) pending.length = 0;
    // Otherwise key by key. Services first (aggregates last), then gateways
    // and routes: what a key refers to is in place before the key that
    // refers to it.
    const order = (k: string) => {
      const e = this.#raw.get(k)?.entry ?? this.#accepted.get(k)?.entry;
      const r = this.#raw.get(k)?.text ?? "";
      if (e?.kind === "services") return r.includes("aggregate") ? 1 : 0;
      return e?.kind === "gateways" ? 2 : 3;
    };
    const retry = [...this.#rejected.keys()].filter((k) => !this.#overflow.has(k));
    const queue = [...new Set([...pending, ...retry])].sort((a, b) => order(a) - order(b));
    let progress = true;
    while (progress && queue.length > 0) {
      progress = false;
      for (let i = 0; i < queue.length; i++) {
        const key = queue[i] as string;
        const outcome = this.#try(key);
        if (outcome === "kept") {
          queue.splice(i--, 1);
          continue;
        }
        if (typeof outcome === "string") continue;
        queue.splice(i--, 1);
        progress = true;
        changed.push(key);
        for (const k of outcome) kinds.add(k);
      }
    }
    for (const key of queue) {
      const reason = this.#rejected.get(key);
      if (reason && pending.includes(key)) rejected.push({ key, reason });
    }
    return { kinds, changed, rejected };
  }

  // All of `keys` at once when each parses and the model stays whole; keys
  // that do not parse are refused, the rest accepted. False: the batch as a
  // whole breaks a reference, and the caller goes key by key.
  #applyBatch(keys: string[], kinds: Set<ChangeKind>, changed: string[], rejected: RejectedKey[]): boolean {
    if (keys.length < 2) return false;
    const next = new Map(this.#accepted);
    const done: { key: string; entry: EntryKey; before: Value | undefined; after: Value | undefined }[] = [];
    const refused: RejectedKey[] = [];
    for (const key of keys) {
      const raw = this.#raw.get(key);
      const held = this.#accepted.get(key);
      const entry = raw?.entry ?? held?.entry;
      if (!entry) continue;
      if (!raw) {
        if (held) done.push({ key, entry, before: held.value, after: undefined });
        next.delete(key);
        continue;
      }
      try {
        const value = parse(entry.kind, entry.name, raw.text, `key ${key}`);
        if (held && JSON.stringify(held.value) === JSON.stringify(value)) continue;
        next.set(key, { entry, value });
        done.push({ key, entry, before: held?.value, after: value });
      } catch (err) {
        refused.push({ key, reason: err instanceof Error ? err.message : String(err) });
      }
    }
    const model = this.#build(next);
    try {
      validateReferences(model.services, model.routes, "", model.gateways);
    } catch {
      return false;
    }
    this.#commit(next, model);
    for (const d of done) {
      this.#rejected.delete(d.key);
      changed.push(d.key);
      for (const k of kindsOf(d.entry.kind, d.before, d.after)) kinds.add(k);
    }
    for (const r of refused) {
      this.#rejected.set(r.key, r.reason);
      rejected.push(r);
    }
    for (const key of keys) if (!refused.some((r) => r.key === key)) this.#rejected.delete(key);
    return true;
  }

  // Accepts the store's latest for a key if it parses and the model stays
  // whole. Returns the change kinds, "kept" (nothing to do), or the reason.
  #try(key: string): ChangeKind[] | "kept" | string {
    const raw = this.#raw.get(key);
    const held = this.#accepted.get(key);
    const entry = raw?.entry ?? held?.entry;
    if (!entry) return "kept";
    let value: Value | undefined;
    if (raw) {
      try {
        value = parse(entry.kind, entry.name, raw.text, `key ${key}`);
      } catch (err) {
        return this.#refuse(key, err instanceof Error ? err.message : String(err));
      }
      if (held && JSON.stringify(held.value) === JSON.stringify(value)) {
        this.#rejected.delete(key);
        return "kept";
      }
    } else if (!held) {
      this.#rejected.delete(key);
      return "kept";
    }
    const next = new Map(this.#accepted);
    if (value) next.set(key, { entry, value });
    else next.delete(key);
    const model = this.#build(next);
    try {
      validateReferences(model.services, model.routes, "", model.gateways);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return this.#refuse(key, raw ? `key ${key}: ${why}` : `key ${key} was deleted, but ${why}`);
    }
    this.#commit(next, model);
    this.#rejected.delete(key);
    return kindsOf(entry.kind, held?.value, value);
  }

  // A value over the size limit becomes a marker: refused by parse, and
  // compared by size and digest instead of by its text.
  #bounded(text: string | undefined): string | undefined {
    if (text === undefined) return undefined;
    const bytes = Buffer.byteLength(text);
    if (bytes <= this.#limits.maxValueBytes) return text;
    return `${OVERSIZE}${bytes}:${this.#limits.maxValueBytes}:${createHash("sha1").update(text).digest("hex")}`;
  }

  // Serves `next` (a copy the caller built) and its model.
  #commit(next: Map<string, { entry: EntryKey; value: Value }>, model: Model): void {
    this.#accepted = next;
    this.#services = model.services;
    this.#routes = model.routes;
    this.#gateways = model.gateways;
    this.#order = model.order;
  }

  // The model of `next` in key order. The sorted keys are kept: a change of
  // values (the common case) reuses them instead of sorting the store again.
  #build(next: ReadonlyMap<string, { entry: EntryKey; value: Value }>): Model {
    const same = this.#order.length === next.size && this.#order.every((k) => next.has(k));
    const order = same ? this.#order : [...next.keys()].sort();
    const model = build(next, order);
    return { ...model, order };
  }

  #refuse(key: string, reason: string): string {
    this.#rejected.set(key, reason);
    return reason;
  }
}

/** A store's entries as the mesh model, with the sorted keys it was built in. */
interface Model {
  readonly services: Service[];
  readonly routes: RouteRule[];
  readonly gateways: Gateway[];
  readonly order: readonly string[];
}

function build(
  entries: ReadonlyMap<string, { entry: EntryKey; value: Value }>,
  order: readonly string[],
): Omit<Model, "order"> {
  const services: Service[] = [];
  const routes: RouteRule[] = [];
  const gateways: Gateway[] = [];
  // Key order keeps the model's order stable, so equal stores build equal models.
  for (const k of order) {
    const e = entries.get(k) as { entry: EntryKey; value: Value };
    if (e.entry.kind === "services") services.push(e.value as Service);
    else if (e.entry.kind === "routes") routes.push(...(e.value as RouteRule[]));
    else gateways.push(e.value as Gateway);
  }
  return { services, routes, gateways };
}
