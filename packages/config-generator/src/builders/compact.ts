// Built resources live as long as their inputs do (the build cache keeps them
// so that an unchanged resource is neither rebuilt nor encoded again), so
// their shape in V8's heap is most of what a big world costs to hold and to
// mark. protobuf-es creates a message by storing its fields one by one under
// computed keys, and V8 turns an object that gets more than a dozen fields
// that way into a hash table: every Listener and Cluster is one (about 830
// bytes of dictionary each), and every empty repeated field, map and unset
// oneof is an object of its own. A frozen copy made by a constructor with
// the message's fields in a fixed order is a plain fast object of one shape
// per type, and, frozen, can share one empty list, map and unset oneof.
// Measured on the large world (10,000 services): see docs/limits.md.
import type { DescField, DescMessage, DescOneof } from "@bufbuild/protobuf";

type Copier = (m: Record<string, unknown>) => object;

// One of each, shared by every compacted message (frozen: a change throws).
const EMPTY_LIST: readonly unknown[] = Object.freeze([]);
const EMPTY_MAP: Readonly<Record<string, unknown>> = Object.freeze({});
const UNSET_ONEOF = Object.freeze({ case: undefined });

const copiers = new WeakMap<DescMessage, Copier>();

/** The copier of a message type, compiled on first use. */
function copierOf(desc: DescMessage): Copier {
  let c = copiers.get(desc);
  if (!c) {
    try {
      c = compile(desc);
    } catch {
      // A process that forbids code generation from strings keeps protobuf-es's own shape.
      c = (m) => m;
    }
    copiers.set(desc, c);
  }
  return c;
}

/**
 * A compact copy of a message of type `desc` and of every message in it (see
 * the module comment). A message that is not plainly of `desc` (another type,
 * unknown fields, a prototype chain for proto2 defaults) is returned as it is.
 */
export function compactMessage<T extends object>(desc: DescMessage, message: T): T {
  return copy(desc, message) as T;
}

function copy(desc: DescMessage, m: unknown): unknown {
  if (typeof m !== "object" || m === null) return m;
  const r = m as Record<string, unknown>;
  if (r.$typeName !== desc.typeName || r.$unknown !== undefined || Object.getPrototypeOf(r) !== Object.prototype)
    return m;
  return copierOf(desc)(r);
}

function list(desc: DescMessage | undefined, v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  if (v.length === 0) return EMPTY_LIST;
  return desc ? v.map((x) => copy(desc, x)) : v;
}

function map(desc: DescMessage | undefined, v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  const keys = Object.keys(v);
  if (keys.length === 0) return EMPTY_MAP;
  if (!desc) return v;
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = copy(desc, (v as Record<string, unknown>)[k]);
  return out;
}

function oneof(cases: ReadonlyMap<string, DescMessage>, v: unknown): unknown {
  const o = v as { case?: string; value?: unknown } | undefined;
  if (!o || o.case === undefined) return UNSET_ONEOF;
  const desc = cases.get(o.case);
  return desc ? { case: o.case, value: copy(desc, o.value) } : o;
}

function messageCases(o: DescOneof): Map<string, DescMessage> {
  const out = new Map<string, DescMessage>();
  for (const f of o.fields) if (f.fieldKind === "message") out.set(f.localName, f.message);
  return out;
}

/**
 * Compiles a constructor that assigns the type's fields by name, in the
 * type's order, so every copy has the same fast shape.
 */
function compile(desc: DescMessage): Copier {
  const helpers: unknown[] = [];
  const helper = (h: unknown) => `h[${helpers.push(h) - 1}]`;
  const lines = ["this.$typeName = m.$typeName;"];
  for (const member of desc.members) {
    const key = JSON.stringify(member.localName);
    const at = `m[${key}]`;
    if (member.kind === "oneof") {
      lines.push(`this[${key}] = o(${helper(messageCases(member))}, ${at});`);
      continue;
    }
    const f = member as DescField;
    switch (f.fieldKind) {
      case "message":
        // An unset message field (like an unset optional scalar) stays absent, as protobuf-es leaves it.
        lines.push(`if (${at} !== undefined) this[${key}] = c(${helper(f.message)}, ${at});`);
        break;
      case "list":
        lines.push(`this[${key}] = l(${f.listKind === "message" ? helper(f.message) : "undefined"}, ${at});`);
        break;
      case "map":
        lines.push(`this[${key}] = p(${f.mapKind === "message" ? helper(f.message) : "undefined"}, ${at});`);
        break;
      default:
        lines.push(`if (${at} !== undefined) this[${key}] = ${at};`);
    }
  }
  // Generated from the descriptor's own field names (JSON-quoted), nothing else.
  const make = new Function("h", "c", "l", "p", "o", `return function Compact(m) {\n${lines.join("\n")}\n};`);
  const Compact = make(helpers, copy, list, map, oneof) as new (m: Record<string, unknown>) => object;
  // The copies are plain objects to anything that looks (protobuf-es checks $typeName, not the prototype).
  Compact.prototype = Object.prototype;
  return (m) => new Compact(m);
}
